"""Rates of the load-path microbenchmarks, looked up at a kernel's occupancy and shared-array size.

The second microbenchmark record (``drivers/gpu_micro2.py``) times, at 1, 2 and 4 programs of four warps
per SM and several array sizes, the two B-operand paths of the fused kernels in isolation:

* ``tile-load``: a ROAST B tile (32 x 64 bf16) loaded from a runtime start that is a multiple of
  ``align`` elements and fed to ``tl.dot`` (align 1: 2-byte scalar loads stored to shared memory one element
  per instruction; align 8: 16-byte ``cp.async`` copies);
* ``tile-gather``: a HashedNet B tile (64 x 128) gathered element by element and fed to ``tl.dot``.

A kernel's B elements divided by the rate measured at the same number of resident warps per SM and the
same array size is the time its B path needs (:func:`tile_rate`).

The scattered gather is priced level by level (:func:`gather_seconds_per_element`): the ``gather`` group
times 2-byte loads from arrays that live in L1, in L2 and in DRAM at 1 ... 32 resident warps per SM (eight
independent loads per thread in flight); a kernel whose gathered elements come from L1 for a fraction
``h1``, from L2 for ``h2`` and from DRAM for ``hd`` spends::

    h1 / r_L1(w) + h2 / r_L2(w) + hd / r_DRAM(w)

per element, ``w`` its resident warps per SM (the levels serve one element after another; a harmonic mix
of rates, not an interpolation in the array size). The fractions are the traffic model's for the gathered
operand (:func:`operand_levels`). Between measured points the rate is
interpolated log-log, first in the array size and then in warps per SM, and clamped at the ends (no
extrapolation). These are rates of microbenchmarks, never of the kernels the model is judged on.
"""

from __future__ import annotations

import math

__all__ = ["gather_seconds_per_element", "interp_loglog", "operand_levels", "tile_rate"]


def interp_loglog(points, x: float) -> float:
    """Log-log interpolation of ``[(x, y), ...]`` (sorted by ``x``) at ``x``, clamped at both ends."""
    pts = sorted(points)
    if x <= pts[0][0]:
        return pts[0][1]
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if x <= x1:
            w = math.log(x / x0) / math.log(x1 / x0)
            return math.exp(math.log(y0) + w * math.log(y1 / y0))
    return pts[-1][1]


def tile_rate(table: dict, warps_per_sm: float, memory_bytes: float) -> float:
    """Elements per second from ``{(warps_per_sm, memory_bytes): rate}`` at a kernel's point.

    Examples
    --------
    >>> t = {(4, 1000): 1.0, (4, 4000): 4.0, (8, 1000): 2.0, (8, 4000): 8.0}
    >>> round(tile_rate(t, 4, 2000), 6), round(tile_rate(t, 16, 4000), 6)
    (2.0, 8.0)
    """
    by_w: dict = {}
    for (w, mem), rate in table.items():
        by_w.setdefault(w, []).append((mem, rate))
    per_w = [(w, interp_loglog(pts, max(memory_bytes, 1.0))) for w, pts in sorted(by_w.items())]
    return interp_loglog(per_w, max(warps_per_sm, 1e-9))


def operand_levels(op) -> tuple[float, float, float]:
    """``(h1, h2, hd)``: fractions of an operand's sectors served by L1, L2 and DRAM, from the traffic
    model's ``l1_sector_requests``, ``l1_sector_misses`` and ``l2_sector_misses``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> operand_levels(SimpleNamespace(l1_sector_requests=4, l1_sector_misses=3, l2_sector_misses=2))
    (0.25, 0.25, 0.5)
    """
    req = float(op.l1_sector_requests)
    if req <= 0:
        return 1.0, 0.0, 0.0
    h1 = max(0.0, 1.0 - float(op.l1_sector_misses) / req)
    hd = min(1.0, float(op.l2_sector_misses) / req)
    return h1, max(0.0, 1.0 - h1 - hd), hd


def gather_seconds_per_element(rates: dict, levels, warps_per_sm: float) -> float:
    """Seconds per gathered element (module notes) from ``{"L1"|"L2"|"DRAM": [(warps, rate), ...]}`` and
    the ``(h1, h2, hd)`` of :func:`operand_levels`.

    Examples
    --------
    >>> r = {"L1": [(1, 4.0)], "L2": [(1, 2.0)], "DRAM": [(1, 1.0)]}
    >>> gather_seconds_per_element(r, (0.5, 0.25, 0.25), 8)   # 0.5 / 4 + 0.25 / 2 + 0.25 / 1
    0.5
    """
    h1, h2, hd = levels
    w = max(warps_per_sm, 1e-9)
    return sum(h / interp_loglog(rates[lv], w) for lv, h in (("L1", h1), ("L2", h2), ("DRAM", hd)) if h > 0)
