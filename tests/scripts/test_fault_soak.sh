#!/usr/bin/env bash
# The fault soak (launch/fault-soak.sh) in its short form: 4 rounds, one of each fault kind
# (kill -9 of the job, kill -9 of a rank, SIGTERM, SIGSTOP), each followed by --resume auto;
# every checkpoint opens and the final parameters equal the uninterrupted run's bit for bit.
# 5 epochs (4,300 steps): enough that the run cannot end before the fourth fault strikes.
set -uo pipefail
# shellcheck source=tests/scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_data
bash "$source_dir/launch/fault-soak.sh" --rounds 4 --epochs 5 --build "$build_dir" --data "$data_dir" --work "$work" ||
  fail "fault soak failed"
