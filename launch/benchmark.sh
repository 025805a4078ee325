#!/usr/bin/env bash
# Runs the benchmark matrix and writes results/benchmark.md and results/benchmark.json, then the
# scaling model (launch/scaling_model.py) from them: results/scaling.md and scaling.json.
#
#   launch/benchmark.sh [--reps N] [--quick] [--no-torch] [--no-pip] [--python PY] [--binary PATH]
#                       [--data-dir DIR] [--out-dir DIR] [--work-dir DIR]
#
# Sections (1 BLAS thread per rank except in (f); every figure comes from fmnist_dist or a peer
# script in this run):
#   (a) fmnist_dist, all six presets, np=1, batch 32, each with its per-layer table
#       (--benchmark-layers);
#   (b) fmnist_dist vs its peers, np=1, batch 32, the same layers, data and steps: Debian's
#       PyTorch 1.13 (launch/pytorch_peer.py under python3-torch), today's PyTorch 2.x and Keras 3
#       with JAX (pytorch_peer.py in build/torch-venv, launch/keras_peer.py in build/keras-venv,
#       both from pip through launch/pip-venv.sh); each group back to back, N reps rotating which
#       goes first; medians of samples/s and the median of the per-group ratios;
#   (c) scaling of cnn and mlp: np=1, 2 and 4 (4 > cores: oversubscribed), global batch 32
#       and 64, N reps rotating the order; samples/s, ratio vs np=1 of the same rep, and the
#       allreduce-wait share of the step;
#   (d) peak RSS per rank of cnn and cnn-deep at np=1, 2, 4;
#   (e) whole-process wall time, every preset: start-up, data loading, the same training steps
#       and the test evaluation, fmnist_dist (--max-steps) against each peer (--evaluate-test);
#   (f) threads against ranks on this machine: cnn and cnn-deep, 1 rank x 2 threads against
#       2 ranks x 1 thread, N reps;
#   (g) the stall watchdog's cost: mlp (the shortest step), np=2, --benchmark-watchdog (10-step
#       blocks without and with the deadline in one process), N reps.
# Timed steps: 200 for the MLPs, 60 for the CNNs, 25 for cnn-deep (5 warm-up, 3 for cnn-deep);
# about 30 minutes on 2 cores with every peer (the first run also downloads the pip peers). Options:
#   --reps N         repetitions for (b), (c), (f) and (g) (default 3)
#   --quick          a fifth of the steps, 1 rep, (e) for mlp and cnn only, (f) for cnn only:
#                    checks the script, not the machine
#   --no-torch       skip every peer (Debian's PyTorch and the pip ones)
#   --no-pip         skip the pip peers (PyTorch 2.x, Keras) and their download
#   --python PY      the Python with Debian's torch for the peer (default: the first of $PYTHON,
#                    /usr/bin/python3, python3 that imports torch and numpy)
#   --binary PATH    fmnist_dist to time (default build/fmnist_dist; a copy taken at the start
#                    is what runs, so a rebuild meanwhile cannot mix builds)
#   --data-dir DIR   Fashion-MNIST .gz files (default data/fashion-mnist)
#   --out-dir DIR    where benchmark.md/.json go (default results)
#   --work-dir DIR   keep each run's log and JSON there (default: a temporary folder, removed)
# Needs mpirun (Open MPI) and python3 (for the tables). Every run has a 300 s time limit; a
# failed run is reported as failed, never replaced by a figure. At the end it also prints the
# side-by-side tables of (b) and (e): every tool's figure and fmnist_dist's ratio to it.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

reps=3
quick=0
use_torch=1
use_pip=1
peer_python=""
binary="build/fmnist_dist"
data_dir="data/fashion-mnist"
out_dir="results"
work_dir=""
invocation="launch/benchmark.sh"
for arg in "$@"; do invocation+=" $(printf '%q' "$arg")"; done

# The header comment: every line after the first up to the first that is not a comment.
usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"; }
need_value() { [[ $# -ge 2 && -n "$2" ]] || { echo "benchmark.sh: $1 needs a value" >&2; exit 2; }; }
# Paths given on the command line are relative to the caller's folder; the script then runs
# from the repository root (where the defaults are relative to).
abs_path() { if [[ "$1" == /* ]]; then echo "$1"; else echo "$PWD/$1"; fi; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --reps) need_value "$@"; reps="$2"; shift 2 ;;
    --quick) quick=1; shift ;;
    --no-torch) use_torch=0; use_pip=0; shift ;;
    --no-pip) use_pip=0; shift ;;
    --python) need_value "$@"; peer_python="$2"; [[ "$2" != */* ]] || peer_python="$(abs_path "$2")"; shift 2 ;;
    --binary) need_value "$@"; binary="$(abs_path "$2")"; shift 2 ;;
    --data-dir) need_value "$@"; data_dir="$(abs_path "$2")"; shift 2 ;;
    --out-dir) need_value "$@"; out_dir="$(abs_path "$2")"; shift 2 ;;
    --work-dir) need_value "$@"; work_dir="$(abs_path "$2")"; shift 2 ;;
    *) echo "benchmark.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
cd "$repo_root"
if ! [[ "$reps" =~ ^[1-9][0-9]*$ ]]; then
  echo "benchmark.sh: --reps: expected a positive integer, found '$reps'" >&2
  exit 2
fi
if [[ ! -x "$binary" ]]; then
  echo "benchmark.sh: no executable '$binary' (build it with launch/build.sh, or pass --binary)" >&2
  exit 1
fi
if [[ ! -f "$data_dir/train-images-idx3-ubyte.gz" || ! -f "$data_dir/train-labels-idx1-ubyte.gz" ]]; then
  echo "benchmark.sh: no Fashion-MNIST training files in '$data_dir' (launch/fetch-data.sh)" >&2
  exit 1
fi
command -v mpirun >/dev/null || { echo "benchmark.sh: mpirun not found" >&2; exit 1; }
command -v python3 >/dev/null || { echo "benchmark.sh: python3 not found (it writes the tables)" >&2; exit 1; }

# Which Python runs the peer.
torch_note=""
if (( use_torch )); then
  candidates=()
  if [[ -n "$peer_python" ]]; then
    candidates=("$peer_python")
  else
    if [[ -n "${PYTHON:-}" ]]; then candidates+=("$PYTHON"); fi
    candidates+=(/usr/bin/python3 python3)
  fi
  peer_python=""
  for py in "${candidates[@]}"; do
    if command -v "$py" >/dev/null && "$py" -c 'import torch, numpy' >/dev/null 2>&1; then
      peer_python="$py"
      break
    fi
  done
  if [[ -z "$peer_python" ]]; then
    use_torch=0
    torch_note="torch could not be imported by any of: ${candidates[*]} (Debian: apt-get install python3-torch); the PyTorch peer was skipped"
    echo "benchmark.sh: $torch_note" >&2
  fi
else
  torch_note="the PyTorch peer was skipped (--no-torch)"
fi
# The pip peers: PyTorch 2.x in build/torch-venv and Keras 3 (JAX) in build/keras-venv, made by
# launch/pip-venv.sh (each is skipped, with the reason, when it cannot be installed).
pip_python=""
keras_python=""
pip_note=""
if (( use_pip )); then
  pip_python="$(launch/pip-venv.sh torch)" || { pip_python=""; pip_note="PyTorch 2.x from pip could not be installed (launch/pip-venv.sh torch) and was skipped"; }
  keras_python="$(launch/pip-venv.sh keras)" || { keras_python=""; pip_note+="${pip_note:+; }Keras from pip could not be installed (launch/pip-venv.sh keras) and was skipped"; }
  if [[ -n "$pip_note" ]]; then echo "benchmark.sh: $pip_note" >&2; fi
else
  pip_note="the pip peers (PyTorch 2.x, Keras 3 with JAX) were skipped (--no-pip or --no-torch)"
fi
peers=()  # the tools of (b) and (e) besides fmnist_dist
if (( use_torch )); then peers+=(pytorch); fi
if [[ -n "$pip_python" ]]; then peers+=(pytorch2); fi
if [[ -n "$keras_python" ]]; then peers+=(keras); fi

cleanup_work=0
if [[ -z "$work_dir" ]]; then
  work_dir="$(mktemp -d /tmp/fmnist-benchmark.XXXXXX)"
  cleanup_work=1
fi
mkdir -p "$work_dir" "$out_dir"
cleanup() { if (( cleanup_work )); then rm -rf -- "$work_dir"; fi; }
trap cleanup EXIT

mpi_flags=(--quiet --oversubscribe)
if [[ "$(id -u)" == "0" ]]; then mpi_flags+=(--allow-run-as-root); fi
cores="$(nproc)"

# steps_for MODEL -> "TIMED WARMUP"
steps_for() {
  local timed warmup=5
  case "$1" in
    watchdog:*) timed=1600; warmup=50 ;;
    mlp|mlp-300-100) timed=200 ;;
    cnn-deep) timed=25; warmup=3 ;;
    *) timed=60 ;;
  esac
  if (( quick )); then timed=$(( (timed + 4) / 5 )); warmup=2; fi
  echo "$timed $warmup"
}
if (( quick )); then reps=1; fi

# Time a snapshot of the binary: build/ may be rebuilt by someone else while this runs.
binary_sum() { sha256sum "$1" | cut -c1-16; }
binary_sum_before="$(binary_sum "$binary")"
binary_mtime="$(date -u -r "$binary" +%Y-%m-%dT%H:%M:%SZ)"
binary_source="$binary"
snapshot="$work_dir/fmnist_dist"
cp -- "$binary" "$snapshot"
binary_cache="$(dirname "$binary")/CMakeCache.txt"
binary="$snapshot"
manifest="$work_dir/manifest.tsv"
: > "$manifest"
run_id=0
started_at="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
start_seconds="$SECONDS"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"

# run_case SECTION REP TOOL NP MODEL BATCH ORDER [THREADS]: runs one benchmark, appends a
# manifest line. Section "wall" times whole processes: fmnist_dist trains the same steps with
# --max-steps and evaluates the test set; the peers do the same with --evaluate-test. None holds
# out a validation set there (--validation-split 0), so each evaluates exactly the 10,000 test
# images (fmnist_dist would otherwise also evaluate its 5,000 held-out ones at the end).
run_case() {
  local section="$1" rep="$2" tool="$3" np="$4" model="$5" batch="$6" order="$7" threads="${8:-1}"
  local timed warmup
  if [[ "$section" == watchdog ]]; then
    read -r timed warmup <<< "$(steps_for "watchdog:$model")"
  else
    read -r timed warmup <<< "$(steps_for "$model")"
  fi
  run_id=$(( run_id + 1 ))
  local json="$work_dir/run$run_id.json" log="$work_dir/run$run_id.log"
  local -a cmd
  case "$tool:$section" in
    fmnist_dist:wall)
      cmd=(mpirun "${mpi_flags[@]}" -np "$np" "$binary" --model "$model" --batch-size "$batch" --threads "$threads"
           --max-steps "$(( timed + warmup ))" --epochs 1 --progress lines --validation-split 0 --data-dir "$data_dir"
           --output-dir "$work_dir/run$run_id.out") ;;
    fmnist_dist:*)
      cmd=(mpirun "${mpi_flags[@]}" -np "$np" "$binary" --benchmark --model "$model" --batch-size "$batch"
           --threads "$threads" --benchmark-steps "$timed" --benchmark-warmup "$warmup" --data-dir "$data_dir"
           --benchmark-json "$json")
      if [[ "$section" == "presets" ]]; then cmd+=(--benchmark-layers); fi
      if [[ "$section" == "watchdog" ]]; then cmd+=(--benchmark-watchdog); fi ;;
    pytorch:*) cmd=("$peer_python" launch/pytorch_peer.py) ;;
    pytorch2:*) cmd=("$pip_python" launch/pytorch_peer.py) ;;
    keras:*) cmd=("$keras_python" launch/keras_peer.py --backend jax) ;;
  esac
  if [[ "$tool" != fmnist_dist ]]; then
    cmd+=(--model "$model" --batch-size "$batch" --threads "$threads" --steps "$timed" --warmup "$warmup"
          --data-dir "$data_dir" --json "$json")
    if [[ "$section" == "wall" ]]; then cmd+=(--evaluate-test --validation-split 0); fi
  fi
  local text="" word
  for word in "${cmd[@]}"; do text+="${text:+ }$(printf '%q' "$word")"; done
  local begin load rc=0 t0 wall
  begin="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  load="$(cut -d' ' -f1 /proc/loadavg)"
  printf '[%3ds] %s\n' "$(( SECONDS - start_seconds ))" "$text" >&2
  t0="$(date +%s.%N)"
  timeout 300 "${cmd[@]}" > "$log" 2>&1 || rc=$?
  wall="$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')"
  if (( rc != 0 )); then
    echo "benchmark.sh: run $run_id failed (exit $rc); last lines:" >&2
    tail -n 5 "$log" >&2 || true
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run_id" "$section" "$rep" "$tool" "$np" \
    "$model" "$batch" "$timed" "$warmup" "$order" "$rc" "$begin" "$load" "$threads" "$wall" "$text" >> "$manifest"
}

# (a) every preset, np=1, batch 32.
presets=(mlp cnn cnn-gap cnn-deep mlp-300-100 cnn-2x64)
for model in "${presets[@]}"; do
  run_case presets 1 fmnist_dist 1 "$model" 32 1
done

# run_group SECTION REP MODEL: fmnist_dist and every peer back to back, the order rotated by REP.
run_group() {
  local tools=(fmnist_dist "${peers[@]}") k
  for (( k = 0; k < ${#tools[@]}; k++ )); do
    run_case "$1" "$2" "${tools[$(( (k + $2 - 1) % ${#tools[@]} ))]}" 1 "$3" 32 "$(( k + 1 ))"
  done
}

# (b) back-to-back groups of fmnist_dist and its peers.
if (( ${#peers[@]} > 0 )); then
  for (( rep = 1; rep <= reps; rep++ )); do
    for model in "${presets[@]}"; do run_group pairs "$rep" "$model"; done
  done
fi

# (c) scaling, rotating the order of np within each rep.
# Every preset at global batch 32; cnn and mlp also at 64 (--quick: cnn and mlp only).
nps=(1 2 4)
scaling_cases=()
for model in "${presets[@]}"; do scaling_cases+=("$model 32"); done
scaling_cases+=("cnn 64" "mlp 64")
if (( quick )); then scaling_cases=("cnn 32" "mlp 32" "cnn 64" "mlp 64"); fi
for (( rep = 1; rep <= reps; rep++ )); do
  for case_ in "${scaling_cases[@]}"; do
    read -r model batch <<< "$case_"
    for (( k = 0; k < ${#nps[@]}; k++ )); do
      np="${nps[$(( (k + rep - 1) % ${#nps[@]} ))]}"
      run_case scaling "$rep" fmnist_dist "$np" "$model" "$batch" "$(( k + 1 ))"
    done
  done
done
# The allreduce behind the scaling model: one message size sweep at np=2 (results/scaling.md).
allreduce_bench="$(dirname "$binary_source")/fmnist_allreduce_bench"
allreduce_json=""
if [[ -x "$allreduce_bench" ]]; then
  allreduce_json="$work_dir/allreduce-np2.json"
  timeout 300 mpirun "${mpi_flags[@]}" -np 2 "$allreduce_bench" --reps "$(( quick ? 20 : 200 ))" \
    --json "$allreduce_json" > "$work_dir/allreduce-np2.log" 2>&1 || allreduce_json=""
fi

# (d) memory: cnn comes from (a) and (c); cnn-deep at np=2 and 4 here.
for np in 2 4; do
  run_case rss 1 fmnist_dist "$np" cnn-deep 32 1
done

# (e) whole-process wall time, one group per preset (--quick: two of them).
wall_models=("${presets[@]}")
layout_models=(cnn cnn-deep)
if (( quick )); then wall_models=(mlp cnn); layout_models=(cnn); fi
for model in "${wall_models[@]}"; do run_group wall 1 "$model"; done

# (f) threads against ranks: 1 x 2 and 2 x 1 on the same global batch, order alternating.
for (( rep = 1; rep <= reps; rep++ )); do
  for model in "${layout_models[@]}"; do
    if (( rep % 2 == 1 )); then
      run_case layout "$rep" fmnist_dist 1 "$model" 32 1 2
      run_case layout "$rep" fmnist_dist 2 "$model" 32 2 1
    else
      run_case layout "$rep" fmnist_dist 2 "$model" 32 1 1
      run_case layout "$rep" fmnist_dist 1 "$model" 32 2 2
    fi
  done
done

# (g) the stall watchdog's cost, measured inside each run (blocks without and with the deadline).
for (( rep = 1; rep <= reps; rep++ )); do
  run_case watchdog "$rep" fmnist_dist 2 mlp 32 1
done

finished_at="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
elapsed=$(( SECONDS - start_seconds ))
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

# Machine facts.
machine="$work_dir/machine.env"
{
  printf 'cpu_model\t%s\n' "$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)"
  printf 'cpus\t%s\n' "$(lscpu | sed -n 's/^CPU(s):[[:space:]]*//p' | head -n 1)"
  printf 'threads_per_core\t%s\n' "$(lscpu | sed -n 's/^Thread(s) per core:[[:space:]]*//p' | head -n 1)"
  printf 'cores_per_socket\t%s\n' "$(lscpu | sed -n 's/^Core(s) per socket:[[:space:]]*//p' | head -n 1)"
  printf 'sockets\t%s\n' "$(lscpu | sed -n 's/^Socket(s):[[:space:]]*//p' | head -n 1)"
  printf 'nproc\t%s\n' "$cores"
  printf 'avx512f\t%s\n' "$(grep -qw avx512f /proc/cpuinfo && echo yes || echo no)"
  printf 'mem_total_kib\t%s\n' "$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
  printf 'os\t%s\n' "$(sed -n 's/^PRETTY_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' /etc/os-release)"
  printf 'kernel\t%s\n' "$(uname -r)"
  printf 'openmpi\t%s\n' "$(mpirun --version 2>/dev/null | head -n 1)"
  printf 'openblas_lib\t%s\n' "$(ldd "$binary" 2>/dev/null | awk '/libopenblas|libblas/ {print $3; exit}')"
  printf 'openblas_packages\t%s\n' "$(dpkg-query -W -f='${Package} ${Version}; ' 'libopenblas0*' 2>/dev/null || true)"
  printf 'compiler\t%s\n' "$(sed -n 's/^CMAKE_CXX_COMPILER:[^=]*=//p' "$binary_cache" 2>/dev/null | head -n 1)"
  printf 'build_type\t%s\n' "$(sed -n 's/^CMAKE_BUILD_TYPE:[^=]*=//p' "$binary_cache" 2>/dev/null | head -n 1)"
  printf 'binary\t%s\n' "$binary_source"
  printf 'snapshot\t%s\n' "$snapshot"
  printf 'binary_sha256\t%s\n' "$binary_sum_before"
  printf 'binary_sha256_after\t%s\n' "$(binary_sum "$binary_source" 2>/dev/null || echo missing)"
  printf 'binary_mtime\t%s\n' "$binary_mtime"
  printf 'git_commit\t%s\n' "$(git rev-parse HEAD 2>/dev/null || echo unknown)"
  printf 'git_uncommitted_files\t%s\n' "$(git status --porcelain 2>/dev/null | wc -l)"
  printf 'peer_python\t%s\n' "$peer_python"
  printf 'torch_note\t%s\n' "$torch_note"
  printf 'pip_python\t%s\n' "$pip_python"
  printf 'keras_python\t%s\n' "$keras_python"
  printf 'pip_note\t%s\n' "$pip_note"
  printf 'invocation\t%s\n' "$invocation"
  printf 'started_at\t%s\n' "$started_at"
  printf 'finished_at\t%s\n' "$finished_at"
  printf 'elapsed_s\t%s\n' "$elapsed"
  printf 'loadavg_before\t%s\n' "$load_before"
  printf 'loadavg_after\t%s\n' "$load_after"
  printf 'reps\t%s\n' "$reps"
  printf 'quick\t%s\n' "$quick"
  printf 'mpi_flags\t%s\n' "${mpi_flags[*]}"
} > "$machine"
if [[ -n "$peer_python" ]]; then
  "$peer_python" -c 'import torch, numpy, platform
print("torch\t" + torch.__version__)
print("numpy\t" + numpy.__version__)
print("peer_python_version\t" + platform.python_version())' >> "$machine" 2>/dev/null || true
fi
if [[ -n "$pip_python" ]]; then
  "$pip_python" -c 'import torch, numpy, platform
print("pip_torch\t" + torch.__version__)
print("pip_numpy\t" + numpy.__version__)
print("pip_python_version\t" + platform.python_version())' >> "$machine" 2>/dev/null || true
fi
if [[ -n "$keras_python" ]]; then
  KERAS_BACKEND=jax "$keras_python" -c 'import keras, jax
print("pip_keras\t" + keras.__version__)
print("pip_jax\t" + jax.__version__)' >> "$machine" 2>/dev/null || true
fi

python3 - "$work_dir" "$out_dir" <<'PY'
"""Turns the manifest and per-run JSON files into benchmark.md and benchmark.json."""
import ctypes
import json
import os
import statistics
import sys

work, out = sys.argv[1], sys.argv[2]
m = {}
with open(os.path.join(work, "machine.env")) as f:
    for line in f:
        k, _, v = line.rstrip("\n").partition("\t")
        m[k] = v
try:  # OpenBLAS' own description of the library the binary loads
    lib = ctypes.CDLL(m.get("openblas_lib", ""))
    lib.openblas_get_config.restype = ctypes.c_char_p
    lib.openblas_get_corename.restype = ctypes.c_char_p
    m["openblas_config"] = lib.openblas_get_config().decode().strip()
    m["openblas_core"] = lib.openblas_get_corename().decode().strip()
except (OSError, AttributeError):
    pass

runs = []
fields = ["id", "section", "rep", "tool", "np", "model", "batch", "timed_steps", "warmup_steps", "order", "exit",
          "started", "loadavg_1min", "threads", "wall_s", "command"]
with open(os.path.join(work, "manifest.tsv")) as f:
    for line in f:
        r = dict(zip(fields, line.rstrip("\n").split("\t")))
        for k in ("id", "rep", "np", "batch", "timed_steps", "warmup_steps", "order", "exit", "threads"):
            r[k] = int(r[k])
        r["wall_s"] = float(r["wall_s"])
        r["result"] = None
        path = os.path.join(work, f"run{r['id']}.json")
        if r["exit"] == 0 and os.path.exists(path):
            with open(path) as j:
                r["result"] = json.load(j)
        elif r["exit"] == 0 and r["section"] == "wall":  # fmnist_dist's test line
            with open(os.path.join(work, f"run{r['id']}.log")) as f:
                for line in f:
                    if line.startswith("test_loss: "):
                        r["result"] = {"test_accuracy": float(line.split("test_accuracy: ")[1].split()[0])}
        runs.append(r)

cores = int(m["nproc"])
reps = int(m["reps"])
med = statistics.median
PEER_LABELS = {"pytorch": f"PyTorch {m.get('torch', '?')} (Debian)",
               "pytorch2": f"PyTorch {m.get('pip_torch', '?')} (pip)",
               "keras": f"Keras {m.get('pip_keras', '?')} + JAX {m.get('pip_jax', '?')} (pip)"}
peers = [t for t in PEER_LABELS if any(r["tool"] == t for r in runs)]


def sps(r):
    return r["result"]["samples_per_second"] if r and r["result"] else None


def fmt(x, digits=0):
    if x is None:
        return "failed"
    return f"{x:,.{digits}f}"


def pick(**kw):
    return [r for r in runs if all(r[k] == v for k, v in kw.items())]


# The presets and their step counts, in run order, as section (a) ran them (the manifest).
presets = list(dict.fromkeys(r["model"] for r in runs if r["section"] == "presets"))
steps_groups = {}  # (timed, warm-up) -> models
for r in runs:
    if r["section"] == "presets":
        steps_groups.setdefault((r["timed_steps"], r["warmup_steps"]), []).append(r["model"])
steps_text = ", ".join(f"{timed} ({', '.join(models)}; {warmup} warm-up)"
                       for (timed, warmup), models in sorted(steps_groups.items(), reverse=True))
md = []
summary = {}
mem_gib = int(m["mem_total_kib"]) / 1024 / 1024
md += [
    "# Benchmark: fmnist_dist training throughput, and fmnist_dist vs PyTorch",
    "",
    f"Generated by `{m['invocation']}` (from the repository root) on {m['started_at']} – {m['finished_at']} "
    f"({m['elapsed_s']} s). Every figure below was measured in that run; a run that failed shows as "
    "\"failed\". Regenerate with the same command.",
    "",
    "**Machine**: " + f"{m['cpu_model']}, {m['cpus']} CPUs ({m['sockets']} socket x {m['cores_per_socket']} cores x "
    f"{m['threads_per_core']} threads/core), AVX-512: {m['avx512f']}, {mem_gib:.1f} GiB; {m['os']}, kernel {m['kernel']}; "
    f"{m['openmpi']}; {m.get('openblas_config', 'OpenBLAS ' + m['openblas_packages'])} "
    f"(core {m.get('openblas_core', '?')}, `{m['openblas_lib']}`); "
    + (f"PyTorch {m['torch']} (Debian python3-torch, numpy {m['numpy']}, Python {m['peer_python_version']}, "
       f"`{m['peer_python']}`)" if m.get("torch") else "Debian's PyTorch: not used (see the note below)")
    + (f"; from pip: PyTorch {m['pip_torch']} (numpy {m['pip_numpy']}, Python {m['pip_python_version']}, "
       f"`{m['pip_python']}`)" if m.get("pip_torch") else "; PyTorch from pip: not used")
    + (f", Keras {m['pip_keras']} with JAX {m['pip_jax']} (`{m['keras_python']}`)" if m.get("pip_keras")
       else ", Keras: not used")
    + f". Binary `{m['binary']}` ({m['build_type'] or 'unknown'} build, {m['compiler']}, built "
    f"{m['binary_mtime']}, sha256 {m['binary_sha256']}…; the runs time a copy taken at the start, `{m['snapshot']}` in the commands), repository at commit {m['git_commit'][:12]} with {m['git_uncommitted_files']} "
    f"uncommitted files. Load average (1/5/15 min) {m['loadavg_before']} before, {m['loadavg_after']} after: "
    "the machine is shared, so absolute figures vary from run to run; ratios are taken between runs made "
    "back to back.",
    "",
    "**Method**: `fmnist_dist --benchmark` runs W untimed warm-up steps and S timed training steps on the real "
    "training data (55,000 images after the 5,000 held out), and reports samples/s = global batch / median "
    "step time (the slowest rank's median), the median of each phase (forward includes the batch gather and "
    "the loss; allreduce wait and the phase split are rank 0's), GFLOP/s against the best of twenty 1024³ sgemm runs "
    "in the same process (ten before the steps, ten after), and peak RSS (the largest over ranks). `launch/pytorch_peer.py` builds the same layers in "
    "PyTorch (parameter counts equal), gathers each batch the same way (index a uint8 tensor, convert, scale), "
    "and times the same W + S steps of Adam + cross-entropy with one intra-op, one inter-op and one BLAS "
    "thread, reporting samples/s = batch / median step. Every run has 1 BLAS thread per rank and runs under "
    f"`timeout 300`. Timed steps: {steps_text}"
    + (" — a fifth of the full timed steps, because of --quick" if m["quick"] == "1" else "") + ".",
    "",
]
for note in ("torch_note", "pip_note"):
    if m.get(note):
        md += [f"**Note**: {m[note]}.", ""]
if m["binary_sha256"] != m["binary_sha256_after"]:
    md += [f"**Note**: `{m['binary']}` was rebuilt by someone while this ran (sha256 {m['binary_sha256']}… at the "
           f"start, {m['binary_sha256_after']}… at the end). Every run timed the copy taken at the start, but "
           "some runs shared the cores with the compiler; the load average column of the command list shows "
           "which.", ""]

# (a)
md += ["## (a) fmnist_dist, every preset (np=1, 1 thread, batch 32)", "",
       "| model | timed steps | samples/s | ms/step | forward | backward | allreduce wait | optimizer | metrics "
       "| GFLOP/s | sgemm GFLOP/s | of sgemm | in sgemm calls | GEMM-only bound | peak RSS MiB/rank |",
       "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
summary["presets"] = []
for model in presets:
    for r in pick(section="presets", model=model):
        x = r["result"]
        if x:
            md.append(f"| {model} | {r['timed_steps']} | {x['samples_per_second']:,.0f} | {x['ms_per_step']:.3f} | "
                      f"{x['forward_ms']:.3f} | {x['backward_ms']:.3f} | {x['allreduce_wait_ms']:.3f} | "
                      f"{x['optimizer_ms']:.3f} | {x['metrics_ms']:.3f} | {x['gflops']:.1f} | "
                      f"{x['sgemm_gflops']:.1f} | {100 * x['gflops'] / x['sgemm_gflops']:.0f}% | "
                      f"{x['gemm_ms']:.3f} ({100 * x['gemm_ms'] / x['ms_per_step']:.0f}%) | "
                      f"{x['gemm_bound_percent']:.0f}% | {x['peak_rss_mib']:.0f} |")
        else:
            md.append(f"| {model} | {r['timed_steps']} | failed (exit {r['exit']}) |" + " |" * 12)
        summary["presets"].append({"model": model, "run": r["id"], **(x or {"failed": True})})
md += ["", "Phase times are medians in ms per step. *In sgemm calls*: the median time per step inside the "
       "GEMM wrapper (share of the step); *GEMM-only bound*: the step's FLOPs over that time, against the "
       "sgemm rate: the most of sgemm the step could reach if every other pass (im2col, pooling, the direct "
       "first-layer convolution, the optimizer, ...) took no time.", ""]

# (a) per layer: the --benchmark-layers table printed by each of those runs
md += ["### Per layer (the same runs, `--benchmark-layers`)", "",
       "Each layer timed on its own after the timed steps (medians over as many repetitions as timed steps; "
       "random inputs of the real shapes). GFLOP/s: the layer's GEMM FLOPs over its whole time, im2col, "
       "bias and ReLU included. A convolution that training runs together with its pool is timed as "
       "that pair, on the convolution's row.", ""]
for model in presets:
    for r in pick(section="presets", model=model):
        table = []
        try:
            with open(os.path.join(work, f"run{r['id']}.log")) as f:
                for line in f:
                    if line.startswith("| layer |") or table:
                        table.append(line.rstrip("\n"))
                    if line.startswith("| total |"):
                        break
        except OSError:
            pass
        md += [f"**{model}** (run {r['id']})", ""] + (table or ["(no per-layer table: the run failed)"]) + [""]

# (b) and (e): groups of fmnist_dist and its peers, back to back.
def group_table(section, value, better, unit, digits):
    """Per model: fmnist_dist's and each peer's median `value(run)` over the reps, and the
    median of the per-rep ratios fmnist_dist : peer (`better` says which way is faster).
    Returns (markdown rows, per-rep detail rows, summary records)."""
    head = f"| model | timed steps | fmnist_dist {unit} |" + "".join(f" {PEER_LABELS[t]} {unit} | ratio |" for t in peers)
    rows = [head, "|---|---|---|" + "---|---|" * len(peers)]
    detail = ["| model | rep | order | " + " | ".join(["fmnist_dist"] + [PEER_LABELS[t] for t in peers]) + " |",
              "|---|---|---|" + "---|" * (1 + len(peers))]
    records = []
    for model in presets:
        per_tool = {t: [] for t in ["fmnist_dist"] + peers}
        ratios = {t: [] for t in peers}
        steps = None
        for rep in range(1, reps + 1):
            group = {t: pick(section=section, model=model, rep=rep, tool=t) for t in per_tool}
            if not group["fmnist_dist"]:
                continue
            steps = group["fmnist_dist"][0]["timed_steps"]
            vals = {t: (value(g[0]) if g and g[0]["result"] else None) for t, g in group.items()}
            for t, v in vals.items():
                if v is not None:
                    per_tool[t].append(v)
            for t in peers:
                if vals["fmnist_dist"] and vals[t]:
                    ratios[t].append(better(vals["fmnist_dist"], vals[t]))
            order = " → ".join(sorted((t for t, g in group.items() if g), key=lambda t: group[t][0]["order"]))
            detail.append(f"| {model} | {rep} | {order} | " + " | ".join(fmt(vals[t], digits) for t in per_tool) + " |")
            records.append({"model": model, "rep": rep, "order": order, **{f"{t}": vals[t] for t in per_tool},
                            "runs": {t: g[0]["id"] for t, g in group.items() if g}})
        if steps is None:
            continue
        cell = lambda xs: fmt(med(xs), digits) if xs else "failed"
        line = f"| {model} | {steps} | {cell(per_tool['fmnist_dist'])} |"
        for t in peers:
            line += f" {cell(per_tool[t])} | {f'{med(ratios[t]):.2f}x' if ratios[t] else 'n/a'} |"
        rows.append(line)
        records.append({"model": model, "median": {t: (med(v) if v else None) for t, v in per_tool.items()},
                        "median_ratio": {t: (med(v) if v else None) for t, v in ratios.items()},
                        "ratios": ratios})
    return rows, detail, records


side_by_side = []  # the (b) and (e) summary tables, also printed on stdout at the end
md += ["## (b) fmnist_dist vs its peers (np=1, 1 thread, batch 32, the same steps)", ""]
if not peers or not pick(section="pairs"):
    md += ["Not measured: " + "; ".join(m[n] for n in ("torch_note", "pip_note") if m.get(n)) + ".", ""]
    summary["pairs"] = []
else:
    rows, detail, summary["pairs"] = group_table("pairs", sps, lambda ours, theirs: ours / theirs, "samples/s", 0)
    md += [f"Each group ran back to back, {reps} time{'s' if reps > 1 else ''}, the order rotating; samples/s are "
           "the medians over the reps; a ratio is the median of the per-rep ratios fmnist_dist / peer (above 1: "
           "fmnist_dist is faster).", ""] + rows + ["", "Every group:", ""] + detail + [""]
    side_by_side += ["Per-step samples/s (b):"] + rows + [""]

wall_md = ["## (e) Whole-process wall time (np=1, 1 thread, batch 32)", ""]
if not pick(section="wall"):
    wall_md += ["Not measured.", ""]
else:
    rows, detail, summary["wall"] = group_table("wall", lambda r: r["wall_s"], lambda ours, theirs: theirs / ours,
                                                "s", 2)
    wall_md += ["What a user waits for: each process from start to exit, timed by the script: start-up, reading the "
           "data, the same warm-up + timed steps as (b) (fmnist_dist `--max-steps`, which then also writes its "
           "checkpoint; the peers `--evaluate-test`) and the evaluation of the 10,000 test images, with no "
           "validation set held out (`--validation-split 0` for every tool, so none evaluates more images than "
           "the others). A ratio is peer "
           "seconds / fmnist_dist seconds (above 1: fmnist_dist is faster).", ""] + rows + [""]
    side_by_side += ["Whole-process seconds (e):"] + rows + [""]

# (c)
summary["scaling"] = []
md += ["## (c) Scaling: np ranks x 1 thread, global batch 32 and 64", "",
       f"{cores} cores: np=4 is **oversubscribed** (4 ranks on {cores} cores, so it cannot be faster than np=2; "
       "it shows the cost of the extra communication and time-sharing). Medians over "
       f"{reps} rep{'s' if reps > 1 else ''}; the order of np rotates between reps; \"vs np=1\" is the median of the per-rep ratios "
       "samples/s(np) / samples/s(np=1 of the same rep); \"wait share\" is rank 0's median allreduce wait / "
       "median step.", "",
       "| model | global batch | np | samples/s | vs np=1 | ms/step | allreduce wait ms | wait share | "
       "peak RSS MiB/rank | per-rep samples/s |",
       "|---|---|---|---|---|---|---|---|---|---|"]
scaling_cases = list(dict.fromkeys((r["model"], r["batch"]) for r in runs if r["section"] == "scaling"))
for model, batch in scaling_cases:
        for np_ in (1, 2, 4):
            rows, ratios = [], []
            for rep in range(1, reps + 1):
                r = pick(section="scaling", model=model, batch=batch, np=np_, rep=rep)
                base = pick(section="scaling", model=model, batch=batch, np=1, rep=rep)
                if not r:
                    continue
                rows.append(r[0])
                if sps(r[0]) and base and sps(base[0]):
                    ratios.append(sps(r[0]) / sps(base[0]))
            ok = [r["result"] for r in rows if r["result"]]
            if not rows:
                continue
            label = f"{np_} (oversubscribed)" if np_ > cores else str(np_)
            if not ok:
                md.append(f"| {model} | {batch} | {label} | failed |" + " |" * 6)
                continue
            s = med([x["samples_per_second"] for x in ok])
            step = med([x["ms_per_step"] for x in ok])
            wait = med([x["allreduce_wait_ms"] for x in ok])
            share = med([x["allreduce_wait_ms"] / x["ms_per_step"] for x in ok])
            rss = max(x["peak_rss_mib"] for x in ok)
            mr = med(ratios) if ratios else None
            md.append(f"| {model} | {batch} | {label} | {s:,.0f} | {f'{mr:.2f}x' if mr else 'n/a'} | {step:.3f} | {wait:.3f} | "
                      f"{100 * share:.0f}% | {rss:.0f} | " + ", ".join(fmt(sps(r)) for r in rows) + " |")
            summary["scaling"].append({"model": model, "global_batch": batch, "np": np_,
                                       "oversubscribed": np_ > cores, "median_samples_per_second": s,
                                       "median_ratio_vs_np1": mr, "ratios_vs_np1": ratios,
                                       "median_ms_per_step": step, "median_allreduce_wait_ms": wait,
                                       "median_wait_share": share, "peak_rss_mib": rss,
                                       "runs": [r["id"] for r in rows]})
md += [""]

# (d)
summary["rss"] = []
md += ["## (d) Peak RSS per rank (MiB, the largest over ranks; batch 32)", "",
       "| model | np | fmnist_dist peak RSS MiB/rank | from | PyTorch peak RSS MiB (1 process) "
       "| PyTorch RSS after `import torch` MiB |",
       "|---|---|---|---|---|---|"]
for model in ("cnn", "cnn-deep"):
    torch_ok = [r["result"] for r in pick(section="pairs", model=model, tool="pytorch") if r["result"]]
    torch_rss = [x["peak_rss_mib"] for x in torch_ok]
    torch_base = [x["rss_after_import_mib"] for x in torch_ok if "rss_after_import_mib" in x]
    for np_ in (1, 2, 4):
        cand = [r for r in runs if r["model"] == model and r["np"] == np_ and r["batch"] == 32 and r["threads"] == 1
                and r["tool"] == "fmnist_dist" and r["section"] != "wall" and r["result"]]
        if not cand:
            continue
        rss = max(r["result"]["peak_rss_mib"] for r in cand)
        label = f"{np_} (oversubscribed)" if np_ > cores else str(np_)
        tr = f"{max(torch_rss):.0f}" if (np_ == 1 and torch_rss) else ""
        tb = f"{max(torch_base):.0f}" if (np_ == 1 and torch_base) else ""
        md.append(f"| {model} | {label} | {rss:.0f} | runs {', '.join(str(r['id']) for r in cand)} | {tr} | {tb} |")
        summary["rss"].append({"model": model, "np": np_, "peak_rss_mib_per_rank": rss,
                               "runs": [r["id"] for r in cand],
                               "pytorch_peak_rss_mib": max(torch_rss) if (np_ == 1 and torch_rss) else None})
md += ["", "PyTorch's figures are the largest over its runs in (b); its peak includes the torch libraries, "
       "whose share is the RSS measured right after `import torch`.", ""]

md += wall_md  # (e), computed with (b)

# (f)
summary["layout"] = []
md += ["## (f) Threads against ranks: 1 rank x 2 threads vs 2 ranks x 1 thread (global batch 32)", "",
       f"Both layouts use the {cores} cores; each pair ran back to back, the order alternating; \"2x1 / 1x2\" is the "
       "median of the per-rep ratios of samples/s.", "",
       "| model | 1 rank x 2 threads samples/s | 2 ranks x 1 thread samples/s | 2x1 / 1x2 | per-rep ratios |",
       "|---|---|---|---|---|"]
for model in ("cnn", "cnn-deep"):
    one, two, ratios = [], [], []
    for rep in range(1, reps + 1):
        a = pick(section="layout", model=model, rep=rep, np=1)
        b = pick(section="layout", model=model, rep=rep, np=2)
        sa, sb = (sps(a[0]) if a else None), (sps(b[0]) if b else None)
        if sa: one.append(sa)
        if sb: two.append(sb)
        if sa and sb: ratios.append(sb / sa)
    if not one and not two:
        continue
    mr = med(ratios) if ratios else None
    md.append(f"| {model} | {fmt(med(one)) if one else 'failed'} | {fmt(med(two)) if two else 'failed'} | "
              f"{f'{mr:.2f}x' if mr else 'n/a'} | " + ", ".join(f"{x:.2f}" for x in ratios) + " |")
    summary["layout"].append({"model": model, "one_rank_two_threads": med(one) if one else None,
                              "two_ranks_one_thread": med(two) if two else None, "median_ratio": mr,
                              "ratios": ratios})
md += [""]

# (g)
summary["watchdog"] = []
md += ["## (g) The stall watchdog's cost (mlp, np=2, batch 32)", "",
       "`--benchmark-watchdog` times the steps in alternating 10-step blocks without the deadline (blocking "
       "`MPI_Wait`) and with it (`MPI_Test` loops under `--stall-timeout`), off, on, on, off, ... in one process; "
       "the cost is the median of the block pairs' ratios (rank 0's step times).", "",
       "| rep | run | ms/step without | ms/step with | cost |", "|---|---|---|---|---|"]
costs = []
for r in pick(section="watchdog"):
    x = r["result"]
    if not x:
        md.append(f"| {r['rep']} | {r['id']} | failed | | |")
        continue
    costs.append(x["watchdog_cost_percent"])
    md.append(f"| {r['rep']} | {r['id']} | {x['watchdog_off_ms']:.4f} | {x['watchdog_on_ms']:.4f} | "
              f"{x['watchdog_cost_percent']:+.2f}% |")
    summary["watchdog"].append({"run": r["id"], "off_ms": x["watchdog_off_ms"], "on_ms": x["watchdog_on_ms"],
                                "cost_percent": x["watchdog_cost_percent"]})
if costs:
    md += ["", f"Median cost over {len(costs)} run{'s' if len(costs) > 1 else ''}: **{med(costs):+.2f}%** of the step."]
md += [""]

# Commands
md += ["## Commands, in run order", "",
       "Run numbers as above; `--benchmark-json`/`--json` paths point into the run's scratch folder.", "",
       "| run | section | rep | exit | started (UTC) | load avg | wall s | command |", "|---|---|---|---|---|---|---|---|"]
for r in runs:
    md.append(f"| {r['id']} | {r['section']} | {r['rep']} | {r['exit']} | {r['started']} | {r['loadavg_1min']} "
              f"| {r['wall_s']:.2f} | `{r['command']}` |")
md.append("")

doc = {"generated_by": m["invocation"], "started_at": m["started_at"], "finished_at": m["finished_at"],
       "elapsed_s": int(m["elapsed_s"]), "machine": m, "summary": summary, "runs": runs}
for name, text in (("benchmark.md", "\n".join(md)), ("benchmark.json", json.dumps(doc, indent=1) + "\n")):
    tmp = os.path.join(out, name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, os.path.join(out, name))
if side_by_side:
    print("fmnist_dist vs its peers (np=1, 1 thread, batch 32; medians of the back-to-back groups):")
    print("\n".join(side_by_side))
print(f"wrote {os.path.join(out, 'benchmark.md')} and {os.path.join(out, 'benchmark.json')}")
PY
if [[ -n "$allreduce_json" ]]; then
  cp -- "$allreduce_json" "$out_dir/allreduce-np2.json"
  python3 launch/scaling_model.py --benchmark "$out_dir/benchmark.json" --allreduce "$out_dir/allreduce-np2.json" \
    --out "$out_dir/scaling.md"
else
  echo "benchmark.sh: no fmnist_allreduce_bench sweep (not built next to the binary, or it failed); scaling.md not written" >&2
fi
echo "benchmark.sh: done in ${elapsed} s" >&2
