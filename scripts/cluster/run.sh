#!/usr/bin/env bash
# The cluster suite across simulated hosts (needs root; scripts/cluster/install.sh first): builds
# 3 hosts (hosts.sh), then with Debian's Open MPI 4.1
#   static mode:  mpirun -n 3 --hostfile (one rank per host, launched through rsh-agent.sh, TCP
#                 over the hosts' bridge only) of tests/mpi_static.rs, mpi_primes and
#                 mpi_crash_isolation: the pool's worker ranks are on the two other hosts, and a
#                 crashed worker's error names its host;
#   spawned mode: the test binary and mpi_crash_isolation started alone on the first host, their
#                 MPI_Comm_spawn placed on the two other hosts (the default hostfile names only them);
#   Slurm:        slurm.sh (one slurmd per host), then srun --mpi=pmix -n 3 of the static test and
#                 of mpi_crash_isolation;
#   a lost node:  with --ulfm VENV (Open MPI 5 from PyPI, install.sh --ulfm VENV), node-loss.sh:
#                 a rank crashed, a host cut off and the manager crashed under ULFM, a host cut
#                 off under Open MPI 4.1;
# and tears everything down on every exit path. Reuses the mpi step's build (the same features
# and profile: only the two examples are linked if missing). Every command is bounded by timeout.
#   scripts/cluster/run.sh --ulfm VENV   # everything
#   scripts/cluster/run.sh --no-slurm    # neither Slurm nor the node-loss cases
set -euo pipefail
cd "$(dirname "$0")/../.."
here=scripts/cluster
STATE=${CF_STATE:-/run/cf-cluster}
SUBNET=${CF_SUBNET:-10.77.0}
slurm=1 ulfm=""
while [ $# -gt 0 ]; do
    case "$1" in
        --no-slurm) slurm=0 ;;
        --ulfm) ulfm=$2; shift ;;
        *) echo "usage: $0 [--no-slurm] [--ulfm VENV]" >&2; exit 2 ;;
    esac
    shift
done

log=$(mktemp -d)
cleanup() {
    local rc=$?
    [ "$slurm" = 1 ] && "$here/slurm.sh" down >/dev/null 2>&1 || true
    "$here/hosts.sh" down || true
    rm -rf "$log"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

t0=$(date +%s.%N)
phase() { awk -v t0="$t0" -v now="$(date +%s.%N)" -v m="$*" 'BEGIN { printf "\n--> cluster: %s (%.1fs)\n", m, now - t0 }'; }
fail() { echo "cluster: FAILED: $*" >&2; exit 1; }
expect() { # expect NAME PATTERN-COUNT PATTERN FILE
    local n
    n=$(grep -c -- "$3" "$4" || true)
    [ "$n" -ge "$2" ] || { cat "$4" >&2; fail "$1: wanted $2× '$3', got $n"; }
}

phase "binaries (the mpi step's build)"
timeout 600 cargo test --features mpi --no-run --test mpi_static --test mpi_spawned >"$log/build" 2>&1 ||
    { cat "$log/build"; fail "cargo test --no-run"; }
bins=$(sed -n 's/^ *Executable .*(\(.*\))$/\1/p' "$log/build")
static_test=$(echo "$bins" | grep '/mpi_static-')
spawned_test=$(echo "$bins" | grep '/mpi_spawned-')
timeout 600 cargo build --features mpi --example mpi_primes --example mpi_crash_isolation --example mpi_node_loss -q
ex=${CARGO_TARGET_DIR:-target}/debug/examples
[ -x "$static_test" ] && [ -x "$spawned_test" ] && [ -x "$ex/mpi_primes" ] || fail "no test binaries"

phase "3 simulated hosts"
timeout 60 "$here/hosts.sh" up 3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# TCP between the hosts, on their bridge only (Open MPI's own and the processes' traffic).
export OMPI_MCA_btl=tcp,self OMPI_MCA_btl_tcp_if_include=$SUBNET.0/24 OMPI_MCA_oob_tcp_if_include=$SUBNET.0/24
export OMPI_MCA_plm_rsh_agent=$PWD/$here/rsh-agent.sh
# (-k: after a lost host, mpirun can outlive SIGTERM)
mpirun=(timeout -k 10 120 "$here/mpirun.sh" -n 3)

phase "static mode across the hosts: tests/mpi_static.rs (every rank runs static_rank)"
"${mpirun[@]}" "$static_test" --exact static_rank --test-threads=1 --color never >"$log/static" 2>&1 ||
    { cat "$log/static"; fail "mpi_static under mpirun"; }
expect mpi_static 3 'test result: ok. 1 passed' "$log/static"

phase "static mode across the hosts: mpi_primes, mpi_crash_isolation"
"${mpirun[@]}" "$ex/mpi_primes" >"$log/primes" 2>&1 || { cat "$log/primes"; fail mpi_primes; }
grep -E '^static mode|round trip|chunksize' "$log/primes"
expect mpi_primes 1 '(1, "cfhost2".*(2, "cfhost3"' "$log/primes"
"${mpirun[@]}" "$ex/mpi_crash_isolation" >"$log/crash" 2>&1 || { cat "$log/crash"; fail mpi_crash_isolation; }
grep -E 'error: worker process' "$log/crash"
expect mpi_crash_isolation 4 ' on cfhost[23] died while running the task' "$log/crash"
expect mpi_crash_isolation 1 'pool is still usable' "$log/crash"

phase "bad input: a job whose worker ranks run another program (mpi_primes under mpi_crash_isolation)"
set +e
timeout -k 10 120 "$here/mpirun.sh" -n 1 "$ex/mpi_crash_isolation" : -n 2 "$ex/mpi_primes" >"$log/mismatch" 2>&1
set -e
expect "another program" 1 "runs .*mpi_primes (2 registered functions), but this rank runs .*mpi_crash_isolation (1)" "$log/mismatch"
grep -o 'the cluster pool could not start: [^"]*' "$log/mismatch" | head -1

phase "bad input: a hostfile naming a host that does not answer (cfhost9)"
{ head -n 2 "$STATE/hostfile"; echo "cfhost9 slots=1"; } >"$STATE/hostfile-bad"
set +e
CF_HOSTFILE=$STATE/hostfile-bad timeout -k 10 60 "$here/mpirun.sh" -n 3 "$ex/mpi_primes" >"$log/badhost" 2>&1
rc=$?
set -e
[ "$rc" != 0 ] && [ "$rc" != 124 ] && [ "$rc" != 137 ] || { cat "$log/badhost"; fail "a host that does not answer: exit $rc"; }
expect "a host that does not answer" 1 "unable to reliably start one or more daemons" "$log/badhost"
echo "a host that does not answer: mpirun exit $rc"

phase "spawned mode: started alone on cfhost1, worker ranks spawned onto cfhost2 and cfhost3"
tail -n +2 "$STATE/hostfile" >"$STATE/hostfile-spawn"
spawn_env=(env OMPI_MCA_orte_default_hostfile="$STATE/hostfile-spawn")
timeout -k 10 120 "$here/on-host.sh" cfhost1 "${spawn_env[@]}" "$spawned_test" --test-threads=1 --color never \
    >"$log/spawned" 2>&1 || { cat "$log/spawned"; fail mpi_spawned; }
expect mpi_spawned 1 'test result: ok' "$log/spawned"
timeout -k 10 120 "$here/on-host.sh" cfhost1 "${spawn_env[@]}" "$ex/mpi_crash_isolation" >"$log/scrash" 2>&1 ||
    { cat "$log/scrash"; fail "mpi_crash_isolation, spawned"; }
grep -E 'error: worker process' "$log/scrash"
expect "mpi_crash_isolation, spawned" 4 ' on cfhost[23] died while running the task' "$log/scrash"

if [ "$slurm" = 1 ]; then
    phase "Slurm: munged, slurmctld, a slurmd per host"
    timeout 90 "$here/slurm.sh" up
    export SLURM_CONF=$STATE/slurm/slurm.conf
    srun=(timeout -k 10 120 "$here/on-host.sh" cfhost1 srun --mpi=pmix -n 3)
    phase "Slurm: srun --mpi=pmix -n 3 of tests/mpi_static.rs and mpi_crash_isolation"
    "${srun[@]}" "$static_test" --exact static_rank --test-threads=1 --color never >"$log/srun" 2>&1 ||
        { cat "$log/srun"; fail "mpi_static under srun"; }
    expect "mpi_static under srun" 3 'test result: ok. 1 passed' "$log/srun"
    "${srun[@]}" "$ex/mpi_crash_isolation" >"$log/scrash2" 2>&1 || { cat "$log/scrash2"; fail "mpi_crash_isolation under srun"; }
    expect "mpi_crash_isolation under srun" 4 ' on cfhost[23] died while running the task' "$log/scrash2"
    phase "Slurm, bad input: srun without --mpi=pmix ends at once with Open MPI's own advice"
    set +e
    timeout -k 10 60 "$here/on-host.sh" cfhost1 srun -n 3 "$ex/mpi_primes" >"$log/nopmix" 2>&1
    rc=$?
    set -e
    [ "$rc" != 0 ] && [ "$rc" != 124 ] && [ "$rc" != 137 ] || { cat "$log/nopmix"; fail "srun without pmix: exit $rc"; }
    expect "srun without pmix" 1 "SLURM's PMIx support" "$log/nopmix"
    echo "srun without --mpi=pmix: exit $rc"
fi
if [ -n "$ulfm" ]; then
    phase "a lost node: examples/mpi_node_loss under Open MPI 5 + ULFM ($ulfm) and Open MPI 4.1"
    timeout 600 "$here/node-loss.sh" "$ulfm" "$ex/mpi_node_loss"
fi
phase "done"
