#!/usr/bin/env bash
# The main job on one machine: installs missing Debian packages, builds, fetches the data,
# trains with mpirun, then draws the run's pictures (launch/plot_run.py) into
# <output dir>/plots and prints where they are. Every argument is passed to fmnist_dist.
#
#   launch/run-local.sh [-np N] [fmnist_dist options...]
#
# Defaults: -np 4, and --model mlp --epochs 5 when no option is given. Adds --oversubscribe
# when N exceeds the cores, handles running as root, and shows a live progress bar when
# stdout is a terminal. Data comes from $FMNIST_MIRROR (a local folder) when set, else the
# official download site.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
np=4
if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 0
fi
if [[ "${1:-}" == "-np" ]]; then
  np="${2:?-np needs a number}"
  shift 2
fi
if ! [[ "$np" =~ ^[1-9][0-9]*$ ]]; then
  echo "run-local.sh: -np: expected a positive integer, found '$np'" >&2
  exit 2
fi
args=("$@")
if [[ ${#args[@]} -eq 0 ]]; then
  args=(--model mlp --epochs 5)
fi

"$repo_root/launch/install-deps.sh"
"$repo_root/launch/build.sh"
"$repo_root/launch/fetch-data.sh"

mpi_flags=()
if (( np > $(nproc) )); then
  mpi_flags+=(--oversubscribe)
fi
if [[ "$(id -u)" == "0" ]]; then
  mpi_flags+=(--allow-run-as-root)
fi
# Open MPI gives each rank a pseudo-terminal, so the program cannot see our stdout itself.
progress=lines
if [[ -t 1 ]]; then
  progress=bar
fi

# The run's folder: --output-dir if given, else the timestamped one fmnist_dist would choose.
output_dir="" training=true
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --output-dir) output_dir="${args[i + 1]:-}" ;;
    --output-dir=*) output_dir="${args[i]#--output-dir=}" ;;
    --summary | --benchmark | --evaluate* | --predict* | --export-keras* | --help | -h) training=false ;;
  esac
done
if [[ -z "$output_dir" ]]; then
  output_dir="results/runs/$(date +%Y%m%d-%H%M%S)"
  args+=(--output-dir "$output_dir")
fi

cd "$repo_root"
status=0
mpirun --quiet -np "$np" "${mpi_flags[@]}" "$repo_root/build/fmnist_dist" --progress "$progress" "${args[@]}" || status=$?
if [[ $status -ne 0 || "$training" != true ]]; then
  exit "$status"
fi
# Debian's python3 (python3-matplotlib, python3-h5py), not whichever python3 is first on PATH.
if ! /usr/bin/python3 "$repo_root/launch/plot_run.py" "$output_dir" >/dev/null; then
  echo "run-local.sh: launch/plot_run.py $output_dir failed (see its message above)" >&2
  exit 1
fi
pictures=("$output_dir"/plots/*.png)
echo "pictures: ${pictures[*]}"
