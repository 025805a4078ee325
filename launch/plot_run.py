#!/usr/bin/python3
"""Pictures of a fmnist_dist run, from its HDF5 files only (history.h5, evaluation.h5, predictions.h5).

  /usr/bin/python3 launch/plot_run.py RUN_DIR [--out DIR] [--most-confused]

Writes into DIR (default RUN_DIR/plots), each at 100 dpi:
  learning_curves.png   1200x450  loss and accuracy per epoch, training against validation
  confusion_matrix.png   900x800  the test confusion matrix as an annotated heatmap
  predictions.png       1200x1000 15 test images with predicted class, probability and true class
                                  (blue right, red wrong), each beside its 10 probabilities;
                                  --most-confused shows the most confidently wrong ones instead
  train_samples.png     1000x1000 a 5x5 grid of training images with their class names
A figure whose file is missing (history.h5 of an --evaluate folder, say) is skipped with a note.
Needs Debian's python3-matplotlib and python3-h5py (launch/install-deps.sh installs both).
"""
import argparse
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

DPI = 100
GRID_ROWS, GRID_COLS = 5, 3  # the tutorial's prediction figure: 15 images, each with its bars


def names_of(f):
    return [n.decode() if isinstance(n, bytes) else str(n) for n in f["class_names"][()]]


def save(fig, path):
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    print(path)


def learning_curves(history_path, out):
    with h5py.File(history_path, "r") as f:
        h = {key: f["history"][key][()] for key in f["history"]}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, key in zip(axes, ("loss", "accuracy")):
        ax.plot(h["epoch"], h[key], "o-", label=f"training {key}")
        if f"val_{key}" in h:
            ax.plot(h["epoch"], h[f"val_{key}"], "s-", label=f"validation {key}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.set_xticks(h["epoch"])
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("Learning curves")
    fig.tight_layout()
    save(fig, os.path.join(out, "learning_curves.png"))


def confusion_matrix(evaluation_path, out):
    with h5py.File(evaluation_path, "r") as f:
        matrix = f["confusion_matrix"][()]
        names = names_of(f)
        accuracy = f.attrs["accuracy"]
    fig, ax = plt.subplots(figsize=(9, 8))
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ticks = np.arange(len(names))
    ax.set_xticks(ticks, names, rotation=45, ha="right")
    ax.set_yticks(ticks, names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    threshold = matrix.max() / 2
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if matrix[i, j] > threshold else "black")
    ax.set_title(f"Confusion matrix (test accuracy {accuracy:.4f}, {matrix.sum()} images)")
    fig.tight_layout()
    save(fig, os.path.join(out, "confusion_matrix.png"))


def predictions(predictions_path, out, most_confused):
    with h5py.File(predictions_path, "r") as f:
        names = names_of(f)
        probabilities = f["probabilities"][()]
        index = f["example_index"][()]
        images = f["example_images"][()]
        labels = f["labels"][()] if "labels" in f else None
    count = GRID_ROWS * GRID_COLS
    order = list(range(len(index)))
    if most_confused and labels is not None:
        predicted = probabilities[index].argmax(axis=1)
        wrong = [k for k in order if predicted[k] != labels[index[k]]]
        wrong.sort(key=lambda k: -probabilities[index[k], predicted[k]])
        order = wrong
    order = order[:count]
    fig = plt.figure(figsize=(2 * 2 * GRID_COLS, 2 * GRID_ROWS))
    for slot, k in enumerate(order):
        i = index[k]
        p = probabilities[i]
        guess = int(p.argmax())
        truth = int(labels[i]) if labels is not None else None
        color = "blue" if truth is None or guess == truth else "red"
        ax = fig.add_subplot(GRID_ROWS, 2 * GRID_COLS, 2 * slot + 1)
        ax.imshow(images[k], cmap=plt.cm.binary)
        ax.set_xticks([])
        ax.set_yticks([])
        true_text = f" ({names[truth]})" if truth is not None else ""
        ax.set_xlabel(f"{names[guess]} {100 * p[guess]:.0f}%{true_text}", color=color, fontsize=8)
        bars = fig.add_subplot(GRID_ROWS, 2 * GRID_COLS, 2 * slot + 2)
        plot = bars.bar(range(len(p)), p, color="#777777")
        bars.set_ylim(0, 1)
        bars.set_xticks(range(len(p)))
        bars.tick_params(labelsize=6)
        bars.set_yticks([])
        plot[guess].set_color("red")
        if truth is not None:
            plot[truth].set_color("blue")
    title = "Most confidently wrong test images" if most_confused else "Test images"
    fig.suptitle(f"{title}: predicted class, probability (true class)")
    fig.tight_layout()
    save(fig, os.path.join(out, "predictions.png"))


def train_samples(predictions_path, out):
    with h5py.File(predictions_path, "r") as f:
        if "train_images" not in f:
            print(f"{predictions_path}: no train_images (not written by a training run); train_samples.png skipped")
            return
        images = f["train_images"][()]
        labels = f["train_labels"][()]
        names = names_of(f)
    fig = plt.figure(figsize=(10, 10))
    for k in range(min(25, len(images))):
        ax = fig.add_subplot(5, 5, k + 1)
        ax.imshow(images[k], cmap=plt.cm.binary)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(names[labels[k]])
    fig.tight_layout()
    save(fig, os.path.join(out, "train_samples.png"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir")
    parser.add_argument("--out", help="folder for the PNG files (default RUN_DIR/plots)")
    parser.add_argument("--most-confused", action="store_true",
                        help="predictions.png shows the most confidently wrong test images")
    args = parser.parse_args()
    out = args.out or os.path.join(args.run_dir, "plots")
    os.makedirs(out, exist_ok=True)
    figures = [
        ("history.h5", lambda p: learning_curves(p, out)),
        ("evaluation.h5", lambda p: confusion_matrix(p, out)),
        ("predictions.h5", lambda p: predictions(p, out, args.most_confused)),
        ("predictions.h5", lambda p: train_samples(p, out)),
    ]
    found = 0
    for name, draw in figures:
        path = os.path.join(args.run_dir, name)
        if not os.path.isfile(path):
            print(f"plot_run.py: {path} is missing; its figure is skipped", file=sys.stderr)
            continue
        try:
            draw(path)
        except (OSError, KeyError) as e:
            print(f"plot_run.py: {path}: expected a file written by fmnist_dist, found: {e}", file=sys.stderr)
            return 1
        found += 1
    if found == 0:
        print(f"plot_run.py: expected history.h5, evaluation.h5 or predictions.h5 in {args.run_dir}, found none",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
