#!/usr/bin/env python3
"""PyTorch peer of `fmnist_dist --benchmark`: the same models, data and step count, timed the same way.

Builds the fmnist_dist presets (src/nn/model_spec.cpp; any spec of the same grammar works) as
torch.nn.Sequential with exactly the same layers: Conv2d ('same' = padding k//2, stride 1),
ReLU after every conv/dense except the last, MaxPool2d(P), AdaptiveAvgPool2d(1) + Flatten for
'gap', Dropout(R); Adam(lr 1e-3, eps 1e-7), CrossEntropyLoss. The data are the real
Fashion-MNIST .gz files read with gzip + numpy; like fmnist_dist, the first --validation-split
training images are held out and each step gathers its batch by indexing a uint8 tensor with a
seeded permutation, then converts to float and scales by 1/255. It runs W untimed warm-up
steps and S timed steps (the same (W + S) * B samples as `fmnist_dist --benchmark`), timing
each step from the batch gather to the step metrics (loss and correct count pulled back as
Python numbers), and reports the median ms/step and samples/s = B / median step, as
fmnist_dist does. Parameter initialisation is PyTorch's default (not Keras'); it does not
change the cost of a step.

Usage:
  pytorch_peer.py --model cnn --batch-size 32 --threads 1 --steps 60 --warmup 5 \
      [--data-dir data/fashion-mnist] [--json PATH] [--summary] [--evaluate-test]

Threads: --threads T sets torch.set_num_threads(T), one inter-op thread, and OMP_NUM_THREADS,
OPENBLAS_NUM_THREADS and MKL_NUM_THREADS = T (overriding the environment), since the BLAS
behind Debian's torch ignores set_num_threads. `cpu_time_per_wall_time` in the output checks it.

Output: one Markdown table (header + row) on stdout, like fmnist_dist, then a line
`PEER_JSON {...}` with the same figures; --json PATH also writes that JSON object to PATH.
Exit status: 0 done, 1 error, 3 torch (or numpy) cannot be imported.
"""
import argparse
import gzip
import json
import os
import platform
import re
import resource
import statistics
import sys
import time

PRESETS = {  # the same strings as presets() in src/nn/model_spec.cpp
    "mlp": "flatten-dense128-dense10",
    "mlp-300-100": "flatten-dense300-dense100-dense10",
    "cnn": "conv32x3same-pool2-conv64x3same-pool2-flatten-dense128-dense10",
    "cnn-gap": "conv32x3-pool2-conv64x3-gap-dense10",
    "cnn-deep": "conv64x3same-conv64x3same-drop0.5-pool2-conv128x3same-drop0.5-pool2-conv256x3-drop0.5-gap-dense10",
    "cnn-2x64": "conv64x3-pool2-conv64x3-pool2-flatten-dense128-dense10",
}
IMAGE_SIZE = 28
NUM_CLASSES = 10


def add_shared_arguments(p):
    """The options both peer scripts take: --model, --batch-size, --threads, --data-dir, --json."""
    p.add_argument("--model", default="mlp", help="preset name or layer spec (fmnist_dist grammar); default mlp")
    p.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    p.add_argument("--threads", type=int, default=1, help="intra-op and BLAS threads (default 1)")
    p.add_argument("--data-dir", default=os.environ.get("FMNIST_DATA", "data/fashion-mnist"),
                   help="folder with the Fashion-MNIST .gz files (default $FMNIST_DATA or data/fashion-mnist)")
    p.add_argument("--json", metavar="PATH", help="also write the figures to PATH as JSON")


def prog():
    """The running script's name, for error messages (this module also serves accuracy_peer.py)."""
    return os.path.basename(sys.argv[0])


def require_positive(p, args, names):
    """Exits through argparse's error when an option in `names` (attribute names) is <= 0."""
    for name in names:
        if getattr(args, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive")


def require_non_negative(p, args, names):
    """Exits through argparse's error when an option in `names` (attribute names) is < 0."""
    for name in names:
        if getattr(args, name) < 0:
            p.error(f"--{name.replace('_', '-')} must be >= 0")


def parse_args(argv):
    p = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Presets:\n" + "\n".join(f"  {k:12} {v}" for k, v in PRESETS.items()),
    )
    add_timing_arguments(p)
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    return check_timing_arguments(p, p.parse_args(argv))


def add_timing_arguments(p):
    """The options of the timing peers (this script and keras_peer.py): the shared ones, then the
    steps, the held-out split, the seed, --summary and --evaluate-test."""
    add_shared_arguments(p)
    p.add_argument("--steps", type=int, default=30, help="timed steps (default 30, as fmnist_dist)")
    p.add_argument("--warmup", type=int, default=5, help="untimed warm-up steps (default 5, as fmnist_dist)")
    p.add_argument("--validation-split", type=int, default=5000,
                   help="hold out the FIRST N training images, as fmnist_dist (default 5000)")
    p.add_argument("--seed", type=int, default=42, help="seed for init, order and dropout (default 42)")
    p.add_argument("--summary", action="store_true", help="print the model and its parameter count, then exit")
    p.add_argument("--evaluate-test", action="store_true",
                   help="after the steps, evaluate the 10,000 test images in batches of --batch-size (as "
                        "`fmnist_dist --max-steps` does), for a whole-process wall time")


def check_timing_arguments(p, args):
    """`args` after the range checks of add_timing_arguments' options."""
    require_positive(p, args, ("batch_size", "threads", "steps"))
    require_non_negative(p, args, ("warmup", "validation_split"))
    return args


def parse_spec(spec):
    """The layers of a fmnist_dist spec on 1x28x28 inputs, as tuples every peer builds from:
    ("conv", in_c, filters, k, stride, same, relu), ("dense", in_units, units, relu),
    ("pool", size, stride), ("drop", rate), ("gap",), ("flatten",), ("relu",)."""
    tokens = spec.split("-")
    layers = []
    c, h, w = 1, IMAGE_SIZE, IMAGE_SIZE  # current shape; flat when h == w == 1 after flatten/gap
    flat = False
    for i, tok in enumerate(tokens):
        last = i + 1 == len(tokens)
        m = re.fullmatch(r"conv(\d+)x(\d+)(?:s(\d+))?(same|valid)?(linear)?", tok)
        if m:
            filters, k = int(m[1]), int(m[2])
            stride = int(m[3]) if m[3] else 1
            same = m[4] == "same"
            if same and (stride != 1 or k % 2 == 0):
                raise SystemExit(f"{prog()}: '{tok}': only odd kernels with stride 1 for 'same'")
            pad = k // 2 if same else 0
            layers.append(("conv", c, filters, k, stride, same, not (m[5] or last)))
            h = (h + 2 * pad - k) // stride + 1
            w = (w + 2 * pad - k) // stride + 1
            c = filters
            continue
        m = re.fullmatch(r"dense(\d+)(linear)?", tok)
        if m:
            if not flat:  # Keras' Dense on a flat input only; fmnist_dist specs flatten first
                raise SystemExit(f"{prog()}: '{tok}' needs a flat input (add flatten or gap)")
            layers.append(("dense", c, int(m[1]), not (m[2] or last)))
            c = int(m[1])
            continue
        m = re.fullmatch(r"pool(\d+)(?:s(\d+))?", tok)
        if m:
            size = int(m[1])
            stride = int(m[2]) if m[2] else size
            layers.append(("pool", size, stride))
            h = (h - size) // stride + 1
            w = (w - size) // stride + 1
            continue
        m = re.fullmatch(r"drop(\d*\.?\d+)", tok)
        if m:
            layers.append(("drop", float(m[1])))
            continue
        if tok in ("gap", "flatten"):
            layers.append((tok,))
            if tok == "flatten":
                c = c * h * w
            h = w = 1
            flat = True
            continue
        if tok == "relu":
            layers.append(("relu",))
            continue
        raise SystemExit(f"{prog()}: model spec token '{tok}' is not a layer")
    if not flat or c != NUM_CLASSES:
        raise SystemExit(f"{prog()}: model spec '{spec}' must end with {NUM_CLASSES} flat logits")
    return layers


def build_model(nn, spec):
    """torch.nn.Sequential for a fmnist_dist spec on 1x28x28 inputs (NCHW)."""
    layers = []
    for kind, *a in parse_spec(spec):
        if kind == "conv":
            in_c, filters, k, stride, same, relu = a
            layers.append(nn.Conv2d(in_c, filters, k, stride=stride, padding=k // 2 if same else 0))
            if relu:
                layers.append(nn.ReLU())
        elif kind == "dense":
            in_units, units, relu = a
            layers.append(nn.Linear(in_units, units))
            if relu:
                layers.append(nn.ReLU())
        elif kind == "pool":
            layers.append(nn.MaxPool2d(a[0], stride=a[1]))
        elif kind == "drop":
            layers.append(nn.Dropout(a[0]))
        elif kind == "gap":
            layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        elif kind == "flatten":
            layers.append(nn.Flatten())
        else:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def read_idx(path, magic, header_ints):
    """One gzip IDX file as a uint8 numpy array of its declared shape."""
    import numpy as np

    with gzip.open(path, "rb") as f:
        raw = f.read()
    head = np.frombuffer(raw[: 4 * header_ints], dtype=">u4")
    if int(head[0]) != magic:
        raise SystemExit(f"{prog()}: {path}: bad magic {int(head[0]):#x}")
    return np.frombuffer(raw[4 * header_ints:], dtype=np.uint8).reshape([int(d) for d in head[1:]])


def write_json(path, obj):
    """`obj` as one line of JSON in the file `path`."""
    with open(path, "w") as f:
        json.dump(obj, f)
        f.write("\n")


def import_torch(threads):
    """Imports numpy and torch limited to `threads` threads and returns (np, torch, nn); when
    they cannot be imported, prints why and exits with status 3.

    Debian's torch does its GEMMs through the libblas.so.3 alternative (OpenBLAS pthread where
    installed), which ignores torch.set_num_threads and would otherwise start one thread per
    core; so the BLAS variables are set before torch is imported."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    try:
        import numpy as np
        import torch
        from torch import nn
    except ImportError as e:
        print(f"{prog()}: cannot import torch/numpy with {sys.executable}: {e} "
              "(Debian: apt-get install python3-torch)", file=sys.stderr)
        sys.exit(3)
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    return np, torch, nn


def evaluate_test(np, torch, model, criterion, args):
    """Test loss and accuracy over the 10,000 test images in batches of --batch-size, timed."""
    start = time.perf_counter()
    images = read_idx(os.path.join(args.data_dir, "t10k-images-idx3-ubyte.gz"), 0x803, 4)
    labels = read_idx(os.path.join(args.data_dir, "t10k-labels-idx1-ubyte.gz"), 0x801, 2)
    x_u8 = torch.from_numpy(images.copy()).reshape(len(labels), 1, IMAGE_SIZE, IMAGE_SIZE)
    y_all = torch.from_numpy(labels.astype(np.int64))
    model.eval()
    loss_sum, correct = 0.0, 0
    with torch.no_grad():
        for begin in range(0, len(labels), args.batch_size):
            x = x_u8[begin:begin + args.batch_size].float().mul_(1.0 / 255.0)
            y = y_all[begin:begin + args.batch_size]
            logits = model(x)
            loss_sum += float(criterion(logits, y)) * len(y)
            correct += int((logits.argmax(1) == y).sum())
    print(f"test_loss: {loss_sum / len(labels):.4f} - test_accuracy: {correct / len(labels):.4f}")
    return {"test_loss": round(loss_sum / len(labels), 4), "test_accuracy": round(correct / len(labels), 4),
            "test_seconds": round(time.perf_counter() - start, 3)}


def main(argv):
    args = parse_args(argv)
    np, torch, nn = import_torch(args.threads)
    rss_after_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    torch.manual_seed(args.seed)

    spec = PRESETS.get(args.model, args.model)
    model = build_model(nn, spec)
    params = sum(p.numel() for p in model.parameters())
    if args.summary:
        print(model)
        print(f"Total params: {params:,}")
        return 0

    images = read_idx(os.path.join(args.data_dir, "train-images-idx3-ubyte.gz"), 0x803, 4)
    labels = read_idx(os.path.join(args.data_dir, "train-labels-idx1-ubyte.gz"), 0x801, 2)
    images, labels = images[args.validation_split:], labels[args.validation_split:]
    count = len(labels)
    total_steps = args.warmup + args.steps
    if total_steps * args.batch_size > count:
        print(f"{prog()}: {total_steps} steps of {args.batch_size} samples exceed the {count} "
              "training samples", file=sys.stderr)
        return 1
    x_u8 = torch.from_numpy(images.copy()).reshape(count, 1, IMAGE_SIZE, IMAGE_SIZE)  # uint8, like ours
    y_all = torch.from_numpy(labels.astype(np.int64))
    order = torch.from_numpy(np.random.default_rng(args.seed).permutation(count).astype(np.int64))

    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, eps=1e-7)
    criterion = nn.CrossEntropyLoss()
    clock = time.perf_counter
    phases = {k: [] for k in ("gather", "forward", "backward", "optimizer", "metrics", "total")}
    B = args.batch_size
    cpu_start = wall_start = 0.0
    for step in range(total_steps):
        if step == args.warmup:
            cpu_start, wall_start = time.process_time(), clock()
        t0 = clock()
        ids = order[step * B:(step + 1) * B]
        x = x_u8[ids].float().mul_(1.0 / 255.0)
        y = y_all[ids]
        t1 = clock()
        optimizer.zero_grad()
        logits = model(x)
        loss = criterion(logits, y)
        t2 = clock()
        loss.backward()
        t3 = clock()
        optimizer.step()
        t4 = clock()
        _loss_value = loss.item()
        _correct = int((logits.detach().argmax(1) == y).sum().item())
        t5 = clock()
        if step >= args.warmup:
            for k, v in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t5 - t0)):
                phases[k].append(v * 1e3)

    cpu_per_wall = (time.process_time() - cpu_start) / (clock() - wall_start)
    test = evaluate_test(np, torch, model, criterion, args) if args.evaluate_test else {}
    med = {k: statistics.median(v) for k, v in phases.items()}
    result = {
        "framework": "pytorch",
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "model": args.model,
        "spec": spec,
        "params": params,
        "threads": torch.get_num_threads(),
        "batch": B,
        "warmup_steps": args.warmup,
        "timed_steps": args.steps,
        "samples_per_second": round(B / (med["total"] * 1e-3), 1),
        "ms_per_step": round(med["total"], 4),
        "mean_ms_per_step": round(statistics.fmean(phases["total"]), 4),
        "gather_ms": round(med["gather"], 4),
        "forward_ms": round(med["forward"], 4),
        "backward_ms": round(med["backward"], 4),
        "optimizer_ms": round(med["optimizer"], 4),
        "metrics_ms": round(med["metrics"], 4),
        "cpu_time_per_wall_time": round(cpu_per_wall, 2),
        "rss_after_import_mib": round(rss_after_import, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        **test,
    }
    print("| framework | model | threads | batch | samples/s | ms/step | gather | forward | backward | optimizer "
          "| metrics | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    print(f"| pytorch {result['torch_version']} | {args.model} | {result['threads']} | {B} | "
          f"{result['samples_per_second']:.0f} | {med['total']:.3f} | {med['gather']:.3f} | {med['forward']:.3f} | "
          f"{med['backward']:.3f} | {med['optimizer']:.3f} | {med['metrics']:.3f} | {result['peak_rss_mib']:.0f} |")
    print("PEER_JSON " + json.dumps(result))
    if args.json:
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
