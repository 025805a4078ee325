#!/bin/bash
#
# run-hostfile.sh -- fmnist_dist on hosts listed in an Open MPI hostfile, for clusters without a
# scheduler (plain mpirun; remote daemons are started over ssh, or over whatever
# `--mca plm_rsh_agent` names).
#
#   launch/hostfile/run-hostfile.sh --hostfile FILE [-np N] [--oversubscribe] [--] [fmnist_dist options]
#   launch/hostfile/run-hostfile.sh --help
#
# Hostfile lines:  node1 slots=4   (Open MPI syntax; '#' comments).  Ranks fill each host's
# slots in order, so -np 8 on "a slots=4 / b slots=4" puts ranks 0-3 on a and 4-7 on b.
#
# What the script adds to the fmnist_dist options:
#   --output-dir <runs>/<run name>  unless given (run name: $FMNIST_RUN_NAME, default
#                                   hostfile-<date>-<time>; the path is printed)
#   --resume auto                   unless given: rerunning the same command with the same
#                                   --output-dir (or FMNIST_RUN_NAME) continues from the
#                                   latest checkpoint there
#   --threads $FMNIST_THREADS       unless given (default 1; BLAS threads per rank, also
#                                   exported as OMP_NUM_THREADS/OPENBLAS_NUM_THREADS)
#   --config "$FMNIST_CONFIG"       when FMNIST_CONFIG names a file
#
# Preemption: `kill -USR1 <pid of this script>` (the script execs mpirun, so the pid is
# mpirun's; mpirun relays SIGUSR1 to every rank).  The ranks checkpoint and exit 75 and so does
# this command; run it again with the same output folder to resume.  (SIGTERM/Ctrl-C also make
# the ranks checkpoint, but mpirun then reports exit 1.)
#
# Environment:
#   FMNIST_BIN          trainer binary (default <repo>/build/fmnist_dist; same path on every host)
#   FMNIST_RUNS         parent of run folders (default <repo>/results/runs)
#   FMNIST_RUN_NAME     run folder name (default hostfile-<date>-<time>)
#   FMNIST_THREADS      BLAS threads per rank (default 1)
#   FMNIST_CONFIG       config file passed as --config
#   FMNIST_HOSTFILE     hostfile, instead of --hostfile
#   FMNIST_MPIRUN_ARGS  extra mpirun arguments, word-split, e.g.
#                       "--mca btl tcp,self --mca btl_tcp_if_include 10.0.0.0/24"
#   FMNIST_DATA, OMP_NUM_THREADS, OPENBLAS_NUM_THREADS are passed to every rank (-x).
# Running as root adds --allow-run-as-root.

set -euo pipefail

usage() {
  cat <<'EOF'
usage: launch/hostfile/run-hostfile.sh --hostfile FILE [-np N] [--oversubscribe] [--] [fmnist_dist options]

Runs fmnist_dist with mpirun on the hosts of an Open MPI hostfile ("node1 slots=4" lines),
with --resume auto and an output folder (<repo>/results/runs/<run name>, printed) unless
--output-dir is given.  Options before '--' that the script does not know are passed to
fmnist_dist too.

  --hostfile FILE    hosts and slots (or FMNIST_HOSTFILE)
  -np N, --np N      number of ranks (default: the sum of the slots)
  --oversubscribe    allow more ranks than slots
  -h, --help         this text

Environment: FMNIST_BIN, FMNIST_RUNS, FMNIST_RUN_NAME, FMNIST_THREADS (default 1),
FMNIST_CONFIG, FMNIST_HOSTFILE, FMNIST_MPIRUN_ARGS (extra mpirun arguments, e.g.
"--mca btl tcp,self"), FMNIST_DATA.  Preempt with kill -USR1 <pid>: exit 75, rerun to resume.
EOF
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# has_opt, add_config_opt, add_resume_threads_opts: shared with launch/slurm/fmnist.sbatch.
# shellcheck source=launch/lib.sh
source "$root/launch/lib.sh"
hostfile=${FMNIST_HOSTFILE:-}
np=""
oversubscribe=0
train=()
while [[ $# -gt 0 ]]; do
  case $1 in
    -h | --help)
      usage
      exit 0
      ;;
    --hostfile)
      [[ $# -ge 2 ]] || { echo "run-hostfile.sh: --hostfile needs a file" >&2; exit 2; }
      hostfile=$2
      shift 2
      ;;
    --hostfile=*)
      hostfile=${1#*=}
      shift
      ;;
    -np | --np | -n)
      [[ $# -ge 2 ]] || { echo "run-hostfile.sh: $1 needs a number" >&2; exit 2; }
      np=$2
      shift 2
      ;;
    --oversubscribe)
      oversubscribe=1
      shift
      ;;
    --)
      shift
      train+=("$@")
      break
      ;;
    *)
      train+=("$1")
      shift
      ;;
  esac
done

[[ -n $hostfile ]] || { echo "run-hostfile.sh: no hostfile (--hostfile FILE or FMNIST_HOSTFILE); see --help" >&2; exit 2; }
[[ -f $hostfile ]] || { echo "run-hostfile.sh: hostfile '$hostfile' not found" >&2; exit 2; }
if [[ -z $np ]]; then
  np=$(awk '{sub(/#.*/, "")} NF {n = 1; for (i = 2; i <= NF; i++) if ($i ~ /^slots=/) {split($i, a, "="); n = a[2]} s += n} END {print s + 0}' "$hostfile")
fi
[[ $np =~ ^[1-9][0-9]*$ ]] || { echo "run-hostfile.sh: bad rank count '$np'" >&2; exit 2; }

bin=${FMNIST_BIN:-$root/build/fmnist_dist}
[[ -x $bin ]] || { echo "run-hostfile.sh: trainer '$bin' not found or not executable (build it, or set FMNIST_BIN)" >&2; exit 2; }

threads=${FMNIST_THREADS:-1}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$threads} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-$threads}
extra=()
add_config_opt run-hostfile.sh
if ! has_opt --output-dir "${train[@]}"; then
  outdir=${FMNIST_RUNS:-$root/results/runs}/${FMNIST_RUN_NAME:-hostfile-$(date +%Y%m%d-%H%M%S)}
  mkdir -p "$outdir"
  extra+=(--output-dir "$outdir")
  echo "run-hostfile.sh: output folder $outdir (rerun with --output-dir '$outdir' to resume)"
fi
add_resume_threads_opts "$threads" "${train[@]}"

cmd=(mpirun --hostfile "$hostfile" -np "$np" --bind-to none
  -x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS)
[[ -z ${FMNIST_DATA:-} ]] || cmd+=(-x FMNIST_DATA)
[[ $oversubscribe -eq 0 ]] || cmd+=(--oversubscribe)
if [[ $(id -u) -eq 0 ]]; then
  cmd+=(--allow-run-as-root)
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
read -r -a mpirun_extra <<<"${FMNIST_MPIRUN_ARGS:-}"
cmd+=("${mpirun_extra[@]}" "$bin" "${extra[@]}" "${train[@]}")

echo "run-hostfile.sh: ${cmd[*]}"
# exec: signals sent to this script's pid reach mpirun, and mpirun's exit status is ours
# (0 done, 75 preempted with a checkpoint written, other = failure).
exec "${cmd[@]}"
