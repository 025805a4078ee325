#!/usr/bin/env bash
# The divergence guard, at np=2 on the real data:
#  1. a sane run writes checkpoints (steps 20 and 40);
#  2. continuing it with --lr 1e30 ends with a non-zero exit and one line naming the first
#     step whose loss is not finite and the last good checkpoint; no checkpoint in the folder
#     holds a non-finite value (h5dump of every dataset);
#  3. --resume auto with the sane --lr continues from that last good checkpoint and finishes.
#  4. from scratch, --lr 1e30 stops within the first steps (the loss of step 1 is finite,
#     the parameters after it are huge).
set -uo pipefail
# shellcheck source=tests/scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_data
command -v h5dump >/dev/null || fail "h5dump is missing (Debian package hdf5-tools)"

dir="$work/run"
train=(--data-dir "$data_dir" --model mlp --epochs 1 --batch-size 64 --threads 1 --seed 11 --checkpoint-every 20
  --keep-checkpoints 3 --output-dir "$dir")

mpi 2 "$fmnist" "${train[@]}" --max-steps 40 >"$work/sane.out" 2>&1 || { cat "$work/sane.out"; fail "sane run failed"; }
good="$dir/checkpoints/ckpt-e0000-s00000040.h5"
[[ -f "$good" ]] || fail "no checkpoint at step 40"

rc=0
mpi 2 "$fmnist" "${train[@]}" --resume auto --lr 1e30 >"$work/nan.out" 2>"$work/nan.err" || rc=$?
cat "$work/nan.err"
[[ $rc -ne 0 ]] || fail "--lr 1e30 exited 0"
[[ $(grep -c . "$work/nan.err") -eq 1 ]] || fail "expected one line on stderr"
grep -q "diverged: the global loss of step 4[1-9] is" "$work/nan.err" || fail "the error does not name a step after 40"
grep -qF "last good checkpoint: $good" "$work/nan.err" || fail "the error does not name $good"
step=$(grep -o "of step [0-9]*" "$work/nan.err" | awk '{print $3}')

for checkpoint in "$dir"/checkpoints/ckpt-*.h5; do
  # grep reads h5dump's whole output (no -q): an early exit could SIGPIPE h5dump, and under
  # pipefail a found NaN would then read as none.
  if h5dump -g /model -g /optimizer -g /progress "$checkpoint" | grep -iE '(^|[ ,(])-?(nan|inf)' >/dev/null; then
    fail "$checkpoint holds a non-finite value"
  fi
done
echo "no checkpoint holds NaN or infinity: $(ls "$dir/checkpoints" | tr '\n' ' ')"

mpi 2 "$fmnist" "${train[@]}" --resume auto --max-steps 80 >"$work/resumed.out" 2>&1 ||
  { cat "$work/resumed.out"; fail "resume after the divergence failed"; }
grep -qF "resumed from $good" "$work/resumed.out" || { cat "$work/resumed.out"; fail "did not resume from $good"; }
accuracy=$(metric test_accuracy "$(cat "$work/resumed.out")")
awk -v a="$accuracy" 'BEGIN { exit !(a >= 0.6) }' || fail "test_accuracy $accuracy after resuming"
echo "resumed from $good after the divergence at step $step: test_accuracy $accuracy"

expect_one_line_error "--lr 1e30 from scratch" "diverged: the global loss of step" 2 --data-dir "$data_dir" \
  --lr 1e30 --epochs 1 --threads 1 --output-dir "$work/scratch"
echo "divergence guard: stopped at the first non-finite loss, good checkpoints kept and resumed"
