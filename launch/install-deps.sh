#!/usr/bin/env bash
# Installs the Debian packages fmnist_dist needs to build and test, and only those missing:
# checks each with dpkg-query, runs apt-get update once and apt-get install only if needed.
set -euo pipefail

readonly PACKAGES=(
  libopenmpi-dev
  openmpi-bin
  libopenblas-dev
  zlib1g-dev
  libboost-program-options-dev
  libhdf5-dev
  hdf5-tools
  libgtest-dev
  cmake
  g++
  make
  python3-matplotlib
  python3-h5py
  python3-venv
  clang
  libclang-rt-14-dev
  qemu-user
)

usage() {
  cat <<EOF
Usage: launch/install-deps.sh [--check]

Installs whichever of these Debian packages are missing:
  ${PACKAGES[*]}
Runs apt-get update once, only when something is missing; uses sudo when not root.

  --check   only list the missing packages; exit 1 if any are missing
  -h, --help  show this help
EOF
}

die() {
  echo "install-deps.sh: $*" >&2
  exit 1
}

check_only=false
case "${1:-}" in
  -h | --help)
    usage
    exit 0
    ;;
  --check) check_only=true ;;
  "") ;;
  *) die "unknown argument '$1' (see --help)" ;;
esac
[[ $# -le 1 ]] || die "expected at most one argument, found $# (see --help)"

command -v dpkg-query >/dev/null 2>&1 || die "expected a Debian system with dpkg-query, found none"

is_installed() {
  # '${Status}' is dpkg-query's field syntax, not a shell expansion.
  # shellcheck disable=SC2016
  [[ "$(dpkg-query --show --showformat='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

missing=()
for package in "${PACKAGES[@]}"; do
  is_installed "$package" || missing+=("$package")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps.sh: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi
echo "install-deps.sh: missing: ${missing[*]}"
if [[ "$check_only" == true ]]; then
  exit 1
fi

as_root=()
if [[ "$(id -u)" -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || die "expected root or sudo to install ${missing[*]}, found neither"
  as_root=(sudo)
fi

# env passes the variable through sudo, which would otherwise drop it.
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq -o Dpkg::Use-Pty=0 "${missing[@]}" >/dev/null
echo "install-deps.sh: installed ${missing[*]}"
