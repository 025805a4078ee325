#!/usr/bin/env bash
# The stall watchdog, at np=4 on the real data:
#  1. SIGSTOP of rank 2 mid-training: rank 0 warns after --stall-warning, naming rank 2, and
#     the job ends with exit status 76 within --stall-timeout + 10 s, the error naming rank 2.
#  2. SIGSTOP of rank 0 (the rank that watches): the other ranks end the job the same way,
#     naming rank 0.
#  3. SIGSTOP of rank 0 while it writes a checkpoint (a 240 MB one, so the write lasts): rank 1
#     waits in the barrier after it, under the deadline, and ends the job naming rank 0.
#  4. No false alarm: a run with validation, checkpoints every 20 steps and a 2 s timeout on
#     an oversubscribed node finishes normally, without a stall warning.
set -uo pipefail
# shellcheck source=tests/scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_data

timeout_s=8
# Far more epochs than the test lets run (the stopped rank ends it): one mlp epoch at np=4
# takes under a second on a fast CPU, which once finished the job before the stop.
train=(--data-dir "$data_dir" --model mlp --epochs 100 --batch-size 32 --threads 1 --stall-warning 3
  --stall-timeout "$timeout_s" --progress lines)

# expect_stall_end NAME LAUNCHER PID TIMEOUT: PID was just stopped; the job (LAUNCHER, output
# in $work/NAME.out/.err) must end with exit status 76 within TIMEOUT + 10 s.
expect_stall_end() {
  local name="$1" launcher="$2" pid="$3" timeout="$4" rc=0 start elapsed guard
  start=$(date +%s.%N)
  # A watchdog that fails leaves the job hanging: give up after twice the bound.
  (sleep $((2 * (timeout + 10))) && kill -KILL "$launcher" 2>/dev/null) &
  guard=$!
  wait "$launcher" || rc=$?
  elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
  kill "$guard" 2>/dev/null
  kill -CONT "$pid" 2>/dev/null
  cat "$work/$name.out" "$work/$name.err"
  echo "$name: exit status $rc after $elapsed s"
  [[ $rc -eq 76 ]] || fail "$name: expected exit status 76, found $rc"
  awk -v e="$elapsed" -v b="$((timeout + 10))" 'BEGIN { exit !(e <= b) }' ||
    fail "$name: took $elapsed s, more than --stall-timeout + 10 s"
}

# stop_rank NAME RANK: trains under mpirun -np 4, SIGSTOPs RANK once training runs, and checks
# how and when the job ends.
stop_rank() {
  local name="$1" rank="$2" dir="$work/$1" launcher pid=""
  mpi 4 "$fmnist" "${train[@]}" --output-dir "$dir" >"$work/$name.out" 2>"$work/$name.err" &
  launcher=$!
  for _ in $(seq 1 600); do
    grep -q "^Epoch 1/" "$work/$name.out" 2>/dev/null && break
    sleep 0.1
  done
  sleep 1
  pid=$(rank_pid "$dir" "$rank")
  [[ -n "$pid" ]] || fail "$name: no process for rank $rank"
  kill -STOP "$pid"
  expect_stall_end "$name" "$launcher" "$pid" "$timeout_s"
  grep "error: stall:" "$work/$name.err" | grep -q "rank $rank (" || fail "$name: the error does not name rank $rank"
}

stop_rank stop-rank-2 2
grep "warning: stall:" "$work/stop-rank-2.out" | grep -q "rank 2 (" || fail "no stall warning naming rank 2"
stop_rank stop-rank-0 0

# 3. Rank 0 stopped inside its checkpoint write (np=2): caught in the barrier that follows.
big=(--data-dir "$data_dir" --model flatten-dense4096-dense4096-dense10 --epochs 1 --max-steps 3 --checkpoint-every 2
  --batch-size 32 --threads 1 --stall-warning 1 --stall-timeout 3 --progress lines --output-dir "$work/big")
mpi 2 "$fmnist" "${big[@]}" >"$work/big.out" 2>"$work/big.err" &
launcher=$!
stopped=""
for _ in $(seq 1 6000); do  # up to 60 s for the first step and the start of the write
  if compgen -G "$work/big/checkpoints/*.tmp-*" >/dev/null; then
    stopped=$(rank_pid "$work/big" 0)
    [[ -n "$stopped" ]] && kill -STOP "$stopped"
    break
  fi
  sleep 0.01
done
[[ -n "$stopped" ]] || { kill -KILL "$launcher"; cat "$work/big.out" "$work/big.err"; fail "no checkpoint write seen"; }
expect_stall_end big "$launcher" "$stopped" 3
grep "error: stall:" "$work/big.err" | grep "barrier after rank 0's checkpoint" | grep -q "rank 0 (" ||
  fail "the error does not name the checkpoint barrier and rank 0"

# 4. Legitimate pauses between steps (checkpoints, evaluation) do not count.
mpi 4 "$fmnist" --data-dir "$data_dir" --model mlp --epochs 1 --max-steps 200 --batch-size 32 --threads 1 \
  --validation-split 5000 --checkpoint-every 20 --stall-warning 1 --stall-timeout 2 --progress lines \
  --output-dir "$work/healthy" >"$work/healthy.out" 2>&1 || { cat "$work/healthy.out"; fail "healthy run failed"; }
if grep -q "stall" "$work/healthy.out"; then
  cat "$work/healthy.out"
  fail "false stall alarm in a healthy run"
fi
echo "stall watchdog: stopped ranks named and the job ended; no false alarm"
