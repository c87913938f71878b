"""CPU timings of the weight gather ``W = M[idx]`` for HashedNet and ROAST index patterns.

The "gather + mm" implementation of a hashed layer first materialises the virtual weight ``W = M[idx]``.
Its cost is a gather whose locality depends on the index pattern and on which cache level holds the
shared array ``M``:

* HashedNet (element hashing): every ``idx`` is an independent uniform slot, so each value read touches a
  random 64 B line of ``M``;
* ROAST (tile hashing): a ``BK x BN`` tile is a contiguous block of ``M``; a row of ``BN`` floats is read
  in order, so one line serves ``64 / 4 = 16`` reads.

:func:`gather_sweep` times the gather (single thread, median of repeats after warm-up) while ``M`` grows
from far below L1 to far above L3, for a fixed-size ``W``. :func:`gather_indices` builds the two index
patterns; :func:`compare_knees` sets the measured knees beside the simulated ones.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from ..errors import CacheSimError
from ..trace import plain

__all__ = ["GatherSweep", "GatherTiming", "gather_indices", "gather_sweep", "PATTERNS", "BACKENDS"]

PATTERNS = ("hashednet", "roast")
BACKENDS = ("torch", "numpy")
VALUE_BYTES = 4  # float32 shared array


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < low:
        raise CacheSimError(f"{name}={plain(value)!r} must be an integer >= {low}")
    return int(value)


def gather_indices(pattern: str, m_slots: int, n_rows: int, n_cols: int, *, tile: tuple[int, int] = (32, 64),
                   seed: int = 0) -> np.ndarray:
    """Slots read by ``W = M[idx]`` for a ``(n_rows, n_cols)`` weight, in W's row-major order.

    Parameters
    ----------
    pattern : {"hashednet", "roast"}
        ``"hashednet"``: one independent uniform slot per element (ideal element hash).
        ``"roast"``: ``BK x BN`` tiles, each a contiguous row-major block starting at a uniform slot, with
        circular placement.
    m_slots : int
        Size of the shared array ``M`` in elements.
    n_rows, n_cols : int
        Shape of ``W``; for ``"roast"`` they must be multiples of ``tile``.
    tile : (int, int)
        ``(BK, BN)``, RzLinear's default ``(32, 64)``.
    seed : int
        Seed of the hash draw.

    Returns
    -------
    numpy.ndarray of int64, shape (n_rows * n_cols,)

    Notes
    -----
    ROAST: :math:`idx(k, n) = (s_{k // BK,\\, n // BN} + (k \\bmod BK)\\, BN + (n \\bmod BN)) \\bmod m`,
    :math:`s \\sim U[0, m)`. HashedNet: :math:`idx(k, n) \\sim U[0, m)` independently.
    """
    if pattern not in PATTERNS:
        raise CacheSimError(f"pattern={pattern!r} is not allowed: choose one of {', '.join(PATTERNS)}")
    m_slots = _check_int("m_slots", m_slots, 1)
    n_rows = _check_int("n_rows", n_rows, 1)
    n_cols = _check_int("n_cols", n_cols, 1)
    rng = np.random.default_rng(_check_int("seed", seed, 0))
    if pattern == "hashednet":
        return rng.integers(0, m_slots, size=n_rows * n_cols, dtype=np.int64)
    bk, bn = (_check_int("tile[0]", tile[0], 1), _check_int("tile[1]", tile[1], 1))
    if n_rows % bk or n_cols % bn:
        raise CacheSimError(f"W shape ({n_rows}, {n_cols}) must be a multiple of tile=({bk}, {bn})")
    starts = rng.integers(0, m_slots, size=(n_rows // bk, n_cols // bn), dtype=np.int64)
    # (row block, in-tile row, col block, in-tile col) -> start + row * BN + col
    offs = (np.arange(bk, dtype=np.int64)[:, None] * bn + np.arange(bn, dtype=np.int64)[None, :])
    idx = starts[:, None, :, None] + offs[None, :, None, :]
    return (idx % m_slots).reshape(-1)


@dataclass(frozen=True)
class GatherTiming:
    """One timed gather: pattern, backend, shared-array size and the repeat times (seconds).

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

    def curve(self, pattern: str, backend: str, clock: str = "wall") -> np.ndarray:
        """Median ns per element at each of :meth:`h_bytes` for one pattern and backend."""
        by_h = {t.h_bytes: t.median(clock) / t.n_elements * 1e9 for t in self.timings
                if t.pattern == pattern and t.backend == backend}
        if not by_h:
            raise CacheSimError(f"no timings for pattern={pattern!r}, backend={backend!r}")
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


def gather_sweep(h_bytes, *, shape: tuple[int, int] = (2048, 2048), tile: tuple[int, int] = (32, 64),
                 backends=("torch", "numpy"), patterns=PATTERNS, repeats: int = 7, warmup: int = 2,
                 seed: int = 0, progress=None) -> GatherSweep:
    """Time ``W = M[idx]`` (single thread) for each shared-array size in ``h_bytes``.

    Parameters
    ----------
    h_bytes : sequence of int
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
    float32 from ``M`` at a slot given by the pattern; only the last depends on ``H``.
    """
    sizes = [_check_int("h_bytes", h, VALUE_BYTES) for h in h_bytes]
    for h in sizes:
        if h % VALUE_BYTES:
            raise CacheSimError(f"h_bytes={h} must be a multiple of {VALUE_BYTES} (float32 values)")
    for b in backends:
        if b not in BACKENDS:
            raise CacheSimError(f"backend={b!r} is not allowed: choose one of {', '.join(BACKENDS)}")
    repeats = _check_int("repeats", repeats, 1)
    warmup = _check_int("warmup", warmup, 0)
    old_threads = None
    if "torch" in backends:
        import torch

        old_threads = torch.get_num_threads()
        torch.set_num_threads(1)
    try:
        timings = _sweep(sizes, shape, tile, backends, patterns, repeats, warmup, seed, progress)
    finally:
        if old_threads is not None:
            torch.set_num_threads(old_threads)
    return GatherSweep(tuple(timings))


def _sweep(sizes, shape, tile, backends, patterns, repeats, warmup, seed, progress) -> list:
    """Interleaved rounds: every round times each case once (after ``warmup`` untimed calls of that case),
    so a slow period of the machine spreads over all cases instead of shifting one."""
    n_rows, n_cols = (_check_int("shape[0]", shape[0], 1), _check_int("shape[1]", shape[1], 1))
    out = np.empty(n_rows * n_cols, dtype=np.float32)
    rng = np.random.default_rng(seed)
    cases = []
    for h in sizes:
        m_slots = h // VALUE_BYTES
        memory = rng.standard_normal(m_slots, dtype=np.float32)
        for pattern in patterns:
            index = gather_indices(pattern, m_slots, n_rows, n_cols, tile=tile, seed=seed)
            for backend in backends:
                cases.append((h, pattern, backend, _timer(backend, memory, index, out)))
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
    timings = [GatherTiming(pattern, backend, h, out.size, tuple(ts), tuple(cs))
               for (h, pattern, backend, _), ts, cs in zip(cases, times, cpu_times)]
    if progress is not None:
        for t in timings:
            progress(f"H={t.h_bytes:>11d} B {t.pattern:9s} {t.backend:5s} {t.ns_per_element:7.3f} ns/elem")
    return timings


# ------------------------------------------------------------------------------------------ simulation
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
    from ..trace import make_chunk

    idx = np.asarray(index, dtype=np.int64)
    n = idx.size
    p = _check_int("pass_number", pass_number, 0)
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

    def curve(self, pattern: str, level: str) -> np.ndarray:
        """Misses per gathered element at ``level`` at each of :meth:`h_bytes`."""
        if level not in self.level_names:
            raise CacheSimError(f"level={level!r} is not simulated: levels are {', '.join(self.level_names)}")
        k = self.level_names.index(level)
        by_h = {r.h_bytes: r.misses_per_element()[k] for r in self.results if r.pattern == pattern}
        if not by_h:
            raise CacheSimError(f"no simulated gathers for pattern={pattern!r}")
        return np.array([by_h.get(int(h), np.nan) for h in self.h_bytes()])

    def predicted_ns(self, pattern: str, latencies_ns) -> np.ndarray:
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
            total += self.curve(pattern, name) * lat[k + 1]
        return total

    def to_cases(self) -> list:
        return [r.to_case() for r in self.results]

    @classmethod
    def from_cases(cls, cases) -> SimulatedGatherSweep:
        return cls(tuple(SimulatedGather.from_case(c) for c in cases))


def simulate_gather_sweep(h_bytes, *, shape: tuple[int, int] = (1024, 1024), tile: tuple[int, int] = (32, 64),
                          hierarchy="host", patterns=PATTERNS, warmup_passes: int = 1, seed: int = 0,
                          progress=None) -> SimulatedGatherSweep:
    """Replay the gather trace of each pattern and size through a cache hierarchy.

    Parameters
    ----------
    h_bytes : sequence of int
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
    from ..engine import Simulator

    sizes = [_check_int("h_bytes", h, VALUE_BYTES) for h in h_bytes]
    warmup_passes = _check_int("warmup_passes", warmup_passes, 0)
    n_rows, n_cols = (_check_int("shape[0]", shape[0], 1), _check_int("shape[1]", shape[1], 1))
    out = []
    for h in sizes:
        for pattern in patterns:
            index = gather_indices(pattern, h // VALUE_BYTES, n_rows, n_cols, tile=tile, seed=seed)
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
            res = SimulatedGather(pattern, h, index.size, name, names, acc, miss)
            out.append(res)
            if progress is not None:
                per = " ".join(f"{n}={v:.3f}" for n, v in zip(names, res.misses_per_element()))
                progress(f"sim H={h:>11d} B {pattern:9s} misses/elem {per}")
    return SimulatedGatherSweep(tuple(out))


# ------------------------------------------------------------------------------------------ knees
def half_rise_knee(h_bytes, curve) -> int | None:
    """Smallest ``H`` at which ``curve`` has risen half-way from its first value to its largest value.

    Notes
    -----
    :math:`H^* = \\min\\{H : f(H) \\ge (f(H_0) + \\max f) / 2\\}`; for a random gather into a level of
    capacity :math:`C` the miss ratio is about :math:`1 - C/H`, so :math:`H^* \\approx 2C`. Returns None
    when the curve does not rise (max - first below 1e-9 or below 5 % of the first value).
    """
    h = np.asarray(h_bytes, dtype=np.int64)
    f = np.asarray(curve, dtype=float)
    if h.shape != f.shape or h.ndim != 1 or h.size < 2:
        raise CacheSimError(f"h_bytes and curve must be 1-D of equal length >= 2 (got {h.shape}, {f.shape})")
    lo, hi = f[0], np.nanmax(f)
    if hi - lo <= max(1e-9, 0.05 * abs(lo)):
        return None
    return int(h[np.flatnonzero(f >= (lo + hi) / 2)[0]])


@dataclass(frozen=True)
class MeasuredStep:
    """A significant rise of the measured time between ``H / 2`` and ``H``."""

    h_bytes: int
    ratio: float  # median t(H) / median t(H/2)


@dataclass(frozen=True)
class LevelKnee:
    """One cache level: its simulated knee and the knee the measured times put it at.

    Attributes
    ----------
    level : str
    simulated_h : int or None
        Half-rise knee of the simulated misses (None if they never rise).
    shift : int
        x2 steps by which the fit moves this level's simulated miss curve to match the measured times.
    measured_h : int or None
        ``simulated_h * 2**shift`` when the level is visible in the time, else None.
    penalty_ns : float
        Fitted time per miss of this level (ns), >= 0.
    contribution : float
        ``penalty_ns * (rise of misses per element)`` / ``base_ns``: how much this level adds to the time.
    agree : bool
        Visible and ``|shift| <= 1``.
    cause : str
        Why not, when ``agree`` is False.
    """

    level: str
    simulated_h: int | None
    shift: int
    measured_h: int | None
    penalty_ns: float
    contribution: float
    agree: bool
    cause: str


@dataclass(frozen=True)
class KneeComparison:
    """Measured HashedNet gather times explained by the simulated per-level miss curves.

    Attributes
    ----------
    levels : tuple of LevelKnee
    base_ns : float
        Fitted time per element with no value-read misses (the idx/W stream and the loop).
    residual : float
        Root-mean-square relative error of the fit.
    steps : tuple of MeasuredStep
        Significant measured steps (for reference; see :func:`measured_steps`).
    backend, hierarchy : str
    """

    levels: tuple
    base_ns: float
    residual: float
    steps: tuple
    backend: str
    hierarchy: str

    def level(self, name: str) -> LevelKnee:
        for lk in self.levels:
            if lk.level == name:
                return lk
        raise CacheSimError(f"level={name!r} is not in the comparison: {[lk.level for lk in self.levels]}")

    def all_agree(self) -> bool:
        return all(lk.agree for lk in self.levels)

    def format(self) -> str:
        lines = [f"knees, measured {self.backend} vs simulated {self.hierarchy} (fit: base "
                 f"{self.base_ns:.2f} ns/elem, rms rel. residual {self.residual:.3f})",
                 "  level simulated  measured shift  ns/miss  adds"]
        for lk in self.levels:
            s = "-" if lk.simulated_h is None else _fmt_bytes(lk.simulated_h)
            m = "-" if lk.measured_h is None else _fmt_bytes(lk.measured_h)
            lines.append(f"  {lk.level:5s} {s:>9s} {m:>9s} {lk.shift:+5d} {lk.penalty_ns:8.2f} "
                         f"{lk.contribution:5.0%}  {'agree' if lk.agree else 'MISS: ' + lk.cause}")
        if self.steps:
            lines.append("  significant measured steps: "
                         + ", ".join(f"{_fmt_bytes(s.h_bytes)} x{s.ratio:.2f}" for s in self.steps))
        return "\n".join(lines)


def _fmt_bytes(b: int) -> str:
    for unit, shift in (("MiB", 20), ("KiB", 10)):
        if b >= 1 << shift:
            return f"{b / (1 << shift):g} {unit}"
    return f"{b} B"


def measured_steps(sweep: GatherSweep, pattern: str = "hashednet", backend: str = "torch",
                   threshold: float = 1.15, clock: str = "wall") -> tuple:
    """Significant rises of the measured time per element between consecutive sizes.

    Notes
    -----
    A step at ``H`` is significant when :math:`\\tilde t(H) / \\tilde t(H/2) > \\text{threshold}` (medians)
    and :math:`\\min t(H) > \\max t(H/2)` over the repeats.
    """
    h = sweep.h_bytes()
    by_h = {t.h_bytes: t for t in sweep.timings if t.pattern == pattern and t.backend == backend}
    out = []
    for a, b in zip(h[:-1], h[1:]):
        ta, tb = by_h.get(int(a)), by_h.get(int(b))
        if ta is None or tb is None:
            continue
        ratio = tb.median(clock) / ta.median(clock)
        if ratio > threshold and min(tb.repeats(clock)) > max(ta.repeats(clock)):
            out.append(MeasuredStep(int(b), float(ratio)))
    return tuple(out)


def compare_knees(sweep: GatherSweep, simulated: SimulatedGatherSweep, *, backend: str = "torch",
                  max_shift: int = 3, max_shift_up: int = 1, visible: float = 0.10,
                  threshold: float = 1.15, clock: str = "wall") -> KneeComparison:
    r"""Fit the measured HashedNet times with the simulated per-level miss curves, each shifted in H.

    Parameters
    ----------
    sweep : GatherSweep
        Measured times (e.g. ``GatherSweep.from_cases(record.cases)``); sizes in x2 steps.
    simulated : SimulatedGatherSweep
        Simulated misses in consecutive x2 steps, covering the measured sizes (a wider range lets shifted
        curves be read without clamping at the ends).
    backend : str
        Which measured backend to use.
    max_shift, max_shift_up : int
        Shifts tried per level, in x2 steps: ``-max_shift .. +max_shift_up``. A level cannot hold more than
        its size, so a knee far above the simulated one is not physical; one step up allows for a victim
        (exclusive) level that adds the capacity of the level above.
    visible : float
        A level is visible when its fitted contribution at the largest size is at least this fraction of
        the base time.
    threshold : float
        For the list of significant measured steps (:func:`measured_steps`).
    clock : {"wall", "cpu"}
        Which measured times to fit.

    Returns
    -------
    KneeComparison

    Notes
    -----
    Model: :math:`t(H) = b + \sum_L p_L\, [m_L(H / 2^{s_L}) - m_L(H_0)]`, with :math:`m_L` the simulated
    misses per element of level :math:`L`, :math:`p_L \ge 0` (ns per miss) and :math:`b` fitted by
    non-negative least squares in relative error, keeping fits with :math:`p_1 \le p_2 \le \dots` (a miss
    further from the core costs at least as much), for every shift vector :math:`s \in
    [-S, S_+]^{K}`; the best fit wins (ties: the smaller :math:`\sum |s_L|`). The measured knee of a
    visible level is :math:`H^*_L 2^{s_L}` with :math:`H^*_L` the simulated half-rise knee; it agrees
    when :math:`|s_L| \le 1`.
    """
    import itertools

    from scipy.optimize import nnls

    max_shift = _check_int("max_shift", max_shift, 0)
    max_shift_up = _check_int("max_shift_up", max_shift_up, 0)
    h_meas = sweep.h_bytes()
    h_sim = simulated.h_bytes()
    if h_sim.size < 2 or np.any(h_sim[1:] != 2 * h_sim[:-1]):
        raise CacheSimError(f"simulated sizes must be consecutive x2 steps (got {h_sim.tolist()})")
    h = np.array([x for x in h_meas if h_sim[0] <= x <= h_sim[-1]], dtype=np.int64)
    if h.size < 4 or np.any(h[1:] != 2 * h[:-1]):
        raise CacheSimError("measured and simulated sizes must share at least 4 consecutive x2 steps "
                            f"(common sizes: {h.tolist()})")
    t_all = dict(zip(h_meas.tolist(), sweep.curve("hashednet", backend, clock).tolist()))
    t = np.array([t_all[int(x)] for x in h])
    names = simulated.level_names
    rises = []  # over the simulated grid
    for name in names:
        c = simulated.curve("hashednet", name)
        rises.append(c - c[0])
    pos = np.round(np.log2(h / h_sim[0])).astype(int)  # measured sizes on the simulated grid
    n = h.size
    w = 1.0 / t

    def shifted(d, s):
        """d(H / 2^s) at the measured sizes (clamped to the simulated range)."""
        return d[np.clip(pos - s, 0, d.size - 1)]

    def best_fit(active):
        """Best (shifts, coef, rnorm) using only the levels in ``active`` (others: penalty 0, shift 0)."""
        best = best_any = None
        grid = sorted(itertools.product(range(-max_shift, max_shift_up + 1), repeat=len(active)),
                      key=lambda sv: sum(abs(x) for x in sv))
        for sub in grid:
            x = np.column_stack([np.ones(n)] + [shifted(rises[k], s) for k, s in zip(active, sub)])
            coef_sub, rnorm = nnls(x * w[:, None], t * w)
            pens = coef_sub[1:]
            full_sv = [0] * len(names)
            coef = np.zeros(len(names) + 1)
            coef[0] = coef_sub[0]
            for k, s, p in zip(active, sub, pens):
                full_sv[k] = s
                coef[k + 1] = p
            cand = (tuple(full_sv), coef, rnorm)
            if best_any is None or rnorm < best_any[2] * (1 - 1e-9):
                best_any = cand
            # physical order: a miss further from the core costs at least as much
            ordered = np.all(np.diff(pens) >= -1e-9 * max(1.0, float(np.max(pens, initial=0.0))))
            if ordered and (best is None or rnorm < best[2] * (1 - 1e-9)):
                best = cand
        return best if best is not None else best_any

    sv, coef, rnorm = best_fit(list(range(len(names))))
    base = float(coef[0])
    levels = []
    for k, name in enumerate(names):
        h_s = half_rise_knee(h_sim, rises[k]) if np.ptp(rises[k]) > 0 else None
        penalty = float(coef[k + 1])
        contribution = penalty * float(np.max(shifted(rises[k], sv[k]))) / base if base > 0 else float("inf")
        if h_s is None:
            levels.append(LevelKnee(name, None, int(sv[k]), None, penalty, contribution, False,
                                    "the simulated misses of this level do not rise over the sweep"))
            continue
        if contribution < visible:
            cause = (f"not visible in the time: its misses add {contribution:.0%} < {visible:.0%} of the "
                     f"base (served by the next level with the latency overlapped by out-of-order execution; "
                     f"the idx/W stream dominates)")
            levels.append(LevelKnee(name, h_s, int(sv[k]), None, penalty, contribution, False, cause))
            continue
        h_m = int(h_s * 2.0 ** sv[k])
        agree = abs(sv[k]) <= 1
        cause = "" if agree else _miss_cause(name, int(sv[k]), h_m)
        levels.append(LevelKnee(name, h_s, int(sv[k]), h_m, penalty, contribution, agree, cause))
    residual = float(rnorm / np.sqrt(n))
    hierarchy = simulated.results[0].hierarchy if simulated.results else "?"
    steps = measured_steps(sweep, "hashednet", backend, threshold, clock)
    return KneeComparison(tuple(levels), base, residual, steps, f"{backend}/{clock}", hierarchy)


def _miss_cause(level: str, shift: int, h_m: int) -> str:
    if shift < 0:
        return (f"the measured knee is {abs(shift)} x2-steps below the simulated one: this process sees an "
                f"effective {level} of about {_fmt_bytes(h_m // 2)}, less than the preset's (the cache is "
                f"shared with other cores/tenants, or its policy is not LRU)")
    return (f"the measured knee is {shift} x2-steps above the simulated one: an effective {level} of about "
            f"{_fmt_bytes(h_m // 2)}, more than the preset's (a victim/exclusive level adds the capacity of "
            f"the level above, or the preset's size is wrong)")
