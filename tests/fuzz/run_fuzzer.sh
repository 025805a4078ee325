#!/usr/bin/env bash
# Runs one libFuzzer target on its regression inputs, then for a bounded time from a copy of its
# seed corpus (the committed seeds stay as they are); fails on any crash, sanitizer report, leak or timeout it finds,
# leaving the reproducer in the working folder. Prints libFuzzer's final statistics.
#   run_fuzzer.sh FUZZER SEED_DIR SECONDS [extra libFuzzer flags]
set -euo pipefail
fuzzer="$1" seeds="$2" seconds="$3"
shift 3
corpus="$(mktemp -d)"
trap 'rm -rf "$corpus"' EXIT
cp -r "$seeds"/. "$corpus"/
# Inputs that once crashed or hung the target (tests/fuzz/regressions/<name>/) must pass first.
regressions="$(dirname "$seeds")/../regressions/$(basename "$seeds")"
# HDF5's free lists look like leaks to libFuzzer's per-input check, and HDF5 itself leaks on
# some corrupt files (see the file). The suppressions match frames inside libhdf5, which has no
# frame pointers: targets that read HDF5 run with ASAN_OPTIONS=fast_unwind_on_malloc=0 (set by
# tests/fuzz/CMakeLists.txt), the slow unwinder that finds them. The last suppressions= wins,
# so ours goes after whatever the caller set.
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/sanitizers/lsan-fuzz.supp"
# -timeout: one input running longer than 10 s is a hang; -rss_limit_mb: the readers must check
# sizes before allocating, so 2 GiB is plenty.
if [[ -d "$regressions" ]]; then
  "$fuzzer" -timeout=10 -rss_limit_mb=2048 "$regressions"/*
fi
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="${FMNIST_FUZZ_ARTIFACTS:-$PWD}/" "$@" "$corpus"
