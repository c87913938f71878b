"""The ``sweep`` subcommand of ``cachesim`` and ``roast-theory``: parse, call :func:`run_sweep`, print.

Contract for the host command lines:

* ``configure(parser, command=None)`` adds the options (``SPEC``, ``--scheduler``, ``--out``, progress,
  ``--checkpoint``, ``--connect-timeout``); ``command`` is used when the spec names none
  (``cachesim``: ``"kernel"``). It does not add ``--json``: the host adds it (``roast-theory`` does for
  every subcommand); ``run`` reads ``args.json`` when it exists.
* ``run(args) -> int`` runs the sweep and prints a summary (or one JSON object with ``--json``); exit
  status 0, or 1 when a point failed. ``execute(args) -> (payload, text, status)`` is the same without
  printing: ``roast-theory``'s table wants ``Outcome(*execute(args))``. Bad input raises
  :class:`SweepError`, which is both a ``CacheSimError`` and a ``RoastTheoryError``, so either host prints
  ``error: ...`` and exits with 2.
* ``add_parser(subparsers)`` is the ``cachesim`` table form (``configure`` + ``--json``).
* ``main(argv, prog=...)`` runs it standalone (``python -m roast_toolkit.sweep``), exit 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys

from .errors import SweepError


def configure(p: argparse.ArgumentParser, command: str | None = None) -> None:
    """Add the sweep options to ``p``."""
    p.add_argument("spec", metavar="SPEC", help="TOML sweep spec: a [grid] table of parameter lists")
    p.add_argument("--scheduler", default="local",
                   help="synchronous | local | local:N (LocalCluster of N workers; local: N = cores) | "
                        "tcp://host:port of a running Dask scheduler (default local)")
    p.add_argument("--out", required=True, metavar="FILE",
                   help=".csv or .parquet results table; points already in it are skipped")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="force a progress bar")
    g.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    p.add_argument("--checkpoint", type=float, default=60.0, metavar="SECONDS",
                   help="rewrite FILE at most this often while running (default 60; 0: after every point)")
    p.add_argument("--connect-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="seconds to reach a scheduler address (default 10)")
    p.set_defaults(_sweep_command=command)


def add_parser(sub):
    """``cachesim``'s subcommand table form: the ``sweep`` subparser with ``--json``."""
    p = sub.add_parser("sweep", help="run a TOML grid of kernel predictions, serially or on Dask",
                       description="Run every point of a sweep spec (serially or on Dask) into one table.")
    configure(p, command="kernel")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def execute(args: argparse.Namespace) -> tuple[dict, str, int]:
    """Run the sweep of ``args``: ``(summary payload, summary text, exit status)``; prints nothing on stdout.

    The status is 0 when every point of the table succeeded, 1 otherwise (the first failures go to
    stderr). ``roast-theory`` wraps this as ``Outcome(*execute(args))``.
    """
    from ._run import run_sweep

    progress = args.progress if args.progress is not None else sys.stderr.isatty()
    res = run_sweep(args.spec, scheduler=args.scheduler, out=args.out, progress=progress,
                    command=getattr(args, "_sweep_command", None), checkpoint_s=args.checkpoint,
                    connect_timeout=args.connect_timeout)
    failed = [r for r in res.rows if r["status"] != "ok"]
    for r in failed[:5]:
        print(f"sweep: point failed: {r['error']}", file=sys.stderr)
    payload = {k: v for k, v in res.to_dict().items() if k not in ("rows", "columns")}
    payload |= {"points": len(res.rows), "failed_in_table": len(failed)}
    text = (f"sweep {res.command} on {res.scheduler}: {res.ran} run, {res.skipped} skipped, "
            f"{res.failed} failed in {res.seconds:.1f} s; {len(res.rows)} rows in {res.out}")
    return payload, text, 1 if failed else 0


def run(args: argparse.Namespace) -> int:
    """Run the sweep of ``args`` and print its summary (one JSON object with ``--json``); the status."""
    payload, text, status = execute(args)
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(payload, allow_nan=False) + "\n")
    else:
        print(text)
    return status


def main(argv=None, prog: str = "cachesim sweep", command: str | None = "kernel") -> int:
    """Standalone entry point: bad input prints ``<prog>: error: <message>`` and returns 2."""
    p = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    configure(p, command=command)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    try:
        return run(args)
    except (SweepError, OSError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2


__all__ = ["add_parser", "configure", "execute", "main", "run"]
