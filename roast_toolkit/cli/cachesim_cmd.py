"""``cachesim`` command line.

Subcommands are rows of :data:`SUBCOMMANDS`: ``(name, module)``, where the module exposes
``add_parser(subparsers) -> argparse.ArgumentParser`` and ``run(args) -> int``. Adding a command is
one more row (modules are imported only when the parser is built).

Errors: a :class:`~cachesim.errors.CacheSimError` (or ``RoastTheoryError``, ``OSError``) prints
``cachesim <command>: error: <message>`` on stderr and exits with status 2, without a traceback; Ctrl-C
prints ``cachesim <command>: interrupted`` and exits with status 130.
With ``--json`` a command prints exactly one JSON object on stdout (progress bars go to stderr).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from cachesim.errors import CacheSimError
from roast_theory.errors import RoastTheoryError

from ._common import add_version_argument, error_text, interrupt_exits

SUBCOMMANDS: list[tuple[str, str]] = [
    ("replay", "roast_toolkit.cli.replay"),
    ("misscurve", "roast_toolkit.cli.misscurve"),
    ("kernel", "roast_toolkit.cli.kernel"),
    ("explain", "roast_toolkit.cli.explain"),
    ("measure", "roast_toolkit.cli.measure"),
    ("sweep", "roast_toolkit.sweep._cli"),
]


def add_trace_arguments(p: argparse.ArgumentParser) -> None:
    """Options every trace-reading command shares: TRACE, --format, --chunk-size, --include-instructions."""
    from cachesim.traceio import FORMATS

    p.add_argument("trace", metavar="TRACE", help="trace file (.npy, .npz, .din, .lackey, .bin)")
    p.add_argument("--format", choices=FORMATS, default=None, help="trace format (default: detect)")
    p.add_argument("--chunk-size", type=int, default=1 << 20, metavar="N", help="accesses per chunk")
    p.add_argument(
        "--include-instructions",
        action="store_true",
        help="keep instruction fetches of din/lackey traces (default: data accesses only)",
    )


def open_trace_from_args(args):
    """A :class:`~cachesim.traceio.TraceFile` from the shared trace options."""
    from cachesim.traceio import open_trace

    return open_trace(
        args.trace, args.format, chunk_size=args.chunk_size, include_instructions=args.include_instructions
    )


def add_progress_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--progress", dest="progress", action="store_true", default=None, help="force a progress bar"
    )
    g.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")


def want_progress(args) -> bool:
    """Progress bar on stderr: as asked, else only when stderr is a terminal."""
    if args.progress is not None:
        return bool(args.progress)
    return sys.stderr.isatty()


def emit_json(obj) -> None:
    """Print one JSON object on stdout."""
    sys.stdout.write(json.dumps(obj, indent=None, sort_keys=False) + "\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cachesim", description="Exact trace-driven cache simulation and miss curves."
    )
    add_version_argument(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in SUBCOMMANDS:
        module = importlib.import_module(module_name)
        p = module.add_parser(sub)
        p.set_defaults(_run=module.run, _name=name)
    return parser


def main(argv=None) -> int:
    """Entry point of ``cachesim``; returns the exit status (2 on bad input, 130 when interrupted)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    with interrupt_exits(f"cachesim {args._name}"):
        try:
            status = args._run(args)
        except (CacheSimError, RoastTheoryError, OSError) as e:
            print(f"cachesim {args._name}: error: {error_text(e)}", file=sys.stderr)
            return 2
        return int(status or 0)
    return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
