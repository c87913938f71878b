"""Atomic file output: write a temporary file in the target's folder, then ``os.replace`` it.

An error or Ctrl-C while writing leaves the previous file (if any) untouched and no temporary behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from .errors import CacheSimError

__all__ = ["atomic_output", "check_output_folder"]


def check_output_folder(path, what: str = "output") -> Path:
    """``path`` as a Path whose folder exists; else ``CacheSimError`` naming the folder."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise CacheSimError(f"cannot write {what} {str(p)!r}: folder {str(parent)!r} does not exist")
    if p.is_dir():
        raise CacheSimError(f"cannot write {what} {str(p)!r}: it is a folder")
    return p


def _umask() -> int:
    old = os.umask(0o022)
    os.umask(old)
    return old


@contextlib.contextmanager
def atomic_output(path, mode: str = "wb", what: str = "output"):
    """Open a temporary file next to ``path`` for writing; on success it replaces ``path``.

    Yields the open file object. On any exception (also ``KeyboardInterrupt``) the temporary file is
    removed and ``path`` keeps its previous content.
    """
    p = check_output_folder(path, what)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent if str(p.parent) else ".")
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
