"""Replay throughput of cachesim vs pycachesim 0.3.1 on the same traces, in the same run.

pycachesim runs in a subprocess (its import name clashes with ours) on its fastest path,
``CacheSimulator.load(python_list)``; only that call is timed. cachesim: ``replay(array, hierarchy)``
after a numba warm-up on a small trace (compile time excluded); best of ``--repeat`` runs.
Also times the one-pass all-associativity stack-distance histogram.

Usage: python benchmarks/bench_cachesim.py [--n 10000000] [--repeat 3] [--no-oracle]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from cachesim import HierarchyConfig, LevelConfig, replay
from cachesim._oracle import oracle_available, run_pycachesim
from cachesim.stackdist import miss_ratio_curve, stack_distance_histogram

TARGETS = {
    ("random", "L1"): 2.5,
    ("random", "3-level"): 4.0,
    ("sequential", "L1"): 2.0,
    ("sequential", "3-level"): 2.0,
}


def hierarchies():
    l1 = LevelConfig("L1", "32KiB", 64, 8)
    return {
        "L1": HierarchyConfig(levels=(l1,)),
        "3-level": HierarchyConfig(
            levels=(l1, LevelConfig("L2", "1MiB", 64, 16), LevelConfig("L3", "32MiB", 64, 16))
        ),
    }


def traces(n):
    return {
        "random": np.random.default_rng(12345).integers(0, (64 << 20) // 4, n, dtype=np.int64) * 4,
        "sequential": np.arange(n, dtype=np.int64) * 4,
    }


def best_of(fn, repeat):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-oracle", action="store_true")
    args = ap.parse_args()
    use_oracle = oracle_available() and not args.no_oracle
    hs = hierarchies()
    ts = traces(args.n)
    for h in hs.values():  # numba warm-up, outside the timing
        replay(ts["random"][:10_000], h)
        replay(ts["sequential"][:10_000], h)
    stack_distance_histogram(ts["random"][:10_000], n_sets=64, max_ways=8)
    miss_ratio_curve(ts["random"][:10_000])

    print(f"replay throughput, {args.n:,} loads, 64 B lines, LRU, non-inclusive (M accesses/s)")
    print(
        f"{'trace':<11} {'hierarchy':<8} {'cachesim':>9} {'pycachesim':>10} {'ratio':>6} {'target':>6}"
        "  misses agree"
    )
    for tname, addr in ts.items():
        for hname, h in hs.items():
            sec, res = best_of(lambda addr=addr, h=h: replay(addr, h), args.repeat)
            ours = args.n / sec / 1e6
            line = f"{tname:<11} {hname:<8} {ours:>9.1f}"
            if use_oracle:
                runs = [run_pycachesim(addr, h) for _ in range(max(1, args.repeat - 1))]
                o = min(runs, key=lambda r: r.seconds)
                theirs = args.n / o.seconds / 1e6
                agree = all(lv.misses == o.level(lv.name).misses for lv in res.levels)
                target = TARGETS[(tname, hname)]
                ratio = ours / theirs
                flag = "ok" if ratio >= target else "BELOW TARGET"
                line += f" {theirs:>10.1f} {ratio:>6.2f} {target:>6.1f}  {agree} {flag}"
            print(line, flush=True)

    print("\none-pass LRU stack-distance histograms (every associativity 1..max_ways), random trace")
    addr = ts["random"]
    for n_sets, max_ways in ((64, 8), (64, 16), (64, 32), (1024, 16), (32768, 16)):
        sec, h = best_of(
            lambda n_sets=n_sets, max_ways=max_ways: stack_distance_histogram(
                addr, n_sets=n_sets, max_ways=max_ways
            ),
            args.repeat,
        )
        print(
            f"  sets={n_sets:<6} max_ways={max_ways:<3} {args.n / sec / 1e6:7.1f} M accesses/s "
            f"(target >= 10)  misses(8 ways)={h.misses(min(8, max_ways)):,}"
        )
    sec, c = best_of(lambda: miss_ratio_curve(addr), 1)
    print(f"  fully associative, all sizes (Olken): {args.n / sec / 1e6:7.2f} M accesses/s")


if __name__ == "__main__":
    main()
