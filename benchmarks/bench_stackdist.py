"""One-pass miss curves vs one simulation per cache size, on the same trace in the same run.

1. Per-set histogram (every associativity 1..16 at 64 sets) vs 16 separate ``replay`` runs.
2. Fully associative curve (Olken) vs libcachesim LRU at a few sizes (Python request loop).
3. SHARDS sampling: speed and largest miss-ratio error against the exact curve.

Usage: python benchmarks/bench_stackdist.py [--n 10000000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from cachesim import LevelConfig, replay
from cachesim.stackdist import miss_ratio_curve, stack_distance_histogram


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--lcs-n", type=int, default=1_000_000, help="accesses fed to libcachesim")
    args = ap.parse_args()
    n = args.n
    addr = np.random.default_rng(12345).integers(0, (64 << 20) // 4, n, dtype=np.int64) * 4
    stack_distance_histogram(addr[:10_000], n_sets=64, max_ways=16)
    miss_ratio_curve(addr[:10_000])
    miss_ratio_curve(addr[:10_000], sampling_rate=0.1)
    replay(addr[:10_000], LevelConfig("L1", 64 * 64, 64, 1))

    print(f"golden random trace, {n:,} accesses, 64 B lines, LRU")
    t_hist, h = timed(lambda: stack_distance_histogram(addr, n_sets=64, max_ways=16))
    t_sims, sims = 0.0, []
    for w in range(1, 17):
        t, r = timed(lambda w=w: replay(addr, LevelConfig("L1", 64 * 64 * w, 64, w)))
        t_sims += t
        sims.append(r.levels[0].misses)
    agree = sims == [h.misses(w) for w in range(1, 17)]
    print(
        f"1. 64 sets, ways 1..16: one pass {t_hist:.2f} s ({n / t_hist / 1e6:.1f} M/s) vs 16 replays "
        f"{t_sims:.2f} s: {t_sims / t_hist:.1f}x; misses agree: {agree}"
    )

    t_fa, c = timed(lambda: miss_ratio_curve(addr))
    print(
        f"2. fully associative, every size: Olken {t_fa:.2f} s ({n / t_fa / 1e6:.2f} M/s); "
        f"distinct lines {c.distinct_lines:,}"
    )
    try:
        import libcachesim as lcs
    except ImportError:
        lcs = None
    if lcs is not None:
        m = args.lcs_n
        ids = (addr[:m] >> 6).tolist()
        sub = miss_ratio_curve(addr[:m])
        req = lcs.Request()
        req.obj_size = 1
        for k in (512, 16_384, 524_288):
            cache = lcs.LRU(cache_size=k)
            t0 = time.perf_counter()
            misses = 0
            for x in ids:
                req.obj_id = x
                misses += not cache.get(req)
            t = time.perf_counter() - t0
            print(
                f"   libcachesim LRU {k:>7} lines on first {m:,}: {m / t / 1e6:.2f} M/s per size, "
                f"misses {misses:,} (ours {sub.misses(k):,}, equal: {misses == sub.misses(k)})"
            )

    sizes = [2**k for k in range(6, 21)]
    exact = np.array([c.misses(k) for k in sizes]) / n
    for rate in (0.1, 0.01, 0.001):
        t, est = timed(lambda rate=rate: miss_ratio_curve(addr, sampling_rate=rate))
        approx = np.array([est.misses(k) for k in sizes]) / n
        err = np.abs(approx - exact)
        print(
            f"3. SHARDS R={rate:<6} {t:.2f} s ({n / t / 1e6:6.1f} M/s): max |miss ratio error| "
            f"{err.max():.4f}, mean {err.mean():.4f} over sizes 64..2^20 lines"
        )


if __name__ == "__main__":
    main()
