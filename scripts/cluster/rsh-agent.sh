#!/usr/bin/env bash
# Open MPI's launch agent for the simulated hosts, in place of ssh:
#   mpirun --mca plm_rsh_agent scripts/cluster/rsh-agent.sh ...        (Open MPI 4.x, ORTE)
#   mpirun --prtemca plm_ssh_agent scripts/cluster/rsh-agent.sh ...    (Open MPI 5, PRRTE)
# Called as ssh would be: [ssh options...] HOST COMMAND-STRING...; the command string is run by
# sh on HOST (its network and UTS namespaces), as sshd would run it.
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
exec "$here/on-host.sh" "$host" sh -c "$*"
