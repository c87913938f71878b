"""Which cache level serves the CPU gather's reads of the shared array: analytic LRU reuse per level.

Used by :mod:`cachesim.kernels.cpu_cost` (pricing) and :mod:`cachesim.kernels.cpu_calibration` (the
effective last-level capacity); ``cal`` is any object with ``line_bytes``, ``capacity_bytes``,
``latency_ns``, ``mlp`` and ``dram_latency_ns(memory_bytes)`` (a :class:`CpuCalibration`).
"""

from __future__ import annotations

import math
from dataclasses import replace

from .._validate import check_choice, check_int

SCHEMES = ("hashednet", "roast")
LEVELS = ("L2", "L3", "DRAM")
INDEX_BYTES, VALUE_BYTES = 8, 4


def lru_hit_fraction(lines: float, capacity_lines: float, stream_per_access: float = 0.0) -> float:
    """Hit probability of a uniform random access to one of ``lines`` lines in an LRU cache.

    Parameters
    ----------
    lines : float
        Lines of the randomly accessed array (``n``).
    capacity_lines : float
        Lines the cache holds (``C``).
    stream_per_access : float
        Lines of other, never reused streams inserted per random access (``r``).

    Notes
    -----
    A line is hit when fewer than ``C`` distinct lines were touched since its last access. After a gap
    of ``g`` random accesses, ``n (1 - e^{-g/n})`` distinct random lines and ``r g`` stream lines were
    touched; the gap is geometric with mean ``n``, so with ``x = g*/n`` solving
    :math:`n(1 - e^{-x}) + r n x = C`, :math:`P(\\text{hit}) = 1 - e^{-x}`. Without streams this is
    :math:`\\min(1, C/n)`.
    """
    if lines <= 0 or capacity_lines <= 0:
        return 1.0 if lines <= 0 else 0.0
    if stream_per_access <= 0:
        return min(1.0, capacity_lines / lines)
    lo, hi = 0.0, capacity_lines / (stream_per_access * lines)
    for _ in range(80):
        x = 0.5 * (lo + hi)
        if lines * (1 - math.exp(-x)) + stream_per_access * lines * x < capacity_lines:
            lo = x
        else:
            hi = x
    return 1.0 - math.exp(-lo)


def line_accesses_per_element(scheme: str, tile=(32, 64), line_bytes: int = 64) -> tuple[float, float]:
    """``(u1, u2)``: line accesses of ``M`` per element at L1 and past L1 (see the module notes).

    Notes
    -----
    HashedNet ``u1 = u2 = 1``. ROAST with tile ``(BK, BN)`` and ``e``-byte values:
    :math:`u_1 = ((BN e - e)/\\text{line} + 1) / BN`, :math:`u_2 = ((BK BN e - e)/\\text{line} + 1)/(BK BN)`.
    """
    scheme = check_choice("scheme", scheme, SCHEMES)
    if scheme == "hashednet":
        return 1.0, 1.0
    bk, bn = (check_int("tile[0]", tile[0], low=1), check_int("tile[1]", tile[1], low=1))
    e = VALUE_BYTES
    return ((bn * e - e) / line_bytes + 1) / bn, ((bk * bn * e - e) / line_bytes + 1) / (bk * bn)


def served_per_element(cal, memory_bytes: float, u=(1.0, 1.0), stream_lines: float = 0.0):
    """Line accesses per element served by L2, L3 and DRAM (``u`` from :func:`line_accesses_per_element`)."""
    n = memory_bytes / cal.line_bytes
    misses = []
    for i, cap in enumerate(cal.capacity_bytes):
        ui = u[0] if i == 0 else u[1]
        misses.append(ui * (1.0 - lru_hit_fraction(n, cap / cal.line_bytes, stream_lines / ui)))
    m1, m2, m3 = misses
    return (max(0.0, m1 - m2), max(0.0, m2 - m3), m3)


def latency_terms_ns(cal, memory_bytes: float, served) -> tuple[float, float, float]:
    """Latency beyond L1 per element of each serving level, before dividing by MLP."""
    l1, l2, l3 = cal.latency_ns
    lat = (l2 - l1, l3 - l1, cal.dram_latency_ns(memory_bytes) - l1)
    return tuple(s * d for s, d in zip(served, lat))


def effective_capacity(cal, memory_bytes: float, target_ns: float, *, low: float,
                       high: float) -> float:
    """Last-level capacity for which one random load per element (beside an 8-byte index stream) at
    ``memory_bytes`` costs ``target_ns`` beyond an L1 hit (latency / MLP per level); bisection."""
    lo, hi = float(low), float(high)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        c = replace(cal, capacity_bytes=cal.capacity_bytes[:2] + (mid,))
        served = served_per_element(c, memory_bytes, (1.0, 1.0), INDEX_BYTES / cal.line_bytes)
        got = sum(x / m for x, m in zip(latency_terms_ns(c, memory_bytes, served), c.mlp))
        lo, hi = (mid, hi) if got > target_ns else (lo, mid)
    return 0.5 * (lo + hi)
