# shellcheck shell=bash
# shellcheck disable=SC2034  # CT_BIN / CT_DATA are set here for the sourcing test scripts
# tests/cluster/common.sh -- helpers shared by the tests/cluster/test_*.sh scripts.
#
# Conventions (ctest): bash tests/cluster/test_X.sh <build_dir> <source_dir>
#   exit 0 = pass, 77 = skipped (reason printed), anything else = fail.
# Environment understood by every cluster test:
#   FMNIST_BIN         trainer binary (default <build_dir>/fmnist_dist); a stand-in works too
#   FMNIST_DATA        Fashion-MNIST folder (default <source_dir>/data/fashion-mnist, fetched
#                      with launch/fetch-data.sh when missing; FMNIST_MIRROR is honoured by it)
#   FMNIST_TEST_KEEP   1 = keep the temporary folder for inspection
#   FMNIST_TEST_TIMEOUT overall limit in seconds (default 1200); the test kills all it started

ct_log() { printf '[%s %(%H:%M:%S)T] %s\n' "${CT_NAME:-cluster}" -1 "$*"; }
ct_check() { printf '[%s %(%H:%M:%S)T] CHECK ok: %s\n' "${CT_NAME:-cluster}" -1 "$*"; }
ct_fail() {
  printf 'FAIL: %s\n' "$*" >&2
  exit 1
}
ct_skip() {
  printf 'SKIP: %s\n' "$*"
  exit 77
}

# Re-executes the calling script under coreutils timeout (once), so that nothing can hang:
#   ct_under_timeout "$@"      (first thing in the script)
# On expiry the script gets SIGTERM; its TERM trap must clean up and exit non-zero.
ct_under_timeout() {
  if [[ -z ${CT_UNDER_TIMEOUT:-} ]]; then
    export CT_UNDER_TIMEOUT=1
    exec timeout --kill-after=60 "${FMNIST_TEST_TIMEOUT:-1200}" bash "$0" "$@"
  fi
}

# Slurm variables from an enclosing job (ctest run inside an allocation) must not leak into
# the test's own cluster.
ct_clear_slurm_env() {
  local v
  for v in $(compgen -e); do
    case $v in
      SLURM_* | SBATCH_* | SRUN_* | SALLOC_* | SQUEUE_* | PMIX_* | OMPI_MCA_* | OMPI_COMM_*) unset "$v" ;;
    esac
  done
}

# ct_resolve_bin BUILD_DIR -> sets CT_BIN (absolute) or fails.
ct_resolve_bin() {
  local bin=${FMNIST_BIN:-$1/fmnist_dist}
  [[ -x $bin ]] || ct_fail "trainer binary '$bin' not found or not executable (build it, or set FMNIST_BIN)"
  CT_BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
}

ct_has_data() { compgen -G "$1/train-images-idx3-ubyte*" >/dev/null && compgen -G "$1/t10k-labels-idx1-ubyte*" >/dev/null; }

# ct_resolve_data SOURCE_DIR -> sets CT_DATA (absolute); fetches, or skips when impossible.
ct_resolve_data() {
  local src=$1 dir
  if [[ -n ${FMNIST_DATA:-} ]]; then
    ct_has_data "$FMNIST_DATA" || ct_skip "FMNIST_DATA='$FMNIST_DATA' holds no Fashion-MNIST files"
    CT_DATA=$(cd "$FMNIST_DATA" && pwd)
    return 0
  fi
  dir=$src/data/fashion-mnist
  if ! ct_has_data "$dir" && [[ -f $src/launch/fetch-data.sh ]]; then
    ct_log "no data in $dir: running launch/fetch-data.sh (5 min limit)"
    timeout 300 bash "$src/launch/fetch-data.sh" "$dir" || true
  fi
  ct_has_data "$dir" || ct_skip "no Fashion-MNIST data in $dir (run launch/fetch-data.sh, or set FMNIST_DATA / FMNIST_MIRROR)"
  CT_DATA=$(cd "$dir" && pwd)
}

# ct_test_line FILE -> the last 'test_loss: X - test_accuracy: Y' line of a trainer log.
ct_test_line() {
  tr '\r' '\n' <"$1" | grep -aE '^test_loss: [0-9.naif+-]+ - test_accuracy: [0-9.naif+-]+[[:space:]]*$' |
    tail -n 1 | sed 's/[[:space:]]*$//'
}

# ct_check_history FILE EPOCHS: header as in the contract, one row per epoch 1..EPOCHS, in order.
ct_check_history() {
  local file=$1 epochs=$2 header got want
  [[ -f $file ]] || ct_fail "$file missing"
  header=$(head -n 1 "$file" | tr -d '\r')
  [[ $header == "epoch,loss,accuracy,val_loss,val_accuracy,epoch_seconds,samples_per_second,lr" ]] ||
    ct_fail "$file: unexpected header '$header'"
  got=$(tail -n +2 "$file" | tr -d '\r' | grep -v '^$' | cut -d, -f1 | paste -sd' ')
  want=$(seq 1 "$epochs" | paste -sd' ')
  [[ $got == "$want" ]] || ct_fail "$file: epochs column is '$got', want '$want' (no repeats, none missing)"
}

# Prints the last 200 lines of each file between markers (for failures).
ct_dump() {
  local f
  for f in "$@"; do
    [[ -f $f ]] || continue
    echo "----- $f (last 200 lines) -----"
    tail -n 200 "$f"
    echo "----- end $f -----"
  done
}

# ct_fail_dump MESSAGE FILE...: ct_dump the files, then ct_fail MESSAGE (exits: call it after
# `||`, not inside `$(...)`).
ct_fail_dump() {
  local msg=$1
  shift
  ct_dump "$@"
  ct_fail "$msg"
}

# Ends process $1 (if running): SIGTERM, a second's grace, then SIGKILL, and reaps it.
ct_stop_pid() {
  local pid="$1"
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  sleep 1
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

# The end of every test's cleanup: keep the work folder $2 when FMNIST_TEST_KEEP=1, else
# remove it, and exit with status $1.
ct_finish() {
  if [[ ${FMNIST_TEST_KEEP:-0} == 1 ]]; then
    ct_log "kept $2"
  else
    rm -rf "$2"
  fi
  exit "$1"
}

# Runs the caller's `cleanup` on exit; an outside SIGTERM/SIGINT (the overall timeout) fails.
ct_install_traps() {
  trap cleanup EXIT
  trap 'echo "FAIL: terminated (overall timeout ${FMNIST_TEST_TIMEOUT:-1200}s?)" >&2; exit 1' TERM INT
}

# What the test runs with (work folder $1), for its log.
ct_log_setup() {
  ct_log "trainer: $CT_BIN"
  ct_log "data:    $CT_DATA"
  ct_log "work:    $1"
}
