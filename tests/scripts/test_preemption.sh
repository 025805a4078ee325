#!/usr/bin/env bash
# Preemption and crashes on the real data, at np=2:
#  1. SIGUSR1 to one rank mid-epoch: all ranks checkpoint together and exit 75; resuming
#     with --resume auto ends with the same history values and test line as a run that was
#     never stopped.
#  2. kill -9 of every process at random moments, five times in a row, each followed by
#     --resume auto: every checkpoint left behind opens (--evaluate), and the run finishes
#     with normal accuracy.
#  3. The same signal to a run with BatchNormalization, augmentation, reduce-on-plateau,
#     EarlyStopping (restore_best_weights) and a best checkpoint: after resuming, the final
#     checkpoint and best.h5 hold the same arrays, callback state and counters as a straight
#     run's (h5diff, bit for bit; only wall-clock fields and the output folder differ).
set -uo pipefail
# shellcheck source=tests/scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_data

train=(--data-dir "$data_dir" --model mlp --epochs 3 --batch-size 64 --seed 3 --threads 1)

# Columns that must match exactly: everything but the wall-clock ones.
values() { cut -d, -f1-5,8 "$1"; }

straight=$(mpi 2 "$fmnist" "${train[@]}" --output-dir "$work/straight") || fail "uninterrupted run failed"

# signal_during_epoch_2 DIR ARGS...: starts fmnist_dist ARGS at np=2 writing to DIR, sends
# SIGUSR1 to one rank early in epoch 2 (as soon as epoch 1's history row is seen; a fixed
# half second once landed after the last epoch on a fast CPU), and checks the exit status 75.
signal_during_epoch_2() {
  local dir="$1" launcher status rank_pid
  shift
  mpi 2 "$fmnist" "$@" --output-dir "$dir" >"$dir.log" 2>&1 &
  launcher=$!
  for _ in $(seq 1 3000); do
    [[ -f "$dir/history.csv" ]] && break
    sleep 0.02
  done
  [[ -f "$dir/history.csv" ]] || fail "epoch 1 never finished"
  rank_pid=$(pgrep -f "fmnist_dist.*$dir" | tail -n 1)
  [[ -n "$rank_pid" ]] || fail "no rank process to signal"
  kill -USR1 "$rank_pid"
  wait "$launcher"
  status=$?
  cat "$dir.log"
  [[ $status -eq 75 ]] || fail "expected exit status 75 after SIGUSR1, found $status"
  grep -q "checkpoint written" "$dir.log" || fail "no checkpoint message"
}

# 1. A signal to one rank during epoch 2.
signal_during_epoch_2 "$work/signal" "${train[@]}"
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

# 3. Callbacks and schedule state across a signal. Monitoring val_loss with mode max makes
# every epoch after the first a non-improvement: the plateau halves the rate each epoch and
# EarlyStopping stops after epoch 4 of 6, restoring epoch 1's weights.
callbacks=(--data-dir "$data_dir" --model flatten-dense64linear-bn-relu-dense10 --epochs 6 --batch-size 64 --seed 4
  --threads 1 --augment flip,shift1,erase --lr-schedule plateau --plateau-monitor val_loss --plateau-mode max
  --plateau-patience 1 --plateau-factor 0.5 --early-stopping-monitor val_loss --early-stopping-mode max
  --early-stopping-patience 3 --restore-best-weights --best-checkpoint-monitor val_accuracy --label-smoothing 0.1)
mpi 2 "$fmnist" "${callbacks[@]}" --output-dir "$work/cb-straight" >"$work/cb-straight.log" 2>&1 ||
  fail "uninterrupted callbacks run failed: $(tail -n 3 "$work/cb-straight.log")"
grep -q "early stopping" "$work/cb-straight.log" || fail "EarlyStopping did not stop the run"
signal_during_epoch_2 "$work/cb-signal" "${callbacks[@]}"
mpi 2 "$fmnist" "${callbacks[@]}" --output-dir "$work/cb-signal" --resume auto >"$work/cb-resumed.log" 2>&1 ||
  fail "resume of the callbacks run failed: $(tail -n 3 "$work/cb-resumed.log")"
grep -q "resumed from" "$work/cb-resumed.log" || fail "the callbacks run did not resume from a checkpoint"
same_checkpoint() {
  local a="$1" b="$2" group
  for group in /model /optimizer /callbacks /best_weights /history/loss /history/val_accuracy /history/lr; do
    h5diff -r "$a" "$b" "$group" "$group" >"$work/h5diff.out" 2>&1 ||
      { cat "$work/h5diff.out"; fail "$group differs between $a and $b"; }
  done
  for attribute in epoch step_in_epoch global_step; do
    [[ "$(h5dump -a "/$attribute" "$a" | grep -A1 DATA)" == "$(h5dump -a "/$attribute" "$b" | grep -A1 DATA)" ]] ||
      fail "attribute $attribute differs between $a and $b"
  done
}
final_straight="$work/cb-straight/checkpoints/$(cat "$work/cb-straight/checkpoints/latest")"
final_resumed="$work/cb-signal/checkpoints/$(cat "$work/cb-signal/checkpoints/latest")"
same_checkpoint "$final_straight" "$final_resumed"
same_checkpoint "$work/cb-straight/checkpoints/best.h5" "$work/cb-signal/checkpoints/best.h5"
[[ "$(tail -n 1 "$work/cb-straight.log")" == "$(tail -n 1 "$work/cb-resumed.log")" ]] ||
  fail "test line differs: '$(tail -n 1 "$work/cb-straight.log")' vs '$(tail -n 1 "$work/cb-resumed.log")'"
echo "callbacks: signal, resume; final checkpoint and best.h5 equal the straight run's"
