#!/usr/bin/env bash
# The fault soak (launch/fault-soak.sh) in its short form: 4 rounds, one of each fault kind
# (kill -9 of the job, kill -9 of a rank, SIGTERM, SIGSTOP), each followed by --resume auto;
# every checkpoint opens and the final parameters equal the uninterrupted run's bit for bit.
# 20 epochs (17,200 steps): each round runs until a new checkpoint, then up to 1 s more, and on
# a fast CPU 5 epochs (0.3 s each at np=2) once ended during the third round's wait.
set -uo pipefail
# shellcheck source=tests/scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_data
bash "$source_dir/launch/fault-soak.sh" --rounds 4 --epochs 20 --build "$build_dir" --data "$data_dir" --work "$work" ||
  fail "fault soak failed"
