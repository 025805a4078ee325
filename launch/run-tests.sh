#!/usr/bin/env bash
# The whole test suite: installs missing Debian packages, builds with tests, fetches the data
# (from $FMNIST_MIRROR when set) and runs every ctest test: unit, mpi, e2e and cluster; then,
# without ctest options, the sanitizer stage (launch/run-sanitizers.sh: the unit and MPI tests
# under ASan + UBSan, and each fuzz target for 30 s). FMNIST_SANITIZERS=0 skips that stage.
#
#   launch/run-tests.sh [ctest options, e.g. -L unit or -R idx]
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  sed -n '2,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 0
fi

"$repo_root/launch/install-deps.sh"
"$repo_root/launch/build.sh"
"$repo_root/launch/fetch-data.sh"

export FMNIST_DATA="${FMNIST_DATA:-$repo_root/data/fashion-mnist}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cd "$repo_root/build"
ctest --output-on-failure "$@"
if [[ $# -eq 0 && "${FMNIST_SANITIZERS:-1}" != 0 ]]; then
  "$repo_root/launch/run-sanitizers.sh"
fi
