#!/usr/bin/env bash
# mpirun on the simulated hosts (hosts.sh up first): started on the first host (the login node),
# ranks placed by the hostfile (one slot per host), launched through rsh-agent.sh, TCP on the
# hosts' bridge only. Arguments go to mpirun after these.
#   scripts/cluster/mpirun.sh -n 3 PROG ARGS...                      # Debian's Open MPI 4.1
#   CF_OMPI5=VENV scripts/cluster/mpirun.sh --with-ft ulfm -n 3 PROG # Open MPI 5 from PyPI (PRRTE)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
STATE=${CF_STATE:-/run/cf-cluster}
HOSTFILE=${CF_HOSTFILE:-$STATE/hostfile}
SUBNET=${CF_SUBNET:-10.77.0}
PREFIX=${CF_PREFIX:-cfhost}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
if [ -n "${CF_OMPI5:-}" ]; then
    venv=$(cd "$CF_OMPI5" && pwd)
    # The wheel's libmpi.so.40 has Debian's soname: LD_LIBRARY_PATH picks it (-x passes it on).
    export PATH=$venv/bin:$PATH LD_LIBRARY_PATH=$venv/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
        PRTE_ALLOW_RUN_AS_ROOT=1 PRTE_ALLOW_RUN_AS_ROOT_CONFIRM=1
    exec "$here/on-host.sh" "${PREFIX}1" "$venv/bin/mpirun" --allow-run-as-root \
        --hostfile "$HOSTFILE" --prtemca plm_ssh_agent "$here/rsh-agent.sh" \
        --prtemca oob_tcp_if_include "$SUBNET.0/24" --mca pml ob1 --mca btl tcp,self \
        --mca btl_tcp_if_include "$SUBNET.0/24" -x LD_LIBRARY_PATH "$@"
fi
exec "$here/on-host.sh" "${PREFIX}1" mpirun --allow-run-as-root --hostfile "$HOSTFILE" \
    --mca plm_rsh_agent "$here/rsh-agent.sh" --mca btl tcp,self \
    --mca btl_tcp_if_include "$SUBNET.0/24" --mca oob_tcp_if_include "$SUBNET.0/24" "$@"
