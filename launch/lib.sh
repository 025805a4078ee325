# shellcheck shell=bash
# launch/lib.sh -- helpers shared by launch/slurm/fmnist.sbatch and launch/hostfile/run-hostfile.sh
# (sourced, not run).  Both build the fmnist_dist options they add in the caller's array `extra`.

# has_opt OPT ARGS...: whether ARGS hold OPT, as "OPT" or "OPT=value".
has_opt() {
  local want=$1 arg
  shift
  for arg in "$@"; do
    if [[ $arg == "$want" || $arg == "$want="* ]]; then
      return 0
    fi
  done
  return 1
}

# add_config_opt PROG: appends --config "$FMNIST_CONFIG" to `extra` when FMNIST_CONFIG is set;
# exits 2 (naming PROG) when it is not a file.
add_config_opt() {
  [[ -n ${FMNIST_CONFIG:-} ]] || return 0
  if [[ ! -f $FMNIST_CONFIG ]]; then
    echo "$1: FMNIST_CONFIG='$FMNIST_CONFIG' is not a file" >&2
    exit 2
  fi
  extra+=(--config "$FMNIST_CONFIG")
}

# add_resume_threads_opts THREADS ARGS...: appends --resume auto and --threads THREADS to
# `extra`, each unless ARGS (the user's fmnist_dist options) already hold it.
add_resume_threads_opts() {
  local threads=$1
  shift
  has_opt --resume "$@" || extra+=(--resume auto)
  has_opt --threads "$@" || extra+=(--threads "$threads")
}
