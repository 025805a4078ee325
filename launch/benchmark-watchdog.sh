#!/usr/bin/env bash
# The stall watchdog's cost: `fmnist_dist --benchmark` of mlp (the shortest step) at np=2, with
# the watchdog off (--stall-warning 0 --stall-timeout 0: plain MPI_Wait / MPI_Allreduce) and on
# (the defaults: MPI_Test loops under a deadline), in alternating pairs, the order swapped every
# rep. Prints each run's median ms/step, the medians over reps and the overhead in percent.
#
#   launch/benchmark-watchdog.sh [--reps N] [--steps S] [--binary PATH] [--data-dir DIR]
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
reps=7 steps=1500 binary="$repo_root/build/fmnist_dist" data="$repo_root/data/fashion-mnist"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --reps) reps="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --binary) binary="$2"; shift 2 ;;
    --data-dir) data="$2"; shift 2 ;;
    -h | --help) sed -n '2,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "benchmark-watchdog.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
run() { # run off|on: median ms/step of one benchmark run
  local -a watchdog=()
  [[ $1 == off ]] && watchdog=(--stall-warning 0 --stall-timeout 0)
  timeout 300 mpirun --quiet --oversubscribe -np 2 "$binary" --benchmark --model mlp --batch-size 32 --threads 1 \
    --data-dir "$data" --benchmark-steps "$steps" --benchmark-warmup 50 "${watchdog[@]}" |
    awk -F'|' '$2 ~ /^ mlp / { gsub(/ /, "", $7); print $7 }'
}
off=() on=()
echo "| rep | watchdog off ms/step | watchdog on ms/step |"
echo "|---|---|---|"
for ((rep = 1; rep <= reps; rep++)); do
  if ((rep % 2)); then a=$(run off); b=$(run on); else b=$(run on); a=$(run off); fi
  off+=("$a") on+=("$b")
  echo "| $rep | $a | $b |"
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
m_off=$(median "${off[@]}") m_on=$(median "${on[@]}")
echo "median: off $m_off ms/step, on $m_on ms/step, overhead $(awk -v a="$m_off" -v b="$m_on" 'BEGIN { printf "%+.2f%%", 100 * (b - a) / a }')"
