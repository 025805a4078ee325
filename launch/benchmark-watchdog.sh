#!/usr/bin/env bash
# The stall watchdog's cost on mlp (the shortest step) at np=2: each rep is one
# `fmnist_dist --benchmark --benchmark-watchdog` run, which times its steps in alternating
# 10-step blocks without the deadline (plain MPI_Wait) and with it (MPI_Test loops), in the
# same process, and prints the median of the block pairs' ratios. Ratios measured side by side
# in one process are what this shared machine can resolve; separate runs differ by 10-20 %.
# Prints each rep's line and the median cost over reps.
#
#   launch/benchmark-watchdog.sh [--reps N] [--steps S] [--binary PATH] [--data-dir DIR]
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
reps=5 steps=1600 binary="$repo_root/build/fmnist_dist" data="$repo_root/data/fashion-mnist"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --reps) reps="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --binary) binary="$2"; shift 2 ;;
    --data-dir) data="$2"; shift 2 ;;
    -h | --help) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "benchmark-watchdog.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
costs=()
echo "| rep | ms/step without the deadline | ms/step with it | cost (median of block-pair ratios) |"
echo "|---|---|---|---|"
for ((rep = 1; rep <= reps; rep++)); do
  line=$(timeout 300 mpirun --quiet --oversubscribe -np 2 "$binary" --benchmark --benchmark-watchdog --model mlp \
    --batch-size 32 --threads 1 --data-dir "$data" --benchmark-steps "$steps" --benchmark-warmup 50 |
    grep '^stall watchdog (')
  read -r off on cost < <(sed -E 's/.*median step ([0-9.]+) ms without.* ([0-9.]+) ms with it; cost ([-+0-9.]+)%.*/\1 \2 \3/' <<<"$line")
  costs+=("$cost")
  echo "| $rep | $off | $on | $cost % |"
done
median=$(printf '%s\n' "${costs[@]}" | sort -g |
  awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
echo "median cost over $reps reps: ${median} %"
