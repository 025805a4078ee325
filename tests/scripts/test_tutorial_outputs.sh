#!/usr/bin/env bash
# What a run ends with: the per-class evaluation, predictions at 1 and 2 ranks, and Keras
# weights both ways (without Keras itself: see test_keras_interop.sh), checked on a short
# real run against independent computations in Python (Debian's python3-h5py):
# - the confusion matrix recounted from the true labels and the arg-max of the probabilities,
#   its sum is the test set, its trace / N the printed test accuracy;
# - predictions.h5 of mpirun -np 2 equals that of one process (h5diff);
# - --predict-images on an IDX file of the first 100 test images gives their rows of the test set;
# - export -> --evaluate of the .weights.h5, a legacy tf.keras file written with h5py, and
#   --init-from with --epochs 0 all print the checkpoint's test line;
# - bad weights files and images give one line and a non-zero exit.
set -uo pipefail
# shellcheck source=tests/scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_data
require_debian_python h5py numpy

run="$work/run"
"$fmnist" --model mlp --epochs 1 --validation-split 0 --threads 1 --data-dir "$data_dir" --output-dir "$run" \
  --progress lines >"$work/train.log" 2>&1 || { cat "$work/train.log"; fail "training failed"; }
ckpt="$run/checkpoints/$(cat "$run/checkpoints/latest")"
[[ -f "$run/evaluation.h5" && -f "$run/evaluation.csv" && -f "$run/predictions.h5" ]] ||
  fail "a training run must leave evaluation.h5, evaluation.csv and predictions.h5"

# --evaluate: the test line, the table, the matrix; files next to the checkpoint.
"$fmnist" --evaluate "$ckpt" --threads 1 --data-dir "$data_dir" --output-dir "$work/eval" >"$work/eval.log" 2>&1 ||
  { cat "$work/eval.log"; fail "--evaluate failed"; }
test_line=$(grep '^test_loss' "$work/eval.log")
accuracy=$(metric test_accuracy "$test_line")
grep -q "precision    recall  f1-score   support" "$work/eval.log" || fail "no per-class table"
grep -q "weighted avg" "$work/eval.log" || fail "no weighted avg line"
grep -q "^ 9 Ankle boot " "$work/eval.log" || fail "no confusion matrix row for Ankle boot"
# Predictions at 1 and 2 ranks (the same BLAS threads per rank: 1).
"$fmnist" --predict "$ckpt" --threads 1 --data-dir "$data_dir" --output-dir "$work/p1" >"$work/p1.log" 2>&1 ||
  { cat "$work/p1.log"; fail "--predict failed"; }
mpi 2 "$fmnist" --predict "$ckpt" --threads 1 --data-dir "$data_dir" --output-dir "$work/p2" >"$work/p2.log" 2>&1 ||
  { cat "$work/p2.log"; fail "--predict under mpirun -np 2 failed"; }
h5diff "$work/p1/predictions.h5" "$work/p2/predictions.h5" >/dev/null ||
  fail "predictions.h5 of mpirun -np 2 differs from one process' ($(h5diff "$work/p1/predictions.h5" "$work/p2/predictions.h5" | tail -n 1))"
grep -q "^image 0: predicted " "$work/p1.log" || fail "--predict does not print the first predictions"

# An IDX file of the first 100 test images and labels, written here.
"$py" - "$data_dir" "$work" <<'PY' || fail "could not write the IDX files"
import gzip, struct, sys
data, work = sys.argv[1], sys.argv[2]
images = gzip.open(f"{data}/t10k-images-idx3-ubyte.gz").read()[16:16 + 100 * 784]
labels = gzip.open(f"{data}/t10k-labels-idx1-ubyte.gz").read()[8:8 + 100]
open(f"{work}/some-images-idx3-ubyte", "wb").write(struct.pack(">IIII", 0x803, 100, 28, 28) + images)
open(f"{work}/some-labels-idx1-ubyte", "wb").write(struct.pack(">II", 0x801, 100) + labels)
open(f"{work}/two-labels-idx1-ubyte", "wb").write(struct.pack(">II", 0x801, 2) + labels[:2])
open(f"{work}/big-images-idx3-ubyte", "wb").write(struct.pack(">IIII", 0x803, 2, 32, 32) + bytes(2 * 1024))
PY
"$fmnist" --predict "$ckpt" --threads 1 --predict-images "$work/some-images-idx3-ubyte" \
  --predict-labels "$work/some-labels-idx1-ubyte" --data-dir "$data_dir" --output-dir "$work/some" >/dev/null 2>&1 ||
  fail "--predict-images failed"

"$py" - "$work/eval/evaluation.h5" "$work/p1/predictions.h5" "$work/some/predictions.h5" "$accuracy" <<'PY' || fail "evaluation/predictions checks failed"
import sys
import h5py, numpy as np
evaluation, predictions, some, printed = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
with h5py.File(evaluation) as e, h5py.File(predictions) as p, h5py.File(some) as s:
    matrix = e["confusion_matrix"][()]
    assert matrix.dtype == np.int64 and matrix.shape == (10, 10), (matrix.dtype, matrix.shape)
    assert [n.decode() for n in e["class_names"][()]][9] == "Ankle boot"
    probabilities, labels = p["probabilities"][()], p["labels"][()]
    assert probabilities.dtype == np.float32 and probabilities.shape == (10000, 10)
    predicted = probabilities.argmax(axis=1)
    assert (predicted == p["predicted"][()]).all(), "predicted is not the arg-max of probabilities"
    recount = np.zeros((10, 10), dtype=np.int64)
    np.add.at(recount, (labels, predicted), 1)
    assert (recount == matrix).all(), f"confusion matrix differs from the recount:\n{matrix}\n{recount}"
    assert matrix.sum() == 10000, matrix.sum()
    trace_accuracy = np.trace(matrix) / matrix.sum()
    assert f"{trace_accuracy:.4f}" == printed, (trace_accuracy, printed)
    assert (predicted == labels).mean() == trace_accuracy, "arg-max accuracy differs from the evaluation"
    assert abs(e.attrs["accuracy"] - trace_accuracy) == 0
    support = matrix.sum(axis=1)
    recall = np.diag(matrix) / support
    precision = np.diag(matrix) / matrix.sum(axis=0)
    assert np.allclose(e["recall"][()], recall) and np.allclose(e["precision"][()], precision)
    assert (e["support"][()] == support).all()
    assert np.allclose(e["f1"][()], 2 * precision * recall / (precision + recall))
    # Rows 0..95 fill the same three evaluation batches of 32 as in the test set: bit-identical;
    # the last 4 form a batch of their own (other GEMM shapes): equal to float rounding.
    some_p = s["probabilities"][()]
    assert (some_p[:96] == probabilities[:96]).all(), "--predict-images rows differ from the test set's"
    assert np.abs(some_p[96:] - probabilities[96:100]).max() < 1e-5
    assert (s["labels"][()] == labels[:100]).all()
    assert np.abs(probabilities.sum(axis=1) - 1).max() < 1e-5
print(f"  matrix: sum {matrix.sum()}, trace/N {trace_accuracy:.4f} = printed {printed}; np=2 predictions identical")
PY

# Keras weights both ways, here without Keras: every route must print the checkpoint's test line.
mkdir -p "$work/keras"
"$fmnist" --export-keras "$ckpt" --output "$work/keras/model.weights.h5" >/dev/null || fail "--export-keras failed"
[[ -s "$work/keras/model.json" ]] || fail "--export-keras wrote no model.json"
"$py" -c 'import json, sys; c = json.load(open(sys.argv[1])); assert c["class_name"] == "Sequential"; assert c["config"]["layers"][-1]["config"]["activation"] == "softmax"' \
  "$work/keras/model.json" || fail "model.json is not the Keras config of a Sequential ending in softmax"
"$py" - "$work/keras/model.weights.h5" "$work/keras/legacy.h5" <<'PY' || fail "could not write the legacy file"
# A legacy tf.keras weights file, as tf.keras 2 save_weights lays it out, from the Keras 3 file.
import sys
import h5py, numpy as np
with h5py.File(sys.argv[1]) as new, h5py.File(sys.argv[2], "w") as old:
    names = ["flatten", "dense", "dense_1"]
    old.attrs["layer_names"] = [n.encode() for n in names]
    old.attrs["backend"] = b"tensorflow"
    old.attrs["keras_version"] = b"2.15.0"
    for name in names:
        group = old.create_group(name)
        weights = [] if name == "flatten" else [f"{name}/kernel:0", f"{name}/bias:0"]
        group.attrs["weight_names"] = [w.encode() for w in weights]
        for i, w in enumerate(weights):
            group[w] = new[f"layers/{name}/vars/{i}"][()]
PY
for source in "$work/keras/model.weights.h5" "$work/keras/legacy.h5"; do
  line=$("$fmnist" --evaluate "$source" --model mlp --threads 1 --data-dir "$data_dir" --output-dir "$work/k" 2>&1 | grep '^test_loss')
  [[ "$line" == "$test_line" ]] || fail "--evaluate $(basename "$source"): '$line', the checkpoint gave '$test_line'"
done
line=$("$fmnist" --init-from "$work/keras/model.weights.h5" --model mlp --epochs 0 --threads 1 --data-dir "$data_dir" \
  --output-dir "$work/init" 2>&1 | grep '^test_loss')
[[ "$line" == "$test_line" ]] || fail "--init-from --epochs 0: '$line', the checkpoint gave '$test_line'"
echo "  Keras 3 file, legacy file and --init-from --epochs 0: $test_line"

# Bad inputs: one line, non-zero exit.
head -c 3000 "$work/keras/model.weights.h5" >"$work/keras/truncated.weights.h5"
expect_one_line_error "missing weights" "$work/none.weights.h5" 0 --evaluate "$work/none.weights.h5" --data-dir "$data_dir"
expect_one_line_error "corrupt weights" "truncated.weights.h5" 0 --evaluate "$work/keras/truncated.weights.h5" --data-dir "$data_dir"
expect_one_line_error "wrong architecture" "(784, 128)" 0 --evaluate "$work/keras/model.weights.h5" --model flatten-dense64-dense10 --data-dir "$data_dir"
expect_one_line_error "wrong architecture, init" "layer 'conv2d'" 0 --init-from "$work/keras/model.weights.h5" --model cnn --epochs 0 --data-dir "$data_dir"
expect_one_line_error "wrong architecture, predict" "layer 'dense'" 2 --predict "$work/keras/model.weights.h5" --model flatten-dense64-dense10 --data-dir "$data_dir"
expect_one_line_error "images of another size" "expected 28x28 images" 0 --predict "$ckpt" --predict-images "$work/big-images-idx3-ubyte"
expect_one_line_error "images of another size" "found 32x32" 2 --predict "$ckpt" --predict-images "$work/big-images-idx3-ubyte"
expect_one_line_error "labels of another count" "expected 100 labels" 0 --predict "$ckpt" --predict-images "$work/some-images-idx3-ubyte" --predict-labels "$work/two-labels-idx1-ubyte"
expect_one_line_error "export without .weights.h5" "--output" 0 --export-keras "$ckpt" --output "$work/x.h5"
expect_one_line_error "epochs 0 without weights" "--epochs" 0 --epochs 0
echo "tutorial outputs: all checks passed"
