#!/usr/bin/env bash
# Disk full while checkpointing: training into a 3 MiB tmpfs (room for two mlp checkpoints of
# about 1.2 MiB, not for a third beside them) ends with an error line naming the checkpoint and
# ENOSPC, and a non-zero exit; the checkpoints already written still open, and a copy of the folder
# resumes with --resume auto. Needs root (mount); skips (77) otherwise.
set -uo pipefail
# shellcheck source=tests/scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_data
[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root to mount a small tmpfs"; exit 77; }
small="$work/small"
mkdir -p "$small"
mount -t tmpfs -o size=3m tmpfs "$small" 2>"$work/mount.err" || { echo "SKIP: cannot mount a tmpfs: $(cat "$work/mount.err")"; exit 77; }
trap 'umount "$small" 2>/dev/null; rm -rf "$work"' EXIT

rc=0
"$fmnist" --data-dir "$data_dir" --model mlp --epochs 1 --threads 1 --checkpoint-every 20 --keep-checkpoints 3 \
  --max-steps 200 --output-dir "$small/run" >"$work/out" 2>"$work/err" || rc=$?
cat "$work/err"
[[ $rc -ne 0 ]] || fail "a full disk went unnoticed (exit 0)"
[[ $rc -lt 128 ]] || fail "died of a signal (status $rc)"
# (Open MPI adds its MPI_Abort banner after the program's line.)
[[ $(grep -c "error:" "$work/err") -eq 1 ]] || fail "expected one error line on stderr"
grep "error:" "$work/err" | grep -q "ckpt-.*No space left on device" || fail "the error does not name the checkpoint and the cause"
count=0
for checkpoint in "$small"/run/checkpoints/ckpt-*.h5; do
  [[ -e "$checkpoint" ]] || continue
  "$fmnist" --evaluate "$checkpoint" --data-dir "$data_dir" --threads 1 >/dev/null 2>"$work/eval.err" ||
    fail "$checkpoint does not open after the disk filled: $(cat "$work/eval.err")"
  count=$((count + 1))
done
[[ $count -ge 1 ]] || fail "no checkpoint survived"
cp -r "$small/run" "$work/copy"
"$fmnist" --data-dir "$data_dir" --model mlp --epochs 1 --threads 1 --checkpoint-every 20 --keep-checkpoints 3 \
  --max-steps 200 --output-dir "$work/copy" --resume auto >"$work/resumed" 2>&1 || { cat "$work/resumed"; fail "resume failed"; }
grep -q "resumed from" "$work/resumed" || fail "did not resume"
echo "disk full: one-line error, $count earlier checkpoint(s) open, resumed from a copy"
