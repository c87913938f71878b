"""Simulated per-level misses of the gather ``W = M[idx]``: its memory trace replayed through a hierarchy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..._deprecate import renamed_kwargs
from ..._validate import check_int
from ...errors import CacheSimError
from .patterns import SCHEMES, VALUE_BYTES, gather_indices

__all__ = ["IDX_BASE", "M_BASE", "PASS_STRIDE", "W_BASE", "SimulatedGather", "SimulatedGatherSweep",
           "gather_trace", "simulate_gather_sweep"]

#: Base addresses of the gather's three streams in the simulated trace (far apart, line aligned).
M_BASE = 1 << 36
IDX_BASE = 2 << 36
W_BASE = 3 << 36
PASS_STRIDE = 1 << 33  # each pass reads a fresh idx and writes a fresh W (a cold stream, as in a 48 MiB run)


def gather_trace(index: np.ndarray, *, pass_number: int = 0, index_bytes: int = 8):
    """Memory trace of ``W = M[idx]``: per element an index read, a value read, a W write.

    Parameters
    ----------
    index : numpy.ndarray of int
        Slots read, in W's order (from :func:`gather_indices`).
    pass_number : int
        The index and W arrays of pass ``p`` live at ``IDX_BASE + p * PASS_STRIDE`` and
        ``W_BASE + p * PASS_STRIDE`` (fresh lines every pass); ``M`` is always at ``M_BASE``.
    index_bytes : int
        Bytes per index (8: int64 as in torch).

    Returns
    -------
    cachesim.trace.TraceChunk
        ``3 n`` accesses: ``IDX + 8 i`` (read, 8 B), ``M + 4 idx_i`` (read, 4 B), ``W + 4 i`` (write, 4 B).

    Notes
    -----
    This is the access stream of a scalar gather loop; the vectorised torch/numpy loops issue the same
    addresses in the same order per element block.
    """
    from ...trace import make_chunk

    idx = np.asarray(index, dtype=np.int64)
    n = idx.size
    p = check_int("pass_number", pass_number, low=0)
    i = np.arange(n, dtype=np.int64)
    addr = np.empty(3 * n, dtype=np.int64)
    size = np.empty(3 * n, dtype=np.int64)
    write = np.zeros(3 * n, dtype=bool)
    addr[0::3] = IDX_BASE + p * PASS_STRIDE + index_bytes * i
    size[0::3] = index_bytes
    addr[1::3] = M_BASE + VALUE_BYTES * idx
    size[1::3] = VALUE_BYTES
    addr[2::3] = W_BASE + p * PASS_STRIDE + VALUE_BYTES * i
    size[2::3] = VALUE_BYTES
    write[2::3] = True
    return make_chunk(addr, size, write)


@dataclass(frozen=True)
class SimulatedGather:
    """Per-level misses of one simulated gather (the measured pass, after warm-up passes)."""

    pattern: str
    h_bytes: int
    n_elements: int
    hierarchy: str
    level_names: tuple
    accesses: tuple  # per level, in the measured pass
    misses: tuple  # per level (misses + sector misses), in the measured pass

    def misses_per_element(self) -> np.ndarray:
        return np.asarray(self.misses, dtype=float) / self.n_elements

    def to_case(self) -> dict:
        return {"pattern": self.pattern, "h_bytes": self.h_bytes, "n_elements": self.n_elements,
                "hierarchy": self.hierarchy, "level_names": list(self.level_names),
                "accesses": list(self.accesses), "misses": list(self.misses)}

    @classmethod
    def from_case(cls, case: dict) -> SimulatedGather:
        try:
            return cls(case["pattern"], int(case["h_bytes"]), int(case["n_elements"]), case["hierarchy"],
                       tuple(case["level_names"]), tuple(case["accesses"]), tuple(case["misses"]))
        except (KeyError, TypeError) as exc:
            raise CacheSimError(f"simulated gather case {case!r} lacks a field: {exc}") from None


@dataclass(frozen=True)
class SimulatedGatherSweep:
    """Simulated per-level misses of ``W = M[idx]`` over shared-array sizes.

    Build with :func:`simulate_gather_sweep`.
    """

    results: tuple

    def h_bytes(self) -> np.ndarray:
        return np.array(sorted({r.h_bytes for r in self.results}), dtype=np.int64)

    @property
    def level_names(self) -> tuple:
        return self.results[0].level_names

    @renamed_kwargs(pattern="scheme")
    def curve(self, scheme: str, level: str) -> np.ndarray:
        """Misses per gathered element at ``level`` at each of :meth:`h_bytes`."""
        if level not in self.level_names:
            raise CacheSimError(f"level={level!r} is not simulated: levels are {', '.join(self.level_names)}")
        k = self.level_names.index(level)
        by_h = {r.h_bytes: r.misses_per_element()[k] for r in self.results if r.pattern == scheme}
        if not by_h:
            raise CacheSimError(f"no simulated gathers for scheme={scheme!r}")
        return np.array([by_h.get(int(h), np.nan) for h in self.h_bytes()])

    @renamed_kwargs(pattern="scheme")
    def predicted_ns(self, scheme: str, latencies_ns) -> np.ndarray:
        """Serial-latency time per element: each miss at level k pays the latency of level k+1.

        Notes
        -----
        :math:`t = \\sum_k \\text{misses}_k \\cdot \\ell_{k+1} / n` with :math:`\\ell_{K+1}` the DRAM
        latency. Out-of-order cores overlap misses, so this is an upper bound; measured / predicted is
        the effective memory-level parallelism.
        """
        lat = [float(x) for x in latencies_ns]
        if len(lat) != len(self.level_names) + 1:
            raise CacheSimError(f"latencies_ns has {len(lat)} entries: need one per level plus DRAM "
                                f"({len(self.level_names) + 1})")
        total = np.zeros(self.h_bytes().size)
        for k, name in enumerate(self.level_names):
            total += self.curve(scheme, name) * lat[k + 1]
        return total

    def to_cases(self) -> list:
        return [r.to_case() for r in self.results]

    @classmethod
    def from_cases(cls, cases) -> SimulatedGatherSweep:
        return cls(tuple(SimulatedGather.from_case(c) for c in cases))


@renamed_kwargs(h_bytes="memory_bytes", patterns="schemes")
def simulate_gather_sweep(memory_bytes, *, shape: tuple[int, int] = (1024, 1024),
                          tile: tuple[int, int] = (32, 64), hierarchy="host", schemes=SCHEMES,
                          warmup_passes: int = 1, seed: int = 0,
                          progress=None) -> SimulatedGatherSweep:
    """Replay the gather trace of each scheme and size through a cache hierarchy.

    Parameters
    ----------
    memory_bytes : sequence of int
        Shared-array sizes in bytes.
    shape, tile : (int, int)
        ``W``'s shape and the ROAST tile (as in :func:`gather_sweep`).
    hierarchy : str or HierarchyConfig
        Anything :func:`cachesim.replay` accepts (default the ``host`` preset read from ``/sys``).
    warmup_passes : int
        Passes replayed before the counted pass (same ``idx``, fresh index/W lines each pass).
    seed : int
        Seed of the index draw.

    Returns
    -------
    SimulatedGatherSweep

    Notes
    -----
    Misses of the counted pass are the counter differences of one stateful :class:`cachesim.Simulator`.
    """
    from ...engine import Simulator

    sizes = [check_int("memory_bytes", h, low=VALUE_BYTES) for h in memory_bytes]
    warmup_passes = check_int("warmup_passes", warmup_passes, low=0)
    n_rows, n_cols = (check_int("shape[0]", shape[0], low=1), check_int("shape[1]", shape[1], low=1))
    out = []
    for h in sizes:
        for scheme in schemes:
            index = gather_indices(scheme, h // VALUE_BYTES, n_rows, n_cols, tile=tile, seed=seed)
            sim = Simulator(hierarchy)
            for p in range(warmup_passes):
                sim.feed(gather_trace(index, pass_number=p), want_outcome=False)
            before = sim.result()
            sim.feed(gather_trace(index, pass_number=warmup_passes), want_outcome=False)
            after = sim.result()
            acc = tuple(b.accesses - a.accesses for a, b in zip(before.levels, after.levels))
            miss = tuple((b.misses + b.sector_misses) - (a.misses + a.sector_misses)
                         for a, b in zip(before.levels, after.levels))
            name = getattr(sim.config, "name", str(hierarchy))
            names = tuple(s.name for s in after.levels)
            res = SimulatedGather(scheme, h, index.size, name, names, acc, miss)
            out.append(res)
            if progress is not None:
                per = " ".join(f"{n}={v:.3f}" for n, v in zip(names, res.misses_per_element()))
                progress(f"sim H={h:>11d} B {scheme:9s} misses/elem {per}")
    return SimulatedGatherSweep(tuple(out))
