#!/usr/bin/env bash
# The vector loops cloned for AVX-512, AVX2 + FMA and the baseline (direct_conv, im2col /
# col2im, the pools) pick their clone from the CPU's features when the program loads, so the
# unit tests on this machine only run the clone it picks. Here every unit test runs again under
# qemu-user emulating an AVX2 + FMA CPU (Haswell: the "fma" / "avx2" clones) and an SSE4.2
# one (Nehalem: the baseline clones), OpenBLAS running the kernel it picks for each. The fused
# == unfused tests, the naive-convolution and central-difference checks then hold for every
# clone. Skips (77) without qemu-x86_64 (Debian's qemu-user, which launch/install-deps.sh adds).
set -uo pipefail
# shellcheck source=tests/scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
command -v qemu-x86_64 >/dev/null || { echo "SKIP: qemu-x86_64 not found (apt-get install qemu-user)"; exit 77; }
tests="$build_dir/tests/unit_tests"
[[ -x "$tests" ]] || fail "$tests not built"

for cpu in Haswell Nehalem; do
  # qemu warns about host features its emulator leaves out (pcid, x2apic): not ours.
  timeout 900 qemu-x86_64 -cpu "$cpu" "$tests" --gtest_brief=1 >"$work/out" 2>"$work/err"
  rc=$?
  grep -v "TCG doesn't support requested feature" "$work/err" >&2
  tail -n 3 "$work/out" | sed "s/^/  [$cpu] /"
  [[ $rc == 0 ]] || { tail -n 40 "$work/out" >&2; fail "unit tests under qemu -cpu $cpu: exit $rc"; }
  grep -q '^\[  PASSED  \] [0-9]* tests' "$work/out" || fail "no test summary under qemu -cpu $cpu"
done
echo "PASS: the unit tests pass with the AVX2 + FMA and the baseline clones"
