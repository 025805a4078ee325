#!/usr/bin/env python3
"""Keras peer of `fmnist_dist --benchmark`: the tutorials' own framework timed on the same models,
batch, steps, threads and data.

Builds a fmnist_dist spec (the grammar of src/nn/model_spec.cpp, parsed by pytorch_peer.py's
parse_spec) as a keras.Sequential on (28, 28, 1) inputs, as the tutorials write it: Conv2D
(padding 'same' or 'valid', ReLU), MaxPooling2D, Dropout, GlobalAveragePooling2D, Flatten, Dense;
Adam(1e-3, epsilon 1e-7) and SparseCategoricalCrossentropy(from_logits=True), metric accuracy.
The data are the real Fashion-MNIST .gz files; the first --validation-split training images are
held out, the rest are put in the order of a seeded permutation and scaled by 1/255 (as the
tutorials do before fit), and `model.fit` runs W + S steps of batch B over them (shuffle off).
A callback notes the time at the end of every batch; the step time is the time between two
consecutive batch ends, and samples/s = B / median step over the S timed steps, as fmnist_dist
and pytorch_peer.py report it. --evaluate-test then calls `model.evaluate` on the 10,000 test
images with the same batch, for a whole-process wall time.

Threads: --threads T pins the process to T of the CPUs it may use (os.sched_setaffinity) before
the backend is imported, and tells the backend to use T threads (XLA_FLAGS for JAX,
torch.set_num_threads, TensorFlow's threading config). `cpu_time_per_wall_time` checks it.

Usage:
  keras_peer.py --model cnn --batch-size 32 --threads 1 --steps 60 --warmup 5 [--backend jax]
      [--data-dir data/fashion-mnist] [--json PATH] [--summary] [--evaluate-test]

Output: one Markdown table (header + row) on stdout, then `PEER_JSON {...}`, as pytorch_peer.py.
Exit status: 0 done, 1 error, 3 keras or its backend cannot be imported.
"""
import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_peer import (  # noqa: E402  (no torch import at module level)
    IMAGE_SIZE, PRESETS, add_timing_arguments, check_timing_arguments, parse_spec, prog, read_idx, write_json)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_timing_arguments(p)
    p.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "jax"),
                   choices=("jax", "tensorflow", "torch"), help="Keras backend (default $KERAS_BACKEND or jax)")
    return check_timing_arguments(p, p.parse_args(argv))


def import_keras(backend, threads):
    """Limits the process to `threads` CPUs and threads, imports numpy and keras with `backend`,
    and returns (np, keras); when they cannot be imported, prints why and exits with status 3."""
    allowed = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, set(allowed[:threads]))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
        os.environ[var] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    os.environ["KERAS_BACKEND"] = backend
    if backend == "jax":
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                   f" --xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'}"
                                   f" intra_op_parallelism_threads={threads}").strip()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import numpy as np
        import keras
        if backend == "torch":
            import torch
            torch.set_num_threads(threads)
        elif backend == "tensorflow":
            import tensorflow as tf
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
    except ImportError as e:
        print(f"{prog()}: cannot import keras with the {backend} backend using {sys.executable}: {e} "
              "(pip install keras and the backend into a virtual environment: launch/pip-venv.sh keras)", file=sys.stderr)
        sys.exit(3)
    return np, keras


def build_model(keras, spec):
    """keras.Sequential for a fmnist_dist spec on (28, 28, 1) inputs; the last layer emits logits."""
    L = keras.layers
    layers = [keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 1))]
    for kind, *a in parse_spec(spec):
        if kind == "conv":
            _in_c, filters, k, stride, same, relu = a
            layers.append(L.Conv2D(filters, k, strides=stride, padding="same" if same else "valid",
                                   activation="relu" if relu else None))
        elif kind == "dense":
            _in_units, units, relu = a
            layers.append(L.Dense(units, activation="relu" if relu else None))
        elif kind == "pool":
            layers.append(L.MaxPooling2D(a[0], strides=a[1]))
        elif kind == "drop":
            layers.append(L.Dropout(a[0]))
        elif kind == "gap":
            layers.append(L.GlobalAveragePooling2D())
        elif kind == "flatten":
            layers.append(L.Flatten())
        else:
            layers.append(L.ReLU())
    return keras.Sequential(layers)


def main(argv):
    args = parse_args(argv)
    np, keras = import_keras(args.backend, args.threads)
    rss_after_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    keras.utils.set_random_seed(args.seed)
    spec = PRESETS.get(args.model, args.model)
    model = build_model(keras, spec)
    params = model.count_params()
    if args.summary:
        model.summary()
        return 0

    images = read_idx(os.path.join(args.data_dir, "train-images-idx3-ubyte.gz"), 0x803, 4)
    labels = read_idx(os.path.join(args.data_dir, "train-labels-idx1-ubyte.gz"), 0x801, 2)
    images, labels = images[args.validation_split:], labels[args.validation_split:]
    total_steps = args.warmup + args.steps
    B = args.batch_size
    if total_steps * B > len(labels):
        print(f"{prog()}: {total_steps} steps of {B} samples exceed the {len(labels)} training samples",
              file=sys.stderr)
        return 1
    order = np.random.default_rng(args.seed).permutation(len(labels))[:total_steps * B]
    x = (images[order].astype(np.float32) / 255.0).reshape(-1, IMAGE_SIZE, IMAGE_SIZE, 1)
    y = labels[order].astype(np.int64)

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3, epsilon=1e-7),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    ends = []

    class BatchClock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            ends.append(time.perf_counter())

    cpu_start, fit_start = time.process_time(), time.perf_counter()
    model.fit(x, y, batch_size=B, epochs=1, steps_per_epoch=total_steps, shuffle=False, verbose=0,
              callbacks=[BatchClock()])
    fit_seconds = time.perf_counter() - fit_start
    cpu_per_wall = (time.process_time() - cpu_start) / fit_seconds
    if len(ends) != total_steps:
        print(f"{prog()}: expected {total_steps} batch ends from fit, found {len(ends)}", file=sys.stderr)
        return 1
    # Step s (timed) ends at ends[s]; it began when step s - 1 ended. The first warm-up step
    # includes the trace and compile, so at least one warm-up step is needed before timing.
    first = max(args.warmup, 1)
    steps_ms = [(ends[s] - ends[s - 1]) * 1e3 for s in range(first, total_steps)]

    test = {}
    if args.evaluate_test:
        t0 = time.perf_counter()
        test_images = read_idx(os.path.join(args.data_dir, "t10k-images-idx3-ubyte.gz"), 0x803, 4)
        test_labels = read_idx(os.path.join(args.data_dir, "t10k-labels-idx1-ubyte.gz"), 0x801, 2)
        tx = (test_images.astype(np.float32) / 255.0).reshape(-1, IMAGE_SIZE, IMAGE_SIZE, 1)
        loss, accuracy = model.evaluate(tx, test_labels.astype(np.int64), batch_size=B, verbose=0)
        print(f"test_loss: {loss:.4f} - test_accuracy: {accuracy:.4f}")
        test = {"test_loss": round(float(loss), 4), "test_accuracy": round(float(accuracy), 4),
                "test_seconds": round(time.perf_counter() - t0, 3)}

    median_ms = statistics.median(steps_ms)
    result = {
        "framework": f"keras-{args.backend}",
        "keras_version": keras.__version__,
        "backend_version": backend_version(args.backend),
        "python": platform.python_version(),
        "model": args.model,
        "spec": spec,
        "params": params,
        "threads": args.threads,
        "batch": B,
        "warmup_steps": args.warmup,
        "timed_steps": len(steps_ms),
        "samples_per_second": round(B / (median_ms * 1e-3), 1),
        "ms_per_step": round(median_ms, 4),
        "mean_ms_per_step": round(statistics.fmean(steps_ms), 4),
        "fit_seconds": round(fit_seconds, 3),
        "cpu_time_per_wall_time": round(cpu_per_wall, 2),
        "rss_after_import_mib": round(rss_after_import, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        **test,
    }
    print("| framework | model | threads | batch | samples/s | ms/step | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    print(f"| keras {result['keras_version']} ({args.backend} {result['backend_version']}) | {args.model} | "
          f"{args.threads} | {B} | {result['samples_per_second']:.0f} | {median_ms:.3f} | {result['peak_rss_mib']:.0f} |")
    print("PEER_JSON " + json.dumps(result))
    if args.json:
        write_json(args.json, result)
    return 0


def backend_version(backend):
    module = {"jax": "jax", "tensorflow": "tensorflow", "torch": "torch"}[backend]
    return sys.modules[module].__version__ if module in sys.modules else "?"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
