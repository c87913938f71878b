"""Global (ROAST) vs local (HashedNet) sharing: a compressed 64-hidden-10 MLP on scikit-learn's digits.

Trains every (indexing, sharing, compression, seed) configuration, prints test accuracy mean +- standard
error over seeds next to the dense baseline, and writes measurements/cpu/train_sharing.json.

    python drivers/train_sharing.py [--seeds 5] [--workers 2] [--out measurements/cpu/train_sharing.json]
"""

from __future__ import annotations

import argparse
import time

from cachesim.measure.records import write_record
from roast_theory.experiments import train_sharing_experiment


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--out", default="measurements/cpu/train_sharing.json")
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    res = train_sharing_experiment((10, 30, 100), args.seeds, hidden=args.hidden, epochs=args.epochs,
                                   workers=args.workers)
    wall = time.perf_counter() - t0
    print(res.format())
    print("global - local (test accuracy, difference of means, combined SE):")
    for indexing in ("element", "tile"):
        for c in (10.0, 30.0, 100.0):
            g, loc = res.summary(indexing, "global", c), res.summary(indexing, "local", c)
            se = (g.standard_error**2 + loc.standard_error**2) ** 0.5
            print(f"  {indexing:7s} {c:5.0f}x  {g.mean - loc.mean:+.4f} +- {se:.4f}")
    print(f"wall {wall:.1f} s with {args.workers} worker(s)")
    if not args.no_record:
        notes = (f"digits (sklearn bundled), 75/25 split, MLP 64-{args.hidden}-10, Adam, settings "
                 f"{res.settings}; wall {wall:.1f} s")
        rec = write_record(args.out, "train_sharing", res.to_cases(), notes=notes)
        print(f"wrote {rec.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
