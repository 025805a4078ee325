#!/usr/bin/env bash
# Preemption and crashes on the real data, at np=2:
#  1. SIGUSR1 to one rank mid-epoch: all ranks checkpoint together and exit 75; resuming
#     with --resume auto ends with the same history values and test line as a run that was
#     never stopped.
#  2. kill -9 of every process at random moments, five times in a row, each followed by
#     --resume auto: every checkpoint left behind opens (--evaluate), and the run finishes
#     with normal accuracy.
set -uo pipefail
# shellcheck source=tests/scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_data

train=(--data-dir "$data_dir" --model mlp --epochs 3 --batch-size 128 --seed 3 --threads 1)

# Columns that must match exactly: everything but the wall-clock ones.
values() { cut -d, -f1-5,8 "$1"; }

straight=$(mpi 2 "$fmnist" "${train[@]}" --output-dir "$work/straight") || fail "uninterrupted run failed"

# 1. A signal to one rank during epoch 2.
mpi 2 "$fmnist" "${train[@]}" --output-dir "$work/signal" >"$work/signal.log" 2>&1 &
launcher=$!
for _ in $(seq 1 600); do
  [[ -f "$work/signal/history.csv" ]] && break
  sleep 0.1
done
[[ -f "$work/signal/history.csv" ]] || fail "epoch 1 never finished"
sleep 0.5
rank_pid=$(pgrep -f "fmnist_dist.*$work/signal" | tail -n 1)
[[ -n "$rank_pid" ]] || fail "no rank process to signal"
kill -USR1 "$rank_pid"
wait "$launcher"
status=$?
cat "$work/signal.log"
[[ $status -eq 75 ]] || fail "expected exit status 75 after SIGUSR1, found $status"
grep -q "checkpoint written" "$work/signal.log" || fail "no checkpoint message"
resumed=$(mpi 2 "$fmnist" "${train[@]}" --output-dir "$work/signal" --resume auto) || fail "resume failed"
echo "$resumed" | grep "resumed from" || fail "the run did not resume from a checkpoint"
diff <(values "$work/straight/history.csv") <(values "$work/signal/history.csv") ||
  fail "history after preemption differs from the uninterrupted run"
[[ "$(tail -n 1 <<<"$straight")" == "$(tail -n 1 <<<"$resumed")" ]] ||
  fail "test line differs: '$(tail -n 1 <<<"$straight")' vs '$(tail -n 1 <<<"$resumed")'"
echo "signal: exit 75, resumed, history and test line identical"

# 2. kill -9 at random moments, checkpointing every 40 steps.
crash=(--data-dir "$data_dir" --model mlp --epochs 3 --batch-size 64 --seed 5 --threads 1 --checkpoint-every 40
  --output-dir "$work/crash")
for round in 1 2 3 4 5; do
  mpi 2 "$fmnist" "${crash[@]}" --resume auto >"$work/crash-$round.log" 2>&1 &
  launcher=$!
  sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 1.0 + 3.0 * r / 32767 }')"
  pkill -9 -f "fmnist_dist.*$work/crash" || true
  wait "$launcher" 2>/dev/null || true
  count=0
  for checkpoint in "$work"/crash/checkpoints/ckpt-*.h5; do
    [[ -e "$checkpoint" ]] || continue
    "$fmnist" --evaluate "$checkpoint" --data-dir "$data_dir" >/dev/null 2>"$work/eval.err" ||
      fail "round $round: $checkpoint does not open: $(cat "$work/eval.err")"
    count=$((count + 1))
  done
  leftovers=$(find "$work/crash/checkpoints" -name '*.tmp*' 2>/dev/null | wc -l)
  echo "kill -9 round $round: $count checkpoints, all open; $leftovers temporary files"
done
final=$(mpi 2 "$fmnist" "${crash[@]}" --resume auto) || fail "final resume failed"
accuracy=$(metric test_accuracy "$final")
rows=$(($(wc -l <"$work/crash/history.csv") - 1))
echo "after 5 crashes: test_accuracy $accuracy, $rows history rows"
[[ $rows -eq 3 ]] || fail "expected 3 history rows, found $rows"
awk -v a="$accuracy" 'BEGIN { exit !(a >= 0.80) }' || fail "test_accuracy $accuracy < 0.80"
