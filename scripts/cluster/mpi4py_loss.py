# mpi4py.futures under a lost host, the peer of examples/mpi_node_loss.rs: 300 tasks of 100 ms
# through pool.map over the worker ranks; prints when it started and every 50 results, on the
# boot-time clock (/proc/uptime, as lose-host.sh prints). With Python V (mpi4py installed):
#   scripts/cluster/hosts.sh up 3
#   scripts/cluster/mpirun.sh -n 3 V/bin/python -m mpi4py.futures scripts/cluster/mpi4py_loss.py &
#   sleep 3; scripts/cluster/lose-host.sh partition cfhost3      # Open MPI 4.1
# or, under Open MPI 5 + ULFM (CF_OMPI5=VENV scripts/cluster/mpirun.sh --with-ft ulfm ...):
#   scripts/cluster/lose-host.sh crash cfhost3 python
import socket, time
from mpi4py.futures import MPIPoolExecutor

def work(i):
    time.sleep(0.1)
    return i, socket.gethostname()

def uptime():
    return float(open("/proc/uptime").read().split()[0])

if __name__ == "__main__":
    with MPIPoolExecutor() as pool:
        print(f"started at {uptime():.3f}", flush=True)
        n = 0
        for r in pool.map(work, range(300)):
            n += 1
            if n % 50 == 0:
                print(f"{n} results at {uptime():.3f}", flush=True)
        print(f"mpi4py: all {n} results at {uptime():.3f}", flush=True)
