#!/usr/bin/env bash
# Creates (once) the virtual environment of the benchmark's pip peers, build/peer-venv, with
# PyTorch 2.x and Keras 3 (JAX backend) from the Python package index, and prints its python.
# Never touches the system Python. Exit 77 (the tests' "skip") with the reason when the venv or
# a package cannot be had here, so callers can go on without that peer.
#
#   launch/peer-venv.sh [torch|keras|all]     (default all; FMNIST_PEER_VENV overrides the folder)
set -uo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${FMNIST_PEER_VENV:-$repo_root/build/peer-venv}"
what="${1:-all}"
case "$what" in
  torch) packages=(numpy torch); probe="import numpy, torch" ;;
  keras) packages=(numpy keras jax); probe="import numpy, keras, jax" ;;
  all) packages=(numpy torch keras jax); probe="import numpy, torch, keras, jax" ;;
  -h | --help) sed -n '2,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "peer-venv.sh: expected torch, keras or all, found '$what'" >&2; exit 2 ;;
esac

skip() {
  echo "peer-venv.sh: $*" >&2
  exit 77
}

python="$venv/bin/python"
if [[ -x "$python" ]] && KERAS_BACKEND=jax "$python" -c "$probe" >/dev/null 2>&1; then
  echo "$python"
  exit 0
fi
base=""
for candidate in python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    base="$candidate"
    break
  fi
done
[[ -n "$base" ]] || skip "no python3 with venv and ensurepip (Debian: apt-get install python3-venv)"
if [[ ! -x "$python" ]]; then
  "$base" -m venv "$venv" >&2 || skip "could not create the virtual environment $venv"
fi
echo "peer-venv.sh: pip install ${packages[*]} into $venv (PyTorch is a large download)" >&2
"$python" -m pip install --quiet --disable-pip-version-check "${packages[@]}" >&2 ||
  skip "pip could not install ${packages[*]} (no package index reachable?)"
KERAS_BACKEND=jax "$python" -c "$probe" >/dev/null 2>&1 || skip "installed, but '$probe' fails in $venv"
echo "$python"
