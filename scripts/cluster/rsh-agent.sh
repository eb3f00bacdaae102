#!/usr/bin/env bash
# Open MPI's launch agent for the simulated hosts, in place of ssh:
#   mpirun --mca plm_rsh_agent scripts/cluster/rsh-agent.sh ...        (Open MPI 4.x, ORTE)
#   mpirun --prtemca plm_ssh_agent scripts/cluster/rsh-agent.sh ...    (Open MPI 5, PRRTE)
# Called as ssh would be: [ssh options...] HOST COMMAND-STRING...; the command string is run by
# sh on HOST (its network and UTS namespaces), as sshd would run it. Like an ssh client, the agent
# itself stays on the calling host until the remote command ends (so that losing HOST does not
# kill the launcher's child: a node that dies or drops off the network is noticed by the MPI
# runtime, as on a real cluster), passes on TERM/INT/HUP, and exits with the command's status.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
while [ $# -gt 0 ]; do
    case "$1" in
        -x|-X|-T|-t|-n|-q|-a) shift ;;           # ssh flags without a value
        -o|-p|-l|-i|-F) shift 2 ;;              # ssh options with a value
        *) break ;;
    esac
done
host=$1; shift
"$here/on-host.sh" "$host" sh -c "$*" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null' TERM INT HUP
while :; do
    set +e
    wait "$child"
    rc=$?
    set -e
    kill -0 "$child" 2>/dev/null || exit "$rc"  # ended (else: a signal interrupted the wait)
done
