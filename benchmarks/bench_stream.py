"""Streamed replay of a huge trace through the CLI: time and peak memory; trace-file parse rates.

file mode (default): writes an N-access compact binary trace to /tmp chunk by chunk (8 bytes per
access), then runs ``cachesim replay FILE --hierarchy zen4 --json --no-progress`` in a child
process and reports its wall time and peak RSS (``getrusage(RUSAGE_CHILDREN).ru_maxrss``).
synthetic mode: generates the same chunks on the fly and replays them in-process (no disk).
``--parse`` times the readers (lines/s for din and lackey text, accesses/s for bin/npy/npz).

Usage: python benchmarks/bench_stream.py [--n 1000000000] [--mode file|synthetic] [--keep] [--parse]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

STEP = 1 << 24


def synthetic_chunks(n, seed=0, random_fraction=0.02):
    """Chunks mixing a 16-byte-stride sweep over 64 MiB (each new line misses at every level)
    with a fraction of random loads over 256 MiB."""
    from cachesim.trace import TraceChunk

    rng = np.random.default_rng(seed)
    for lo in range(0, n, STEP):
        m = min(STEP, n - lo)
        i = np.arange(lo, lo + m, dtype=np.int64)
        addr = (i * 16) % (64 << 20)
        rnd = rng.random(m) < random_fraction
        addr[rnd] = rng.integers(0, 256 << 20, int(rnd.sum()))
        yield TraceChunk(addr, None, None, lo)


def parse_rates(tmp: Path, n=2_000_000):
    from cachesim.trace import make_chunk
    from cachesim.traceio import open_trace, write_trace

    rng = np.random.default_rng(1)
    ch = make_chunk(rng.integers(0, 1 << 40, n), rng.integers(1, 64, n), rng.random(n) < 0.3)
    print(f"trace readers, {n:,} accesses (best of 3, after one warm-up read)")
    for fmt in ("bin", "npy", "npz", "din", "lackey"):
        p = write_trace(tmp / f"parse.{fmt}", ch)
        for _ in open_trace(p):
            pass
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            total = sum(len(c) for c in open_trace(p))
            best = min(best, time.perf_counter() - t0)
        unit = "lines/s" if fmt in ("din", "lackey") else "accesses/s"
        print(f"  {fmt:<7} {total / best / 1e6:8.1f} M {unit}  ({p.stat().st_size / 1e6:.0f} MB)")
        p.unlink()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=float, default=1e9)
    ap.add_argument("--mode", choices=("file", "synthetic"), default="file")
    ap.add_argument("--dir", default=tempfile.gettempdir())
    ap.add_argument("--keep", action="store_true", help="keep the trace file")
    ap.add_argument("--parse", action="store_true", help="only time the trace readers")
    ap.add_argument("--random-fraction", type=float, default=0.02, help="share of random loads")
    args = ap.parse_args()
    n = int(args.n)
    tmp = Path(args.dir)
    if args.parse:
        parse_rates(tmp)
        return
    if args.mode == "synthetic":
        from cachesim import replay

        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        res = replay(synthetic_chunks(n, random_fraction=args.random_fraction), "zen4", chunk_size=STEP)
        sec = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"synthetic stream: {n:,} accesses in {sec:.1f} s ({n / sec / 1e6:.1f} M/s)")
        print(f"peak RSS {rss / 1024:.0f} MiB (after imports: {rss0 / 1024:.0f} MiB)")
        print(res)
        return
    from cachesim.traceio import TraceWriter

    path = tmp / f"cachesim_stream_{n}.bin"
    t0 = time.perf_counter()
    with TraceWriter(path) as w:
        for ch in synthetic_chunks(n, random_fraction=args.random_fraction):
            w.write(ch, chunk_size=STEP)
    t_write = time.perf_counter() - t0
    print(f"wrote {path} ({path.stat().st_size / 2**30:.2f} GiB) in {t_write:.1f} s")
    cmd = [
        sys.executable,
        "-m",
        "roast_toolkit.cli.cachesim_cmd",
        "replay",
        str(path),
        "--hierarchy",
        "zen4",
        "--json",
        "--no-progress",
        "--chunk-size",
        str(STEP),
    ]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    sec = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if not args.keep:
        os.unlink(path)
    if r.returncode:
        sys.exit(r.stderr)
    data = json.loads(r.stdout)
    print(
        f"cachesim replay (child process): {data['accesses']:,} accesses in {sec:.1f} s wall "
        f"({data['accesses'] / sec / 1e6:.1f} M/s incl. start-up; replay {data['seconds']:.1f} s)"
    )
    print(f"child peak RSS: {rss / 1024:.0f} MiB  (limit asked: < 2048 MiB)")
    for lv in data["levels"]:
        print(f"  {lv['name']}: accesses {lv['accesses']:,} hits {lv['hits']:,} misses {lv['misses']:,}")


if __name__ == "__main__":
    main()
