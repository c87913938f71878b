"""Wall-clock and CPU-time sweep of the gather ``W = M[idx]`` over shared-array sizes (single thread)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from ..._deprecate import renamed_kwargs
from ..._validate import check_choice, check_int
from ...errors import CacheSimError
from .patterns import SCHEMES, VALUE_BYTES, gather_indices

__all__ = ["BACKENDS", "GatherSweep", "GatherTiming", "gather_sweep"]

BACKENDS = ("torch", "numpy")


@dataclass(frozen=True)
class GatherTiming:
    """One timed gather: scheme (``pattern``), backend, shared-array size in bytes (``h_bytes``) and the
    repeat times (seconds). The attribute names are the JSON keys of the recorded cases.

    ``times_s`` are wall-clock times (``time.perf_counter``); ``cpu_times_s`` the CPU time of the timing
    thread over the same calls (``time.thread_time``), which excludes time the thread was descheduled on a
    shared machine (cache pollution by other processes still shows).
    """

    pattern: str
    backend: str
    h_bytes: int
    n_elements: int
    times_s: tuple
    cpu_times_s: tuple = ()

    @property
    def median_s(self) -> float:
        return float(np.median(self.times_s))

    def median(self, clock: str = "wall") -> float:
        """Median seconds by ``clock`` ("wall" or "cpu")."""
        if clock == "wall":
            return self.median_s
        if clock == "cpu":
            if not self.cpu_times_s:
                raise CacheSimError("clock='cpu' but this timing has no CPU times (an older record)")
            return float(np.median(self.cpu_times_s))
        raise CacheSimError(f"clock={clock!r} is not allowed: choose wall or cpu")

    def repeats(self, clock: str = "wall") -> tuple:
        self.median(clock)
        return self.times_s if clock == "wall" else self.cpu_times_s

    @property
    def ns_per_element(self) -> float:
        """Median time per gathered element in nanoseconds."""
        return self.median_s / self.n_elements * 1e9

    def to_case(self) -> dict:
        return {"pattern": self.pattern, "backend": self.backend, "h_bytes": self.h_bytes,
                "n_elements": self.n_elements, "times_s": list(self.times_s), "median_s": self.median_s,
                "ns_per_element": self.ns_per_element, "cpu_times_s": list(self.cpu_times_s)}

    @classmethod
    def from_case(cls, case: dict) -> GatherTiming:
        try:
            return cls(case["pattern"], case["backend"], int(case["h_bytes"]), int(case["n_elements"]),
                       tuple(case["times_s"]), tuple(case.get("cpu_times_s", ())))
        except (KeyError, TypeError) as exc:
            raise CacheSimError(f"gather_sweep case {case!r} lacks a field: {exc}") from None


@dataclass(frozen=True)
class GatherSweep:
    """Timings of ``W = M[idx]`` over shared-array sizes; build with :func:`gather_sweep`.

    Attributes
    ----------
    timings : tuple of GatherTiming
    """

    timings: tuple

    def h_bytes(self) -> np.ndarray:
        """Sorted distinct shared-array sizes (bytes)."""
        return np.array(sorted({t.h_bytes for t in self.timings}), dtype=np.int64)

    @renamed_kwargs(pattern="scheme")
    def curve(self, scheme: str, backend: str, clock: str = "wall") -> np.ndarray:
        """Median ns per element at each of :meth:`h_bytes` for one scheme and backend."""
        by_h = {t.h_bytes: t.median(clock) / t.n_elements * 1e9 for t in self.timings
                if t.pattern == scheme and t.backend == backend}
        if not by_h:
            raise CacheSimError(f"no timings for scheme={scheme!r}, backend={backend!r}")
        return np.array([by_h.get(int(h), np.nan) for h in self.h_bytes()])

    def ratio(self, backend: str = "torch", clock: str = "wall") -> np.ndarray:
        """HashedNet time / ROAST time at each of :meth:`h_bytes`.

        Notes
        -----
        :math:`r(H) = t_\\text{HashedNet}(H) / t_\\text{ROAST}(H)` (medians).
        """
        return self.curve("hashednet", backend, clock) / self.curve("roast", backend, clock)

    def to_cases(self) -> list:
        return [t.to_case() for t in self.timings]

    @classmethod
    def from_cases(cls, cases) -> GatherSweep:
        return cls(tuple(GatherTiming.from_case(c) for c in cases))


def _timer(backend: str, memory: np.ndarray, index: np.ndarray, out: np.ndarray):
    if backend == "numpy":
        def run():
            np.take(memory, index, out=out)
        return run
    import torch

    m_t, i_t, o_t = torch.from_numpy(memory), torch.from_numpy(index), torch.from_numpy(out)

    def run():
        torch.index_select(m_t, 0, i_t, out=o_t)
    return run


@renamed_kwargs(h_bytes="memory_bytes", patterns="schemes")
def gather_sweep(memory_bytes, *, shape: tuple[int, int] = (2048, 2048), tile: tuple[int, int] = (32, 64),
                 backends=("torch", "numpy"), schemes=SCHEMES, repeats: int = 7, warmup: int = 2,
                 seed: int = 0, progress=None) -> GatherSweep:
    """Time ``W = M[idx]`` (single thread) for each shared-array size in ``memory_bytes``.

    Parameters
    ----------
    memory_bytes : sequence of int
        Sizes of the float32 shared array ``M`` in bytes (multiples of 4).
    shape : (int, int)
        Shape of ``W`` (fixed over the sweep; default 4M elements).
    tile : (int, int)
        ROAST tile ``(BK, BN)``.
    backends : sequence of {"torch", "numpy"}
        ``torch.index_select(M, 0, idx, out=W)`` with ``torch.set_num_threads(1)``, or
        ``numpy.take(M, idx, out=W)``.
    repeats, warmup : int
        Timed repeats (the median is reported); every timed call follows ``warmup`` untimed calls of the
        same case. Repeats run in interleaved rounds over all cases.
    seed : int
        Seed of the index draw and of ``M``'s values.
    progress : callable or None
        Called with a short text after each case.

    Returns
    -------
    GatherSweep

    Notes
    -----
    Per element the gather streams one int64 index (8 B) and one float32 output (4 B), and reads one
    float32 from ``M`` at a slot given by the scheme; only the last depends on ``H``.
    """
    sizes = [check_int("memory_bytes", h, low=VALUE_BYTES) for h in memory_bytes]
    for h in sizes:
        if h % VALUE_BYTES:
            raise CacheSimError(f"memory_bytes={h} must be a multiple of {VALUE_BYTES} (float32 values)")
    for b in backends:
        check_choice("backend", b, BACKENDS)
    repeats = check_int("repeats", repeats, low=1)
    warmup = check_int("warmup", warmup, low=0)
    old_threads = None
    if "torch" in backends:
        import torch

        old_threads = torch.get_num_threads()
        torch.set_num_threads(1)
    try:
        timings = _sweep(sizes, shape, tile, backends, schemes, repeats, warmup, seed, progress)
    finally:
        if old_threads is not None:
            torch.set_num_threads(old_threads)
    return GatherSweep(tuple(timings))


def _sweep(sizes, shape, tile, backends, schemes, repeats, warmup, seed, progress) -> list:
    """Interleaved rounds: every round times each case once (after ``warmup`` untimed calls of that case),
    so a slow period of the machine spreads over all cases instead of shifting one."""
    n_rows, n_cols = (check_int("shape[0]", shape[0], low=1), check_int("shape[1]", shape[1], low=1))
    out = np.empty(n_rows * n_cols, dtype=np.float32)
    rng = np.random.default_rng(seed)
    cases = []
    for h in sizes:
        values = rng.standard_normal(h // VALUE_BYTES, dtype=np.float32)
        for scheme in schemes:
            index = gather_indices(scheme, h // VALUE_BYTES, n_rows, n_cols, tile=tile, seed=seed)
            for backend in backends:
                cases.append((h, scheme, backend, _timer(backend, values, index, out)))
    times = [[] for _ in cases]
    cpu_times = [[] for _ in cases]
    for r in range(repeats):
        for j, (_, _, _, run) in enumerate(cases):
            for _ in range(warmup):
                run()
            c0 = time.thread_time()
            t0 = time.perf_counter()
            run()
            t1 = time.perf_counter()
            c1 = time.thread_time()
            times[j].append(t1 - t0)
            cpu_times[j].append(c1 - c0)
        if progress is not None:
            progress(f"round {r + 1}/{repeats} done, load={os.getloadavg()[0]:.2f}")
    timings = [GatherTiming(scheme, backend, h, out.size, tuple(ts), tuple(cs))
               for (h, scheme, backend, _), ts, cs in zip(cases, times, cpu_times)]
    if progress is not None:
        for t in timings:
            progress(f"H={t.h_bytes:>11d} B {t.pattern:9s} {t.backend:5s} {t.ns_per_element:7.3f} ns/elem")
    return timings


