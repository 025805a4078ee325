# shellcheck shell=bash
# tests/cluster/slurm_lib.sh -- a throw-away, single-node Slurm cluster for tests.
#
# Source tests/cluster/common.sh (ct_skip) and then this file, then:
#   slurm_lib_require_root              # exit 77 (skip) unless root
#   slurm_lib_install                   # apt-get install slurmctld slurmd slurm-client munge if missing (else skip 77)
#   slurm_lib_start "$workdir"          # munge key + munged, slurm.conf, slurmctld -D, slurmd -D, wait for an idle node
#   ... use sbatch/squeue/scontrol (SLURM_CONF is exported) ...
#   slurm_lib_stop                      # kill every daemon started here BY PID (also safe to call twice / from a trap)
#
# Nothing here uses systemd: every daemon runs in the foreground as a background job of the
# calling shell, with its key, socket, state, spool, logs and pid files under "$workdir".
# Ports are picked free at random, so a system Slurm (if any) is not disturbed.
# Every wait is bounded.  Daemon logs are printed by slurm_lib_dump_logs on failure.

SLURM_LIB_MUNGED_PID=""
SLURM_LIB_CTLD_PID=""
SLURM_LIB_SLURMD_PID=""
SLURM_LIB_DIR=""

slurm_lib_log() { printf '[slurm-lib %(%H:%M:%S)T] %s\n' -1 "$*"; }

slurm_lib_require_root() {
  if [[ $(id -u) -ne 0 ]]; then
    ct_skip "needs root (starts munged, slurmctld and slurmd as daemons)"
  fi
}

# Whether every tool is on PATH (slurm_lib_install, the only caller, adds /usr/sbin:/sbin first).
slurm_lib_have_all() {
  local tool
  for tool in slurmctld slurmd sbatch squeue scontrol sinfo scancel srun munged; do
    command -v "$tool" >/dev/null 2>&1 || return 1
  done
  return 0
}

# Installs the Debian packages when a tool is missing; skips (77) when that is impossible.
slurm_lib_install() {
  export PATH="$PATH:/usr/sbin:/sbin"
  if slurm_lib_have_all; then
    return 0
  fi
  command -v apt-get >/dev/null 2>&1 || ct_skip "Slurm/munge missing and no apt-get to install them"
  slurm_lib_log "installing slurmctld slurmd slurm-client munge with apt-get"
  # policy-rc.d 101 stops the packages' maintainer scripts from starting the system daemons.
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && created_policy=1
  fi
  local rc=0
  DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y --no-install-recommends \
    slurmctld slurmd slurm-client munge >/tmp/fmnist-slurm-apt.log 2>&1 || rc=$?
  if [[ $rc -ne 0 ]]; then
    DEBIAN_FRONTEND=noninteractive timeout 300 apt-get update >>/tmp/fmnist-slurm-apt.log 2>&1 || true
    rc=0
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y --no-install-recommends \
      slurmctld slurmd slurm-client munge >>/tmp/fmnist-slurm-apt.log 2>&1 || rc=$?
  fi
  if [[ $created_policy -eq 1 ]]; then rm -f "$policy"; fi
  if [[ $rc -ne 0 ]] || ! slurm_lib_have_all; then
    tail -n 5 /tmp/fmnist-slurm-apt.log 2>/dev/null || true
    ct_skip "could not install slurmctld/slurmd/slurm-client/munge (apt-get rc=$rc, log /tmp/fmnist-slurm-apt.log)"
  fi
}

# A free TCP port in [lo, hi] (best effort: not listening now).
slurm_lib_free_port() {
  local lo=$1 hi=$2 port
  for _ in $(seq 1 200); do
    port=$((lo + RANDOM % (hi - lo + 1)))
    if ! ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
      echo "$port"
      return 0
    fi
  done
  return 1
}

# slurm_lib_wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.5 s; 1 on timeout.
slurm_lib_wait_for() {
  local secs=$1 what=$2
  shift 2
  local deadline=$((SECONDS + secs))
  while ((SECONDS < deadline)); do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.5
  done
  slurm_lib_log "timed out after ${secs}s waiting for: $what"
  return 1
}

slurm_lib_alive() { [[ -n $1 ]] && kill -0 "$1" 2>/dev/null; }

slurm_lib_dump_logs() {
  local f
  [[ -n $SLURM_LIB_DIR && -d $SLURM_LIB_DIR ]] || return 0
  for f in "$SLURM_LIB_DIR"/log/munged.log "$SLURM_LIB_DIR"/log/munged.stdout \
    "$SLURM_LIB_DIR"/log/slurmctld.log "$SLURM_LIB_DIR"/log/slurmctld.stdout \
    "$SLURM_LIB_DIR"/log/slurmd.log "$SLURM_LIB_DIR"/log/slurmd.stdout; do
    [[ -s $f ]] || continue
    echo "----- last lines of $f -----"
    tail -n 40 "$f"
  done
}

# slurm_lib_start WORKDIR [NODE_CPUS]: everything under WORKDIR (created if absent).
# NODE_CPUS defaults to nproc; a larger value is accepted (SlurmdParameters=config_overrides).
slurm_lib_start() {
  local dir=$1
  local cpus=${2:-$(nproc)}
  mkdir -p "$dir"
  SLURM_LIB_DIR=$(cd "$dir" && pwd)
  dir=$SLURM_LIB_DIR
  # munged refuses paths that other users can write to; the work dir must be traversable by munge.
  chmod 0755 "$dir"
  mkdir -p "$dir"/munge "$dir"/log "$dir"/state "$dir/spool/slurmd-$(hostname -s)" "$dir"/run "$dir"/etc

  # ---- munge: own key (owned by munge, 0400), own socket, started by us -----------------------
  local munge_user=munge
  id "$munge_user" >/dev/null 2>&1 || munge_user=root
  if command -v mungekey >/dev/null 2>&1; then
    mungekey --create --keyfile="$dir/munge/munge.key" --force >/dev/null 2>&1 ||
      dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  else
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  fi
  chown -R "$munge_user:" "$dir/munge"
  chmod 0700 "$dir/munge"
  chmod 0400 "$dir/munge/munge.key"
  chown "$munge_user:" "$dir/log"
  : >"$dir/log/munged.log"
  chown "$munge_user:" "$dir/log/munged.log"
  if ! setpriv --reuid="$munge_user" --regid="$munge_user" --init-groups test -r "$dir/munge/munge.key"; then
    slurm_lib_log "user $munge_user cannot reach $dir/munge (every parent folder needs o+x)"
    return 1
  fi
  local socket="$dir/munge/munge.socket"
  slurm_lib_log "starting munged as $munge_user (socket $socket)"
  setpriv --reuid="$munge_user" --regid="$munge_user" --init-groups \
    munged --foreground --force --key-file="$dir/munge/munge.key" --socket="$socket" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" \
    --seed-file="$dir/munge/munged.seed" --num-threads=2 >>"$dir/log/munged.stdout" 2>&1 &
  SLURM_LIB_MUNGED_PID=$!
  if ! slurm_lib_wait_for 30 "munged socket" test -S "$socket"; then
    slurm_lib_dump_logs
    return 1
  fi
  if ! printf 'ping' | munge --socket="$socket" | unmunge --socket="$socket" >/dev/null 2>&1; then
    slurm_lib_log "munge/unmunge round trip failed"
    slurm_lib_dump_logs
    return 1
  fi
  slurm_lib_log "munged up (pid $SLURM_LIB_MUNGED_PID), munge/unmunge round trip ok"

  # ---- slurm.conf ----------------------------------------------------------------------------
  local host mem ctld_port slurmd_port
  host=$(hostname -s)
  # Declare less memory than there is, so the node is never drained for "Low RealMemory".
  mem=$(awk '/MemTotal/ {print int($2 / 1024 / 2)}' /proc/meminfo)
  ctld_port=$(slurm_lib_free_port 21000 25999)
  slurmd_port=$(slurm_lib_free_port 26000 29999)
  : >"$dir/etc/plugstack.conf"
  cat >"$dir/etc/slurm.conf" <<EOF
# Generated by tests/cluster/slurm_lib.sh for a throw-away single-node test cluster.
ClusterName=fmnisttest
SlurmctldHost=$host
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/slurmd-%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$dir/etc/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobRequeue=1
# Random job ids: concurrent test clusters must not share /tmp/spmix_appdir_<uid>_<job>.<step>.
FirstJobId=$((100000 + RANDOM * 8 + RANDOM % 8))
# Trust the CPU count above even where the machine has fewer (tests oversubscribe small VMs).
SlurmdParameters=config_overrides
ReturnToService=2
SlurmctldTimeout=60
SlurmdTimeout=120
InactiveLimit=0
KillWait=30
MinJobAge=600
MaxJobCount=1000
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF="$dir/etc/slurm.conf"
  slurm_lib_log "slurm.conf: $SLURM_CONF (node $host, $cpus CPUs, ports $ctld_port/$slurmd_port)"

  # ---- daemons -------------------------------------------------------------------------------
  slurmctld -D -i -f "$SLURM_CONF" >>"$dir/log/slurmctld.stdout" 2>&1 &
  SLURM_LIB_CTLD_PID=$!
  if ! slurm_lib_wait_for 60 "slurmctld answering (scontrol ping)" \
    bash -c 'scontrol ping | grep -q "is UP"'; then
    slurm_lib_dump_logs
    return 1
  fi
  slurm_lib_log "slurmctld up (pid $SLURM_LIB_CTLD_PID)"
  slurmd -D -f "$SLURM_CONF" >>"$dir/log/slurmd.stdout" 2>&1 &
  SLURM_LIB_SLURMD_PID=$!
  if ! slurm_lib_wait_for 90 "node $host idle in sinfo" \
    bash -c "sinfo -h -n '$host' -o '%T' | grep -qx idle"; then
    sinfo -N -l || true
    slurm_lib_dump_logs
    return 1
  fi
  slurm_lib_log "slurmd up (pid $SLURM_LIB_SLURMD_PID); sinfo: $(sinfo -h -o '%P %a %D %T %N')"
}

# Kills one daemon by pid: TERM, bounded wait, then KILL.
slurm_lib_kill_pid() {
  local pid=$1 name=$2
  slurm_lib_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do
    slurm_lib_alive "$pid" || break
    sleep 0.25
  done
  if slurm_lib_alive "$pid"; then
    slurm_lib_log "$name (pid $pid) ignored TERM; sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# Processes started by this cluster that outlived it: slurmstepd and job processes carry our
# SLURM_CONF in their environment (slurmd and sbatch were started with it); job processes also
# carry SLURM_JOB_ID, which the calling test shell does not.
slurm_lib_leftover_pids() {
  local pid env proc
  [[ -n $SLURM_LIB_DIR ]] || return 0
  for proc in /proc/[0-9]*; do
    pid=${proc#/proc/}
    [[ $pid -ne $$ && $pid -ne $BASHPID ]] || continue
    env=$(tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ") || continue
    grep -qx "SLURM_CONF=$SLURM_LIB_DIR/etc/slurm.conf" <<<"$env" || continue
    if grep -q '^SLURM_JOB_ID=' <<<"$env" || [[ $(cat "/proc/$pid/comm" 2>/dev/null) == slurmstepd ]]; then
      echo "$pid"
    fi
  done
}

# Stops everything started by slurm_lib_start: cancels our jobs (bounded wait), then slurmd,
# stray job processes, slurmctld and munged, each by pid.  Safe to call twice / from a trap.
slurm_lib_stop() {
  local pid
  if slurm_lib_alive "$SLURM_LIB_CTLD_PID" && [[ -n ${SLURM_CONF:-} ]]; then
    timeout 10 scancel --quiet --partition=test >/dev/null 2>&1 || true
    for _ in $(seq 1 60); do
      [[ -z $(timeout 5 squeue -h -p test -o %i 2>/dev/null) ]] && break
      sleep 0.5
    done
  fi
  slurm_lib_kill_pid "$SLURM_LIB_SLURMD_PID" slurmd
  SLURM_LIB_SLURMD_PID=""
  for pid in $(slurm_lib_leftover_pids); do
    slurm_lib_log "killing leftover job process $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-80))"
    kill -KILL "$pid" 2>/dev/null || true
  done
  slurm_lib_kill_pid "$SLURM_LIB_CTLD_PID" slurmctld
  SLURM_LIB_CTLD_PID=""
  slurm_lib_kill_pid "$SLURM_LIB_MUNGED_PID" munged
  SLURM_LIB_MUNGED_PID=""
}
