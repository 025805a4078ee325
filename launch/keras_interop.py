"""Real Keras 3 against fmnist_dist's Keras files (run with launch/pip-venv.sh keras's python).

  keras_interop.py load-export MODEL.json MODEL.weights.h5 --data-dir D
      model_from_json + load_weights, then Keras' evaluate on the test set.
  keras_interop.py train-tutorial OUT.weights.h5 --data-dir D [--epochs 1] [--legacy OUT.h5]
      the tutorial's Keras code for `cnn` (Adam, batch 32, sparse categorical cross-entropy),
      model.save_weights(OUT), and model.save(--legacy) for a legacy HDF5 file; then evaluate.

Both print "keras_test_loss: L - keras_test_accuracy: A" and, first, the versions.
"""
import argparse
import gzip
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402


def read_idx(path, offset):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def load_split(data_dir, prefix):
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"), 16).reshape(-1, 28, 28, 1)
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"), 8)
    return images.astype("float32") / 255.0, labels.astype("int64")


def print_evaluation(model, data_dir):
    x, y = load_split(data_dir, "t10k")
    loss, accuracy = model.evaluate(x, y, batch_size=256, verbose=0)
    print(f"keras_test_loss: {loss:.6f} - keras_test_accuracy: {accuracy:.6f}")


def tutorial_cnn():
    # The TensorFlow tutorial's CNN, as fmnist_dist's `cnn` preset.
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        keras.layers.Conv2D(32, (3, 3), padding="same", activation="relu"),
        keras.layers.MaxPooling2D((2, 2), strides=2),
        keras.layers.Conv2D(64, (3, 3), padding="same", activation="relu"),
        keras.layers.MaxPooling2D((2, 2), strides=2),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    load = sub.add_parser("load-export")
    load.add_argument("json")
    load.add_argument("weights")
    load.add_argument("--data-dir", required=True)
    train = sub.add_parser("train-tutorial")
    train.add_argument("weights")
    train.add_argument("--data-dir", required=True)
    train.add_argument("--epochs", type=int, default=1)
    train.add_argument("--legacy", help="also model.save() this legacy .h5 file")
    args = parser.parse_args()
    import jax

    print(f"keras {keras.__version__}, backend {keras.backend.backend()} (jax {jax.__version__}), numpy {np.__version__}")
    if args.command == "load-export":
        with open(args.json) as f:
            model = keras.models.model_from_json(f.read())
        model.load_weights(args.weights)
        model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        print_evaluation(model, args.data_dir)
        return 0
    keras.utils.set_random_seed(42)
    model = tutorial_cnn()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = load_split(args.data_dir, "train")
    model.fit(x, y, batch_size=32, epochs=args.epochs, verbose=2)
    model.save_weights(args.weights)
    if args.legacy:
        model.save(args.legacy)
    print_evaluation(model, args.data_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
