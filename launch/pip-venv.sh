#!/usr/bin/env bash
# Creates (once) a Python virtual environment of packages from the Python package index, for the
# checks that need them, and prints its python. Never touches the system Python. Idempotent: a
# complete venv is reused.
#
#   launch/pip-venv.sh keras [VENV_DIR]   Keras 3 with its JAX CPU backend and h5py: the Keras
#                                         interop tests and the benchmark's Keras peer
#                                         (default build/keras-venv)
#   launch/pip-venv.sh torch [VENV_DIR]   today's PyTorch 2.x and numpy: the benchmark's second
#                                         PyTorch peer (default build/torch-venv; a large download)
#
# Prints the venv's python on stdout and exits 0, or prints why on stderr and exits 77 (the
# skip status of the test scripts) when the venv cannot be made: no python3 with venv, or the
# package index cannot be reached or the install fails.
set -uo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
case "${1:-}" in
  keras) packages=(keras "jax[cpu]" h5py); probe="import keras, jax, h5py" ;;
  torch) packages=(numpy torch); probe="import numpy, torch" ;;
  -h | --help) sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "pip-venv.sh: expected 'keras' or 'torch' as the first argument, found '${1:-}' (see --help)" >&2; exit 2 ;;
esac
venv="${2:-$repo_root/build/$1-venv}"
ready_marker="$venv/.fmnist-$1-ready"

skip() {
  echo "pip-venv.sh: $* (skipping)" >&2
  exit 77
}

if [[ -f "$ready_marker" && -x "$venv/bin/python" ]]; then
  echo "$venv/bin/python"
  exit 0
fi

python=""
for candidate in /usr/bin/python3 python3; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import venv, ensurepip' 2>/dev/null; then
    python="$(command -v "$candidate")"
    break
  fi
done
[[ -n "$python" ]] || skip "expected a python3 with the venv and ensurepip modules (Debian: python3-venv), found none"

rm -rf "$venv"
"$python" -m venv "$venv" >&2 || skip "'$python -m venv $venv' failed"
log="$venv/pip-install.log"
echo "pip-venv.sh: pip install ${packages[*]} into $venv" >&2
if ! "$venv/bin/python" -m pip install --disable-pip-version-check --quiet "${packages[@]}" >"$log" 2>&1; then
  skip "pip install ${packages[*]} failed (no package index reachable?): $(tail -n 1 "$log")"
fi
KERAS_BACKEND=jax "$venv/bin/python" -c "$probe" 2>>"$log" || skip "'$probe' fails in $venv: $(tail -n 1 "$log")"
touch "$ready_marker"
echo "$venv/bin/python"
