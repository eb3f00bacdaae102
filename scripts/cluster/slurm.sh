#!/usr/bin/env bash
# A Slurm cluster on the simulated hosts (scripts/cluster/hosts.sh up first): munged, slurmctld on
# the first host, one slurmd per host (each its own NodeName, NodeAddr its address), all of it
# under $CF_STATE/slurm with its own munge key and socket: nothing in /etc/slurm or the system's
# munge is touched. Debian's packages: apt-get install -y slurm-wlm munge.
#
#   scripts/cluster/slurm.sh up        # starts the daemons, waits (bounded) for every node idle
#   scripts/cluster/slurm.sh env       # prints the SLURM_CONF=... line for srun/sinfo
#   scripts/cluster/slurm.sh down      # stops them (hosts.sh down also ends every process on the hosts)
#
# Then, on the first host (the login node):
#   scripts/cluster/on-host.sh cfhost1 env SLURM_CONF=$CF_STATE/slurm/slurm.conf srun --mpi=pmix -n 3 PROG
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PREFIX=${CF_PREFIX:-cfhost}
SUBNET=${CF_SUBNET:-10.77.0}
STATE=${CF_STATE:-/run/cf-cluster}
S=$STATE/slurm
export SLURM_CONF=$S/slurm.conf

hosts() { grep -oE "^${PREFIX}[0-9]+" "$STATE/hostfile"; }

down() {
    local f pid
    for f in "$S"/*.pid; do
        [ -e "$f" ] || continue
        pid=$(cat "$f" 2>/dev/null || true)
        [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
    done
    sleep 0.5
    for f in "$S"/*.pid; do
        [ -e "$f" ] || continue
        pid=$(cat "$f" 2>/dev/null || true)
        [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
    done
    rm -rf "$S"
}

up() {
    [ -e "$STATE/hostfile" ] || { echo "slurm.sh: no simulated hosts (scripts/cluster/hosts.sh up)" >&2; exit 1; }
    command -v slurmctld >/dev/null || { echo "slurm.sh: apt-get install -y slurm-wlm munge" >&2; exit 1; }
    down
    mkdir -p "$S/ctld" "$S/munge"
    chmod 755 "$S/munge"
    local first h i n
    first=$(hosts | head -1)
    n=$(hosts | wc -l)
    # munge: a key of its own, a socket of its own (a path on the shared filesystem reaches every
    # network namespace).
    dd if=/dev/urandom of="$S/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$S/munge/munge.key"
    "$here/on-host.sh" "$first" munged --force --key-file="$S/munge/munge.key" \
        --socket="$S/munge/munge.socket" --pid-file="$S/munged.pid" \
        --log-file="$S/munged.log" --seed-file="$S/munge/seed"
    {
        echo "ClusterName=cf"
        echo "SlurmctldHost=$first($SUBNET.${first#"$PREFIX"})"
        echo "SlurmUser=root"
        echo "SlurmdUser=root"
        echo "AuthType=auth/munge"
        echo "CredType=cred/munge"
        echo "AuthInfo=socket=$S/munge/munge.socket"
        echo "StateSaveLocation=$S/ctld"
        echo "SlurmdSpoolDir=$S/spool-%n"
        echo "SlurmctldPidFile=$S/slurmctld.pid"
        echo "SlurmdPidFile=$S/slurmd-%n.pid"
        echo "SlurmctldLogFile=$S/slurmctld.log"
        echo "SlurmdLogFile=$S/slurmd-%n.log"
        echo "ProctrackType=proctrack/linuxproc"
        echo "TaskPlugin=task/none"
        echo "JobAcctGatherType=jobacct_gather/none"
        echo "AccountingStorageType=accounting_storage/none"
        echo "SelectType=select/cons_tres"
        echo "SelectTypeParameters=CR_Core"
        echo "MpiDefault=none"
        echo "ReturnToService=2"
        echo "SlurmdTimeout=30"
        echo "InactiveLimit=0"
        echo "KillWait=5"
        echo "MinJobAge=5"
        echo "SchedulerType=sched/backfill"
        for h in $(hosts); do
            i=${h#"$PREFIX"}
            echo "NodeName=$h NodeAddr=$SUBNET.$i CPUs=1 State=UNKNOWN"
        done
        echo "PartitionName=cf Nodes=ALL Default=YES MaxTime=30 State=UP OverSubscribe=YES"
    } > "$SLURM_CONF"
    "$here/on-host.sh" "$first" slurmctld
    for h in $(hosts); do
        mkdir -p "$S/spool-$h"
        CF_KEEP_SYS=1 "$here/on-host.sh" "$h" slurmd -N "$h"
    done
    # Bounded: every node idle within 60 s.
    local deadline=$((SECONDS + 60)) idle=0
    while [ "$SECONDS" -lt "$deadline" ]; do
        idle=$("$here/on-host.sh" "$first" sinfo -h -N -o '%N %t' 2>/dev/null | grep -c ' idle$' || true)
        [ "$idle" -ge "$n" ] && break
        sleep 1
    done
    "$here/on-host.sh" "$first" sinfo -N -o '%N %t %c' || true
    if [ "$idle" -lt "$n" ]; then
        echo "slurm.sh: only $idle of $n nodes idle after 60 s; logs in $S" >&2
        tail -n 20 "$S"/slurmctld.log "$S"/slurmd-*.log >&2 || true
        exit 1
    fi
    echo "slurm.sh: $n nodes idle; export SLURM_CONF=$SLURM_CONF"
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    env) echo "SLURM_CONF=$SLURM_CONF" ;;
    *) echo "usage: $0 up | down | env" >&2; exit 2 ;;
esac
