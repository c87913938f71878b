"""CPU cost model of the gather ``W = M[idx]``: which level serves each access, priced with latency / MLP.

Per element of ``W`` the gather loads one int64 index, reads one float32 of the shared array ``M``
(``memory_bytes`` long) and writes one float32 of ``W``. The index and ``W`` are streamed; only the reads of
``M`` depend on the scheme and on ``memory_bytes``:

* ``hashednet``: every element reads an independent uniform slot: one line access of ``M`` per element;
* ``roast``: a ``BK x BN`` tile is a contiguous block of ``M``; a row of ``W`` reads ``BN`` contiguous slots
  per tile (``(BN e - e) / line + 1`` distinct lines on average for a uniform start), and the rows of one
  tile are contiguous too, so past L1 a tile costs ``(BK BN e - e) / line + 1`` lines.

Which level serves a line access comes from the analytic reuse of a uniform random access under LRU
(:func:`lru_hit_fraction`), with the index and ``W`` lines streaming through every level beside it; for
HashedNet it agrees with the exact simulator's recorded misses per level to 0.01 per element
(``tests/kernels/test_cpu_levels.py``). Reuse across repeated calls with the same index is taken to be
that of fresh uniform accesses: for ROAST at a 2048 x 2048 ``W`` the per-call footprint (2048 tiles of
8 KiB = 16 MiB) exceeds the effective L3 whenever ``M`` does, so this changes no DRAM-regime row. The
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

from dataclasses import asdict, dataclass

from .._validate import check_choice, check_int
from .cpu_calibration import BACKENDS, CpuCalibration
from .cpu_levels import (
    INDEX_BYTES,
    LEVELS,
    SCHEMES,
    VALUE_BYTES,
    effective_capacity,
    latency_terms_ns,
    line_accesses_per_element,
    lru_hit_fraction,
    served_per_element,
)

__all__ = ["INDEX_BYTES", "LEVELS", "SCHEMES", "VALUE_BYTES", "CpuGatherTime", "effective_capacity",
           "latency_terms_ns", "line_accesses_per_element", "lru_hit_fraction", "predict_cpu_gather",
           "predict_dense_copy", "served_per_element"]

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
