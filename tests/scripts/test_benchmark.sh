#!/usr/bin/env bash
# The benchmark tells the truth about itself: launch/benchmark.sh --quick --no-torch runs the
# whole matrix on the real data, every run exits 0 (the whole-process runs print a test line),
# and each figure agrees with the others it is derived from (samples/s = batch / ms per step, phases within the step, GFLOP/s =
# FLOPs per sample x samples/s, one per-layer table per preset). No figure is judged for speed.
set -uo pipefail
# shellcheck source=tests/scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_data
command -v python3 >/dev/null || { echo "SKIP: python3 not found"; exit 77; }

timeout 900 bash "$source_dir/launch/benchmark.sh" --quick --no-torch --binary "$fmnist" --data-dir "$data_dir" \
  --out-dir "$work/out" --work-dir "$work/runs" >"$work/bench.log" 2>&1 || {
  tail -n 20 "$work/bench.log"
  fail "benchmark.sh exited with an error"
}
[[ -f "$work/out/benchmark.md" && -f "$work/out/benchmark.json" ]] || fail "benchmark.md/.json not written"
[[ -f "$work/out/scaling.md" && -f "$work/out/allreduce-np2.json" ]] || fail "scaling.md/allreduce-np2.json not written"
grep -q "^| cnn | 421,642 |" "$work/out/scaling.md" || fail "scaling.md has no cnn row with its 421,642 parameters"
for section in "## (a)" "### Per layer" "## (b)" "## (c)" "## (d)" "## (e)" "## (f)" "## (g)" "## Commands"; do
  grep -qF "$section" "$work/out/benchmark.md" || fail "benchmark.md has no '$section' section"
done

python3 - "$work/out/benchmark.json" "$work/out/benchmark.md" <<'PY' || fail "benchmark figures are inconsistent"
import json, sys
doc = json.load(open(sys.argv[1]))
md = open(sys.argv[2]).read()
bad = []
runs = doc["runs"]
if not runs:
    bad.append("no runs")
for r in runs:
    x = r["result"]
    name = f"run {r['id']} ({r['section']} {r['model']} np={r['np']})"
    if r["exit"] != 0 or x is None:
        bad.append(f"{name}: exit {r['exit']}")
        continue
    if r["section"] == "wall":  # a whole process: its time, and the test line it printed
        if not (r["wall_s"] > 0 and 0 <= x["test_accuracy"] <= 1):
            bad.append(f"{name}: wall time {r['wall_s']} s, test accuracy {x.get('test_accuracy')}")
        continue
    expected_sps = r["batch"] / (x["ms_per_step"] / 1000.0)
    if abs(x["samples_per_second"] - expected_sps) > 1e-3 * expected_sps + 0.1:
        bad.append(f"{name}: samples/s {x['samples_per_second']} != batch / step {expected_sps:.1f}")
    # Every step's phases lie within that step, so each phase's median is at most the step's
    # median (a sum of medians has no such bound: a few timed steps on a busy machine break it).
    phases = {k: x[k] for k in ("forward_ms", "backward_ms", "allreduce_wait_ms", "optimizer_ms", "metrics_ms")}
    if not 0 < sum(phases.values()) or any(v > x["ms_per_step"] + 0.01 for v in phases.values()):
        bad.append(f"{name}: phases {phases} do not fit the {x['ms_per_step']:.3f} ms step")
    gflops = x["flops_per_sample"] * x["samples_per_second"] * 1e-9
    if abs(x["gflops"] - gflops) > 0.01 * gflops + 0.01:
        bad.append(f"{name}: GFLOP/s {x['gflops']} != FLOPs x samples/s {gflops:.2f}")
    if not (x["sgemm_gflops"] > 0 and x["peak_rss_mib"] > 0):
        bad.append(f"{name}: no sgemm figure or RSS")
    # Time in GEMM calls lies within the step, and the bound from it is at least what the step reached.
    if not (0 < x["gemm_ms"] <= x["ms_per_step"] + 0.01):
        bad.append(f"{name}: {x['gemm_ms']} ms in sgemm calls of a {x['ms_per_step']} ms step")
    if x["gemm_ms"] > 0 and x["gemm_bound_percent"] + 0.5 < 100 * x["gflops"] / x["sgemm_gflops"]:
        bad.append(f"{name}: GEMM-only bound {x['gemm_bound_percent']} % below the step's own share")
    if r["section"] == "watchdog":  # both halves timed, and the cost is their ratio's size
        off, on, cost = x["watchdog_off_ms"], x["watchdog_on_ms"], x["watchdog_cost_percent"]
        if not (off > 0 and on > 0 and abs(cost) < 100 * max(on / off, off / on)):
            bad.append(f"{name}: watchdog halves {off} / {on} ms, cost {cost} %")
presets = sorted({r["model"] for r in runs if r["section"] == "presets"})
for model in presets:
    if f"**{model}** (run" not in md:
        bad.append(f"no per-layer table for {model}")
print("\n".join(bad) if bad else f"{len(runs)} runs, figures consistent; per-layer tables for {', '.join(presets)}")
sys.exit(1 if bad else 0)
PY
echo "benchmark.sh --quick: every run succeeded and its figures agree"
