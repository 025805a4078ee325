#!/usr/bin/env bash
# End-to-end test of launch/fetch-data.sh against a local mirror: a clean fetch, a corrupted
# mirror file (must fail and leave nothing behind), and a re-run on a complete folder (no-op).
# Usage: bash tests/scripts/test_fetch_data.sh <build_dir> <source_dir>; exit 77 = skipped.
set -euo pipefail

[[ $# -eq 2 ]] || { echo "usage: $0 <build_dir> <source_dir>" >&2; exit 2; }
source_dir="$(cd "$2" && pwd)"
fetch="$source_dir/launch/fetch-data.sh"
mirror="${FMNIST_MIRROR:-$source_dir/../shared/fashion-mnist}"
files=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz
  t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)

if [[ ! -d "$mirror" ]]; then
  echo "SKIP: mirror folder '$mirror' not found (set FMNIST_MIRROR to a folder with the four .gz files)"
  exit 77
fi
for name in "${files[@]}"; do
  [[ -f "$mirror/$name" ]] || { echo "FAIL: mirror '$mirror' has no $name"; exit 1; }
done

work="$(mktemp -d "${TMPDIR:-/tmp}/test_fetch_data.XXXXXX")"
trap 'rm -rf "$work"' EXIT

fail() {
  echo "FAIL: $*"
  exit 1
}

# Lists what is in a folder, hidden files included, one name per line, sorted.
contents() {
  find "$1" -mindepth 1 -printf '%f\n' | sort
}

expected_listing="$(printf '%s\n' "${files[@]}" | sort)"

# (a) A clean fetch from the mirror: the four files, byte-identical to the mirror and matching
# the sums checked into the repo (computed here by sha256sum, not by the script).
dest="$work/a"
FMNIST_MIRROR="$mirror" bash "$fetch" "$dest" >"$work/a.log" 2>&1 ||
  fail "(a) fetch from mirror exited non-zero: $(cat "$work/a.log")"
[[ "$(contents "$dest")" == "$expected_listing" ]] ||
  fail "(a) expected exactly the four files in $dest, found: $(contents "$dest" | tr '\n' ' ')"
for name in "${files[@]}"; do
  cmp -s "$mirror/$name" "$dest/$name" || fail "(a) $name differs from the mirror copy"
done
(cd "$dest" && sha256sum --check --quiet "$source_dir/launch/fashion-mnist.sha256") ||
  fail "(a) sha256sum --check against launch/fashion-mnist.sha256 failed in $dest"
echo "ok (a): fetched 4 files from the mirror, sums match"

# (b) A mirror with one corrupted file: non-zero exit, a message naming the file, and neither
# that file nor any temp file left in the destination.
bad_mirror="$work/bad-mirror"
mkdir "$bad_mirror"
cp "${files[@]/#/$mirror/}" "$bad_mirror/"
chmod u+w "$bad_mirror"/*
corrupted=t10k-images-idx3-ubyte.gz
size="$(stat -c %s "$bad_mirror/$corrupted")"
truncate -s "$((size / 2))" "$bad_mirror/$corrupted"
dest="$work/b"
if FMNIST_MIRROR="$bad_mirror" bash "$fetch" "$dest" >"$work/b.log" 2>&1; then
  fail "(b) fetch with a corrupted $corrupted exited 0: $(cat "$work/b.log")"
fi
grep -q -F "$corrupted" "$work/b.log" || fail "(b) the error does not name $corrupted: $(cat "$work/b.log")"
want_sum="$(awk -v n="$corrupted" '$2 == n { print $1 }' "$source_dir/launch/fashion-mnist.sha256")"
bad_sum="$(sha256sum "$bad_mirror/$corrupted" | cut -d ' ' -f 1)"
grep -q -F "$want_sum" "$work/b.log" || fail "(b) the error does not give the expected sum: $(cat "$work/b.log")"
grep -q -F "$bad_sum" "$work/b.log" || fail "(b) the error does not give the found sum: $(cat "$work/b.log")"
[[ ! -e "$dest/$corrupted" ]] || fail "(b) $dest/$corrupted was left behind"
while IFS= read -r name; do
  [[ -z "$name" ]] && continue
  printf '%s\n' "${files[@]}" | grep -q -x -F "$name" || fail "(b) unexpected file left in $dest: $name"
done < <(contents "$dest")
echo "ok (b): corrupted $corrupted rejected, nothing left behind: $(tail -n 1 "$work/b.log")"

# (c) Re-running on the complete folder of (a) succeeds without touching any file. The mirror
# given does not exist, so any attempt to fetch again would fail.
dest="$work/a"
before="$(stat -c '%n %i %y %s' "$dest"/*)"
FMNIST_MIRROR="$work/no-such-mirror" bash "$fetch" "$dest" >"$work/c.log" 2>&1 ||
  fail "(c) re-run on a complete folder exited non-zero: $(cat "$work/c.log")"
# The same through $FMNIST_DATA, the default folder when no DIR is given.
FMNIST_DATA="$dest" FMNIST_MIRROR="$work/no-such-mirror" bash "$fetch" >>"$work/c.log" 2>&1 ||
  fail "(c) re-run with FMNIST_DATA on a complete folder exited non-zero: $(cat "$work/c.log")"
[[ "$(stat -c '%n %i %y %s' "$dest"/*)" == "$before" ]] || fail "(c) re-run changed files in $dest"
[[ "$(contents "$dest")" == "$expected_listing" ]] || fail "(c) re-run left extra files in $dest"
echo "ok (c): re-run on a complete folder is a no-op"
