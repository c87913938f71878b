"""Input checks of :mod:`cachesim.measure`, with the signatures and messages of ``cachesim._validate``.

Kept minimal (integers and choices) until the package-wide validator module lands; then this module
re-exports it.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..errors import CacheSimError
from ..trace import plain

__all__ = ["check_choice", "check_int"]


def check_int(name: str, value, *, low: int | None = None) -> int:
    """Return ``value`` (a Python or numpy integer, never a bool) as an int ``>= low``."""
    rng = "" if low is None else f" >= {low}"
    if not isinstance(value, numbers.Integral) or isinstance(value, bool | np.bool_):
        raise CacheSimError(f"{name}={plain(value)!r} must be an integer{rng}")
    if low is not None and int(value) < low:
        raise CacheSimError(f"{name}={int(value)} must be an integer{rng}")
    return int(value)


def check_choice(name: str, value, choices) -> str:
    """Return ``value`` if it is one of ``choices``."""
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise CacheSimError(f"{name}={plain(value)!r} is not allowed: choose one of {', '.join(choices)}")
    return value
