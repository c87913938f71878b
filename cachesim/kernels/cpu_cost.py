"""CPU cost model of the gather ``W = M[idx]``: which level serves each access, priced with latency / MLP.

Per element of ``W`` the gather loads one int64 index, reads one float32 of the shared array ``M``
(``memory_bytes`` long) and writes one float32 of ``W``. The index and ``W`` are streamed; only the reads of
``M`` depend on the scheme and on ``memory_bytes``:

* ``hashednet``: every element reads an independent uniform slot: one line access of ``M`` per element;
* ``roast``: a ``BK x BN`` tile is a contiguous block of ``M``; a row of ``W`` reads ``BN`` contiguous slots
  per tile (``(BN e - e) / line + 1`` distinct lines on average for a uniform start), and the rows of one
  tile are contiguous too, so past L1 a tile costs ``(BK BN e - e) / line + 1`` lines.

Which level serves a line access comes from the analytic reuse of a uniform random access under LRU
(:func:`lru_hit_fraction`), with the index and ``W`` lines streaming through every level beside it. The
time per element is

.. math:: t = t_\\text{base} + \\max(t_\\text{lat}, t_\\text{bw}),\\quad
          t_\\text{lat} = \\sum_{l \\geq 2} n_l\\,(L_l - L_1) / \\text{MLP}_l,\\quad
          t_\\text{bw} = n_D\\,\\text{line}\\; c_\\text{stream}

with ``n_l`` the line accesses per element served by level ``l`` (L2, L3, DRAM), ``L_l`` its load-to-use
latency (pointer chase), MLP_l the misses a core overlaps when level ``l`` serves them (independent
random loads), ``t_base`` the
backend's per-element loop cost when ``M`` hits L1 (index load, bounds check, address arithmetic, the idx
and W streams) and ``c_stream`` the streaming cost per byte: every constant from a ``cpu_micro`` record
(:mod:`cachesim.kernels.cpu_calibration`). The overlap rule is the one of an out-of-order core whose loop
issue is serial with its misses but whose misses overlap each other up to MLP; the bandwidth term only
wins when DRAM lines arrive faster than their latency allows, i.e. never for one line per element.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .._validate import check_choice, check_int
from .cpu_calibration import BACKENDS, CpuCalibration

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


def served_per_element(cal: CpuCalibration, memory_bytes: float, u=(1.0, 1.0), stream_lines: float = 0.0):
    """Line accesses per element served by L2, L3 and DRAM (``u`` from :func:`line_accesses_per_element`)."""
    n = memory_bytes / cal.line_bytes
    misses = []
    for i, cap in enumerate(cal.capacity_bytes):
        ui = u[0] if i == 0 else u[1]
        misses.append(ui * (1.0 - lru_hit_fraction(n, cap / cal.line_bytes, stream_lines / ui)))
    m1, m2, m3 = misses
    return (max(0.0, m1 - m2), max(0.0, m2 - m3), m3)


def latency_terms_ns(cal: CpuCalibration, memory_bytes: float, served) -> tuple[float, float, float]:
    """Latency beyond L1 per element of each serving level, before dividing by MLP."""
    l1, l2, l3 = cal.latency_ns
    lat = (l2 - l1, l3 - l1, cal.dram_latency_ns(memory_bytes) - l1)
    return tuple(s * d for s, d in zip(served, lat))


def effective_capacity(cal: CpuCalibration, memory_bytes: float, target_ns: float, *, low: float,
                       high: float) -> float:
    """Last-level capacity for which one random load per element (beside an 8-byte index stream) at
    ``memory_bytes`` costs ``target_ns`` beyond an L1 hit (latency / MLP per level); bisection."""
    from dataclasses import replace

    lo, hi = float(low), float(high)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        c = replace(cal, capacity_bytes=cal.capacity_bytes[:2] + (mid,))
        served = served_per_element(c, memory_bytes, (1.0, 1.0), INDEX_BYTES / cal.line_bytes)
        got = sum(x / m for x, m in zip(latency_terms_ns(c, memory_bytes, served), c.mlp))
        lo, hi = (mid, hi) if got > target_ns else (lo, mid)
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class CpuGatherTime:
    """Predicted time per element of one CPU gather (ns), with its terms.

    ``served`` are line accesses per element served by L2, L3, DRAM; ``latency_ns`` their latency terms
    after dividing by MLP; ``memory_ns = max(sum(latency_ns), bandwidth_ns)``.
    """

    scheme: str
    backend: str
    memory_bytes: int
    base_ns: float
    served: tuple
    latency_ns: tuple
    bandwidth_ns: float
    memory_ns: float
    total_ns: float
    dominant: str

    def to_dict(self) -> dict:
        return asdict(self)


def predict_cpu_gather(scheme: str, memory_bytes: int, backend: str, cal: CpuCalibration,
                       tile=(32, 64)) -> CpuGatherTime:
    """Time per element of ``W = M[idx]`` (see the module notes) for ``M`` of ``memory_bytes`` bytes."""
    backend = check_choice("backend", backend, BACKENDS)
    memory_bytes = check_int("memory_bytes", memory_bytes, low=VALUE_BYTES)
    u = line_accesses_per_element(scheme, tile, cal.line_bytes)
    served = served_per_element(cal, memory_bytes, u, (INDEX_BYTES + VALUE_BYTES) / cal.line_bytes)
    lat = tuple(x / m for x, m in zip(latency_terms_ns(cal, memory_bytes, served), cal.mlp))
    bw = served[2] * cal.line_bytes * cal.stream_ns_per_byte
    mem = max(sum(lat), bw)
    base = cal.base_ns[backend]
    terms = {"base (index load, arithmetic, streams)": base, **{f"{n} latency / MLP": v for n, v in
                                                                 zip(LEVELS, lat)}}
    if bw > sum(lat):
        terms = {"base (index load, arithmetic, streams)": base, "DRAM bandwidth": bw}
    return CpuGatherTime(scheme=scheme, backend=backend, memory_bytes=memory_bytes, base_ns=base,
                         served=served, latency_ns=lat, bandwidth_ns=bw, memory_ns=mem, total_ns=base + mem,
                         dominant=max(terms, key=terms.get))


def predict_dense_copy(cal: CpuCalibration) -> float:
    """Predicted ns per element of a dense float32 copy: 8 bytes moved at the streaming cost per byte."""
    return 2 * VALUE_BYTES * cal.stream_ns_per_byte
