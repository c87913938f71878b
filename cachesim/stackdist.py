"""One-pass LRU miss curves from stack distances.

The LRU *stack distance* of an access is the number of distinct other lines touched since the
previous access to the same line (infinite on first touch). LRU has the inclusion property, so an
access hits a ``k``-line LRU cache exactly when its distance is ``< k``: one histogram of distances
gives the exact miss count of every cache size at once.

* :func:`stack_distance_histogram` -- per-set stacks for a fixed number of sets and line size:
  exact LRU misses of every associativity ``1..max_ways`` in one pass (set ``line % n_sets``).
* :func:`miss_ratio_curve` -- fully associative LRU for every size (Olken's algorithm with a
  Fenwick tree, O(N log N), exact), or SHARDS spatial sampling (approximate) for huge traces.

Accesses with a ``size`` that spans several lines count once per line touched. Loads and stores
are treated alike (LRU with write-allocate: a store moves its line to the top like a load).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _stack_kernel as _k
from ._validate import check_allocation, check_nonnegative_int, check_positive_int, check_pow2, plain
from .errors import CacheSimError
from .trace import DEFAULT_CHUNK, TraceChunk, byte_bounded, iter_chunks

__all__ = [
    "MissRatioCurve",
    "StackDistanceHistogram",
    "PerSetStackProfiler",
    "OlkenProfiler",
    "stack_distance_histogram",
    "miss_ratio_curve",
    "stack_distances",
]

_HASH_BITS = 24


def _line_bits(line_size) -> int:
    return check_pow2("line_size", line_size).bit_length() - 1


def chunk_lines(chunk: TraceChunk, line_bits: int) -> np.ndarray:
    """Line numbers touched by a chunk, in order; an access spanning ``k`` lines yields ``k``."""
    first = chunk.addr >> line_bits
    if chunk.size is None:
        return first
    last = (chunk.addr + chunk.size - 1) >> line_bits
    n_lines = last - first + 1
    if np.all(n_lines == 1):
        return first
    total = int(n_lines.sum())
    starts = np.repeat(first, n_lines)
    offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines)
    return starts + offsets


class _ChunkedProfiler:
    """Base of the streaming profilers: :meth:`update` feeds the subclass's ``_update(sub, out_part)``
    sub-chunks of at most ``MAX_CHUNK_BYTES`` bytes, so memory stays bounded whatever the chunk size."""

    line_bits: int

    def update(self, chunk: TraceChunk, out: np.ndarray | None = None) -> None:
        """Account for one chunk (``out``: optional per-line-access results, see the class docstring)."""
        pos = 0
        for sub in byte_bounded(chunk):
            if out is None:
                self._update(sub, None)
                continue
            n = chunk_lines(sub, self.line_bits).shape[0] if sub is not chunk else out.shape[0]
            self._update(sub, out[pos:pos + n])
            pos += n

    def _update(self, chunk: TraceChunk, out: np.ndarray | None) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class MissRatioCurve:
    """LRU misses for every cache size, from a stack-distance histogram.

    Attributes
    ----------
    line_size : int
        Bytes per line.
    n_sets : int
        Sets the distances were counted in (1: fully associative). Sizes are whole multiples of
        ``n_sets`` lines.
    n_accesses : int
        Line accesses in the trace (all of them, also when sampled).
    hist : ndarray of int64
        ``hist[d]``: (sampled) accesses at per-set stack distance ``d``.
    n_far : int
        (Sampled) accesses at infinite distance (first touch) or at ``>= max_depth``.
    max_depth : int or None
        Largest per-set depth the histogram is exact for (``None``: every depth).
    sampling_rate : float
        SHARDS rate ``R`` (1.0: exact).
    n_sampled : int
        Line accesses that passed the sampling filter (``n_accesses`` when exact).

    Notes
    -----
    With ``w = lines / n_sets`` ways, ``misses(lines) = n_far + sum_{d >= w} hist[d]``.
    Sampled (SHARDS, ``R < 1``): a line is kept when its hash is below ``R``; the sampled distance
    ``d_s`` estimates ``R d``, so an access counts as a miss when ``d_s >= ceil(R * lines)`` and
    ``misses = n_accesses * (sampled misses) / n_sampled`` (ratio estimator). Approximate: its
    standard error is ``sqrt((1-R)/R * sum_l (m_l - r n_l)^2)`` over lines ``l`` (``m_l`` misses,
    ``n_l`` accesses of line ``l``, ``r`` the true miss ratio), plus a size blur of relative
    width ``~ sqrt((1-R)/(R * lines))``.
    """

    line_size: int
    n_sets: int
    n_accesses: int
    hist: np.ndarray = field(repr=False)
    n_far: int
    max_depth: int | None
    sampling_rate: float = 1.0
    n_sampled: int = -1

    def __post_init__(self):
        self.hist.setflags(write=False)
        if self.n_sampled < 0:
            object.__setattr__(self, "n_sampled", self.n_accesses)

    @property
    def exact(self) -> bool:
        """True unless SHARDS sampling was used."""
        return self.sampling_rate == 1.0

    @property
    def distinct_lines(self) -> int | None:
        """Distinct lines of an exact, unbounded curve (first touches), else ``None``."""
        return self.n_far if (self.exact and self.max_depth is None) else None

    def _tail(self) -> np.ndarray:
        # tail[d] = accesses at distance >= d (plus the far ones), d = 0..len(hist)
        c = np.concatenate([np.cumsum(self.hist[::-1])[::-1], [0]])
        return c + self.n_far

    def misses(self, lines) -> int | float:
        """LRU misses of a cache of ``lines`` lines (exact: int; sampled: float estimate)."""
        lines = check_nonnegative_int("lines", lines)
        if lines % self.n_sets:
            raise CacheSimError(
                f"lines={lines} must be a multiple of n_sets={self.n_sets} (a whole number of ways)"
            )
        ways = int(lines) // self.n_sets
        if self.max_depth is not None and ways > self.max_depth:
            raise CacheSimError(
                f"lines={lines} is {ways} ways per set: this histogram is exact up to "
                f"max_ways={self.max_depth} ({self.max_depth * self.n_sets} lines)"
            )
        depth = ways if self.exact else int(np.ceil(self.sampling_rate * ways))
        tail = self.hist[depth:].sum() if depth < self.hist.shape[0] else 0
        m_sampled = int(tail) + self.n_far
        if self.exact:
            return m_sampled
        if self.n_sampled == 0:
            return float("nan")
        return m_sampled * self.n_accesses / self.n_sampled

    def miss_ratio(self, size_bytes) -> float:
        """Miss ratio of a cache of ``size_bytes`` bytes (a multiple of ``line_size * n_sets``)."""
        size_bytes = check_nonnegative_int("size_bytes", size_bytes)
        if size_bytes % (self.line_size * self.n_sets):
            raise CacheSimError(
                f"size_bytes={size_bytes} must be a multiple of line_size*n_sets="
                f"{self.line_size * self.n_sets}"
            )
        if self.n_accesses == 0:
            return float("nan")
        return self.misses(int(size_bytes) // self.line_size) / self.n_accesses

    def curve(self, max_lines: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Arrays ``(lines, misses)`` at every size ``0, n_sets, 2 n_sets, ...`` (exact curves)."""
        if not self.exact:
            raise CacheSimError("curve() needs an exact curve; use misses(lines) for a sampled one")
        tail = self._tail()
        if self.max_depth is not None:
            tail = tail[: self.max_depth + 1]
        if max_lines is not None:
            tail = tail[: check_positive_int("max_lines", max_lines) // self.n_sets + 1]
        return np.arange(tail.shape[0], dtype=np.int64) * self.n_sets, tail


@dataclass(frozen=True)
class StackDistanceHistogram:
    """Per-set LRU stack-distance histogram: exact LRU misses for every associativity.

    Attributes
    ----------
    n_sets, line_size, max_ways : int
        Geometry counted: set ``(addr // line_size) % n_sets``; distances below ``max_ways``.
    counts : ndarray of int64, shape (max_ways,)
        ``counts[d]``: accesses that found their line at depth ``d`` of their set's LRU stack.
    n_far : int
        Accesses at depth ``>= max_ways`` or first touches.
    n_accesses : int
        Line accesses.

    Notes
    -----
    A ``W``-way LRU set holds the ``W`` most recent lines of that set, so an access hits iff its
    per-set distance is ``< W``: ``misses(W) = n_far + sum_{d=W}^{max_ways-1} counts[d]``, exact for
    ``1 <= W <= max_ways``.
    """

    n_sets: int
    line_size: int
    max_ways: int
    counts: np.ndarray = field(repr=False)
    n_far: int
    n_accesses: int

    def __post_init__(self):
        self.counts.setflags(write=False)

    def _ways(self, ways) -> int:
        return check_positive_int("ways", ways, high=self.max_ways)

    def hits(self, ways) -> int:
        """LRU hits of a ``ways``-way cache with this geometry."""
        return int(self.counts[: self._ways(ways)].sum())

    def misses(self, ways) -> int:
        """LRU misses of a ``ways``-way cache with this geometry."""
        return self.n_accesses - self.hits(ways)

    def miss_ratio(self, ways) -> float:
        """``misses(ways) / n_accesses``."""
        return self.misses(ways) / self.n_accesses if self.n_accesses else float("nan")

    def miss_ratio_curve(self) -> MissRatioCurve:
        """The same histogram as a :class:`MissRatioCurve` over sizes ``W * n_sets`` lines."""
        return MissRatioCurve(
            self.line_size, self.n_sets, self.n_accesses, np.array(self.counts), self.n_far, self.max_ways
        )


class PerSetStackProfiler(_ChunkedProfiler):
    """Streaming builder of a :class:`StackDistanceHistogram` (feed chunks, then ``result()``).

    ``update(chunk, out)``: ``out`` optionally receives the per-line-access depths, ``-1`` when far.
    """

    def __init__(self, n_sets, line_size=64, max_ways=32):
        self.n_sets = check_positive_int("n_sets", n_sets)
        self.line_bits = _line_bits(line_size)
        self.line_size = int(line_size)
        self.max_ways = check_positive_int("max_ways", max_ways, high=4096)
        check_allocation(f"per-set stacks n_sets={self.n_sets} x max_ways={self.max_ways}",
                         (self.n_sets + 2) * self.max_ways, 8, hard_count=1 << 28)
        self._stacks = np.full((self.n_sets, self.max_ways), -1, dtype=np.int64)
        self._fill = np.zeros(self.n_sets, dtype=np.int64)
        self._head = np.zeros(self.n_sets, dtype=np.int64)
        self._counts = np.zeros(self.max_ways, dtype=np.int64)
        self._far = 0
        self._n = 0

    def _update(self, chunk: TraceChunk, out: np.ndarray | None) -> None:
        lines = chunk_lines(chunk, self.line_bits)
        o = np.empty(0, dtype=np.int64) if out is None else out
        # Large stack tables miss the cache on every access: visit the chunk set by set instead.
        kernel = _k.per_set_chunk_grouped if self._stacks.nbytes > (64 << 10) else _k.per_set_chunk
        self._far += int(kernel(lines, self.n_sets, self._stacks, self._head, self._fill, self._counts, o))
        self._n += lines.shape[0]

    def result(self) -> StackDistanceHistogram:
        return StackDistanceHistogram(
            self.n_sets, self.line_size, self.max_ways, self._counts.copy(), self._far, self._n
        )


class OlkenProfiler(_ChunkedProfiler):
    """Streaming fully associative stack distances (Olken + Fenwick tree), optionally SHARDS-sampled.

    Memory is O(distinct lines kept): access times are compacted whenever the tree fills up.
    ``update(chunk, out)``: ``out`` optionally receives the per-line-access distances, ``-1`` on first
    touch (exact profiles only).
    """

    def __init__(self, line_size=64, sampling_rate: float | None = None, seed: int = 0):
        self.line_bits = _line_bits(line_size)
        self.line_size = int(line_size)
        if sampling_rate is None:
            sampling_rate = 1.0
        if isinstance(sampling_rate, bool) or not isinstance(sampling_rate, float | int | np.floating):
            raise CacheSimError(f"sampling_rate={plain(sampling_rate)!r} must be a number in (0, 1]")
        if not (0.0 < float(sampling_rate) <= 1.0):
            raise CacheSimError(f"sampling_rate={plain(sampling_rate)!r} must be in (0, 1]")
        self._threshold = int(round(float(sampling_rate) * (1 << _HASH_BITS)))
        if self._threshold < 1:
            raise CacheSimError(f"sampling_rate={plain(sampling_rate)!r} must be >= 2**-{_HASH_BITS}")
        self.sampling_rate = self._threshold / (1 << _HASH_BITS)
        self._salt = np.uint64(_k.mix64(np.uint64(int(seed) & ((1 << 64) - 1))))
        self._table = np.full((1 << 12, 2), -1, dtype=np.int64)
        self._words = np.zeros(1 << 8, dtype=np.uint64)
        self._bit = np.zeros(1 << 8, dtype=np.int64)
        self._hist = np.zeros(1 << 10, dtype=np.int64)
        self._state = np.zeros(3, dtype=np.int64)
        self._n = 0
        self._n_sampled = 0

    def _update(self, chunk: TraceChunk, out: np.ndarray | None) -> None:
        lines = chunk_lines(chunk, self.line_bits)
        self._n += lines.shape[0]
        if self.sampling_rate < 1.0:
            if out is not None:
                raise CacheSimError("per-access distances (out=) are only available without sampling")
            lines = lines[_k.shards_keep(lines, np.uint64(self._threshold), self._salt)]
        self._n_sampled += lines.shape[0]
        o = np.empty(0, dtype=np.int64) if out is None else out
        self._table, self._words, self._bit, self._hist = _k.olken_chunk(
            lines, self._table, self._words, self._bit, self._hist, self._state, o
        )

    def result(self) -> MissRatioCurve:
        n_live = int(self._state[1])
        return MissRatioCurve(
            self.line_size,
            1,
            self._n,
            self._hist[:n_live].copy(),
            int(self._state[2]),
            None,
            self.sampling_rate,
            self._n_sampled,
        )


def stack_distance_histogram(
    trace, *, n_sets, line_size=64, max_ways=32, chunk_size=DEFAULT_CHUNK
) -> StackDistanceHistogram:
    """Per-set LRU stack-distance histogram of a trace in one pass.

    Parameters
    ----------
    trace : array of addresses, TraceChunk or iterable of TraceChunk
        Byte addresses (streamed chunk by chunk).
    n_sets : int
        Sets of the cache geometry; set index ``(addr // line_size) % n_sets``.
    line_size : int
        Bytes per line, a power of two.
    max_ways : int
        Largest associativity the result answers exactly (stack depth kept per set).
    chunk_size : int
        Accesses per chunk.

    Returns
    -------
    StackDistanceHistogram

    Notes
    -----
    LRU inclusion: a ``W``-way set holds its ``W`` most recently used lines, so an access hits
    iff its per-set distance ``d < W``; ``misses(W) = #{d >= W}`` for every ``W <= max_ways``.
    Cost O(N * depth), memory O(n_sets * max_ways).
    """
    prof = PerSetStackProfiler(n_sets, line_size, max_ways)
    for ch in iter_chunks(trace, chunk_size):
        prof.update(ch)
    return prof.result()


def miss_ratio_curve(
    trace, *, line_size=64, sampling_rate: float | None = None, seed: int = 0, chunk_size=DEFAULT_CHUNK
) -> MissRatioCurve:
    """Fully associative LRU misses for every cache size, in one pass.

    Parameters
    ----------
    trace : array of addresses, TraceChunk or iterable of TraceChunk
    line_size : int
        Bytes per line, a power of two.
    sampling_rate : float in (0, 1] or None
        SHARDS spatial sampling rate ``R`` (``None`` or 1: exact). Approximate; see Notes.
    seed : int
        Salt of the sampling hash.
    chunk_size : int

    Returns
    -------
    MissRatioCurve

    Notes
    -----
    Olken's algorithm: keep each line's last access time ``t_l`` marked in a Fenwick tree over
    times; the stack distance of a reuse at time ``t`` is the number of marks in ``(t_l, t)``,
    i.e. the number of distinct lines touched in between. O(N log N) time, O(distinct) memory.
    SHARDS keeps only lines with ``hash(line) < R`` (a fixed spatial subset), so each kept line's
    reuse distances shrink to ``~R d``; see :class:`MissRatioCurve` for the estimator and its error.
    """
    prof = OlkenProfiler(line_size, sampling_rate, seed)
    for ch in iter_chunks(trace, chunk_size):
        prof.update(ch)
    return prof.result()


def stack_distances(
    trace, *, line_size=64, n_sets=None, max_ways=None, chunk_size=DEFAULT_CHUNK
) -> np.ndarray:
    """Per-line-access LRU stack distance (``-1``: first touch, or ``>= max_ways`` per set).

    Fully associative (Olken) when ``n_sets`` is None, else per set with depth ``max_ways``.
    The whole result is held in memory: for small and medium traces.
    """
    if n_sets is None:
        if max_ways is not None:
            raise CacheSimError(f"max_ways={plain(max_ways)!r} needs n_sets (per-set distances)")
        prof = OlkenProfiler(line_size)
    else:
        prof = PerSetStackProfiler(n_sets, line_size, 32 if max_ways is None else max_ways)
    parts = []
    for ch in iter_chunks(trace, chunk_size):
        n = chunk_lines(ch, prof.line_bits).shape[0]
        out = np.empty(n, dtype=np.int64)
        prof.update(ch, out)
        parts.append(out)
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def naive_stack_distances(lines, n_sets: int = 1, max_ways: int | None = None) -> list[int]:
    """Pure-Python reference: per-set LRU stacks as lists (``-1``: first touch or too deep)."""
    stacks: dict[int, list[int]] = {}
    out = []
    for x in lines:
        x = int(x)
        st = stacks.setdefault(x % n_sets, [])
        if x in st:
            d = st.index(x)
            st.pop(d)
            out.append(d if (max_ways is None or d < max_ways) else -1)
        else:
            out.append(-1)
        st.insert(0, x)
        if max_ways is not None and len(st) > max_ways:
            st.pop()
    return out
