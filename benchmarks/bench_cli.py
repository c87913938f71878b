"""Wall time of one ``cachesim kernel --analytic`` call and of ``cachesim explain --waterfall``, start-up
included (each a fresh process, as a user runs them), and what the call imported.

Issue 11's target: ``cachesim kernel --analytic`` under 1 s per case. Each case runs ``--repeat`` times
after one untimed warm-up (the first call of a fresh checkout also writes ``__pycache__``); the load average
is printed before and after, since a loaded machine slows start-up.

    python benchmarks/bench_cli.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

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


def _command(args) -> list:
    exe = shutil.which("cachesim")
    return [exe, *args] if exe else [sys.executable, "-c", "from roast_toolkit.cli import cachesim_main; "
                                                           "raise SystemExit(cachesim_main())", *args]


def _imported(args) -> list:
    """Which heavy libraries the call imports (``python -X importtime`` of the same call)."""
    code = ("import sys; from roast_toolkit.cli import cachesim_main; "
            "sys.argv = ['cachesim'] + sys.argv[1:]; cachesim_main()")
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code, *args], capture_output=True,
                         text=True, check=False)
    names = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if "|" in line}
    return [m for m in _HEAVY if m in names]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    print(f"load average before: {os.getloadavg()}")
    for name, cli in CASES.items():
        cmd = _command(cli)
        subprocess.run(cmd, capture_output=True, check=True)          # warm-up (bytecode caches)
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True)
            times.append(time.perf_counter() - t0)
        heavy = ", ".join(_imported(cli)) or "none"
        print(f"{name:48s} median {statistics.median(times):.3f} s  min {min(times):.3f}  "
              f"max {max(times):.3f}  (n={args.repeat}; heavy imports: {heavy})")
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
