#!/usr/bin/env bash
# A checkpoint with a flipped byte, a truncated one, one of another model, and a missing
# path each end --resume / --evaluate with a one-line error and a non-zero exit, and the
# good checkpoint beside them still loads afterwards (nothing lost). h5dump, when
# installed, reads the checkpoint and the history file.
set -uo pipefail
# shellcheck source=tests/scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_data

base=(--data-dir "$data_dir" --validation-split 1000 --threads 1)
"$fmnist" "${base[@]}" --epochs 1 --model mlp --output-dir "$work/good" >/dev/null || fail "training the mlp failed"
"$fmnist" "${base[@]}" --epochs 1 --model flatten-dense16-dense10 --output-dir "$work/other" >/dev/null ||
  fail "training the small model failed"
good=$(ls "$work"/good/checkpoints/ckpt-*.h5)
other=$(ls "$work"/other/checkpoints/ckpt-*.h5)

size=$(stat -c %s "$good")
cp "$good" "$work/flipped.h5"
offset=$((size / 2))
byte=$(od -An -tu1 -j "$offset" -N1 "$good" | tr -d ' ')
printf '%b' "$(printf '\\%03o' $(((byte + 1) % 256)))" | dd of="$work/flipped.h5" bs=1 seek="$offset" conv=notrunc 2>/dev/null
cmp_rc=0
cmp -s "$good" "$work/flipped.h5" || cmp_rc=$?
[[ $cmp_rc -eq 1 ]] || fail "the byte flip did not change the file (cmp status $cmp_rc: 0 = same, 2 = cmp failed)"
head -c $((size / 2)) "$good" >"$work/truncated.h5"

train=("${base[@]}" --model mlp --epochs 2 --output-dir "$work/resume")
expect_one_line_error "flipped byte, --resume" "$work/flipped.h5" 0 "${train[@]}" --resume "$work/flipped.h5"
expect_one_line_error "truncated, --resume" "$work/truncated.h5" 0 "${train[@]}" --resume "$work/truncated.h5"
expect_one_line_error "other model, --resume" "flatten-dense16-dense10" 0 "${train[@]}" --resume "$other"
expect_one_line_error "missing file, --resume" "$work/none.h5" 0 "${train[@]}" --resume "$work/none.h5"
expect_one_line_error "flipped byte, --evaluate" "$work/flipped.h5" 0 --evaluate "$work/flipped.h5" --data-dir "$data_dir"
echo "epoch,loss" >"$work/history-as-ckpt"
expect_one_line_error "not HDF5, --evaluate" "$work/history-as-ckpt" 0 --evaluate "$work/history-as-ckpt" \
  --data-dir "$data_dir"
expect_one_line_error "other batch size, --resume" "--batch-size" 0 "${train[@]}" --batch-size 64 --resume "$good"

"$fmnist" "${train[@]}" --resume "$good" >/dev/null || fail "the good checkpoint no longer resumes"
# grep without -q reads to the end: under pipefail, -q's early exit could kill the writer with
# SIGPIPE and fail the pipeline although the line was there.
"$fmnist" --evaluate "$good" --data-dir "$data_dir" | grep "test_accuracy" >/dev/null || fail "--evaluate printed no result"
echo "bad checkpoints: all rejected; the good one still resumes"

if command -v h5dump >/dev/null; then
  h5dump -H "$good" >/dev/null || fail "h5dump cannot read $good"
  h5dump -d /history/val_accuracy "$work/good/history.h5" | grep "DATASPACE" >/dev/null || fail "h5dump cannot read history.h5"
  echo "h5dump reads the checkpoint and the history"
fi
