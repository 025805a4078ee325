#!/usr/bin/env bash
# On the real data: mlp reaches test accuracy >= 0.80 after one epoch in one process, and
# np = 1, 2, 4 print the same test_loss for the same global batch and seed (to 1e-4 relative).
set -uo pipefail
# shellcheck source=tests/scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_data

out=$(timeout 600 "$fmnist" --model mlp --epochs 1 --threads 1 --data-dir "$data_dir" --output-dir "$work/mlp") ||
  fail "mlp run exited with $?"
echo "$out" | tail -n 3
accuracy=$(metric test_accuracy "$out")
[[ -n "$accuracy" ]] || fail "no test_accuracy line"
awk -v a="$accuracy" 'BEGIN { exit !(a >= 0.80) }' || fail "mlp test_accuracy $accuracy < 0.80 after one epoch"

declare -A loss
for np in 1 2 4; do
  out=$(timeout 600 mpirun --quiet --oversubscribe -np "$np" "$fmnist" --model cnn --batch-size 64 --max-steps 20 \
    --seed 7 --threads 1 --data-dir "$data_dir" --output-dir "$work/cnn-np$np") || fail "cnn np=$np exited with $?"
  loss[$np]=$(metric test_loss "$out")
  [[ -n ${loss[$np]} ]] || fail "cnn np=$np printed no test_loss"
  echo "cnn np=$np: test_loss ${loss[$np]}"
done
for np in 2 4; do
  awk -v a="${loss[1]}" -v b="${loss[$np]}" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-4 * a) }' ||
    fail "np=$np test_loss ${loss[$np]} differs from np=1 ${loss[1]}"
done
echo "real data: mlp accuracy $accuracy; cnn test_loss equal at np=1,2,4"
