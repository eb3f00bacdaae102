"""Python's concurrent.futures.ThreadPoolExecutor, measured the same way as the Rust pools.

Run by the Rust harness (`cargo run --release -p benchmarks --bin bench`), one workload per
call; prints one JSON object on stdout. Workloads (max_workers=2 unless said otherwise):

  batch     --tasks N --reps R     submit N empty tasks, then result() each; seconds per rep
  roundtrip --iters N --warmup W   N sequential submit(f).result() calls; nanoseconds each
  idle      --burst N --window S   after a batch of N tasks, CPU seconds the process uses while
                                   the pool sits idle for S seconds (and context switches)
  memory    --tasks N              max_workers=1, one task blocked on an event, N empty tasks
                                   queued behind it: resident-memory growth per queued task
                                   (the Future and the queued work item; the list of futures is
                                   allocated beforehand)

Only the standard library is used.
"""

import argparse
import json
import resource
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor


def empty():
    return None


def batch(args):
    secs = []
    for _ in range(args.reps):
        with ThreadPoolExecutor(max_workers=2) as pool:
            # Start both workers before timing, as the Rust pools are warm too.
            for f in [pool.submit(empty) for _ in range(100)]:
                f.result()
            futures = [None] * args.tasks
            t0 = time.perf_counter()
            for i in range(args.tasks):
                futures[i] = pool.submit(empty)
            for f in futures:
                f.result()
            secs.append(time.perf_counter() - t0)
            del futures
    return {"seconds": secs}


def roundtrip(args):
    samples = []
    clock = time.perf_counter_ns
    with ThreadPoolExecutor(max_workers=2) as pool:
        for i in range(args.warmup + args.iters):
            t0 = clock()
            pool.submit(empty).result()
            t1 = clock()
            if i >= args.warmup:
                samples.append(t1 - t0)
    return {"ns": samples}


def cpu_and_switches():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime, r.ru_nvcsw + r.ru_nivcsw


def idle(args):
    with ThreadPoolExecutor(max_workers=2) as pool:
        for f in [pool.submit(empty) for _ in range(args.burst)]:
            f.result()
        cpu0, sw0 = cpu_and_switches()
        time.sleep(args.window)
        cpu1, sw1 = cpu_and_switches()
    return {"cpu_seconds": cpu1 - cpu0, "switches": sw1 - sw0, "window": args.window}


def rss_bytes():
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize()


def memory(args):
    release = threading.Event()
    started = threading.Event()

    def blocker():
        started.set()
        release.wait(120)

    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(blocker)
        started.wait(120)
        futures = [None] * args.tasks
        before = rss_bytes()
        for i in range(args.tasks):
            futures[i] = pool.submit(empty)
        after = rss_bytes()
        release.set()
        first.result()
        for f in futures:
            f.result()
    return {"bytes_per_task": (after - before) / args.tasks}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="workload", required=True)
    b = sub.add_parser("batch")
    b.add_argument("--tasks", type=int, required=True)
    b.add_argument("--reps", type=int, required=True)
    r = sub.add_parser("roundtrip")
    r.add_argument("--iters", type=int, required=True)
    r.add_argument("--warmup", type=int, required=True)
    i = sub.add_parser("idle")
    i.add_argument("--burst", type=int, required=True)
    i.add_argument("--window", type=float, required=True)
    m = sub.add_parser("memory")
    m.add_argument("--tasks", type=int, required=True)
    args = p.parse_args()
    out = {"batch": batch, "roundtrip": roundtrip, "idle": idle, "memory": memory}[
        args.workload
    ](args)
    out["python"] = sys.version.split()[0]
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
