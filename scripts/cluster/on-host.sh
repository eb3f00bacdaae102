#!/usr/bin/env bash
# Runs CMD... on a simulated host made by hosts.sh: in its network namespace (its eth0, its
# /etc/hosts) and its UTS namespace (its hostname); same filesystem, same environment.
#   scripts/cluster/on-host.sh cfhost2 hostname
# CF_KEEP_SYS=1 keeps the machine's /sys (its cgroup hierarchy: slurmd needs one), where
# `ip netns exec` would mount the namespace's own sysfs (and hide /sys/fs/cgroup).
set -euo pipefail
STATE=${CF_STATE:-/run/cf-cluster}
host=$1; shift
[ -e "$STATE/uts/$host" ] || { echo "on-host.sh: no simulated host $host (scripts/cluster/hosts.sh up)" >&2; exit 255; }
if [ "${CF_KEEP_SYS:-0}" = 1 ]; then
    exec unshare --mount --propagation private -- sh -c \
        'uts=$1; shift; mount --bind "/etc/netns/$0/hosts" /etc/hosts &&
         exec nsenter --net="/run/netns/$0" --uts="$uts" -- "$@"' \
        "$host" "$STATE/uts/$host" "$@"
fi
exec ip netns exec "$host" nsenter --uts="$STATE/uts/$host" -- "$@"
