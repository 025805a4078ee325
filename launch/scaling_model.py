#!/usr/bin/env python3
"""The scaling model on paper: predicted step time and efficiency of fmnist_dist at 8 to 1,024
ranks, from what launch/benchmark.sh measured on this machine.

Inputs (both written by one launch/benchmark.sh run):
  --benchmark benchmark.json   per preset: the np=1 step split (forward, backward, optimizer,
                               metrics at batch 32), the parameter count and the bucket size, and
                               the measured np=1, 2, 4 step times of section (c);
  --allreduce allreduce.json   fmnist_allreduce_bench at np=2: median time of one allreduce per
                               message size (4 B to 16 MiB), through shared memory.

The model (strong scaling: the global batch B is fixed, p ranks each take B/p samples):
  compute(p)   = (forward + backward per sample at batch 32) * B / p    (scales with the share)
  fixed        = optimizer + metrics                                    (every replica, each step)
  allreduce(p) = k * a(p) * alpha + b(p) * n * beta                     (n gradient bytes, k buckets)
      ring:               a = 2 (p - 1),  b = 2 (p - 1) / p
      recursive doubling: a = log2 p,     b = log2 p
  step(p)      = compute(p) + fixed + allreduce(p)          (no overlap: an upper bound)
  overlapped   = forward(p) + max(backward(p), allreduce(p)) + fixed    (buckets hidden by backward)
  efficiency   = step(1) / (p * step(p))
alpha is the latency of one MPI message measured here (half the 4-byte allreduce at np=2,
which is one exchange each way); beta is 8 / link bit rate for the 10 and 100 Gb/s links (the
shared-memory beta measured here is shown beside them). The per-sample compute is the one
measured at batch 32: at a handful of samples per rank the GEMMs run slower than that, so the
predictions at large p are optimistic about compute.
"""
import argparse
import json
import math
import statistics
import sys

LINKS = {"10 Gb/s": 8 / 10e9, "100 Gb/s": 8 / 100e9}  # seconds per byte
RANKS = [8, 16, 32, 64, 128, 256, 512, 1024]
BATCHES = [256, 4096]


def fit_alpha_beta(sizes):
    """(alpha, beta) of the shared-memory allreduce at p = 2 (ring: 2 alpha + n beta): alpha from the
    smallest message, beta the median slope over the messages of 64 KiB and more."""
    by_size = sorted((s["bytes"], s["median_us"] * 1e-6) for s in sizes)
    alpha = by_size[0][1] / 2
    slopes = [(t - 2 * alpha) / n for n, t in by_size if n >= 65536]
    return alpha, statistics.median(slopes) if slopes else float("nan")


def allreduce_seconds(p, n_bytes, buckets, alpha, beta, algorithm):
    if p == 1:
        return 0.0
    if algorithm == "ring":
        return buckets * 2 * (p - 1) * alpha + 2 * (p - 1) / p * n_bytes * beta
    steps = math.log2(p)
    return buckets * steps * alpha + steps * n_bytes * beta


def preset_costs(doc):
    """model -> per-sample forward/backward seconds, fixed seconds, gradient bytes, buckets."""
    costs = {}
    for x in doc["summary"]["presets"]:
        if x.get("failed") or "params" not in x:
            continue
        batch = x["batch"]
        n_bytes = 4 * x["params"]
        bucket_bytes = x["bucket_mb"] * 1024 * 1024
        costs[x["model"]] = {
            "forward": x["forward_ms"] * 1e-3 / batch,
            "backward": x["backward_ms"] * 1e-3 / batch,
            "fixed": (x["optimizer_ms"] + x["metrics_ms"]) * 1e-3,
            "bytes": n_bytes,
            "buckets": max(1, math.ceil(n_bytes / bucket_bytes)),
            "params": x["params"],
        }
    return costs


def predict(c, p, batch, alpha, beta, algorithm):
    share = batch / p
    ar = allreduce_seconds(p, c["bytes"], c["buckets"], alpha, beta, algorithm)
    fwd, bwd = c["forward"] * share, c["backward"] * share
    plain = fwd + bwd + c["fixed"] + ar
    overlapped = fwd + max(bwd, ar) + c["fixed"]
    return plain, overlapped


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--benchmark", required=True, help="benchmark.json of launch/benchmark.sh")
    ap.add_argument("--allreduce", required=True, help="fmnist_allreduce_bench --json output at np=2")
    ap.add_argument("--out", required=True, help="the Markdown file to write (scaling.md)")
    args = ap.parse_args(argv)
    with open(args.benchmark) as f:
        doc = json.load(f)
    with open(args.allreduce) as f:
        ar = json.load(f)
    if ar.get("ranks") != 2:
        sys.exit(f"scaling_model.py: {args.allreduce}: expected an np=2 sweep, found ranks={ar.get('ranks')}")
    alpha, beta_shm = fit_alpha_beta(ar["sizes"])
    costs = preset_costs(doc)
    if not costs:
        sys.exit(f"scaling_model.py: {args.benchmark}: no preset with a step split and a parameter count")

    md = ["# Scaling model: fmnist_dist from 1 to 1,024 ranks", "",
          f"Written by `launch/scaling_model.py` from the `{doc['generated_by']}` run of {doc['started_at']} "
          f"(results/benchmark.md, commit {doc['machine'].get('git_commit', '?')[:12]}) and its np=2 "
          "`fmnist_allreduce_bench` sweep. The measured figures come from that run; everything past np=4 is a "
          "prediction of the model below, not a measurement. Regenerate both with the same command.", "",
          "## The model", "", "```text", __doc__[__doc__.index("The model"):].strip(), "```", ''] + [
          "", "## Measured here", "",
          f"- One MPI message (shared memory, np=2): **alpha = {alpha * 1e6:.2f} µs**; shared-memory bandwidth term "
          f"beta = {beta_shm * 1e9:.3f} ns/B ({1 / beta_shm / 1e9:.2f} GB/s per direction, fitted from 64 KiB–16 MiB)." if beta_shm == beta_shm else
          f"- One MPI message (shared memory, np=2): **alpha = {alpha * 1e6:.2f} µs**.",
          "- Links: 10 Gb/s → beta = 0.8 ns/B; 100 Gb/s → beta = 0.08 ns/B. A real network's alpha is larger than "
          "this shared-memory one; the alpha term is k · a(p) · alpha, so every extra microsecond of latency adds "
          "k · 2(p − 1) µs to a ring allreduce.", "",
          "| allreduce bytes | median µs (np=2) |", "|---|---|"]
    md += [f"| {s['bytes']:,.0f} | {s['median_us']:.2f} |" for s in ar["sizes"]]
    md += ["", "Step time per preset (ms, global batch 32, 1 thread per rank; medians of section (c); np=4 is "
           "oversubscribed on this 2-core machine) beside the model's prediction for the same p with the "
           "shared-memory alpha and beta:", "",
           "| model | params | gradient MiB | buckets | np=1 | np=2 | np=4 | model np=2 (no overlap / overlapped) |",
           "|---|---|---|---|---|---|---|---|"]
    scaling = {(s["model"], s["global_batch"], s["np"]): s for s in doc["summary"]["scaling"]}
    for model, c in costs.items():
        cells = []
        for p in (1, 2, 4):
            s = scaling.get((model, 32, p))
            cells.append(f"{s['median_ms_per_step']:.3f}" if s else "—")
        plain, over = predict(c, 2, 32, alpha, beta_shm, "ring")
        md.append(f"| {model} | {c['params']:,} | {c['bytes'] / 2**20:.2f} | {c['buckets']} | " + " | ".join(cells)
                  + f" | {plain * 1e3:.3f} / {over * 1e3:.3f} |")

    summary = {"alpha_s": alpha, "beta_shm_s_per_byte": beta_shm, "predictions": []}
    for batch in BATCHES:
        for link, beta in LINKS.items():
            md += ["", f"## Predicted: global batch {batch:,}, {link} link", "",
                   "Step ms (ring, no overlap) and efficiency; in brackets: overlapped ring, then recursive doubling "
                   "(no overlap). \"—\": fewer than one sample per rank.", "",
                   "| model | " + " | ".join(f"p={p}" for p in RANKS) + " | stops scaling |",
                   "|---|" + "---|" * (len(RANKS) + 1)]
            for model, c in costs.items():
                t1 = predict(c, 1, batch, alpha, beta, "ring")[0]
                cells, stop = [], None
                best_t = t1
                for p in RANKS:
                    if p > batch:
                        cells.append("—")
                        continue
                    ring, over = predict(c, p, batch, alpha, beta, "ring")
                    rd = predict(c, p, batch, alpha, beta, "rd")[0]
                    eff = t1 / (p * ring)
                    cells.append(f"{ring * 1e3:.2f} ms, {100 * eff:.0f}% ({100 * t1 / (p * over):.0f}%, "
                                 f"{100 * t1 / (p * rd):.0f}%)")
                    if stop is None and (eff < 0.5 or ring >= best_t):
                        stop = p
                    best_t = min(best_t, ring)
                    summary["predictions"].append({"model": model, "batch": batch, "link": link, "p": p,
                                                   "ring_ms": ring * 1e3, "overlapped_ms": over * 1e3,
                                                   "recursive_doubling_ms": rd * 1e3, "efficiency": eff})
                md.append(f"| {model} | " + " | ".join(cells) + " | "
                          + (f"p = {stop} (efficiency < 50% or no faster)" if stop
                   else f"not by p = {max(p for p in RANKS if p <= batch):,}") + " |")
    preds = summary["predictions"]
    rd_wins = sum(1 for x in preds if x["recursive_doubling_ms"] < x["ring_ms"])
    md += ["", "## Reading it", "",
           "- A preset stops scaling where the allreduce of its whole gradient, which does not shrink with p, "
           "outgrows the compute share B/p, which does; the fixed optimizer step (every replica updates every "
           "parameter) is a floor that does not shrink either.",
           "- A larger global batch grows the compute share and leaves the allreduce as it is, so it moves the "
           "limit out.",
           "- Overlap hides the allreduce behind backward only while it is shorter than backward.",
           f"- Recursive doubling is faster than the ring in {rd_wins} of the {len(preds)} predicted cases above "
           "(it sends log2 p whole gradients against the ring's 2 (p − 1) / p of one, and fewer latencies).", ""]
    with open(args.out, "w") as f:
        f.write("\n".join(md))
    with open(args.out.rsplit(".", 1)[0] + ".json", "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
