"""The one exception type of :mod:`roast_toolkit.sweep`."""

from __future__ import annotations

from cachesim.errors import CacheSimError
from roast_theory.errors import RoastTheoryError


class SweepError(CacheSimError, RoastTheoryError):
    """A bad sweep spec, an unreachable scheduler or an unusable output file.

    It is both a :class:`~cachesim.errors.CacheSimError` and a
    :class:`~roast_theory.errors.RoastTheoryError`, so ``cachesim sweep`` and ``roast-theory sweep``
    report it like their own errors (``error: <message>``, exit status 2). Messages name the key and the
    value, e.g. ``grid.target='h300' is not allowed: choose one of h200, h100, zen4, host, intel-server``.
    """


__all__ = ["SweepError"]
