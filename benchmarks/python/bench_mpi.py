"""mpi4py.futures on the workloads of the `cluster` benchmark group (and examples/mpi_primes.rs).

    mpirun -n 3 --oversubscribe --mca btl tcp,self python3 -m mpi4py.futures benchmarks/python/bench_mpi.py
    (MPI4PY_FUTURES_BACKOFF=0 for the manager's polling without backoff)
"""
import time
from mpi4py.futures import MPIPoolExecutor


def noop(x):
    return x


def main():
    start = time.perf_counter()
    fields = {}
    with MPIPoolExecutor() as pool:
        assert pool.submit(noop, 1).result() == 1
        fields["startup_ms"] = (time.perf_counter() - start) * 1e3
        print(f"start-up to the first result: {fields['startup_ms']:.0f} ms")
        rtt = []
        for i in range(2000):
            t = time.perf_counter()
            pool.submit(noop, i).result()
            rtt.append(time.perf_counter() - t)
        rtt = sorted(rtt[200:])
        fields["rtt_us"] = rtt[len(rtt) // 2] * 1e6
        print(f"round trip: median {rtt[len(rtt) // 2] * 1e6:.1f} µs, p90 {rtt[len(rtt) * 9 // 10] * 1e6:.1f} µs")
        for chunk, n in ((1, 10_000), (100, 500_000)):
            t = time.perf_counter()
            total = sum(pool.map(noop, range(n), chunksize=chunk))
            secs = time.perf_counter() - t
            assert total == n * (n - 1) // 2
            fields[f"map{chunk}"] = n / secs
            print(f"map, chunksize {chunk}: {n / secs:.0f} items/s")
    # One line for the benchmark harness (benchmarks/src/cluster.rs).
    print(" ".join(f"{k}={v:.2f}" for k, v in fields.items()))


if __name__ == "__main__":
    main()
