#!/usr/bin/env bash
# Runs CMD... on a simulated host made by hosts.sh: in its network namespace (its eth0, its
# /etc/hosts) and its UTS namespace (its hostname); same filesystem, same environment.
#   scripts/cluster/on-host.sh cfhost2 hostname
set -euo pipefail
STATE=${CF_STATE:-/run/cf-cluster}
host=$1; shift
[ -e "$STATE/uts/$host" ] || { echo "on-host.sh: no simulated host $host (scripts/cluster/hosts.sh up)" >&2; exit 255; }
exec ip netns exec "$host" nsenter --uts="$STATE/uts/$host" -- "$@"
