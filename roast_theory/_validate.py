"""Input checks shared by the public API: each raises :class:`RoastTheoryError` naming the argument."""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np

from .errors import RoastTheoryError


def plain(value):
    """``value`` for an error message: numpy scalars (also inside tuples and lists) as Python values.

    numpy 2 writes ``repr(np.float64(1.5))`` as ``np.float64(1.5)``; messages show ``1.5``.
    """
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple | list):
        return type(value)(plain(v) for v in value)
    return value


def check_int(name: str, value, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as int; it must be an integer (not bool) in ``[low, high]``."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    rng = _range_text(low, high)
    if not ok:
        raise RoastTheoryError(f"{name}={plain(value)!r} must be an integer{rng}")
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        raise RoastTheoryError(f"{name}={v} must be an integer{rng}")
    return v


def check_real(name: str, value, *, low: float | None = None, high: float | None = None,
               low_open: bool = False) -> float:
    """Return ``value`` as a finite float in the given range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise RoastTheoryError(f"{name}={plain(value)!r} must be a real number")
    v = float(value)
    if not np.isfinite(v):
        raise RoastTheoryError(f"{name}={v!r} must be finite")
    if low is not None and (v < low or (low_open and v == low)):
        raise RoastTheoryError(f"{name}={v!r} must be {'>' if low_open else '>='} {low}")
    if high is not None and v > high:
        raise RoastTheoryError(f"{name}={v!r} must be <= {high}")
    return v


def check_vector(name: str, value, *, ndim: int = 1, min_size: int = 1) -> np.ndarray:
    """Return a float64 array with ``ndim`` dimensions, finite entries and at least ``min_size`` elements."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise RoastTheoryError(f"{name} must be an array of real numbers ({exc})") from None
    if arr.ndim != ndim:
        raise RoastTheoryError(f"{name} has shape {arr.shape}: must be {ndim}-dimensional")
    if arr.size < min_size:
        raise RoastTheoryError(f"{name} has {arr.size} elements: must have at least {min_size}")
    bad = np.flatnonzero(~np.isfinite(arr.ravel()))
    if bad.size:
        i = int(bad[0])
        raise RoastTheoryError(
            f"{name} has a non-finite value {arr.ravel()[i].item()!r} at flat index {i}: "
            "all values must be finite"
        )
    return arr


def check_same_shape(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray) -> None:
    """Raise unless ``a`` and ``b`` have equal shapes."""
    if a.shape != b.shape:
        raise RoastTheoryError(f"{name_a} has shape {a.shape} but {name_b} has shape {b.shape}: must match")


def check_choice(name: str, value, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``."""
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise RoastTheoryError(f"{name}={plain(value)!r} is not allowed: choose one of {', '.join(choices)}")
    return value


def check_seed(value) -> int | None:
    """A seed is ``None`` or a non-negative integer."""
    if value is None:
        return None
    return check_int("seed", value, low=0)


def _range_text(low, high) -> str:
    if low is not None and high is not None:
        return f" in [{low}, {high}]"
    if low is not None:
        return f" >= {low}"
    if high is not None:
        return f" <= {high}"
    return ""
