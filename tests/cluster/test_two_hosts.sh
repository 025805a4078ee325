#!/bin/bash
#
# test_two_hosts.sh -- a REAL multi-host MPI run on one machine: two network namespaces stand in
# for two hosts, joined by a veth pair (10.77.0.1/24 <-> 10.77.0.2/24, addresses that exist only
# inside the namespaces created here).  launch/hostfile/run-hostfile.sh runs mpirun in the first
# namespace; Open MPI starts its daemon for the second "host" through a generated
# plm_rsh_agent script that does `ip netns exec <ns> sh -c <command>` instead of ssh.
#
#   bash tests/cluster/test_two_hosts.sh <build_dir> <source_dir>
#   exit 0 pass, 77 skip (not root, network namespaces or veth refused, no data), else fail
#
# Checks: 4 ranks, 2 per "host" (counted inside each namespace while the job runs); the
# test_loss/test_accuracy line equals that of a 4-rank single-host run with the same options;
# the veth byte counters show at least half the gradient volume (steps x 101,770 floats) crossed
# in each direction; SIGSTOP of rank 3 (second host) ends the job through the stall watchdog
# within --stall-timeout + 10 s, exit status 76, the error naming rank 3.
#
# Environment: FMNIST_BIN, FMNIST_DATA, FMNIST_TEST_KEEP, FMNIST_TEST_TIMEOUT (see common.sh);
#   FMNIST_TEST_TWO_HOSTS_ARGS (default
#   "--model mlp --batch-size 64 --max-steps 50 --seed 7 --validation-split 0"; --data-dir added);
#   FMNIST_TEST_PARAMS (floats per gradient, default 101770 = the mlp).
#
# Each fake host also gets its own hostname (unshare --uts: fmnist-host-a / fmnist-host-b), and
# transports are restricted to TCP on the veth (pml ob1, btl tcp,self): the namespaces share
# /dev/shm and /tmp, so Open MPI's shared-memory paths (btl vader, pml ucx) must stay off.
# With one shared hostname, Open MPI 4.1.4 ranks running the real trainer (which makes
# MPI_Comm_split_type(MPI_COMM_TYPE_SHARED) and Iallreduce calls) crashed in
# mca_pml_ob1_recv_frag_callback_match; distinct hostnames make it behave like real hosts.

set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/common.sh
source "$here/common.sh"
CT_NAME=two-hosts

[[ $# -ge 2 ]] || ct_fail "usage: $0 <build_dir> <source_dir>"
ct_under_timeout "$@"
build_dir=$(cd "$1" && pwd)
src_dir=$(cd "$2" && pwd)

[[ $(id -u) -eq 0 ]] || ct_skip "needs root (creates network namespaces and a veth pair)"
command -v ip >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
command -v ip >/dev/null 2>&1 || ct_skip "no 'ip' command (iproute2)"
command -v unshare >/dev/null 2>&1 || ct_skip "no 'unshare' command (util-linux)"
ct_clear_slurm_env
ct_resolve_bin "$build_dir"
ct_resolve_data "$src_dir"

read -r -a train_args <<<"${FMNIST_TEST_TWO_HOSTS_ARGS:---model mlp --batch-size 64 --max-steps 50 --seed 7 --validation-split 0}"
train_args+=(--data-dir "$CT_DATA")
steps=""
for ((i = 0; i < ${#train_args[@]} - 1; i++)); do
  [[ ${train_args[i]} != --max-steps ]] || steps=${train_args[i + 1]}
done
[[ $steps =~ ^[0-9]+$ ]] || ct_fail "the training arguments need --max-steps N (the traffic bound uses it)"
params=${FMNIST_TEST_PARAMS:-101770}
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

ns_a=fmnist-a-$$
ns_b=fmnist-b-$$
veth_a=fmva$$
veth_b=fmvb$$
ip_a=10.77.0.1
ip_b=10.77.0.2
subnet=10.77.0.0/24
work=$(mktemp -d /tmp/fmnist-two-hosts.XXXXXX)
created_a=0
created_b=0
run_pid=""

ns_kill_all() { # kills every process inside a namespace created here, by pid
  local ns=$1 pid
  for pid in $(ip netns pids "$ns" 2>/dev/null); do
    kill -KILL "$pid" 2>/dev/null || true
  done
}
cleanup() {
  local rc=$?
  trap - EXIT TERM INT
  set +e
  ct_stop_pid "$run_pid"
  if [[ $created_a -eq 1 ]]; then
    ns_kill_all "$ns_a"
    ip netns del "$ns_a" 2>/dev/null || ct_log "could not delete namespace $ns_a"
  fi
  if [[ $created_b -eq 1 ]]; then
    ns_kill_all "$ns_b"
    ip netns del "$ns_b" 2>/dev/null || ct_log "could not delete namespace $ns_b"
  fi
  # A veth pair that never made it into a namespace.
  ip link del "$veth_a" 2>/dev/null
  ct_finish "$rc" "$work"
}
ct_install_traps
ct_log_setup "$work"
ct_log "train:   ${train_args[*]}"

# ---- two fake hosts ---------------------------------------------------------------------------
if ! ip netns add "$ns_a" 2>"$work/netns.err"; then
  ct_skip "ip netns add refused: $(cat "$work/netns.err")"
fi
created_a=1
ip netns add "$ns_b" || ct_fail "second ip netns add failed"
created_b=1
if ! ip link add "$veth_a" type veth peer name "$veth_b" 2>"$work/veth.err"; then
  ct_skip "cannot create a veth pair: $(cat "$work/veth.err")"
fi
ip link set "$veth_a" netns "$ns_a"
ip link set "$veth_b" netns "$ns_b"
ip -n "$ns_a" addr add "$ip_a/24" dev "$veth_a"
ip -n "$ns_b" addr add "$ip_b/24" dev "$veth_b"
for ns in "$ns_a" "$ns_b"; do
  ip -n "$ns" link set lo up
done
ip -n "$ns_a" link set "$veth_a" up
ip -n "$ns_b" link set "$veth_b" up
tx_bytes() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/tx_bytes"; }
ct_check "namespaces $ns_a ($ip_a on $veth_a) and $ns_b ($ip_b on $veth_b) joined by a veth pair"

host_a=fmnist-host-a
host_b=fmnist-host-b
# plm_rsh_agent: Open MPI calls it like ssh: <agent> <host> <command words...>; the words are
# one shell command line (ssh semantics), run inside the namespace with the host's own hostname.
agent=$work/netns-agent.sh
cat >"$agent" <<EOF
#!/bin/bash
# Generated by tests/cluster/test_two_hosts.sh: 'ssh' into a network namespace.
host=\$1
shift
case \$host in
  $ip_a) ns=$ns_a name=$host_a ;;
  $ip_b) ns=$ns_b name=$host_b ;;
  *) echo "netns-agent: unknown host '\$host'" >&2; exit 255 ;;
esac
echo "netns-agent: \$host -> \$ns (\$name): \$*" >>"$work/agent.log"
exec ip netns exec "\$ns" unshare --uts /bin/sh -c "hostname \$name && \$*"
EOF
chmod 0755 "$agent"
# in_host NS NAME COMMAND...: runs COMMAND in namespace NS under hostname NAME.
in_host() {
  local ns=$1 name=$2
  shift 2
  # shellcheck disable=SC2016  # expanded by the inner shell
  ip netns exec "$ns" unshare --uts /bin/sh -c 'hostname "$0" && exec "$@"' "$name" "$@"
}
[[ $(in_host "$ns_b" "$host_b" hostname) == "$host_b" ]] || ct_skip "cannot give a namespace its own hostname (unshare --uts)"
printf '%s slots=2\n%s slots=2\n' "$ip_a" "$ip_b" >"$work/hosts.two"
printf 'localhost slots=4\n' >"$work/hosts.one"
hostfile_sh=$src_dir/launch/hostfile/run-hostfile.sh

# ---- 4 ranks on one host (reference) ----------------------------------------------------------
ct_log "reference: 4 ranks on one host (run-hostfile.sh, hostfile 'localhost slots=4')"
rc=0
FMNIST_BIN=$CT_BIN timeout 600 bash "$hostfile_sh" --hostfile "$work/hosts.one" -np 4 -- \
  "${train_args[@]}" --output-dir "$work/one" >"$work/one.log" 2>&1 || rc=$?
[[ $rc -eq 0 ]] ||
  ct_fail_dump "single-host run exited $rc" "$work/one.log"
ref_line=$(ct_test_line "$work/one.log")
[[ -n $ref_line ]] ||
  ct_fail_dump "single-host run printed no test line" "$work/one.log"
ct_check "single-host 4-rank run: '$ref_line'"

# ---- 4 ranks on two "hosts" ---------------------------------------------------------------------
tx_a0=$(tx_bytes "$ns_a" "$veth_a")
tx_b0=$(tx_bytes "$ns_b" "$veth_b")
mca="--mca plm_rsh_agent $agent --mca plm_rsh_no_tree_spawn 1 --mca pml ob1 --mca btl tcp,self"
mca+=" --mca btl_tcp_if_include $subnet --mca oob_tcp_if_include $subnet"
ct_log "two hosts: (ip netns exec $ns_a, hostname $host_a) run-hostfile.sh --hostfile {$ip_a slots=2, $ip_b slots=2} -np 4"
ct_log "           FMNIST_MPIRUN_ARGS=$mca"
in_host "$ns_a" "$host_a" env FMNIST_BIN="$CT_BIN" FMNIST_MPIRUN_ARGS="$mca" \
  timeout 600 bash "$hostfile_sh" --hostfile "$work/hosts.two" -np 4 -- \
  "${train_args[@]}" --output-dir "$work/two" >"$work/two.log" 2>&1 &
run_pid=$!
# Count trainer processes per namespace while the job runs.
count_in() {
  local pid n=0
  for pid in $(ip netns pids "$1" 2>/dev/null); do
    [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$CT_BIN" ]] && n=$((n + 1))
  done
  echo "$n"
}
max_a=0
max_b=0
while kill -0 "$run_pid" 2>/dev/null; do
  n=$(count_in "$ns_a")
  ((n <= max_a)) || max_a=$n
  n=$(count_in "$ns_b")
  ((n <= max_b)) || max_b=$n
  sleep 0.1
done
rc=0
wait "$run_pid" || rc=$?
run_pid=""
[[ $rc -eq 0 ]] ||
  ct_fail_dump "two-host run exited $rc" "$work/two.log" "$work/agent.log"
tx_a=$(($(tx_bytes "$ns_a" "$veth_a") - tx_a0))
tx_b=$(($(tx_bytes "$ns_b" "$veth_b") - tx_b0))
grep -q "^netns-agent: $ip_b -> $ns_b ($host_b): .*orted" "$work/agent.log" 2>/dev/null ||
  ct_fail_dump "mpirun did not start its daemon for $ip_b through the namespace agent" "$work/two.log" "$work/agent.log"
ct_check "mpirun started orted on $ip_b through the agent (ip netns exec $ns_b)"
[[ $max_a -eq 2 && $max_b -eq 2 ]] ||
  ct_fail "expected 2 trainer ranks in each namespace, saw at most $max_a in $ns_a and $max_b in $ns_b"
ct_check "2 ranks ran in $ns_a and 2 in $ns_b"

line=$(ct_test_line "$work/two.log")
[[ -n $line ]] ||
  ct_fail_dump "two-host run printed no test line" "$work/two.log"
[[ $line == "$ref_line" ]] || ct_fail "two-host '$line' != single-host '$ref_line'"
ct_check "two-host 4-rank run gives the single-host result: '$line'"

grad=$((steps * params * 4))
need=$((grad / 2))
ct_log "veth traffic: $ns_a->$ns_b $tx_a bytes, $ns_b->$ns_a $tx_b bytes; gradients: $steps steps x $params floats x 4 B = $grad bytes"
ct_log "per direction: $(awk -v t="$tx_a" -v g="$grad" 'BEGIN {printf "%.2f", t / g}') and $(awk -v t="$tx_b" -v g="$grad" 'BEGIN {printf "%.2f", t / g}') x the gradient volume"
((tx_a > need && tx_b > need)) ||
  ct_fail "too little traffic crossed the veth (need > $need bytes each way): ranks did not talk over TCP between the namespaces"
ct_check "each direction carried more than half the gradient volume ($need bytes)"
# ---- a stalled rank on the second "host" ------------------------------------------------------
# SIGSTOP of rank 3 (in the second namespace): the stall watchdog must end the job across the
# hosts within --stall-timeout + 10 s, with exit status 76 and an error naming rank 3.
stall_timeout=6
ct_log "stall: 4 ranks on two hosts, SIGSTOP of rank 3 in $ns_b, --stall-timeout $stall_timeout"
in_host "$ns_a" "$host_a" env FMNIST_BIN="$CT_BIN" FMNIST_MPIRUN_ARGS="$mca" \
  timeout 600 bash "$hostfile_sh" --hostfile "$work/hosts.two" -np 4 -- \
  --model mlp --batch-size 32 --epochs 1 --validation-split 0 --data-dir "$CT_DATA" --progress lines \
  --stall-warning 2 --stall-timeout "$stall_timeout" --output-dir "$work/stall" >"$work/stall.log" 2>&1 &
run_pid=$!
victim=""
for _ in $(seq 1 600); do
  if grep -q "^Epoch 1/1" "$work/stall.log" 2>/dev/null; then
    for pid in $(ip netns pids "$ns_b" 2>/dev/null); do
      [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$CT_BIN" ]] || continue
      tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=3" && victim=$pid
    done
    [[ -n $victim ]] && break
  fi
  kill -0 "$run_pid" 2>/dev/null || break
  sleep 0.1
done
[[ -n $victim ]] || ct_fail_dump "no rank 3 process in $ns_b to stop" "$work/stall.log"
sleep 1
kill -STOP "$victim"
stopped_at=$(date +%s.%N)
rc=0
wait "$run_pid" || rc=$?
run_pid=""
took=$(awk -v s="$stopped_at" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
kill -CONT "$victim" 2>/dev/null || true
[[ $rc -eq 76 ]] || ct_fail_dump "stalled two-host run exited $rc, expected 76" "$work/stall.log"
awk -v t="$took" -v b="$((stall_timeout + 10))" 'BEGIN { exit !(t <= b) }' ||
  ct_fail_dump "the stalled job took $took s to end (bound: --stall-timeout + 10 s)" "$work/stall.log"
grep "error: stall:" "$work/stall.log" | grep -q "rank 3 (" ||
  ct_fail_dump "the stall error does not name rank 3" "$work/stall.log"
ct_check "SIGSTOP of rank 3 on $host_b: exit 76 after $took s: $(grep "error: stall:" "$work/stall.log" | head -n 1)"
echo "PASS: 4 ranks on two namespace 'hosts' over TCP match the single-host run; a stalled rank ends the job"
