#!/usr/bin/env bash
# The OpenBLAS kernel on the layout line: with no OPENBLAS_* variable, every rank runs a kernel
# the CPU's features call for (never the generic one on a CPU with AVX); a user's
# OPENBLAS_CORETYPE is respected as it is; and when OpenBLAS falls back to Prescott (as 0.3.21
# does on CPUs newer than itself) fmnist_dist re-executes itself with a better kernel, also
# when started directly by mpirun. The expected kernel comes from /proc/cpuinfo's flags here.
set -uo pipefail
# shellcheck source=tests/scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_data
unset OPENBLAS_CORETYPE OPENBLAS_VERBOSE FMNIST_BLAS_KERNEL_TRIED

flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
has() { [[ "$flags" == *" $1 "* ]]; }
vendor="$(grep -m1 '^vendor_id' /proc/cpuinfo | awk '{print $3}')"
if has avx512f && has avx512bw && has avx512dq && has avx512vl; then
  if has avx512_bf16; then expected="Cooperlake|SkylakeX"; else expected="SkylakeX"; fi
elif has avx2 && has fma; then
  if [[ "$vendor" == AuthenticAMD ]]; then expected="Zen"; else expected="Haswell"; fi
elif has avx; then expected="Sandybridge"
elif has sse4_2; then expected="Nehalem"
else expected="Prescott"; fi
echo "  CPU flags call for: $expected"

# layout_line NP [env...]: the kernel part of rank 0's layout line for a 2-step benchmark.
run_bench() {
  local np="$1"
  shift
  local -a cmd=("$fmnist" --benchmark --model mlp --benchmark-steps 2 --benchmark-warmup 0 --data-dir "$data_dir")
  [[ "$np" == 0 ]] || cmd=(mpirun --quiet --oversubscribe -np "$np" "${cmd[@]}")
  env "$@" timeout 120 "${cmd[@]}" >"$work/out" 2>"$work/err" || { cat "$work/err" >&2; fail "run failed: $*"; }
  grep -m1 '^fmnist_dist: ' "$work/out" || fail "no layout line"
}

for np in 0 2; do
  line="$(run_bench "$np")"
  echo "  [np=$np, no OPENBLAS_CORETYPE] $line"
  [[ "$line" =~ OpenBLAS\ kernel\ ($expected)\  ]] || fail "expected kernel $expected on the layout line"
  # OpenBLAS' own choice stands when it is one the CPU calls for; a re-exec happens only when
  # OpenBLAS alone fell back to something else (0.3.21 picks Prescott on CPUs newer than itself).
  if [[ "$line" != *"(OpenBLAS' own choice)"* ]]; then
    [[ "$line" =~ \(chosen\ by\ fmnist_dist\ for\ this\ CPU\;\ OpenBLAS\ alone\ picked\ ([A-Za-z0-9]+) ]] ||
      fail "the layout line says neither OpenBLAS' own choice nor a re-exec"
    [[ ! "${BASH_REMATCH[1]}" =~ ^($expected)$ ]] || fail "re-executed although OpenBLAS' own ${BASH_REMATCH[1]} was right"
  fi
  ! grep -q '^warning: OpenBLAS runs its generic' "$work/out" || fail "generic-kernel warning on this CPU"
done

for kernel in Nehalem Prescott; do
  line="$(run_bench 2 OPENBLAS_CORETYPE="$kernel")"
  echo "  [np=2, OPENBLAS_CORETYPE=$kernel] $line"
  [[ "$line" == *"OpenBLAS kernel $kernel (OPENBLAS_CORETYPE=$kernel)"* ]] || fail "user's $kernel not respected"
done
grep -q "^warning: OpenBLAS runs its generic Prescott kernel" "$work/out" || fail "no warning for the generic kernel"

# OpenBLAS alone "picked" Prescott: the marker says a previous exec of ours asked for it, which
# makes the program treat Prescott as OpenBLAS' own fallback and look for better.
line="$(run_bench 2 OPENBLAS_CORETYPE=Prescott FMNIST_BLAS_KERNEL_TRIED='Prescott>')"
echo "  [np=2, OpenBLAS fell back to Prescott] $line"
[[ "$line" =~ OpenBLAS\ kernel\ ($expected)\ \(chosen\ by\ fmnist_dist.*picked\ Prescott\) ]] ||
  [[ "$expected" == Prescott ]] || fail "no re-exec with a better kernel"
echo "kernel choice: $expected by default, the user's OPENBLAS_CORETYPE kept, Prescott replaced"
