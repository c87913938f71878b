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
