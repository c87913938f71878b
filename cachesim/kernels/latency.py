"""Exposed memory latency of one k-loop iteration: the memory-warp-parallelism terms of the issue model.

The issue model (:mod:`cachesim.kernels.issue`) prices one iteration of a warp as the larger of the issue
of all resident warps and one warp's own dependency chain. This module supplies the memory part of that
chain, in SM cycles, from three deterministic rules (no constant fitted to a kernel timing):

* **synchronous load chain** (``sync_cycles``): ``LDG`` s whose result the same iteration consumes expose
  their latency; a chain of ``d`` dependent loads (:func:`cachesim.kernels.sass.load_profile`) exposes
  ``(d - 1)`` index loads, each served by L2 (a program reads its own table entries once; programs resident
  together rarely share them), plus the data load of the gathered/scalar operand (B), whose latency is
  that of the slowest of the ``n`` sectors one warp requests per iteration::

      lat_B = lat_L1 + (1 - h1**n) (lat_L2 - lat_L1) + (1 - (1 - md)**n) (lat_DRAM - lat_L2)

  with ``h1`` the operand's L1 hit fraction and ``md`` its fraction of sectors that miss L2 (from the
  traffic model). A warp issues all its loads of one iteration before the first use, so the chain costs
  one latency per level, not one per load (MWP-CWP: the requests of one warp overlap).
* **pipelined loads** (``async_cycles``): operands staged by ``cp.async`` ``num_stages - 1`` iterations
  ahead expose ``max(0, lat - (num_stages - 1) T)``; :func:`cachesim.kernels.issue.estimate_issue` solves
  for the iteration time ``T``. Their latency is L2's plus the DRAM share of the kernel's L2 sectors.
* **spill reloads** (``spill_cycles``): each wait of the loop on outstanding ``LDL`` s exposes one reload
  latency (the reloads issued before the wait are in flight together, as a warp's loads are above; the
  waits are counted from the listing's control codes, :func:`cachesim.kernels.sass.spill_waits`; every
  ``LDL`` where a listing has no count); the spill footprint (bytes per thread x threads per SM) competes
  for the L1 left after the shared-memory carve-out, and a reload hits L1 with probability ``h = min(1,
  L1_left / footprint)`` (random replacement of a footprint larger than the cache), L2 otherwise:
  ``waits x (h lat_L1 + (1 - h) lat_L2)``.

Latencies: the dependent-load (pointer-chase) microbenchmark of the target's calibration where there is
one (``chase_cycles``), else the target preset's L1/L2 latencies and DRAM latency.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LoadLatency", "level_latencies", "load_latency"]


@dataclass(frozen=True)
class LoadLatency:
    """Exposed memory latency per warp and k-iteration (cycles; module notes for the rules)."""

    sync_cycles: float
    async_cycles: float
    spill_cycles: float
    load_chain: int
    spill_l1_hit: float
    source: str = ""

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


NO_LATENCY = LoadLatency(0.0, 0.0, 0.0, 0, 1.0, "")


def level_latencies(t) -> tuple[dict, str]:
    """``({"L1", "L2", "DRAM": cycles}, source)`` at the SM clock the model runs at."""
    cal = t.calibration or {}
    if "chase_cycles" in cal:
        return dict(cal["chase_cycles"]), cal.get("micro2_source", "")
    f = cal.get("sm_clock_ghz", t.frequency_ghz)
    src = t.sources.get("l1_latency_ns", "") + "; " + t.sources.get("dram_latency_ns", "")
    return {"L1": t.l1_latency_ns * t.frequency_ghz, "L2": t.l2_latency_ns * t.frequency_ghz,
            "DRAM": t.dram_latency_ns * f}, src


def _operand_latency(op, lat: dict, warp_iterations: float) -> float:
    req = float(op.l1_sector_requests)
    if req <= 0 or warp_iterations <= 0:
        return lat["L2"]
    n = max(1.0, req / warp_iterations)
    h1 = 1.0 - min(1.0, float(op.l1_sector_misses) / req)
    md = min(1.0, float(op.l2_sector_misses) / req)
    return (lat["L1"] + (1.0 - h1 ** n) * (lat["L2"] - lat["L1"])
            + (1.0 - (1.0 - md) ** n) * (lat["DRAM"] - lat["L2"]))


def load_latency(traffic, t, *, load_chain: int, local_loads: float, spill_bytes: int, warp_iterations: float,
                 threads_per_sm: int, l1_bytes: int, spill_waits: float | None = None) -> LoadLatency:
    """Exposed latencies of one iteration of one warp (module notes).

    Parameters
    ----------
    traffic : GpuTraffic or AnalyticTraffic
        The kernel's traffic (operand ``B`` is the gathered or scalar-loaded one).
    t : GpuTarget
    load_chain : int
        Depth of the synchronous load chain of the loop (SASS).
    local_loads : float
        Spill reloads (``LDL``) per warp and iteration; ``spill_bytes`` per thread.
    spill_waits : float, optional
        Waits on outstanding reloads per iteration (each exposes one reload latency); ``local_loads``
        where not given.
    warp_iterations : float
        ``programs x warps x k-iterations`` of the launch (to turn operand sectors into sectors per warp and
        iteration).
    threads_per_sm : int
        Resident threads per SM (occupancy).
    l1_bytes : int
        L1 data capacity the resident programs' carve-out leaves (:meth:`GpuTarget.l1_bytes_for`).
    """
    lat, src = level_latencies(t)
    sync = 0.0
    if load_chain > 0:
        sync = (load_chain - 1) * lat["L2"] + _operand_latency(traffic.operand("B"), lat, warp_iterations)
    l2 = float(traffic.l2_sector_requests)
    dram_share = min(1.0, traffic.dram_bytes / (t.sector_bytes * l2)) if l2 > 0 else 0.0
    async_lat = lat["L2"] + dram_share * (lat["DRAM"] - lat["L2"])
    h = 1.0
    spill = 0.0
    if local_loads > 0:
        footprint = float(spill_bytes) * threads_per_sm
        left = float(l1_bytes)
        h = 1.0 if footprint <= left else max(0.0, left / footprint)
        exposed = local_loads if spill_waits is None else min(float(spill_waits), local_loads)
        spill = exposed * (h * lat["L1"] + (1.0 - h) * lat["L2"])
    return LoadLatency(sync, async_lat, spill, int(load_chain), h, src)
