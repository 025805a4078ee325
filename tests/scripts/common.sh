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

# expect_one_line_error LABEL EXPECT NP ARGS...: fmnist_dist ARGS (under mpirun -np NP when NP
# is not 0) must fail on its own within 120 s (no hang, no signal, no launch failure) with
# exactly one line on stderr, which mentions EXPECT.
expect_one_line_error() {
  local label="$1" expect="$2" np="$3"
  shift 3
  local -a cmd=("$fmnist" "$@")
  local where="" rc=0 lines
  if [[ "$np" != 0 ]]; then
    cmd=(mpirun --quiet --oversubscribe -np "$np" "${cmd[@]}")
    where=", np=$np"
  fi
  timeout 120 "${cmd[@]}" >"$work/out" 2>"$work/err" || rc=$?
  lines=$(grep -c . "$work/err")
  echo "  [$label$where] rc=$rc: $(head -n 1 "$work/err")"
  [[ $rc -ne 0 ]] || fail "$label: exit status 0"
  [[ $rc -ne 124 ]] || fail "$label: hung (killed by timeout)"
  [[ $rc -lt 128 ]] || fail "$label: died of a signal (status $rc)"
  [[ $rc -lt 124 ]] || fail "$label: exit status $rc (timeout failed, or the command could not be run)"
  [[ $lines -eq 1 ]] || { cat "$work/err" >&2; fail "$label: expected one line on stderr, found $lines"; }
  grep -qF -- "$expect" "$work/err" || fail "$label: message does not mention '$expect'"
}

# require_debian_python MODULE...: sets $py to Debian's /usr/bin/python3 (the default python3
# may be another one) and skips the test (77) unless it imports every MODULE.
require_debian_python() {
  py=/usr/bin/python3
  local module
  for module in "$@"; do
    "$py" -c "import $module" 2>/dev/null ||
      { echo "SKIP: $py cannot import $module (launch/install-deps.sh installs Debian's python3-$module)"; exit 77; }
  done
}

# rank_pid DIR R: the pid of the fmnist_dist process with rank R whose command line mentions DIR
# (Open MPI puts OMPI_COMM_WORLD_RANK in each rank's environment); empty if none yet.
rank_pid() {
  local dir="$1" rank="$2" pid
  for pid in $(pgrep -f "fmnist_dist.*$dir"); do
    if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$rank"; then
      echo "$pid"
      return
    fi
  done
}
