#!/usr/bin/env python3
"""Keras accuracy peer of `fmnist_dist --model cnn-bn`: the same recipe trained in the tutorials'
own framework, for comparing test accuracy (results/accuracy.md).

The model is the cnn-bn preset of src/nn/model_spec.cpp,
conv32x3samelinear-bn-relu-pool2-conv64x3samelinear-bn-relu-pool2-flatten-dense128-dense10,
written as a Keras user writes it:

    RandomFlip("horizontal")            when --augment flip; active in training only
    Conv2D(32, 3, padding="same") -> BatchNormalization() -> ReLU() -> MaxPooling2D(2)
    Conv2D(64, 3, padding="same") -> BatchNormalization() -> ReLU() -> MaxPooling2D(2)
    Flatten() -> Dense(128, relu) -> Dense(10)          (logits)

BatchNormalization has Keras' defaults (momentum 0.99, epsilon 1e-3), as fmnist_dist's `bn`.
Optimizer: Adam(epsilon 1e-7), or AdamW when --weight-decay > 0 (decoupled, w -= lr * wd * w,
as fmnist_dist's --weight-decay), with CosineDecay(initial_learning_rate=0,
warmup_target=--lr, warmup_steps=--warmup-steps, decay_steps = all steps - warm-up), which is
fmnist_dist's `--lr-schedule cosine` with --decay-steps 0. Loss: CategoricalCrossentropy
(from_logits, --label-smoothing). Data: the four .gz files of --data-dir; the first
--validation-split training images are held out (0: train on all 60,000), pixels / 255;
`model.fit` shuffles every epoch; the 10,000 test images are evaluated at the end.

Usage:
  keras_accuracy_peer.py --epochs 20 --seed 1 [--batch-size 64] [--lr 0.001] [--warmup-steps 500]
      [--augment flip|none] [--label-smoothing 0] [--weight-decay 0] [--validation-split 0]
      [--threads 2] [--backend jax] [--data-dir data/fashion-mnist] [--json PATH]

Output: Keras' own per-epoch lines, then `test_loss: X - test_accuracy: Y` and the wall time.
Exit status: 0 done, 1 error, 3 keras or its backend cannot be imported.
"""
import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from keras_peer import backend_version, import_keras  # noqa: E402
from pytorch_peer import IMAGE_SIZE, NUM_CLASSES, prog, read_idx, write_json  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup-steps", type=int, default=500)
    p.add_argument("--augment", choices=("flip", "none"), default="flip")
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--validation-split", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--backend", default=os.environ.get("KERAS_BACKEND", "jax"), choices=("jax", "tensorflow", "torch"))
    p.add_argument("--data-dir", default="data/fashion-mnist")
    p.add_argument("--json", help="also write the settings, history and test figures to this file")
    args = p.parse_args(argv)
    for name in ("epochs", "batch_size", "threads"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')}: expected a positive integer, found {getattr(args, name)}")
    if not 0.0 <= args.label_smoothing < 1.0:
        p.error(f"--label-smoothing: expected a value in [0, 1), found {args.label_smoothing}")
    return args


def build_cnn_bn(keras, flip):
    L = keras.layers
    layers = [keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 1))]
    if flip:
        layers.append(L.RandomFlip("horizontal"))
    for filters in (32, 64):
        layers += [L.Conv2D(filters, 3, padding="same"), L.BatchNormalization(), L.ReLU(), L.MaxPooling2D(2)]
    layers += [L.Flatten(), L.Dense(128, activation="relu"), L.Dense(NUM_CLASSES)]
    return keras.Sequential(layers)


def main(argv):
    args = parse_args(argv)
    start = time.perf_counter()
    np, keras = import_keras(args.backend, args.threads)
    keras.utils.set_random_seed(args.seed)

    def load(prefix):
        images = read_idx(os.path.join(args.data_dir, f"{prefix}-images-idx3-ubyte.gz"), 0x803, 4)
        labels = read_idx(os.path.join(args.data_dir, f"{prefix}-labels-idx1-ubyte.gz"), 0x801, 2)
        x = (images.astype(np.float32) / 255.0).reshape(-1, IMAGE_SIZE, IMAGE_SIZE, 1)
        return x, keras.utils.to_categorical(labels, NUM_CLASSES)

    x, y = load("train")
    if args.validation_split >= len(x):
        print(f"{prog()}: --validation-split {args.validation_split} leaves no training images", file=sys.stderr)
        return 1
    x, y = x[args.validation_split:], y[args.validation_split:]
    test_x, test_y = load("t10k")

    steps = math.ceil(len(x) / args.batch_size) * args.epochs
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0, decay_steps=max(1, steps - args.warmup_steps), alpha=0.0,
        warmup_target=args.lr, warmup_steps=args.warmup_steps)
    if args.weight_decay > 0:
        optimizer = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=args.weight_decay, epsilon=1e-7)
    else:
        optimizer = keras.optimizers.Adam(learning_rate=schedule, epsilon=1e-7)
    model = build_cnn_bn(keras, args.augment == "flip")
    model.compile(optimizer=optimizer,
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=args.label_smoothing),
                  metrics=["accuracy"])
    fit_start = time.perf_counter()
    history = model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, shuffle=True, verbose=2)
    fit_seconds = time.perf_counter() - fit_start
    loss, accuracy = model.evaluate(test_x, test_y, batch_size=256, verbose=0)
    wall = time.perf_counter() - start
    print(f"test_loss: {loss:.4f} - test_accuracy: {accuracy:.4f}")
    print(f"wall time: {wall:.1f} s (fit {fit_seconds:.1f} s), keras {keras.__version__}, "
          f"{args.backend} {backend_version(args.backend)}, {args.threads} threads, {model.count_params()} parameters")
    if args.json:
        write_json(args.json, {
            "framework": f"keras-{args.backend}", "keras_version": keras.__version__,
            "backend_version": backend_version(args.backend), "settings": vars(args),
            "params": model.count_params(),
            "history": {k: [round(float(v), 4) for v in vs] for k, vs in history.history.items()},
            "test_loss": round(float(loss), 4), "test_accuracy": round(float(accuracy), 4),
            "fit_seconds": round(fit_seconds, 1), "wall_seconds": round(wall, 1)})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
