"""CPU gather sweep: time W = M[idx] for HashedNet and ROAST index patterns as M grows past L1/L2/L3.

Writes measurements/cpu/gather_sweep.json (a provenance-stamped record) and prints, for every H, the
median ns per element and the HashedNet/ROAST time ratio, torch (index_select) next to numpy (take).

    python benchmarks/cpu_gather.py [--quick] [--out measurements/cpu/gather_sweep.json]
"""

from __future__ import annotations

import argparse
import os
import sys

from cachesim.measure.cpu import gather_sweep
from cachesim.measure.records import write_record


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 KiB..8 MiB, 3 repeats, no record written")
    ap.add_argument("--out", default="measurements/cpu/gather_sweep.json")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)
    top = 8 << 20 if args.quick else 512 << 20
    sizes = [4 << 10 << k for k in range(64) if (4 << 10 << k) <= top]
    load_before = os.getloadavg()
    sweep = gather_sweep(sizes, repeats=3 if args.quick else args.repeats, warmup=2,
                         progress=lambda s: print(s, file=sys.stderr, flush=True))
    load_after = os.getloadavg()
    print(f"{'H bytes':>11s} {'HN torch':>9s} {'RO torch':>9s} {'ratio':>6s} {'HN numpy':>9s} "
          f"{'RO numpy':>9s} {'ratio':>6s}   (ns per element, median)")
    hn_t, ro_t = sweep.curve("hashednet", "torch"), sweep.curve("roast", "torch")
    hn_n, ro_n = sweep.curve("hashednet", "numpy"), sweep.curve("roast", "numpy")
    for i, h in enumerate(sweep.h_bytes()):
        print(f"{h:11d} {hn_t[i]:9.3f} {ro_t[i]:9.3f} {hn_t[i] / ro_t[i]:6.2f} {hn_n[i]:9.3f} "
              f"{ro_n[i]:9.3f} {hn_n[i] / ro_n[i]:6.2f}")
    if not args.quick:
        notes = (f"W = M[idx], W 2048x2048 float32, int64 idx, ROAST tile 32x64 circular, single thread; "
                 f"median of {args.repeats} after 2 warm-ups; loadavg(1,5,15) before {load_before}, "
                 f"after {load_after} (other jobs share this 2-core VM)")
        rec = write_record(args.out, "cpu_gather_sweep", sweep.to_cases(), notes=notes)
        print(f"wrote {rec.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
