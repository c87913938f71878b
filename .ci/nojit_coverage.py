"""Fail unless every numba module was exercised in pure Python (``NUMBA_DISABLE_JIT=1``).

Reads the ``coverage.json`` that ``pytest -m nojit --cov ... --cov-report=json`` wrote and prints the line
coverage of every module that defines a numba kernel; exits 1 if one is below ``--min`` percent.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

NUMBA = re.compile(r"^\s*@(numba\.)?(njit|jit)\b", re.M)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report", nargs="?", default="coverage.json")
    ap.add_argument("--min", type=float, default=70.0, help="least line coverage per numba module (percent)")
    args = ap.parse_args()
    files = json.loads(Path(args.report).read_text())["files"]
    root = Path.cwd()
    numba_modules = sorted(p for pkg in ("roast_theory", "cachesim") for p in (root / pkg).rglob("*.py")
                           if NUMBA.search(p.read_text()))
    low = []
    for path in numba_modules:
        rel = str(path.relative_to(root))
        pct = files.get(rel, {}).get("summary", {}).get("percent_covered", 0.0)
        print(f"{rel:45s} {pct:6.1f} % of lines run without JIT")
        if pct < args.min:
            low.append(rel)
    if low:
        print(f"below {args.min:.0f} %: {', '.join(low)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
