#!/usr/bin/env bash
# Loses a host (or a rank) in the middle of examples/mpi_node_loss on the simulated hosts, under
# Open MPI 5 with ULFM (the PyPI wheel in VENV, `mpirun --with-ft ulfm`) and under Debian's Open
# MPI 4.1, and checks what the README's failure table says:
#   ulfm-rank:        a worker rank SIGKILLed: its tasks run again on the other host, every one
#                     of the 300 results arrives, none fails, max_workers 4 -> 2, mpirun exits 0;
#   ulfm-rank-no-retry: the same with retries(0): the tasks it held fail, naming it and its host,
#                     every other result arrives;
#   ulfm-partition:   a worker host's link cut: found by the heartbeat (rank_timeout 3 s), the
#                     same results; the cut-off rank stops by itself; once the link is back,
#                     mpirun ends;
#   ulfm-manager:     the manager rank SIGKILLed: every worker rank stops;
#   ompi41-partition: a worker host's link cut under Open MPI 4.1: the job is ended (MPI_Abort,
#                     exit 75) with a message naming the host; every process of the job is gone
#                     within 15 s; mpirun itself waits for the cut host's daemon until the link
#                     is back.
# After each case no process is left on any host. Times are on the boot-time clock.
# Needs the hosts (hosts.sh up) and the example built with --features mpi (Debian's headers; the
# same binary runs on the wheel's libmpi, which has the same soname, through LD_LIBRARY_PATH).
#   scripts/cluster/node-loss.sh VENV EXAMPLE [CASE...]
set -euo pipefail
cd "$(dirname "$0")/../.."
here=scripts/cluster
venv=$(cd "$1" && pwd) ex=$2
shift 2
cases=${*:-ulfm-rank ulfm-rank-no-retry ulfm-partition ulfm-manager ompi41-partition}
out=$(mktemp -d)
healing=""
cleanup() {
    [ -z "$healing" ] || "$here/lose-host.sh" heal "$healing" >/dev/null 2>&1 || true
    rm -rf "$out"
}
trap cleanup EXIT

fail() { echo "node-loss: FAILED: $*" >&2; exit 1; }
up() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
# Processes of the example (ranks and their local workers) on every host.
ours() {
    local h p
    for h in cfhost1 cfhost2 cfhost3; do
        for p in $(ip netns pids "$h" 2>/dev/null); do
            case "$(cat "/proc/$p/comm" 2>/dev/null)" in mpi_node_loss | mpi_node:worker) echo "$h:$p" ;; esac
        done
    done
}
# Every process on the hosts; what a case leaves is what was not there before it (Slurm's
# daemons may be).
all() { for h in cfhost1 cfhost2 cfhost3; do ip netns pids "$h" 2>/dev/null; done | sort; }
left() {
    comm -13 <(echo "$before") <(all) | xargs -r ps -o pid=,comm= -p | sed 's/^/  left: /'
}
wait_for() { # wait_for PATTERN FILE SECONDS
    local i
    for i in $(seq $(($3 * 10))); do grep -q -- "$1" "$2" && return 0; sleep 0.1; done
    cat "$2" >&2
    fail "no '$1' within $3 s"
}
expect() { grep -q -- "$1" "$2" || { cat "$2" >&2; fail "$3: no '$1'"; }; }

# start CASE LIB [RETRIES]: runs the example on the 3 hosts in the background (pid in $job).
start() {
    log=$out/$1
    before=$(all)
    if [ "$2" = ulfm ]; then
        CF_OMPI5=$venv timeout -k 5 120 "$here/mpirun.sh" --with-ft ulfm -n 3 "$ex" 300 100 3000 "${3:-3}" >"$log" 2>&1 &
    else
        timeout -k 5 120 "$here/mpirun.sh" -n 3 "$ex" 300 100 3000 >"$log" 2>&1 &
    fi
    job=$!
    wait_for "started at" "$log" 60
    sleep 1
}
# finish CASE: waits for mpirun, checks nothing is left; sets $rc and $ended.
finish() {
    set +e
    wait "$job"
    rc=$?
    set -e
    ended=$(up)
    [ -z "$(left)" ] || { left; fail "$1: processes left behind"; }
}
# lose WHAT HOST: prints lose-host's line, sets $cut (when it did it).
lose() {
    local line
    line=$("$here/lose-host.sh" "$1" "$2" mpi_node_loss)
    echo "  $line"
    cut=$(echo "$line" | awk '{ print $(NF) }')
}
report() { # the summary of the survivors' side
    local lost first
    lost=$(sed -n 's/^lost at \([0-9.]*\):.*/\1/p' "$log")
    first=$(sed -n 's/.*first result after it at \([0-9.]*\)$/\1/p' "$log")
    grep '^node-loss:' "$log" | sed 's/^/  /'
    echo "  detected $(since "$cut" "$lost") s after the loss; first result after it $(since "$cut" "$first") s after the loss; mpirun ended with $rc, $(since "$cut" "$ended") s after the loss"
}
all_results='300 results (300 distinct), 0 failed, lost 0; max_workers 4 -> 2'

for c in $cases; do
    echo "node-loss: $c"
    case "$c" in
        ulfm-rank)
            start "$c" ulfm
            lose crash cfhost3
            finish "$c"
            expect "$all_results" "$log" "$c"
            expect "fault tolerance: Ulfm" "$log" "$c"
            [ "$rc" = 0 ] || { cat "$log"; fail "$c: mpirun exit $rc"; }
            report
            ;;
        ulfm-rank-no-retry)
            start "$c" ulfm 0
            lose crash cfhost3
            finish "$c"
            failed=$(grep -c '^failed: worker process [0-9]* on cfhost3 died while running the task: its worker rank 2 was lost: the MPI library reports it failed' "$log" || true)
            expect "results ($((300 - failed)) distinct), $failed failed, lost 0; max_workers 4 -> 2" "$log" "$c"
            [ "$failed" -ge 1 ] || { cat "$log"; fail "$c: no task failed with the lost rank"; }
            grep '^node-loss:' "$log" | sed 's/^/  /'
            echo "  $failed tasks failed naming the lost rank and cfhost3 (the ones it held), the rest completed"
            ;;
        ulfm-partition)
            start "$c" ulfm
            lose partition cfhost3
            healing=cfhost3
            wait_for "^node-loss:" "$log" 90
            # The cut-off rank stopped by itself (it lost its manager).
            for i in $(seq 100); do ! ours | grep -q '^cfhost3:'  && break; sleep 0.1; done
            [ "$i" -lt 100 ] || fail "$c: the cut-off rank did not stop"
            "$here/lose-host.sh" heal cfhost3 >/dev/null
            healing=""
            finish "$c"
            expect "$all_results" "$log" "$c"
            expect "worker rank on cfhost3 .*its manager (rank 0) was lost: it sent nothing for 3.0 s" "$log" "$c"
            report
            ;;
        ulfm-manager)
            start "$c" ulfm
            lose crash cfhost1
            finish "$c"
            for h in cfhost2 cfhost3; do expect "worker rank on $h .*its manager (rank 0) was lost" "$log" "$c"; done
            stopped=$(sed -n 's/^worker rank on cfhost[23] at \([0-9.]*\):.*/\1/p' "$log" | sort -n | tail -1)
            echo "  both worker ranks stopped $(since "$cut" "$stopped") s after the loss; mpirun ended with $rc, $(since "$cut" "$ended") s after it"
            ;;
        ompi41-partition)
            start "$c" ompi41
            lose partition cfhost3
            healing=cfhost3
            for i in $(seq 150); do [ -z "$(ours)" ] && break; sleep 0.1; done
            gone=$(up)
            [ -z "$(ours)" ] || { ours; fail "$c: processes of the job still running 15 s after the cut"; }
            "$here/lose-host.sh" heal cfhost3 >/dev/null
            healing=""
            finish "$c"
            expect "worker rank 2 on cfhost3 (pid [0-9]*) was lost: it sent nothing for 3.0 s. This MPI library has no fault tolerance" "$log" "$c"
            [ "$rc" = 75 ] || { cat "$log"; fail "$c: mpirun exit $rc, not 75"; }
            echo "  every process of the job gone $(since "$cut" "$gone") s after the cut; mpirun ended with $rc once the link was back"
            ;;
        *) fail "unknown case $c" ;;
    esac
done
