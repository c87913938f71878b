"""Constants of the CPU gather cost model, derived from a ``cpu_micro`` record (never from a gather timing).

The record (``drivers/cpu_micro.py``) holds single-thread microbenchmarks of one machine and that machine's
cache geometry. :func:`cpu_calibration` turns them into the few numbers :mod:`cachesim.kernels.cpu_cost`
prices with; each is read at a stated array size of the microbenchmark (the *anchors*), so the other sizes
of a gather sweep are held out of every constant:

============================ ========================================================================
constant                     how it is read from the record
============================ ========================================================================
``latency_ns[L1]``           pointer chase at the smallest size (``anchor_l1``)
``latency_ns[L2]``           chase at the first size >= 2 x L1 capacity (a cyclic chase over more
                             lines than a level holds misses that level on every step under LRU)
``latency_ns[L3]``           chase at the first size >= 2 x L2 capacity
``dram_latency_ns(B)``       chase at the *knee* (first size past L2 whose latency is above the midpoint
                             of the L3 and largest-size latencies) and at the largest size, log-linear in
                             ``B`` between them (page walks make DRAM accesses slower as ``B`` grows)
``mlp[DRAM]``                (chase - L1 latency) / (independent - in-L1 independent time) at the largest
                             size, capped by the documented miss buffers of the core (:data:`MISS_BUFFERS`)
``mlp[L2]``, ``mlp[L3]``     the same overlap for hits of L2 (at the L2 latency anchor) and of L3 (at the L3
                             anchor, after removing its L2 part): predicted latency of the served lines
                             divided by the measured extra time of the independent loads
``backend_mlp[backend]``     the same three overlaps of the backend's own gather loop (``backend-gather``:
                             ``torch.index_select`` / ``numpy.take`` on a uniform random index) at the same
                             anchors, its extra time taken over ``base_ns[backend]``; reported, not priced
                             with (cpu_micro_5: it makes the L2-range torch ratios 1.4-1.6x too high, the
                             2 x L1 anchor being where the LRU hit estimate is weakest); empty for records
                             without those cases
``capacity_bytes[L3]``       effective last-level capacity: the one for which the analytic hit fractions of
                             :func:`cachesim.kernels.cpu_levels.lru_hit_fraction` reproduce the independent-
                             load time at the knee (another VM's share of a shared L3 makes it smaller than
                             the geometry's), bounded by [L2 capacity, geometry's L3]
``base_ns[backend]``         the backend's gather over a 4 KiB array with a sequential index
``copy_ns[backend]``         the backend's dense copy (the measured dense reference)
``stream_ns_per_byte``       a compiled copy loop, time per byte moved (read + write)
``matmul_gflops[batch]``     single-thread ``torch.matmul`` float32 ``X @ W`` (``X`` batch x 2048, ``W``
                             2048 x 2048) at each recorded batch (only in records with ``matmul`` cases)
============================ ========================================================================

Which statistic of the repeats (``stat``): records written since the microbenchmarks store, per case, the
median of the repeats, their minimum (key suffix ``_min``) and the median process CPU time. The calibration
reads the **minimum** by default. On a machine shared with other tenants, a repeat can only be slowed down
by them (descheduling, another process's lines evicting ours, a busy memory controller), never sped up, so
the fastest repeat is the one least disturbed and the closest to the machine's own latency; the median
moves with the load (the 2-core development VM ran at load averages of 0.5 - 5). ``stat="cpu"`` reads the
median process CPU time instead (``cpu_`` prefix): it leaves out the time the process was descheduled, but
not the caches and memory bandwidth other tenants take. Older records hold only the median; they are read
as medians whatever ``stat`` asks (:attr:`CpuCalibration.stat` says which was used).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from .._validate import check_choice
from ..errors import CacheSimError
from ..levels import HierarchyConfig
from .cpu_levels import INDEX_BYTES, effective_capacity, latency_terms_ns, served_per_element

#: Outstanding L1-data misses one core can track, per target, with the source of the value. Only a cap on
#: the measured memory-level parallelism: the model prices with the measured one.
MISS_BUFFERS = {
    "zen4": (22, "AMD Software Optimization Guides for Family 17h/19h (Zen 2 - Zen 4): the L1 data cache "
                 "tracks up to 22 outstanding misses (the miss address buffers)"),
    "intel-server": (16, "Intel 64 and IA-32 Optimization Reference Manual, Golden Cove: 16 L1D fill "
                         "buffers"),
}
#: The record's machine is a Zen 4 EPYC (cpu_micro.json provenance: "AMD EPYC", family 25 model 17).
HOST_CORE = "zen4"
BACKENDS = ("torch", "numpy")
STATS = ("min", "median", "cpu")


@dataclass(frozen=True)
class CpuCalibration:
    """The CPU gather model's constants (see the module table); times in ns, sizes in bytes."""

    line_bytes: int
    capacity_bytes: tuple          # L1, L2, effective L3
    latency_ns: tuple              # L1, L2, L3 (load-to-use of a line served by that level)
    dram_anchor_bytes: tuple       # (knee, largest)
    dram_anchor_ns: tuple
    mlp: tuple                     # L2, L3, DRAM hits: misses the core overlaps
    mlp_cap: int
    base_ns: dict
    copy_ns: dict
    stream_ns_per_byte: float
    anchors_bytes: tuple           # every microbenchmark size a constant was read at
    source: str = ""
    stat: str = "median"           # statistic of the repeats the constants were read from
    matmul_gflops: dict = field(default_factory=dict)   # batch -> GFLOP/s of the dense matmul
    #: backend -> (L2, L3, DRAM) overlap of its own gather loop (``backend-gather``); a diagnostic the
    #: comparison reports beside ``mlp``, not a price (see the module table)
    backend_mlp: dict = field(default_factory=dict)

    def dram_latency_ns(self, memory_bytes: float) -> float:
        """DRAM load-to-use latency of a random line of an array of ``memory_bytes`` (page walks included).

        Notes
        -----
        :math:`L_D(B) = L_k + (L_{max} - L_k)\\,\\mathrm{clip}(\\log(B/B_k) / \\log(B_{max}/B_k), 0, 1)`.
        """
        (bk, bmax), (lk, lmax) = self.dram_anchor_bytes, self.dram_anchor_ns
        f = min(1.0, max(0.0, math.log(memory_bytes / bk) / math.log(bmax / bk)))
        return lk + f * (lmax - lk)

    def matmul_ns(self, batch: int) -> float:
        """Dense ``X @ W`` (``X`` of ``batch`` rows, ``W`` 2048 x 2048) in ns per element of ``W``.

        Notes
        -----
        :math:`t = 2\\,\\text{batch} / G` with :math:`G` the measured GFLOP/s at that batch (a flop per ns
        is a GFLOP/s): each element of ``W`` takes part in ``batch`` multiply-adds.
        """
        if not self.matmul_gflops:
            raise CacheSimError("the cpu_micro record has no 'matmul' cases: rerun drivers/cpu_micro.py "
                                "--matmul")
        if batch not in self.matmul_gflops:
            raise CacheSimError(f"batch={batch} has no matmul measurement: choose one of "
                                f"{sorted(self.matmul_gflops)}")
        return 2.0 * batch / self.matmul_gflops[batch]

    def to_dict(self) -> dict:
        return asdict(self)


def _value(case: dict, key: str, stat: str) -> float:
    """``case[key]`` (a median), or its ``_min`` / ``cpu_`` companion for ``stat`` "min" / "cpu"."""
    other = {"min": f"{key}_min", "cpu": f"cpu_{key}"}.get(stat, key)
    return float(case.get(other, case[key]))


def _effective_stat(cases, stat: str) -> str:
    probe = {"min": "ns_per_load_min", "cpu": "cpu_ns_per_load"}.get(stat)
    return stat if probe and any(probe in c for c in cases) else "median"


def _matmul(cases, stat: str) -> dict:
    """GFLOP/s by batch: ``2 batch`` flops per element of ``W`` over the statistic's ns per element."""
    return {int(c["batch"]): 2.0 * int(c["batch"]) / _value(c, "ns_per_element", stat)
            for c in cases if c.get("type") == "matmul"}


def _curve(cases, typ: str, stat: str = "median") -> tuple[np.ndarray, np.ndarray]:
    rows = sorted((c["memory_bytes"], _value(c, "ns_per_load", stat)) for c in cases if c.get("type") == typ)
    if len(rows) < 4:
        raise CacheSimError(f"the cpu_micro record has {len(rows)} {typ!r} cases; need at least 4 sizes")
    a = np.array(rows, dtype=float)
    return a[:, 0], a[:, 1]


def _first_at_least(sizes, values, low: float) -> tuple[float, float]:
    i = int(np.searchsorted(sizes, low))
    if i >= sizes.size:
        raise CacheSimError(f"the cpu_micro record has no chase size >= {int(low)} bytes")
    return float(sizes[i]), float(values[i])


def _clip_mlp(x: float, cap: int) -> float:
    return float(min(cap, max(1.0, x)))


def _parts(cal: CpuCalibration, memory_bytes: float) -> tuple:
    """Latency beyond L1 per random load (with an 8-byte index stream) of each serving level, before MLP."""
    served = served_per_element(cal, memory_bytes, (1.0, 1.0), INDEX_BYTES / cal.line_bytes)
    return latency_terms_ns(cal, memory_bytes, served)


def _per_backend(cases, typ: str, stat: str = "median") -> dict:
    out = {c["backend"]: _value(c, "ns_per_element", stat) for c in cases if c.get("type") == typ}
    missing = [b for b in BACKENDS if b not in out]
    if missing:
        raise CacheSimError(f"the cpu_micro record has no {typ!r} case for backend(s) {missing}")
    return out


def cpu_calibration(cases, hierarchy, *, core: str = HOST_CORE, source: str = "",
                    stat: str = "min") -> CpuCalibration:
    """Derive the constants from a ``cpu_micro`` record's ``cases`` and ``hierarchy`` (see the module table).

    Parameters
    ----------
    cases : list of dict
        The record's cases (types ``chase``, ``independent``, ``stream``, ``backend-base``, ``dense-copy``).
    hierarchy : dict or HierarchyConfig
        The machine's cache geometry stored in the record (three levels: L1, L2, L3).
    core : str
        Which :data:`MISS_BUFFERS` entry caps the measured memory-level parallelism.
    source : str
        Where the record came from (kept in :attr:`CpuCalibration.source`).
    stat : {"min", "median", "cpu"}
        Statistic of the repeats to read (see the module notes); records without minima give medians.
    """
    core = check_choice("core", core, tuple(MISS_BUFFERS))
    stat = _effective_stat(cases, check_choice("stat", stat, STATS))
    h = hierarchy if isinstance(hierarchy, HierarchyConfig) else HierarchyConfig.from_dict(hierarchy)
    if len(h.levels) != 3:
        raise CacheSimError(f"hierarchy has {len(h.levels)} levels; the CPU gather model needs 3 "
                            "(L1, L2, L3)")
    c1, c2, c3 = (lv.size for lv in h.levels)
    line = h.levels[0].line
    cs, cl = _curve(cases, "chase", stat)
    is_, il = _curve(cases, "independent", stat)
    l1 = float(cl[0])
    a2, l2 = _first_at_least(cs, cl, 2 * c1)
    a3, l3 = _first_at_least(cs, cl, 2 * c2)
    past = (cs >= 2 * c2) & (cl > (l3 + cl[-1]) / 2)
    if not past.any():
        raise CacheSimError("the cpu_micro chase never leaves the last level: cannot place the DRAM latency")
    knee = float(cs[past][0])
    cap = MISS_BUFFERS[core][0]
    mlp_d = _clip_mlp((cl[-1] - l1) / max(il[-1] - il[0], 1e-9), cap)
    partial = CpuCalibration(
        line_bytes=line, capacity_bytes=(c1, c2, c3), latency_ns=(l1, l2, l3),
        dram_anchor_bytes=(knee, float(cs[-1])), dram_anchor_ns=(float(cl[past][0]), float(cl[-1])),
        mlp=(mlp_d, mlp_d, mlp_d), mlp_cap=cap, base_ns=_per_backend(cases, "backend-base", stat),
        copy_ns=_per_backend(cases, "dense-copy", stat),
        stream_ns_per_byte=_value(next(c for c in cases if c.get("type") == "stream"), "ns_per_byte", stat),
        anchors_bytes=tuple(sorted({float(cs[0]), a2, a3, knee, float(cs[-1]), float(is_[0])})),
        source=source, stat=stat, matmul_gflops=_matmul(cases, stat),
    )
    extra = {float(b): float(t - il[0]) for b, t in zip(is_, il)}
    for b in (a2, a3, knee):
        if b not in extra:
            raise CacheSimError(f"the cpu_micro record has no 'independent' case at {int(b)} bytes")
    partial = replace(partial, mlp=(*_l2_l3_overlaps(partial, extra, a2, a3), mlp_d))
    l3_eff = effective_capacity(partial, knee, extra[knee], low=c2, high=c3)
    partial = replace(partial, capacity_bytes=(c1, c2, l3_eff))
    backend_mlp = {b: _backend_mlp(partial, cases, b, stat, (a2, a3, float(cs[-1])), cl[-1] - l1)
                   for b in BACKENDS if any(c.get("type") == "backend-gather" and c.get("backend") == b
                                            for c in cases)}
    return replace(partial, backend_mlp=backend_mlp)


def _backend_mlp(cal: CpuCalibration, cases, backend: str, stat: str, anchors, dram_ns: float) -> tuple:
    """``(L2, L3, DRAM)`` overlap of ``backend``'s gather loop: as for the compiled independent loads, with
    its extra time over the backend's sequential-index base at the L2, L3 and largest anchors."""
    got = {float(c["memory_bytes"]): _value(c, "ns_per_element", stat) - cal.base_ns[backend]
           for c in cases if c.get("type") == "backend-gather" and c.get("backend") == backend}
    missing = [int(b) for b in anchors if b not in got]
    if missing:
        raise CacheSimError(f"the cpu_micro record's backend-gather cases for {backend!r} lack the anchor "
                            f"size(s) {missing} bytes")
    a2, a3, top = anchors
    return (*_l2_l3_overlaps(cal, got, a2, a3), _clip_mlp(dram_ns / max(got[top], 1e-9), cal.mlp_cap))


def _l2_l3_overlaps(cal: CpuCalibration, extra: dict, a2: float, a3: float) -> tuple:
    """``(MLP_L2, MLP_L3)`` from a loop's extra time per load over its in-L1 time (``extra``, by array
    bytes): at the L2 anchor ``a2`` the predicted L2-hit latency over the extra time; at the L3 anchor
    ``a3`` the L3-hit latency over the extra time left after its L2 part; both clipped to [1, cap]."""
    parts = _parts(cal, a2)
    m2 = _clip_mlp(parts[0] / max(extra[a2], 1e-9), cal.mlp_cap)
    parts = _parts(cal, a3)
    return m2, _clip_mlp(parts[1] / max(extra[a3] - parts[0] / m2, 1e-9), cal.mlp_cap)
