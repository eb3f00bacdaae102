"""Python's concurrent.futures.ProcessPoolExecutor (fork start method), measured the same way as
the Rust process pool. Run by the Rust harness (`bench process`), one workload per call; prints
one JSON object on stdout. Workloads (max_workers=2):

  roundtrip --iters N --warmup W     N sequential submit(f, i).result(); nanoseconds each
  map       --items N --chunksize C  list(pool.map(f, range(N), chunksize=C)); items per second
  first     --pools P                time from ProcessPoolExecutor() to the first result; ns each

Only the standard library is used.
"""

import argparse
import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor


def inc(x):
    return x + 1


def ctx():
    return multiprocessing.get_context("fork")


def roundtrip(args):
    out = []
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx()) as pool:
        for i in range(args.warmup):
            pool.submit(inc, i).result()
        for i in range(args.iters):
            t0 = time.perf_counter_ns()
            pool.submit(inc, i).result()
            out.append(time.perf_counter_ns() - t0)
    return {"ns": out}


def map_(args):
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx()) as pool:
        list(pool.map(inc, range(1000), chunksize=args.chunksize))  # start the workers
        t0 = time.perf_counter()
        n = sum(1 for _ in pool.map(inc, range(args.items), chunksize=args.chunksize))
        dt = time.perf_counter() - t0
    assert n == args.items
    return {"per_s": [n / dt]}


def first(args):
    out = []
    for _ in range(args.pools):
        t0 = time.perf_counter_ns()
        with ProcessPoolExecutor(max_workers=2, mp_context=ctx()) as pool:
            pool.submit(inc, 1).result()
            out.append(time.perf_counter_ns() - t0)
    return {"ns": out}


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("roundtrip")
    r.add_argument("--iters", type=int, default=2000)
    r.add_argument("--warmup", type=int, default=200)
    m = sub.add_parser("map")
    m.add_argument("--items", type=int, default=20000)
    m.add_argument("--chunksize", type=int, default=1)
    f = sub.add_parser("first")
    f.add_argument("--pools", type=int, default=10)
    args = p.parse_args()
    res = {"roundtrip": roundtrip, "map": map_, "first": first}[args.cmd](args)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
