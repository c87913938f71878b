"""What both command lines share: ``--version``, error text, and Ctrl-C handling."""

from __future__ import annotations

import argparse
import contextlib
import sys


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
