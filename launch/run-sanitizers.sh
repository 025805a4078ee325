#!/usr/bin/env bash
# The sanitizer stage of the test suite: builds everything with clang, AddressSanitizer +
# UndefinedBehaviorSanitizer and the libFuzzer targets in build-asan/, then runs the unit and
# MPI tests there and each fuzz target for FMNIST_FUZZ_SECONDS (30) from its seed corpus.
# launch/run-tests.sh runs it after the main suite; it can also run alone:
#
#   launch/run-sanitizers.sh [ctest options, default: -L 'unit|mpi|fuzz']
#
# Leaks: LeakSanitizer runs for every test, with tests/sanitizers/lsan.supp suppressing what
# Open MPI allocates in MPI_Init and never frees, and HDF5's free lists (see the file).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${FMNIST_ASAN_BUILD_DIR:-$repo_root/build-asan}"
if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 0
fi

if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  CC=clang CXX=clang++ cmake -S "$repo_root" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DFMNIST_SANITIZE=ON -DFMNIST_FUZZ=ON -DFMNIST_FUZZ_SECONDS="${FMNIST_FUZZ_SECONDS:-30}" >/dev/null
fi
cmake --build "$build_dir" --parallel "$(nproc)" -- --no-print-directory >/dev/null
echo "built $build_dir (clang, -fsanitize=address,undefined, libFuzzer targets)"

export FMNIST_DATA="${FMNIST_DATA:-$repo_root/data/fashion-mnist}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Frames inside libmpi / libhdf5 (built without frame pointers) are only found by the slow
# unwinder, and the suppressions need them (the fuzz targets choose for themselves).
export LSAN_OPTIONS="suppressions=$repo_root/tests/sanitizers/lsan.supp"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
cd "$build_dir"
if [[ $# -gt 0 ]]; then
  ASAN_OPTIONS="fast_unwind_on_malloc=0" ctest --output-on-failure "$@"
  exit
fi
ASAN_OPTIONS="fast_unwind_on_malloc=0" ctest --output-on-failure -L 'unit|mpi'
ctest --output-on-failure -L fuzz
