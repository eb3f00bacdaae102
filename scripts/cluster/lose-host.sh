#!/usr/bin/env bash
# Loses a simulated host mid-run, as a cluster loses a node:
#   scripts/cluster/lose-host.sh partition HOST   # its link goes down (the bridge side of its veth)
#   scripts/cluster/lose-host.sh heal HOST        # and comes back
#   scripts/cluster/lose-host.sh kill HOST        # every process on it SIGKILLed (a crashed node)
#   scripts/cluster/lose-host.sh crash HOST NAME  # its processes named NAME SIGKILLed (a crashed
#                                                 # rank; the node and its MPI daemon live on)
# Prints when it did it on the boot-time clock (/proc/uptime; CLOCK_BOOTTIME in C), to measure
# detection against (this sandbox's wall clock can jump).
set -euo pipefail
NET=${CF_NET:-cfnet}
PREFIX=${CF_PREFIX:-cfhost}
what=$1 host=$2 name=${3:-}
i=${host#"$PREFIX"}
t0=$(cut -d' ' -f1 /proc/uptime)
case "$what" in
    partition) ip -n "$NET" link set "vh$i" down ;;
    heal) ip -n "$NET" link set "vh$i" up ;;
    kill)
        pids=$(ip netns pids "$host")
        # shellcheck disable=SC2086
        [ -z "$pids" ] || kill -KILL $pids
        ;;
    crash)
        for p in $(ip netns pids "$host"); do
            [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "${name:0:15}" ] && kill -KILL "$p"
        done
        ;;
    *) echo "usage: $0 partition|heal|kill HOST | crash HOST NAME" >&2; exit 2 ;;
esac
echo "lose-host: $what $host from uptime $t0 to $(cut -d' ' -f1 /proc/uptime)"
