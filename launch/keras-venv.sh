#!/usr/bin/env bash
# Creates (once) the Python virtual environment with Keras 3 and its JAX CPU backend that the
# Keras interoperability tests use, and prints its python. Idempotent: a complete venv is reused.
#
#   launch/keras-venv.sh [VENV_DIR]      (default: build/keras-venv)
#
# Prints the venv's python on stdout and exits 0, or prints why on stderr and exits 77 (the
# skip status of the test scripts) when the venv cannot be made: no python3 with venv, or the
# package index cannot be reached or the install fails.
set -uo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${1:-$repo_root/build/keras-venv}"
readonly PACKAGES=(keras "jax[cpu]" h5py)
ready_marker="$venv/.fmnist-keras-ready"

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 0
fi

skip() {
  echo "keras-venv.sh: $* (skipping)" >&2
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
if ! "$venv/bin/python" -m pip install --disable-pip-version-check --quiet "${PACKAGES[@]}" >"$log" 2>&1; then
  skip "pip install ${PACKAGES[*]} failed (no package index reachable?): $(tail -n 1 "$log")"
fi
KERAS_BACKEND=jax "$venv/bin/python" -c 'import keras' 2>>"$log" || skip "keras does not import: $(tail -n 1 "$log")"
touch "$ready_marker"
echo "$venv/bin/python"
