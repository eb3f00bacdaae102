#!/usr/bin/env bash
# Runs CMD... on a simulated host made by hosts.sh: in its network namespace (its eth0, its
# /etc/hosts) and its UTS namespace (its hostname); same filesystem, same environment.
#   scripts/cluster/on-host.sh cfhost2 hostname
# CF_KEEP_SYS=1 keeps the machine's /sys (its cgroup hierarchy: slurmd needs one), where
# `ip netns exec` would mount the namespace's own sysfs (and hide /sys/fs/cgroup); it also gives
# the host a /tmp of its own ($CF_STATE/tmp/HOST), as a node's local disk (Slurm's PMIx plugin
# makes directories in /tmp named by the job alone, which collide on a /tmp shared by the nodes).
set -euo pipefail
STATE=${CF_STATE:-/run/cf-cluster}
host=$1; shift
[ -e "$STATE/uts/$host" ] || { echo "on-host.sh: no simulated host $host (scripts/cluster/hosts.sh up)" >&2; exit 255; }
if [ "${CF_KEEP_SYS:-0}" = 1 ]; then
    mkdir -p "$STATE/tmp/$host"
    chmod 1777 "$STATE/tmp/$host"
    exec unshare --mount --propagation private -- sh -c \
        'uts=$1; shift; mount --bind "/etc/netns/$0/hosts" /etc/hosts &&
         mount --bind "$(dirname "$uts")/../tmp/$0" /tmp &&
         exec nsenter --net="/run/netns/$0" --uts="$uts" -- "$@"' \
        "$host" "$STATE/uts/$host" "$@"
fi
exec ip netns exec "$host" nsenter --uts="$STATE/uts/$host" -- "$@"
