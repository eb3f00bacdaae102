#!/usr/bin/env bash
# Open MPI 5 with ULFM across the simulated hosts: builds scripts/cluster/ulfm_detect.c with the
# venv's mpicc, runs it on 3 hosts (prterun through rsh-agent.sh), loses the last host after
# 4 s, and shows what rank 0 saw. Needs scripts/cluster/install.sh --ulfm VENV.
#   scripts/cluster/ulfm-demo.sh VENV partition|kill|crash|none [DURATION] [extra mpirun args...]
# (lose-host.sh: partition cuts the host's link, kill ends every process on it, crash only the rank)
# e.g. the heartbeat detector on, 1 s period, 3 s timeout:
#   scripts/cluster/ulfm-demo.sh VENV partition 40 --mca mpi_ft_detector true \
#       --mca mpi_ft_detector_period 1 --mca mpi_ft_detector_timeout 3
set -euo pipefail
cd "$(dirname "$0")/../.."
here=scripts/cluster
STATE=${CF_STATE:-/run/cf-cluster}
venv=$(cd "$1" && pwd) what=$2 duration=${3:-30}
shift 3 || shift $#
own_hosts=0
if [ ! -e "$STATE/hostfile" ]; then
    own_hosts=1
    "$here/hosts.sh" up 3 >/dev/null
fi
out=$(mktemp -d)
cleanup() {
    rm -rf "$out"
    if [ "$own_hosts" = 1 ]; then "$here/hosts.sh" down; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
"$venv/bin/mpicc" -O2 -o "$out/ulfm_detect" "$here/ulfm_detect.c"
last=$(tail -n 1 "$STATE/hostfile" | cut -d' ' -f1)
start=$(cut -d' ' -f1 /proc/uptime)
ULFM_LOG=$out/rank CF_OMPI5=$venv timeout -k 10 $((duration + 60)) "$here/mpirun.sh" --with-ft ulfm \
    -n 3 -x ULFM_LOG "$@" "$out/ulfm_detect" "$duration" >"$out/log" 2>&1 &
job=$!
if [ "$what" != none ]; then
    sleep 4
    "$here/lose-host.sh" "$what" "$last" ulfm_detect
fi
set +e
wait "$job"
rc=$?
set -e
end=$(cut -d' ' -f1 /proc/uptime)
cat "$out/log"
for f in "$out"/rank.*; do sed "s/^/${f##*/}: /" "$f"; done
echo "ulfm-demo: mpirun exit $rc after $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s"
for h in $(cut -d' ' -f1 "$STATE/hostfile"); do
    echo "ulfm-demo: left on $h: $(for p in $(ip netns pids "$h"); do cat "/proc/$p/comm"; done | sort | uniq -c | tr '\n' ' ')"
done
if [ "$what" = partition ]; then "$here/lose-host.sh" heal "$last" >/dev/null; fi
