# shellcheck shell=bash disable=SC2034
# Shared helpers for the end-to-end script tests (sourced, not run).
# Each test is called as: bash tests/scripts/test_X.sh <build_dir> <source_dir>

build_dir="$(cd "${1:?build dir}" && pwd)"
source_dir="$(cd "${2:?source dir}" && pwd)"
fmnist="$build_dir/fmnist_dist"
data_dir="${FMNIST_DATA:-$source_dir/data/fashion-mnist}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

require_data() {
  local f
  for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
    [[ -f "$data_dir/$f" ]] || fail "$data_dir/$f is missing: run launch/fetch-data.sh first (or set FMNIST_DATA)"
  done
}

# mpirun with the flags the tests need on a 2-core machine as root; --quiet keeps Open MPI's
# own banners out of stderr so only the program's messages remain.
mpi() {
  local np="$1"
  shift
  mpirun --quiet --oversubscribe -np "$np" "$@"
}

# The value printed after "key: " on the line "test_loss: X - test_accuracy: Y".
metric() {
  local key="$1" text="$2"
  grep -o "$key: [0-9.]*" <<<"$text" | tail -n 1 | awk '{print $2}'
}
