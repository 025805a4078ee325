#!/bin/bash
#
# test_slurm_requeue.sh -- the preempt / checkpoint / requeue / resume cycle of
# launch/slurm/fmnist.sbatch on a REAL single-node Slurm (slurmctld + slurmd + munged started
# here as plain background processes, no systemd), compared with an uninterrupted run.
#
#   bash tests/cluster/test_slurm_requeue.sh <build_dir> <source_dir>
#   exit 0 pass, 77 skip (not root, Slurm/munge cannot be installed, no data), else fail
#
# For each launcher in FMNIST_TEST_LAUNCHERS (default "srun mpirun"):
#   1. sbatch launch/slurm/fmnist.sbatch <train args> (NP ranks on one node, from the source dir
#      with FMNIST_ROOT unset, so the script must find the repo from SLURM_SUBMIT_DIR);
#   2. once history.csv has its first epoch: scancel --signal=USR1 --batch <job>  (what Slurm does
#      <lead> s before the time limit with --signal=B:USR1@<lead>);
#   3. the trainer must exit 75, the script must `scontrol requeue` the job (Restarts=1, PENDING);
#   4. scontrol update JobId=<job> StartTime=now  (Slurm holds requeued jobs ~2 min);
#   5. the rerun (SLURM_RESTART_COUNT=1) resumes and the job ends COMPLETED, exit 0:0; both
#      starts ran the requested launcher (srun's logged fallback to mpirun is only a warning);
#   6. history.csv has epochs 1..E exactly once each, and the test_loss/test_accuracy line equals
#      that of an uninterrupted `mpirun -np NP` run with the same options.
#
# Environment: FMNIST_BIN, FMNIST_DATA, FMNIST_TEST_KEEP, FMNIST_TEST_TIMEOUT (see common.sh);
#   FMNIST_TEST_NP (default 2); FMNIST_TEST_EPOCHS (default 4);
#   FMNIST_TEST_TRAIN_ARGS (default "--model mlp --batch-size 32 --seed 7"; --epochs and
#   --data-dir are added); FMNIST_TEST_LAUNCHERS (default "srun mpirun").

set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/common.sh
source "$here/common.sh"
# shellcheck source=SCRIPTDIR/slurm_lib.sh
source "$here/slurm_lib.sh"
CT_NAME=slurm-requeue

[[ $# -ge 2 ]] || ct_fail "usage: $0 <build_dir> <source_dir>"
ct_under_timeout "$@"
build_dir=$(cd "$1" && pwd)
src_dir=$(cd "$2" && pwd)

slurm_lib_require_root
ct_clear_slurm_env
ct_resolve_bin "$build_dir"
ct_resolve_data "$src_dir"
slurm_lib_install

np=${FMNIST_TEST_NP:-2}
epochs=${FMNIST_TEST_EPOCHS:-4}
read -r -a train_args <<<"${FMNIST_TEST_TRAIN_ARGS:---model mlp --batch-size 32 --seed 7}"
train_args+=(--epochs "$epochs" --data-dir "$CT_DATA")
read -r -a launchers <<<"${FMNIST_TEST_LAUNCHERS:-srun mpirun}"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

work=$(mktemp -d /tmp/fmnist-slurm-test.XXXXXX)
chmod 0755 "$work" # munged runs as user munge and must reach its key below
ref_pid=""
hist=""
cleanup() {
  local rc=$?
  trap - EXIT TERM INT
  set +e
  ct_stop_pid "$ref_pid"
  if [[ $rc -ne 0 && $rc -ne 77 ]]; then
    slurm_lib_dump_logs
  fi
  slurm_lib_stop
  ct_finish "$rc" "$work"
}
ct_install_traps
ct_log_setup "$work"
ct_log "train:   np=$np ${train_args[*]}"

# ---- the cluster ----------------------------------------------------------------------------
cpus=$(nproc)
((cpus >= np)) || cpus=$np
slurm_lib_start "$work/slurm" "$cpus" || ct_fail "could not start the Slurm test cluster (logs above)"
ct_check "single-node Slurm up: $(sinfo -h -o '%P %a %D %T %N %c CPUs')"

# ---- uninterrupted reference run, same options, plain mpirun --------------------------------
ct_log "reference: mpirun -np $np (uninterrupted)"
start=$SECONDS
mpirun -np "$np" --oversubscribe --allow-run-as-root --bind-to none \
  -x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS -x MKL_NUM_THREADS \
  "$CT_BIN" "${train_args[@]}" --threads 1 --output-dir "$work/ref" >"$work/ref.log" 2>&1 &
ref_pid=$!
ref_rc=0
wait "$ref_pid" || ref_rc=$?
ref_pid=""
[[ $ref_rc -eq 0 ]] ||
  ct_fail_dump "reference run exited $ref_rc" "$work/ref.log"
ref_line=$(ct_test_line "$work/ref.log")
[[ -n $ref_line ]] ||
  ct_fail_dump "reference run printed no test_loss/test_accuracy line" "$work/ref.log"
ct_check_history "$work/ref/history.csv" "$epochs"
ct_check "reference run: exit 0 in $((SECONDS - start))s, $epochs history rows, '$ref_line'"

# ---- helpers --------------------------------------------------------------------------------
job_field() { # job_field ID NAME -> value of NAME= in `scontrol show job`
  timeout 20 scontrol -o show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}
history_rows() { # rows after the header, 0 when absent
  if [[ -f $1 ]]; then
    tail -n +2 "$1" | grep -c . || true
  else
    echo 0
  fi
}
# wait_job ID SECONDS WHAT CONDITION: polls every 0.3 s until the function CONDITION succeeds;
# it (and the caller, afterwards) sees the globals $state and $restarts of the job.
state="" restarts=""
wait_job() {
  local id=$1 secs=$2 what=$3 cond=$4
  local deadline=$((SECONDS + secs))
  while ((SECONDS < deadline)); do
    state=$(job_field "$id" JobState)
    restarts=$(job_field "$id" Restarts)
    if "$cond"; then
      return 0
    fi
    sleep 0.3
  done
  ct_log "timed out after ${secs}s waiting for job $id: $what (state=$state restarts=$restarts)"
  return 1
}

is_final() { [[ $state =~ ^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|PREEMPTED|BOOT_FAIL|DEADLINE)$ ]]; }
cond_started() { [[ $state == RUNNING ]] || is_final; }
cond_first_epoch() { [[ $state != RUNNING || $(history_rows "$hist") -ge 1 ]]; }
cond_requeued() { [[ ${restarts:-0} -ge 1 ]] || is_final; }
cond_final() { is_final; }

# check_launcher ID OUT WANT: every start of job ID logged "launcher WANT" in OUT.  The one
# fallback fmnist.sbatch documents (srun without the FMNIST_SRUN_MPI plugin runs mpirun) is
# accepted only when the script logged it, and is reported as a warning.  Appends what ran to
# the global ran_launchers.
ran_launchers=()
check_launcher() {
  local id=$1 out=$2 want=$3 used
  used=$(sed -n "s/.*] job $id restart [0-9]* on .*, launcher \([a-z]*\)\$/\1/p" "$out" | sort -u | paste -sd' ')
  [[ -n $used ]] || ct_fail_dump "no 'job $id restart N ... launcher X' line in $out" "$out"
  if [[ $used == "$want" ]]; then
    ran_launchers+=("$want")
    ct_check "every start of job $id ran launcher $want"
  elif [[ $want == srun && $used == mpirun ]] && grep -q 'srun --mpi=list does not offer' "$out"; then
    ran_launchers+=("srun->mpirun")
    ct_log "WARNING: job $id asked for srun but fell back to mpirun ($(grep -m 1 -o 'srun --mpi=list does not offer.*' "$out")): the srun launch path was NOT tested"
  else
    ct_fail_dump "job $id ran launcher(s) '$used', expected $want" "$out"
  fi
}

# ---- the preempt / requeue / resume cycle, per launcher ---------------------------------------
run_cycle() {
  local launcher=$1 id out rows_at_signal rows_at_requeue line n ckpts
  ct_log "=== launcher $launcher ==="
  id=$(cd "$src_dir" && env -u FMNIST_ROOT FMNIST_BIN="$CT_BIN" FMNIST_RUNS="$work/runs" \
    FMNIST_LAUNCHER="$launcher" \
    timeout 30 sbatch --parsable --job-name="fmnist-test-$launcher" --nodes=1 \
    --ntasks-per-node="$np" --cpus-per-task=1 --time=20 --output="$work/job-%j.out" \
    "$src_dir/launch/slurm/fmnist.sbatch" "${train_args[@]}") || ct_fail "sbatch failed"
  id=${id%%;*}
  out=$work/job-$id.out
  hist=$work/runs/slurm-$id/history.csv # global: read by cond_first_epoch
  ct_log "submitted job $id (output $out, run folder $work/runs/slurm-$id)"

  wait_job "$id" 120 "RUNNING" cond_started || ct_fail "job $id did not start"
  ct_log "job $id started ($state)"

  # Preempt while epoch 2 runs: as soon as epoch 1 is in history.csv.  A job that already ended
  # is caught here too (cond_first_epoch returns at once when it is not RUNNING).
  wait_job "$id" 900 "first epoch in history.csv" cond_first_epoch || ct_fail "no epoch finished in time"
  [[ $state == RUNNING ]] ||
    ct_fail_dump "job $id ended ($state) before it could be preempted" "$out"
  ct_check "job $id RUNNING"
  rows_at_signal=$(history_rows "$hist")
  timeout 20 scancel --signal=USR1 --batch "$id" || ct_fail "scancel --signal=USR1 --batch $id failed"
  ct_log "sent USR1 to the batch shell of job $id with $rows_at_signal epoch(s) in history.csv"

  wait_job "$id" 300 "requeue (Restarts=1)" cond_requeued ||
    ct_fail_dump "job $id was not requeued" "$out"
  [[ ${restarts:-0} -ge 1 ]] ||
    ct_fail_dump "job $id ended $state without being requeued" "$out"
  rows_at_requeue=$(history_rows "$hist")
  [[ -f $hist ]] && cp "$hist" "$work/history-at-requeue-$id.csv"
  ct_check "job $id requeued: state=$state restarts=$restarts reason=$(job_field "$id" Reason) begin=$(job_field "$id" StartTime)"
  grep -q 'trainer exited 75 (preempted, checkpoint written): requeueing' "$out" ||
    ct_fail_dump "the batch script did not see exit 75 from the trainer" "$out"
  ct_check "trainer exited 75 after the forwarded USR1 and the script requeued the job"
  ((rows_at_requeue < epochs)) ||
    ct_fail "preemption came too late: all $epochs epochs were done before it (make epochs longer)"
  ct_check "preempted mid-training: $rows_at_requeue of $epochs epochs done at requeue"
  ckpts=$(find "$work/runs/slurm-$id/checkpoints" -mindepth 1 -maxdepth 1 -printf '%f ' 2>/dev/null || true)
  [[ -n $ckpts ]] || ct_fail "no checkpoint in $work/runs/slurm-$id/checkpoints"
  ct_check "checkpoint(s) present: $ckpts"

  # Slurm delays a requeued job's start (BeginTime, ~2 min): release it early, but only once the
  # node is idle again and a few seconds have passed: slurmd refuses to launch a job whose
  # credential is from the same second as the revocation of its previous run ("Job credential
  # revoked", the job then FAILS with exit 1).
  slurm_lib_wait_for 120 "node idle after the requeue" \
    bash -c "sinfo -h -n '$(hostname -s)' -o '%T' | grep -qx idle" || ct_fail "node did not return to idle"
  sleep 3
  timeout 20 scontrol update JobId="$id" StartTime=now || ct_fail "scontrol update StartTime=now failed"
  ct_log "released job $id (StartTime=now)"
  wait_job "$id" 900 "completion" cond_final ||
    ct_fail_dump "job $id did not finish" "$out"
  [[ $state == COMPLETED && $(job_field "$id" ExitCode) == 0:0 ]] ||
    ct_fail_dump "job $id ended $state, ExitCode=$(job_field "$id" ExitCode)" "$out"
  ct_check "job $id COMPLETED, ExitCode=0:0, Restarts=$restarts"

  n=$(grep -c "job $id restart 1 " "$out" || true)
  [[ $n -eq 1 ]] || ct_fail "expected one rerun with SLURM_RESTART_COUNT=1 in $out, found $n"
  grep -q 'training complete (exit 0)' "$out" || ct_fail "no 'training complete' in $out"
  ct_check "second run had SLURM_RESTART_COUNT=1 and ended with exit 0"
  check_launcher "$id" "$out" "$launcher"

  ct_check_history "$hist" "$epochs"
  # A resumed run keeps the rows of the epochs done before the preemption as they were (their
  # epoch_seconds and samples_per_second are measurements: a rerun from scratch changes them).
  n=$((rows_at_requeue + 1))
  if ! cmp -s <(head -n "$n" "$work/history-at-requeue-$id.csv") <(head -n "$n" "$hist"); then
    diff <(head -n "$n" "$work/history-at-requeue-$id.csv") <(head -n "$n" "$hist") || true
    ct_fail "history.csv rows of epochs 1..$rows_at_requeue changed after the requeue: the rerun trained them again instead of resuming"
  fi
  ct_check "rows of epochs 1..$rows_at_requeue written before the preemption are unchanged (resumed, not retrained)"
  ct_check "history.csv: epochs $(tail -n +2 "$hist" | cut -d, -f1 | paste -sd' ') (no repeats, none missing)"

  line=$(ct_test_line "$out")
  [[ -n $line ]] ||
    ct_fail_dump "job printed no test_loss/test_accuracy line" "$out"
  [[ $line == "$ref_line" ]] || ct_fail "resumed run '$line' != uninterrupted run '$ref_line'"
  ct_check "preempted+resumed run gives the uninterrupted result: '$line'"
}

for launcher in "${launchers[@]}"; do
  run_cycle "$launcher"
done
echo "PASS: preempt -> checkpoint (exit 75) -> scontrol requeue -> resume -> identical result (launchers run: ${ran_launchers[*]})"
