"""The ``report`` row of :data:`roast_toolkit.cli.theory_cmd.SUBCOMMANDS`: options and the run function."""

from __future__ import annotations

import argparse
import sys


def configure(p: argparse.ArgumentParser) -> None:
    """Add the ``report`` options to ``p``."""
    p.add_argument("--out", default="report", help="report folder (default ./report)")
    p.add_argument("--quick", action="store_true", help="small simulated cases: a fast smoke run")
    p.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    p.add_argument("--measurements", default=None, metavar="DIR",
                   help="recorded measurements folder (default: the checkout's measurements/)")
    p.add_argument("--seed", type=int, default=0, help="base seed of the Monte Carlo checks")


def run(args: argparse.Namespace):
    """Write the report; status 0 when every section passed, 1 otherwise (the problems go to stderr)."""
    from roast_toolkit.report import build_report

    from ._common import Outcome

    rep = build_report(args.out, quick=args.quick, progress=not args.no_progress,
                       measurements=args.measurements, seed=args.seed)
    for line in rep.problems():
        print(f"roast-theory report: {line}", file=sys.stderr)
    payload = {"status": rep.status, "out": str(rep.out), "index": str(rep.out / "index.md"),
               "seconds": rep.seconds, "quick": rep.quick, "problems": rep.problems(),
               "sections": {s.key: {"status": s.status, "summary": s.summary, "message": s.message,
                                    "seconds": s.seconds} for s in rep.sections}}
    lines = [f"{s.key:>13s}: {s.status:6s} {s.seconds:6.1f} s  {s.summary or s.message}"
             for s in rep.sections]
    lines.append(f"report {rep.status}: wrote {rep.out / 'index.md'}, {rep.out / 'index.html'} and "
                 f"{len(rep.files()) - 2} more files in {rep.seconds:.1f} s")
    return Outcome(payload, "\n".join(lines), 0 if rep.status == "passed" else 1)


__all__ = ["configure", "run"]
