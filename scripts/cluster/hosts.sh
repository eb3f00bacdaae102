#!/usr/bin/env bash
# Simulated cluster hosts on this machine (needs root): N network namespaces (cfhost1..N), each
# with its own hostname (a persistent UTS namespace), joined by a bridge that lives in a namespace
# of its own (cfnet), so that nothing of it touches the root namespace or any real interface.
# Addresses 10.77.0.1..N/24 on each host's eth0; names resolve through /etc/netns/HOST/hosts
# (which `ip netns exec` mounts over /etc/hosts). The filesystem is shared, as over NFS.
#
#   scripts/cluster/hosts.sh up [N]    # (re)builds N hosts (default 3); cleans any leftover first
#   scripts/cluster/hosts.sh down      # removes everything `up` made (idempotent)
#   scripts/cluster/hosts.sh status
#
# `up` writes $CF_STATE/hostfile (one slot per host) and $CF_STATE/hosts. Run a command on a host
# with scripts/cluster/on-host.sh HOST CMD...; mpirun reaches the hosts through
# scripts/cluster/rsh-agent.sh. Whoever calls `up` should trap `down` (scripts/cluster/run.sh does).
set -euo pipefail

PREFIX=${CF_PREFIX:-cfhost}
NET=${CF_NET:-cfnet}            # the namespace holding the bridge
SUBNET=${CF_SUBNET:-10.77.0}    # /24
STATE=${CF_STATE:-/run/cf-cluster}

hosts_made() { ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${PREFIX}[0-9]+$" | sort -V || true; }

down() {
    local h pids
    for h in $(hosts_made); do
        # Every process still in the host's network namespace (a leftover of a killed run).
        pids=$(ip netns pids "$h" 2>/dev/null || true)
        if [ -n "$pids" ]; then
            # shellcheck disable=SC2086
            kill -KILL $pids 2>/dev/null || true
        fi
        ip netns del "$h" 2>/dev/null || true
        rm -rf "/etc/netns/$h"
    done
    if ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$NET"; then
        ip netns del "$NET" 2>/dev/null || true
    fi
    if [ -d "$STATE/uts" ]; then
        for f in "$STATE"/uts/*; do
            [ -e "$f" ] || continue
            umount "$f" 2>/dev/null || true
            rm -f "$f"
        done
    fi
    rm -rf "$STATE"
}

up() {
    local n=${1:-3} i j h out
    [ "$(id -u)" = 0 ] || { echo "hosts.sh: needs root (network and UTS namespaces)" >&2; exit 1; }
    [ "$n" -ge 1 ] && [ "$n" -le 200 ] || { echo "hosts.sh: N must be 1..200" >&2; exit 1; }
    down
    mkdir -p "$STATE/uts"
    ip netns add "$NET"
    ip -n "$NET" link add br0 type bridge
    ip -n "$NET" link set br0 up
    ip -n "$NET" link set lo up
    : > "$STATE/hosts"
    printf '127.0.0.1 localhost\n' >> "$STATE/hosts"
    for i in $(seq 1 "$n"); do printf '%s.%s %s%s\n' "$SUBNET" "$i" "$PREFIX" "$i" >> "$STATE/hosts"; done
    : > "$STATE/hostfile"
    for i in $(seq 1 "$n"); do
        h="$PREFIX$i"
        ip netns add "$h"
        # The veth pair: eth0 in the host, vh$i on the bridge.
        ip link add "cfv$i" type veth peer name "cfp$i"
        ip link set "cfv$i" netns "$h"
        ip link set "cfp$i" netns "$NET"
        ip -n "$h" link set "cfv$i" name eth0
        ip -n "$NET" link set "cfp$i" name "vh$i"
        ip -n "$NET" link set "vh$i" master br0
        ip -n "$NET" link set "vh$i" up
        ip -n "$h" addr add "$SUBNET.$i/24" dev eth0
        ip -n "$h" link set eth0 up
        ip -n "$h" link set lo up
        mkdir -p "/etc/netns/$h"
        cp "$STATE/hosts" "/etc/netns/$h/hosts"
        printf '%s\n' "$h" > "/etc/netns/$h/hostname"
        # A persistent UTS namespace holding the host's name (bind-mounted on a file).
        touch "$STATE/uts/$h"
        unshare --uts="$STATE/uts/$h" hostname "$h"
        printf '%s slots=1\n' "$h" >> "$STATE/hostfile"
    done
    # Every host reaches every other one: a TCP connect to a closed port is refused (an answer),
    # where an unreachable one times out.
    for i in $(seq 1 "$n"); do
        for j in $(seq 1 "$n"); do
            out=$(ip netns exec "$PREFIX$i" timeout 3 bash -c "echo > /dev/tcp/$PREFIX$j/9" 2>&1 || true)
            case "$out" in
                *refused*) ;;
                *) echo "hosts.sh: $PREFIX$i cannot reach $PREFIX$j: $out" >&2; exit 1 ;;
            esac
        done
    done
    echo "hosts.sh: $n hosts up: $(hosts_made | tr '\n' ' ')(bridge in netns $NET, $SUBNET.0/24); hostfile $STATE/hostfile"
}

status() {
    echo "hosts: $(hosts_made | tr '\n' ' ')"
    for h in $(hosts_made); do
        echo "$h: $(ip -n "$h" -br addr show eth0 2>/dev/null) pids: $(ip netns pids "$h" | wc -l)"
    done
}

case "${1:-}" in
    up) shift; up "$@" ;;
    down) down ;;
    status) status ;;
    *) echo "usage: $0 up [N] | down | status" >&2; exit 2 ;;
esac
