#!/usr/bin/env bash
# Keras weights both ways, against real Keras 3 (JAX CPU backend) from the Python package index:
# (a) cnn trained here for one epoch, exported, rebuilt in Keras with model_from_json +
#     load_weights: Keras' evaluate on the test set equals ours within 0.002; the same for
#     briefly trained models with the other layers of the spec grammar;
# (b) the tutorial's Keras code trains cnn for one epoch and calls save_weights (and
#     model.save to a legacy .h5): fmnist_dist --init-from (--epochs 0) and --evaluate of each
#     file equal Keras' own evaluate within 0.002.
# The venv (build/keras-venv, ~700 MB, minutes to install) is made by launch/pip-venv.sh keras. So
# that CI stays short this test skips unless the venv is already there or FMNIST_KERAS_TESTS=1
# asks to create it; it skips too (77, with the reason) when the install is not possible.
set -uo pipefail
# shellcheck source=tests/scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_data

venv="$build_dir/keras-venv"
if [[ ! -f "$venv/.fmnist-keras-ready" && "${FMNIST_KERAS_TESTS:-0}" != 1 ]]; then
  echo "SKIP: no Keras venv at $venv; run launch/pip-venv.sh keras or set FMNIST_KERAS_TESTS=1 to create it"
  exit 77
fi
python=$("$source_dir/launch/pip-venv.sh" keras "$venv") || exit 77
interop=("$python" "$source_dir/launch/keras_interop.py")
tolerance=0.002

# |a - b| <= tolerance, printed.
within() {
  local label="$1" ours="$2" keras="$3"
  awk -v a="$ours" -v b="$keras" -v t="$tolerance" -v l="$label" \
    'BEGIN { d = a - b; if (d < 0) d = -d; printf "  %s: fmnist_dist %s, Keras %s, |difference| %.6f (limit %s)\n", l, a, b, d, t; exit !(d <= t) }'
}

# (a) Ours -> Keras.
run="$work/run"
"$fmnist" --model cnn --epochs 1 --data-dir "$data_dir" --output-dir "$run" --progress lines >"$work/train.log" 2>&1 ||
  { cat "$work/train.log"; fail "training cnn failed"; }
ours=$(metric test_accuracy "$(grep '^test_loss' "$work/train.log")")
ours_loss=$(metric test_loss "$(grep '^test_loss' "$work/train.log")")
ckpt="$run/checkpoints/$(cat "$run/checkpoints/latest")"
"$fmnist" --export-keras "$ckpt" --output "$work/cnn.weights.h5" >/dev/null || fail "--export-keras failed"
"${interop[@]}" load-export "$work/cnn.json" "$work/cnn.weights.h5" --data-dir "$data_dir" >"$work/keras-a.log" 2>&1 ||
  { cat "$work/keras-a.log"; fail "Keras could not rebuild the exported model"; }
head -n 1 "$work/keras-a.log"
keras=$(metric keras_test_accuracy "$(grep '^keras_test_loss' "$work/keras-a.log")")
keras_loss=$(metric keras_test_loss "$(grep '^keras_test_loss' "$work/keras-a.log")")
within "(a) test accuracy" "$ours" "$keras" || fail "(a) Keras' evaluate of the export differs from ours"
within "(a) test loss" "$ours_loss" "$keras_loss" || fail "(a) Keras' test loss of the export differs from ours"

# (a') The other layers of the spec grammar (BatchNormalization, Dropout, ReLU, GAP), a Dense
# straight after a convolution (the export inserts a Flatten) and a last layer that is not a
# Dense (the export appends Activation("softmax")), briefly trained: Keras must agree too.
for spec in conv8x3samelinear-bn-relu-pool2-drop0.25-conv8x3-gap-dense10 conv8x3-pool2-dense10 conv10x3-gap; do
  "$fmnist" --model "$spec" --epochs 1 --max-steps 60 --data-dir "$data_dir" --output-dir "$work/$spec" \
    --progress lines >"$work/spec.log" 2>&1 || { cat "$work/spec.log"; fail "training $spec failed"; }
  "$fmnist" --export-keras "$work/$spec/checkpoints/$(cat "$work/$spec/checkpoints/latest")" \
    --output "$work/$spec.weights.h5" >/dev/null || fail "--export-keras $spec failed"
  "${interop[@]}" load-export "$work/$spec.json" "$work/$spec.weights.h5" --data-dir "$data_dir" >"$work/keras-spec.log" 2>&1 ||
    { cat "$work/keras-spec.log"; fail "Keras could not rebuild $spec"; }
  ours_line=$(grep '^test_loss' "$work/spec.log")
  keras_line=$(grep '^keras_test_loss' "$work/keras-spec.log")
  within "(a) $spec accuracy" "$(metric test_accuracy "$ours_line")" "$(metric keras_test_accuracy "$keras_line")" ||
    fail "(a) Keras' evaluate of the exported $spec differs from ours"
  # Briefly trained models may sit near chance, where the accuracy says little: the loss too.
  within "(a) $spec loss" "$(metric test_loss "$ours_line")" "$(metric keras_test_loss "$keras_line")" ||
    fail "(a) Keras' test loss of the exported $spec differs from ours"
done

# (b) Keras -> ours.
"${interop[@]}" train-tutorial "$work/tutorial.weights.h5" --legacy "$work/tutorial.h5" --data-dir "$data_dir" \
  >"$work/keras-b.log" 2>&1 || { cat "$work/keras-b.log"; fail "the tutorial's Keras training failed"; }
keras=$(metric keras_test_accuracy "$(grep '^keras_test_loss' "$work/keras-b.log")")
"$fmnist" --init-from "$work/tutorial.weights.h5" --model cnn --epochs 0 --data-dir "$data_dir" --output-dir "$work/init" \
  >"$work/init.log" 2>&1 || { cat "$work/init.log"; fail "--init-from the Keras file failed"; }
within "(b) --init-from --epochs 0" "$(metric test_accuracy "$(grep '^test_loss' "$work/init.log")")" "$keras" ||
  fail "(b) our evaluate of Keras' weights differs from Keras'"
for file in tutorial.weights.h5 tutorial.h5; do
  "$fmnist" --evaluate "$work/$file" --model cnn --data-dir "$data_dir" --output-dir "$work/eval" >"$work/eval.log" 2>&1 ||
    { cat "$work/eval.log"; fail "--evaluate $file failed"; }
  within "(b) --evaluate $file" "$(metric test_accuracy "$(grep '^test_loss' "$work/eval.log")")" "$keras" ||
    fail "(b) --evaluate $file differs from Keras' evaluate"
done
echo "keras interop: (a) and (b) within $tolerance"
