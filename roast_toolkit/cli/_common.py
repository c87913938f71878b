"""What both command lines share: ``--version``, error text, and Ctrl-C handling."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Subcommand:
    """One CLI subcommand: ``configure(parser)`` adds its options, ``run(args)`` returns ``Outcome``."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], Outcome]


@dataclass(frozen=True)
class Outcome:
    """What a subcommand produced: a JSON-ready dict, its human text, and the exit status."""

    payload: dict
    text: str
    status: int = 0


def add_version_argument(parser: argparse.ArgumentParser) -> None:
    """``--version``: the installed roast-toolkit version."""
    from roast_toolkit import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s (roast-toolkit) {__version__}")


def error_text(exc: BaseException) -> str:
    """One line for an error: the message of a package error, ``strerror: filename`` of an OSError."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename or ''}".rstrip(": ")
    return str(exc)


class _Interrupted:
    """Set when the block was left by Ctrl-C."""

    happened = False


@contextlib.contextmanager
def interrupt_exits(prefix: str):
    """Turn Ctrl-C inside the block into one ``<prefix>: interrupted`` line on stderr.

    The caller returns 130 (128 + SIGINT) after the block; outputs are written atomically, so nothing
    half-written is left behind.
    """
    flag = _Interrupted()
    try:
        yield flag
    except KeyboardInterrupt:
        flag.happened = True
        print(f"{prefix}: interrupted", file=sys.stderr)


# ------------------------------------------------------------------- options shared by cachesim commands
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


def strict_json(obj) -> str:
    """Standard JSON text of ``obj`` (no ``NaN``/``Infinity``); a non-finite number is a package error
    naming its key, raised before anything is printed."""
    try:
        return json.dumps(obj, indent=None, sort_keys=False, allow_nan=False)
    except ValueError:
        from cachesim.errors import CacheSimError

        raise CacheSimError(f"the result has a non-finite number at {first_non_finite(obj)}: "
                            "refusing to print it (check the inputs' ranges)") from None


def first_non_finite(obj, path: str = "") -> str:
    """The key path (``"allocation.slots.0"``) of the first NaN or infinity inside ``obj``; ``""`` if none."""
    import math

    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, list | tuple):
        items = enumerate(obj)
    else:
        bad = isinstance(obj, float) and not math.isfinite(obj)  # numpy floats are float subclasses
        return (path or "the top level") if bad else ""
    for k, v in items:
        found = first_non_finite(v, f"{path}.{k}" if path else str(k))
        if found:
            return found
    return ""


def emit_json(obj) -> None:
    """Print one standard JSON object on stdout (see :func:`strict_json`)."""
    sys.stdout.write(strict_json(obj) + "\n")
