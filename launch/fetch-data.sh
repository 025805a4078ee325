#!/usr/bin/env bash
# Puts the four Fashion-MNIST .gz files in a data folder, each checked against the SHA-256 sums
# kept in launch/fashion-mnist.sha256; a file only appears under its name once it is verified.
# Sources: a local mirror folder ($FMNIST_MIRROR) or the official download site.
set -euo pipefail

readonly BASE_URL="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com"
readonly FILES=(
  train-images-idx3-ubyte.gz
  train-labels-idx1-ubyte.gz
  t10k-images-idx3-ubyte.gz
  t10k-labels-idx1-ubyte.gz
)

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(dirname "$script_dir")"
sums_file="$script_dir/fashion-mnist.sha256"

usage() {
  cat <<EOF
Usage: launch/fetch-data.sh [DIR]

Puts train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and
t10k-labels-idx1-ubyte.gz in DIR and verifies their SHA-256 against launch/fashion-mnist.sha256.
Files already present with the right sum are skipped. A file that fails the check is deleted
and the script exits non-zero.

DIR defaults to \$FMNIST_DATA if set, else data/fashion-mnist in the repository
($repo_root/data/fashion-mnist).

Environment:
  FMNIST_DATA    default data folder
  FMNIST_MIRROR  local folder holding the four .gz files: copy from there instead of
                 downloading from $BASE_URL/
EOF
}

die() {
  echo "fetch-data.sh: $*" >&2
  exit 1
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  else
    shasum -a 256 "$1" | cut -d ' ' -f 1
  fi
}

expected_sum() {
  local name="$1" sum
  sum="$(awk -v name="$name" '$2 == name || $2 == "*" name { print $1 }' "$sums_file")"
  [[ "$sum" =~ ^[0-9a-f]{64}$ ]] || die "$sums_file: expected a SHA-256 sum for $name, found '${sum}'"
  echo "$sum"
}

# Copies or downloads one file to `dest`.
fetch_to() {
  local name="$1" dest="$2"
  if [[ -n "${FMNIST_MIRROR:-}" ]]; then
    [[ -f "$FMNIST_MIRROR/$name" ]] ||
      die "$FMNIST_MIRROR/$name: expected a file in FMNIST_MIRROR, found none"
    cp "$FMNIST_MIRROR/$name" "$dest"
  elif command -v curl >/dev/null 2>&1; then
    curl --fail --silent --show-error --location --retry 3 --output "$dest" "$BASE_URL/$name" ||
      die "$BASE_URL/$name: download failed (curl)"
  elif command -v wget >/dev/null 2>&1; then
    wget --quiet --tries=3 --output-document="$dest" "$BASE_URL/$name" ||
      die "$BASE_URL/$name: download failed (wget)"
  else
    die "expected curl or wget to download $BASE_URL/$name, found neither (or set FMNIST_MIRROR)"
  fi
}

case "${1:-}" in
  -h | --help)
    usage
    exit 0
    ;;
  -*) die "unknown option '$1' (see --help)" ;;
esac
[[ $# -le 1 ]] || die "expected at most one argument DIR, found $# (see --help)"

data_dir="${1:-${FMNIST_DATA:-$repo_root/data/fashion-mnist}}"
[[ -f "$sums_file" ]] || die "$sums_file: expected the SHA-256 list, found no file"
mkdir -p "$data_dir"

# The file being fetched, removed on any exit (error, Ctrl-C) so nothing unverified is left.
temp_file=""
cleanup() {
  if [[ -n "$temp_file" ]]; then rm -f "$temp_file"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for name in "${FILES[@]}"; do
  want="$(expected_sum "$name")"
  target="$data_dir/$name"
  if [[ -f "$target" ]]; then
    if [[ "$(sha256_of "$target")" == "$want" ]]; then
      echo "$name: present, checksum ok"
      continue
    fi
    echo "$name: present but checksum differs, removing it and fetching again"
    rm -f "$target"
  fi
  # A hidden temp file in the same folder, so the final mv is an atomic rename.
  temp_file="$(mktemp "$data_dir/.$name.XXXXXX")"
  fetch_to "$name" "$temp_file"
  found="$(sha256_of "$temp_file")"
  if [[ "$found" != "$want" ]]; then
    rm -f "$temp_file"
    temp_file=""
    die "$name: expected sha256 $want, found $found"
  fi
  chmod 0644 "$temp_file"
  mv -f "$temp_file" "$target"
  temp_file=""
  echo "$name: fetched, checksum ok"
done
