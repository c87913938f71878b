"""Input checks of :mod:`cachesim` (core and kernels): one place for every integer, choice and shape check.

Every check raises :class:`cachesim.CacheSimError` whose message names the argument, shows its value and
says what is allowed (``line=48 must be a power of two``). Integers may be Python ints or numpy
integers (``np.int64(64)``); ``bool`` is never an integer here.
"""

from __future__ import annotations

import numbers
import re

import numpy as np

from .errors import CacheSimError

__all__ = ["check_allocation", "check_choice", "check_int", "check_nonnegative_int", "check_positive_int",
           "check_positive_number", "check_pow2", "is_int", "is_pow2", "memory_limit_bytes", "parse_int",
           "parse_triple", "pick_named", "plain"]


def plain(value):
    """``value`` for an error message: numpy scalars (also inside tuples and lists) as Python values.

    numpy 2 writes ``repr(np.float64(1.5))`` as ``np.float64(1.5)``; messages show ``1.5``.
    """
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple | list):
        return type(value)(plain(v) for v in value)
    return value


def is_int(value) -> bool:
    """True for Python and numpy integers, False for ``bool`` and everything else."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def is_pow2(value: int) -> bool:
    """True when the integer ``value`` is a positive power of two."""
    return value > 0 and value & (value - 1) == 0


def _range_text(low, high) -> str:
    if low is not None and high is not None:
        return f" in [{low}, {high}]"
    if low is not None:
        return f" >= {low}"
    if high is not None:
        return f" <= {high}"
    return ""


def check_int(name: str, value, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as a Python int in ``[low, high]`` (bools are rejected)."""
    rng = _range_text(low, high)
    if not is_int(value):
        raise CacheSimError(f"{name}={plain(value)!r} must be an integer{rng}")
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        raise CacheSimError(f"{name}={v} must be an integer{rng}")
    return v


def check_positive_int(name: str, value, *, high: int | None = None) -> int:
    """Return ``value`` as an int in ``[1, high]`` (``"chunk_size=0 must be a positive integer"``)."""
    if not is_int(value) or value < 1:
        raise CacheSimError(f"{name}={plain(value)!r} must be a positive integer")
    if high is not None and value > high:
        raise CacheSimError(f"{name}={plain(value)!r} must be in [1, {high}]")
    return int(value)


def check_nonnegative_int(name: str, value) -> int:
    """Return ``value`` as an int >= 0."""
    if not is_int(value) or value < 0:
        raise CacheSimError(f"{name}={plain(value)!r} must be a non-negative integer")
    return int(value)


def check_pow2(name: str, value, *, low: int | None = None, unit: str = "") -> int:
    """Return ``value`` as an int if it is a power of two (>= ``low`` when given).

    ``unit`` is appended to the message, e.g. ``" (bytes)"``: ``line=48 must be a power of two (bytes)``.
    """
    if not is_int(value) or not is_pow2(int(value)) or (low is not None and value < low):
        rng = "" if low is None else f" >= {low}"
        raise CacheSimError(f"{name}={plain(value)!r} must be a power of two{rng}{unit}")
    return int(value)


def check_positive_number(name: str, value) -> float:
    """Return ``value`` as a finite float > 0 (ints, floats and numpy scalars; not bool, NaN or infinity)."""
    ok = (isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_) and value > 0
          and np.isfinite(float(value)))
    if not ok:
        raise CacheSimError(f"{name}={plain(value)!r} must be a positive finite number")
    return float(value)


def check_choice(name: str, value, choices) -> str:
    """Return ``value`` if it is one of ``choices``."""
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise CacheSimError(f"{name}={plain(value)!r} is not allowed: choose one of {', '.join(choices)}")
    return value


def pick_named(items, name: str, arg: str, *, prefix: bool = False):
    """The first of ``items`` whose ``.name`` equals ``name`` (starts with it when ``prefix``).

    Raises ``CacheSimError`` ``"{arg}={name!r} is not one of [...]"`` listing the names.
    """
    for it in items:
        if it.name == name or (prefix and it.name.startswith(name)):
            return it
    raise CacheSimError(f"{arg}={plain(name)!r} is not one of {[it.name for it in items]}")


def parse_int(name: str, text) -> int | None:
    """An integer from command-line text (``"4096"``, ``"1_000"``, ``"0x1000"``); ``None`` stays ``None``."""
    if text is None:
        return None
    if is_int(text):
        return int(text)
    try:
        return int(str(text).replace("_", ""), 0)
    except ValueError:
        raise CacheSimError(f"{name}={text!r} must be an integer") from None


_TRIPLE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*[xX]\s*(\d+)\s*$")


def parse_triple(name: str, text) -> tuple[int, int, int]:
    """Parse ``"AxBxC"`` (or a 3-tuple / list of integers) into three positive ints."""
    if isinstance(text, tuple | list):
        if len(text) != 3:
            raise CacheSimError(f"{name}={plain(text)!r} must have three entries AxBxC")
        return tuple(check_int(f"{name}[{i}]", v, low=1) for i, v in enumerate(text))  # type: ignore[return-value]
    if not isinstance(text, str):
        raise CacheSimError(f"{name}={plain(text)!r} must be a string like 64x64x64")
    m = _TRIPLE.match(text)
    if m is None:
        raise CacheSimError(
            f"{name}={text!r} must look like AxBxC with positive integers, e.g. 4096x768x3072"
        )
    vals = tuple(int(g) for g in m.groups())
    if min(vals) < 1:
        raise CacheSimError(f"{name}={text!r}: every entry must be >= 1")
    return vals  # type: ignore[return-value]


def memory_limit_bytes() -> int:
    """Bytes one allocation may take: half the machine's physical memory, or of the address-space limit
    (``RLIMIT_AS``) when one is set and smaller."""
    import os
    import resource

    try:
        phys = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        phys = 16 << 30
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY and soft > 0:
        phys = min(phys, soft)
    return phys // 2


def _human(nbytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if nbytes < 1024 or unit == "PiB":
            return f"{nbytes:.3g} {unit}"
        nbytes /= 1024
    return f"{nbytes:.3g} EiB"  # pragma: no cover


def check_allocation(what: str, count: int, bytes_each: int, *, hard_count: int | None = None,
                     unit: str = "entries") -> int:
    """Raise before allocating ``count`` items of ``bytes_each`` bytes when that cannot fit.

    The limit is :func:`memory_limit_bytes` (and ``hard_count`` items when given); the message names
    ``what``, the count, the bytes it needs and the limit. Returns ``count``.
    """
    count = int(count)
    need = count * int(bytes_each)
    limit = memory_limit_bytes()
    if hard_count is not None and count > hard_count:
        raise CacheSimError(
            f"{what} needs {count} {unit} ({_human(need)}): the limit is {hard_count} {unit}"
        )
    if need > limit:
        raise CacheSimError(
            f"{what} needs {count} {unit} ({_human(need)}): more than the memory limit of {_human(limit)} "
            "(half the machine's memory or address-space limit)"
        )
    return count
