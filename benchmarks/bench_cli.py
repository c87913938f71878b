"""Wall time of one ``cachesim kernel --analytic`` call and of ``cachesim explain --waterfall``, start-up
included (each a fresh process, as a user runs them), what the call imported, and the ratio to a peer
checkout timed in the same run.

Issue 11's target: ``cachesim kernel --analytic`` under 1 s per case. Each case runs ``--repeat`` times
after one untimed warm-up (the first call of a fresh checkout also writes ``__pycache__``); with ``--peer
DIR`` (another checkout of this repository, e.g. ``git worktree add DIR <commit>``) every repeat times the
peer and then this checkout, one after the other, so both see the same machine state. The load average is
printed before and after, since a loaded machine slows start-up.

    python benchmarks/bench_cli.py [--repeat 5] [--peer DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = {
    "kernel --analytic (HashedNet hash, BERT FFN)": [
        "kernel", "--kernel", "hashednet", "--index", "hash", "--analytic", "--json", "--shape",
        "4096x768x3072", "--memory", "1048576", "--dtype", "bf16"],
    "kernel --analytic (ROAST table a64, BERT FFN)": [
        "kernel", "--kernel", "roast", "--index", "table", "--align", "64", "--analytic", "--json",
        "--shape", "4096x768x3072", "--memory", "1048576", "--dtype", "bf16"],
    "explain --waterfall (BERT FFN)": [
        "explain", "--waterfall", "--shape", "4096x768x3072", "--memory", "1048576", "--dtype", "bf16"],
}
_HEAVY = ("numba", "scipy", "sympy", "torch")
#: The ``cachesim`` command as its entry point runs it, imported from the working directory's checkout.
_CODE = ("import sys; from roast_toolkit.cli import cachesim_main; sys.argv = ['cachesim'] + sys.argv[1:]; "
         "raise SystemExit(cachesim_main())")


def _run(args, cwd: Path, importtime: bool = False) -> subprocess.CompletedProcess:
    flags = ["-X", "importtime"] if importtime else []
    return subprocess.run([sys.executable, *flags, "-c", _CODE, *args], cwd=cwd, capture_output=True,
                          text=True, check=not importtime)


def _seconds(args, cwd: Path) -> float:
    t0 = time.perf_counter()
    _run(args, cwd)
    return time.perf_counter() - t0


def _imported(args, cwd: Path) -> list:
    """Which heavy libraries the call imports (``python -X importtime`` of the same call)."""
    err = _run(args, cwd, importtime=True).stderr
    names = {line.rsplit("|", 1)[-1].strip() for line in err.splitlines() if "|" in line}
    return [m for m in _HEAVY if m in names]


def _line(label: str, times: list) -> str:
    return (f"  {label:6s} median {statistics.median(times):.3f} s  min {min(times):.3f}  "
            f"max {max(times):.3f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--peer", type=Path, default=None, help="another checkout, timed in the same run")
    args = ap.parse_args(argv)
    sides = [("peer", args.peer)] if args.peer else []
    sides.append(("this", ROOT))
    print(f"load average before: {os.getloadavg()}")
    for name, cli in CASES.items():
        for _, cwd in sides:
            _run(cli, cwd)                                   # warm-up (bytecode caches)
        times: dict = {label: [] for label, _ in sides}
        for _ in range(args.repeat):
            for label, cwd in sides:
                times[label].append(_seconds(cli, cwd))
        print(f"{name} (n={args.repeat})")
        for label, cwd in sides:
            heavy = ", ".join(_imported(cli, cwd)) or "none"
            print(_line(label, times[label]) + f"  heavy imports: {heavy}")
        if args.peer:
            ratio = statistics.median(times["peer"]) / statistics.median(times["this"])
            print(f"  peer / this (medians): {ratio:.2f}x")
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
