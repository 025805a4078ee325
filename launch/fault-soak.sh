#!/usr/bin/env bash
# Fault soak: rounds of random faults during an `mpirun -np 2` training run, each followed by
# `--resume auto`, then a last resume to the end; the final parameters must equal, bit for bit,
# those of an uninterrupted run with the same options.
#
#   launch/fault-soak.sh [--rounds N] [--epochs E] [--work DIR] [--build DIR] [--data DIR]
#
# Fault kinds, dealt in shuffled rounds so each occurs equally often (N=4: one of each):
#   kill9-job   kill -9 of mpirun and every rank         (the job is gone at once)
#   kill9-rank  kill -9 of one rank                      (Open MPI ends the job)
#   sigterm     SIGTERM to one rank                      (checkpoint, exit 75)
#   sigstop     SIGSTOP of one rank                      (the stall watchdog ends the job, exit 76)
# A fault strikes once the round's run has written a new checkpoint, plus a random 0-1 s.
# After every round each checkpoint left in the folder must open (fmnist_dist --evaluate).
# Prints one line per round (fault, rank, exit status, seconds from fault to the job's end,
# global step of the latest checkpoint) and a summary; exits non-zero on any failed check.
set -uo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds=20 epochs=3 work="" build="$repo_root/build" data="${FMNIST_DATA:-$repo_root/data/fashion-mnist}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    -h | --help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fault-soak.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
fmnist="$build/fmnist_dist"
[[ -x "$fmnist" ]] || { echo "fault-soak.sh: $fmnist is missing: build first (launch/build.sh)" >&2; exit 2; }
[[ -f "$data/train-images-idx3-ubyte.gz" ]] || { echo "fault-soak.sh: no data in $data (launch/fetch-data.sh)" >&2; exit 2; }
command -v h5diff >/dev/null || { echo "fault-soak.sh: h5diff is missing (Debian package hdf5-tools)" >&2; exit 2; }
if [[ -z "$work" ]]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
stall_timeout=5

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

train=(--data-dir "$data" --model mlp --epochs "$epochs" --batch-size 64 --seed 9 --threads 1 --validation-split 5000
  --checkpoint-every 40 --keep-checkpoints 3 --stall-warning 2 --stall-timeout "$stall_timeout" --progress lines)
run_job() { # run_job DIR LOG: the training job in the background; sets job_pid (mpirun's)
  mpirun --quiet --oversubscribe -np 2 "$fmnist" "${train[@]}" --resume auto --output-dir "$1" >"$2" 2>&1 &
  job_pid=$!
}
rank_pid() { # rank_pid DIR R: pid of rank R of the job writing to DIR
  local pid
  for pid in $(pgrep -f "fmnist_dist.*$1"); do
    tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2" && { echo "$pid"; return; }
  done
}
latest() { cat "$1/checkpoints/latest" 2>/dev/null || true; }
now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.1f", e - s }'; }

# The reference: the same training without faults.
mpirun --quiet --oversubscribe -np 2 "$fmnist" "${train[@]}" --output-dir "$work/straight" >"$work/straight.log" 2>&1 ||
  { cat "$work/straight.log"; fail "the uninterrupted run failed"; }

kinds=(kill9-job kill9-rank sigterm sigstop)
deck=()
while [[ ${#deck[@]} -lt $rounds ]]; do
  for k in $(printf '%s\n' "${kinds[@]}" | shuf); do deck+=("$k"); done
done
dir="$work/soak"
declare -A count=() detect=()
printf '%-5s %-10s %-4s %-6s %-9s %s\n' round fault rank status ended_s latest_checkpoint
for ((round = 1; round <= rounds; round++)); do
  kind=${deck[round - 1]}
  before=$(latest "$dir")
  run_job "$dir" "$work/round-$round.log"
  # Strike once this run has made progress: a checkpoint newer than the one it resumed from.
  for _ in $(seq 1 1200); do
    [[ "$(latest "$dir")" != "$before" && -n "$(latest "$dir")" ]] && break
    kill -0 "$job_pid" 2>/dev/null || break
    sleep 0.05
  done
  sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", r / 32767 }')"
  # Still running after the wait, else the training is too short for this round.
  kill -0 "$job_pid" 2>/dev/null || { cat "$work/round-$round.log"; fail "round $round: the job ended before its fault (training too short?)"; }
  rank=$((RANDOM % 2))
  pid=$(rank_pid "$dir" "$rank")
  [[ -n "$pid" ]] || fail "round $round: no process for rank $rank"
  start=$(now)
  case "$kind" in
    kill9-job)
      rank=all
      kill -KILL "$job_pid" $(pgrep -f "fmnist_dist.*$dir") 2>/dev/null ;;
    kill9-rank) kill -KILL "$pid" ;;
    sigterm) kill -TERM "$pid" ;;
    sigstop) kill -STOP "$pid" ;;
  esac
  status=0
  wait "$job_pid" || status=$?
  ended=$(since "$start")
  # Nothing of the job may survive it (a stopped rank is killed by mpirun; make sure).
  for _ in $(seq 1 100); do
    [[ -z "$(pgrep -f "fmnist_dist.*$dir")" ]] && break
    sleep 0.1
  done
  [[ -z "$(pgrep -f "fmnist_dist.*$dir")" ]] || fail "round $round: processes of the job outlived it"
  case "$kind" in
    sigterm) [[ $status -eq 75 ]] || { cat "$work/round-$round.log"; fail "round $round: SIGTERM gave exit status $status, expected 75"; } ;;
    sigstop)
      [[ $status -eq 76 ]] || { cat "$work/round-$round.log"; fail "round $round: SIGSTOP gave exit status $status, expected 76"; }
      awk -v e="$ended" -v b="$((stall_timeout + 10))" 'BEGIN { exit !(e <= b) }' || fail "round $round: the stall took $ended s to end"
      grep -q "error: stall:.*rank $rank (" "$work/round-$round.log" || { cat "$work/round-$round.log"; fail "round $round: the stall error does not name rank $rank"; } ;;
    *) [[ $status -ne 0 ]] || fail "round $round: $kind left exit status 0" ;;
  esac
  for checkpoint in "$dir"/checkpoints/ckpt-*.h5; do
    [[ -e "$checkpoint" ]] || continue
    "$fmnist" --evaluate "$checkpoint" --data-dir "$data" --threads 1 >/dev/null 2>"$work/eval.err" ||
      fail "round $round: $checkpoint does not open: $(cat "$work/eval.err")"
  done
  count[$kind]=$((${count[$kind]:-0} + 1))
  detect[$kind]="${detect[$kind]:-} $ended"
  printf '%-5s %-10s %-4s %-6s %-9s %s\n' "$round" "$kind" "$rank" "$status" "$ended" "$(latest "$dir")"
done

mpirun --quiet --oversubscribe -np 2 "$fmnist" "${train[@]}" --resume auto --output-dir "$dir" >"$work/final.log" 2>&1 ||
  { cat "$work/final.log"; fail "the final resume failed"; }
final="$(latest "$work/straight")"
[[ "$final" == "ckpt-e$(printf '%04d' "$epochs")-"* ]] || fail "the uninterrupted run's latest checkpoint is $final"
for d in straight soak; do [[ -f "$work/$d/checkpoints/$final" ]] || fail "$d has no final checkpoint $final"; done
h5diff "$work/straight/checkpoints/$final" "$work/soak/checkpoints/$final" /model /model >"$work/h5diff.out" 2>&1 ||
  { cat "$work/h5diff.out"; fail "final /model differs from the uninterrupted run"; }
h5diff "$work/straight/checkpoints/$final" "$work/soak/checkpoints/$final" /optimizer /optimizer >"$work/h5diff.out" 2>&1 ||
  { cat "$work/h5diff.out"; fail "final /optimizer differs from the uninterrupted run"; }
values() { cut -d, -f1-5,8 "$1"; }
diff <(values "$work/straight/history.csv") <(values "$work/soak/history.csv") >/dev/null ||
  fail "the history differs from the uninterrupted run"
[[ "$(tail -n 1 "$work/straight.log")" == "$(tail -n 1 "$work/final.log")" ]] || fail "the test line differs"
echo "summary: $rounds faults, $rounds recoveries by --resume auto; seconds from fault to the job's end:"
for k in "${kinds[@]}"; do
  [[ -n "${count[$k]:-}" ]] || continue
  echo "  $k: ${count[$k]} x, ended after${detect[$k]} s"
done
echo "final /model and /optimizer identical to the uninterrupted run (h5diff), history and test line too: $(tail -n 1 "$work/final.log")"
