"""``replay_parallel(..., workers=N)`` vs ``replay``: the same random trace through the ``zen4`` preset.

Usage: ``python benchmarks/bench_parallel_replay.py [--n 2e7] [--workers 2] [--repeat 3]``

The trace is the golden random trace of ``bench_cachesim.py`` (4-byte aligned addresses uniform over
64 MiB, seed 12345). Both runs use the same array in the same process, best of ``--repeat`` each, after a
small warm-up that compiles the kernels. Counters must agree exactly (the script fails otherwise). The
``uptime`` load average is printed before and after: on a shared machine the speed-up is depressed. The
CPU time of all threads per run shows the extra work of the split (selecting each worker's pieces),
which the load does not change much.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from bench_cachesim import best_of  # this folder is on sys.path when the script runs

from cachesim import replay, replay_parallel


def load_text() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} (1, 5, 15 min)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=float, default=2e7, help="accesses")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--hierarchy", default="zen4")
    args = ap.parse_args()
    n = int(args.n)
    addr = np.random.default_rng(12345).integers(0, (64 << 20) // 4, n, dtype=np.int64) * 4
    replay(addr[:100_000], args.hierarchy)  # warm-up: compile the kernels
    replay_parallel(addr[:100_000], args.hierarchy, workers=args.workers)
    print(f"{n:.3g} random accesses through {args.hierarchy!r}, {os.cpu_count()} CPUs; before: {load_text()}")
    c0 = time.process_time()
    t1, r1 = best_of(lambda: replay(addr, args.hierarchy), args.repeat)
    c1 = time.process_time()
    tn, rn = best_of(lambda: replay_parallel(addr, args.hierarchy, workers=args.workers), args.repeat)
    cn = (time.process_time() - c1) / args.repeat
    c1 = (c1 - c0) / args.repeat
    same = r1.to_dict() == rn.to_dict()
    print(f"workers=1: {t1:.3f} s ({n / t1 / 1e6:.1f} M accesses/s); CPU time {c1:.3f} s per run (mean)")
    print(f"workers={args.workers}: {tn:.3f} s ({n / tn / 1e6:.1f} M accesses/s); "
          f"CPU time {cn:.3f} s per run (mean, all threads)")
    print(f"speed-up {t1 / tn:.2f}x; counters identical: {same}; after: {load_text()}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
