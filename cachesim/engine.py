"""Thin validating API over the compiled kernels: :func:`replay`, :class:`Simulator`, :class:`Cache`.

Model (identical in the kernels and in :mod:`cachesim.reference`):

- The trace is cut into *line pieces* at the first level's line size (an access of ``size``
  bytes at ``addr`` touches lines ``addr >> b`` .. ``(addr + size - 1) >> b``); each piece is one
  access of the first level. Without sizes an access touches one byte.
- A request for bytes ``[b0, b1)`` at a level is a *hit* if the line is resident and every sector
  it touches is valid, a *sector miss* if the line is resident but some touched sector is not,
  a *miss* otherwise.
- Non-inclusive / inclusive: on a (sector) miss of a read, or of a write at a write-back level,
  the missing sectors are fetched from the level below (one read request per run of missing
  sectors), then the line is installed (victim: an invalid way first, else the policy's choice),
  then the victim's dirty sectors are written to the level below (one write request per run).
  A write hit at a write-back level sets the dirty bits; a write at a write-through level is
  forwarded unchanged to the level below and never allocates. Inclusive: a victim at level k is
  first invalidated in every level above, its dirty data merged into the victim.
- Exclusive: see :class:`cachesim.config.HierarchyConfig`.

Fast paths (all checked against :mod:`cachesim.reference` in the tests):

- Non-inclusive hierarchies are simulated level by level: a level never depends on the levels
  below it, so level k+1 replays the ordered request stream (fills, write-backs,
  write-throughs) that level k emitted -- the same order as the recursive model.
- Unsectored loads (while no store has been seen): addresses go straight to line numbers, an
  access to the same line as the previous access is counted as a hit and skipped (it hits the
  most recently used line, which changes no policy's state). Modulo-indexed LRU levels of at most
  16 ways then run on a compact form of their state (32-bit tags where they fit, the recency
  order of a set in one 64-bit word; see :mod:`cachesim._kernel`), prefetching the set of a later
  access when the level is larger than the host's private caches; other LRU levels of >= 4096 sets
  are replayed set by set (sets are independent under LRU), which keeps the simulated set in the
  host cache.
- Inclusive and exclusive hierarchies run one request at a time through all levels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _kernel as K
from ._validate import check_allocation, is_int, plain
from .config import HierarchyConfig, LevelConfig, load_hierarchy
from .errors import CacheSimError
from .stats import COUNTERS, LevelStats, ReplayResult
from .trace import DEFAULT_CHUNK, TraceChunk, byte_bounded, iter_chunks, make_chunk

HIT, SECTOR_MISS, MISS = 0, 1, 2


def split_pieces(chunk: TraceChunk, line: int):
    """Cut the accesses of ``chunk`` into line pieces.

    Returns ``(b0, b1, write, owner)``: byte ranges ``[b0, b1)`` inside one line each, int64 write
    flags, and the index (within the chunk) of the access each piece belongs to (``None`` when
    no access spans lines).
    """
    addr = chunk.addr
    n = addr.shape[0]
    w = np.zeros(n, dtype=np.int64) if chunk.write is None else chunk.write.astype(np.int64)
    if chunk.size is None:
        return addr, addr + 1, w, None
    lshift = line.bit_length() - 1
    end = addr + chunk.size
    first = addr >> lshift
    npiece = ((end - 1) >> lshift) - first + 1
    if n == 0 or int(npiece.max()) == 1:
        return addr, end, w, None
    owner = np.repeat(np.arange(n, dtype=np.int64), npiece)
    starts = np.cumsum(npiece) - npiece
    pline = first[owner] + (np.arange(owner.shape[0], dtype=np.int64) - starts[owner])
    b0 = np.maximum(addr[owner], pline << lshift)
    b1 = np.minimum(end[owner], (pline + 1) << lshift)
    return b0, b1, w[owner], owner


#: Most cache lines (summed over the levels) one simulator holds: about 40 bytes of state each.
MAX_SIM_LINES = 1 << 27
_STATE_BYTES_PER_LINE = 40


class Simulator:
    """Stateful simulator of a whole hierarchy; state is kept across :meth:`feed` calls.

    Parameters
    ----------
    hierarchy : HierarchyConfig, LevelConfig, str, dict or path
        Anything :func:`cachesim.config.load_hierarchy` accepts.
    """

    #: The module whose ``run_*`` replay kernels this simulator calls (:mod:`cachesim.parallel` swaps in
    #: the same kernels behind GIL-free entry points).
    _kernels = K

    def __init__(self, hierarchy, *, record_memory: bool = False):
        self.config: HierarchyConfig = load_hierarchy(hierarchy)
        lv = self.config.levels
        n = len(lv)
        P = np.zeros((n, K.NPAR), dtype=np.int64)
        check_allocation(
            "the simulator state of hierarchy "
            + ", ".join(f"{c.name}={c.size} bytes/{c.line} B lines" for c in lv),
            sum(c.n_lines for c in lv), _STATE_BYTES_PER_LINE, hard_count=MAX_SIM_LINES, unit="lines")
        off = toff = 0
        for k, c in enumerate(lv):
            P[k, K.SETS] = c.sets
            P[k, K.WAYS] = c.ways
            P[k, K.LSHIFT] = c.line.bit_length() - 1
            P[k, K.SSHIFT] = c.sector_size.bit_length() - 1
            P[k, K.NSECT] = c.sectors_per_line
            P[k, K.POLICY] = K.POLICY_CODE[c.policy]
            P[k, K.WB] = int(c.write_back)
            P[k, K.HASH] = int(c.index_hash == "xor")
            P[k, K.SBITS] = c.sets.bit_length() - 1
            P[k, K.OFF] = off
            P[k, K.TOFF] = toff
            off += c.sets * c.ways
            if c.policy == "plru":
                toff += c.sets * (c.ways - 1)
        self._P = P
        self._inclusion = {"non-inclusive": K.NON_INCLUSIVE, "inclusive": K.INCLUSIVE,
                           "exclusive": K.EXCLUSIVE}[self.config.inclusion]
        # tag and stamp of a way side by side: one memory line holds both (the scan reads both)
        self._ts = np.zeros((off, 2), dtype=np.int64)
        self._ts[:, 0] = -1
        self._tags = self._ts[:, 0]
        self._stamp = self._ts[:, 1]
        self._valid = np.zeros(off, dtype=np.int64)
        self._dirty = np.zeros(off, dtype=np.int64)
        self._tree = np.zeros(max(toff, 1), dtype=np.int8)
        self._clock = np.zeros(n, dtype=np.int64)
        self._rng = np.array([seed_state(c.seed) for c in lv], dtype=np.uint64)
        self._stats = np.zeros((n, K.NSTAT), dtype=np.int64)
        self._mem = np.zeros(2, dtype=np.int64)
        self.accesses = 0
        self._record = record_memory
        self._sectored = any(c.sector is not None for c in lv)
        # the loads-only fast path ignores dirty victims: used only while no store was seen
        self._may_be_dirty = False
        self._valid_stale = False
        # Compact form of the modulo-indexed, unsectored LRU levels of <= 16 ways (loads fast path).
        # _compact_live[k]: the compact form is up to date; _canon_live[k]: the canonical arrays are.
        self._compact: list = [None] * n
        for k, c in enumerate(lv):
            if (c.policy == "lru" and c.index_hash == "modulo" and c.sectors_per_line == 1
                    and c.ways <= K.COMPACT_MAX_WAYS):
                # 32-bit tags until a tag does not fit (see _widen)
                ctags = np.full(c.sets * c.ways, K.NARROW_EMPTY, dtype=np.uint32)
                perm = np.full(c.sets, K.perm_identity(c.ways), dtype=np.uint64)
                self._set_compact(k, ctags, perm)
        self._compact_live = [True] * n
        self._canon_live = [True] * n
        self._bufs = [np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)]

    def feed_pieces(self, b0, b1, w, want_outcome: bool = True):
        """Replay raw line pieces; returns (outcome per piece, memory requests (m, 3) or None)."""
        npc = b0.shape[0]
        outcome = np.zeros(npc, dtype=np.int8)
        if npc and w.any():
            self._may_be_dirty = True
        if not self._sectored and not self._may_be_dirty and self._inclusion == K.NON_INCLUSIVE:
            return self._feed_loads(b0, outcome, want_outcome)
        self._sync_canonical()
        self._compact_live = [False] * len(self._compact)
        if self._inclusion == K.EXCLUSIVE:
            self._kernels.run_exclusive(self._P, self._tags, self._stamp, self._valid, self._dirty,
                                        self._tree, self._clock, self._rng, self._stats, self._mem, b0, b1,
                                        w, outcome)
            return outcome, None
        if self._inclusion == K.INCLUSIVE:
            rec = self._rec_buffer(npc) if self._record else np.empty((0, 3), dtype=np.int64)
            nr = self._kernels.run_nested(self._P, self._inclusion, self._tags, self._stamp, self._valid,
                                          self._dirty, self._tree, self._clock, self._rng, self._stats,
                                          self._mem, b0, b1, w, outcome, rec, 0)
            return outcome, (rec[:nr] if self._record else None)
        # Non-inclusive: a level never depends on the levels below it, so the hierarchy is the
        # composition of single levels, each fed with the request stream of the level above.
        n = len(self.config.levels)
        rec = None
        for k in range(n):
            rec = self._rec_buffer(b0.shape[0], k)
            oc = outcome if k == 0 else np.zeros(b0.shape[0], dtype=np.int8)
            nr = self._kernels.run_level(self._P, k, self._tags, self._stamp, self._valid, self._dirty,
                                         self._tree, self._clock, self._rng, self._stats, b0, b1, w, oc, rec)
            rec = rec[:nr]
            b0 = np.ascontiguousarray(rec[:, 0])
            b1 = np.ascontiguousarray(rec[:, 1])
            w = np.ascontiguousarray(rec[:, 2])
        nbytes = b1 - b0
        wmask = w != 0
        self._mem[0] += int(nbytes[~wmask].sum())
        self._mem[1] += int(nbytes[wmask].sum())
        return outcome, (rec if self._record else None)

    def _rec_buffer(self, npc: int, k: int | None = None):
        sl = self._P[:, K.NSECT] if k is None else self._P[k : k + 1, K.NSECT]
        nsect = int(sl.max())
        return np.empty((npc * (2 * ((nsect + 1) // 2) + 1) + 1, 3), dtype=np.int64)

    def _set_compact(self, k: int, ctags: np.ndarray, perm: np.ndarray):
        narrow = ctags.dtype == np.uint32
        empty = np.uint32(K.NARROW_EMPTY) if narrow else np.int64(-1)
        limit = K.NARROW_EMPTY if narrow else K.WIDE_LIMIT
        ahead = K.PREFETCH_AHEAD if ctags.nbytes + perm.nbytes > K.PREFETCH_MIN_BYTES else 0
        self._compact[k] = (ctags, perm, empty, limit, ahead)

    def _widen(self, k: int):
        """Switch the compact tags of level ``k`` from uint32 to int64 (a tag did not fit)."""
        ctags, perm = self._compact[k][:2]
        if ctags.dtype == np.uint32:
            wide = ctags.astype(np.int64)
            wide[ctags == K.NARROW_EMPTY] = -1
            self._set_compact(k, wide, perm)

    def _buffer(self, j: int, n: int) -> np.ndarray:
        """Reusable int64 buffer ``j`` (0 or 1) of at least ``n`` entries (level miss streams)."""
        if self._bufs[j].shape[0] < n:
            self._bufs[j] = np.empty(max(n, 1024), dtype=np.int64)
        return self._bufs[j]

    def _feed_loads(self, addr, outcome, want_outcome):
        """Unsectored loads through a non-inclusive hierarchy, level by level."""
        P = self._P
        nlev = P.shape[0]
        lines = addr
        shift = P[0, K.LSHIFT]
        empty8 = np.empty(0, dtype=np.int8)
        for k in range(nlev):
            if k > 0:
                shift = P[k, K.LSHIFT] - P[k - 1, K.LSHIFT]
            emit = k < nlev - 1 or self._record
            # level k reads the miss stream of level k - 1 from one buffer and writes to the other
            out = self._buffer(k % 2, lines.shape[0]) if emit else np.empty(0, dtype=np.int64)
            oc = outcome if k == 0 and want_outcome else empty8
            if self._compact[k] is not None:
                if not self._compact_live[k]:
                    self._canonical_to_compact(k)
                nout = pos = 0
                while True:  # more than once only when a tag does not fit the uint32 tags
                    ctags, perm, empty, limit, ahead = self._compact[k]
                    m, done = self._kernels.run_level_loads_compact(
                        P, k, ctags, perm, empty, limit, self._stats, lines[pos:], shift, out[nout:],
                        oc[pos:], k == 0 and want_outcome, emit, ahead)
                    nout += m
                    pos += done
                    if pos == lines.shape[0]:
                        break
                    self._widen(k)
                self._canon_live[k] = False
            else:
                self._valid_stale = True
                nout = self._kernels.run_level_loads(P, k, self._ts, self._tags, self._stamp, self._tree,
                                                     self._clock, self._rng, self._stats, lines, shift, out,
                                                     oc, k == 0 and want_outcome, emit)
            lines = out[:nout] if emit else nout
        ls = int(P[nlev - 1, K.LSHIFT])
        nmem = lines.shape[0] if self._record else lines
        self._mem[0] += nmem << ls
        rec = None
        if self._record:
            rec = np.empty((lines.shape[0], 3), dtype=np.int64)
            rec[:, 0] = lines << ls
            rec[:, 1] = (lines + 1) << ls
            rec[:, 2] = 0
        return outcome, rec

    def _canonical_to_compact(self, k: int):
        c = self.config.levels[k]
        off = int(self._P[k, K.OFF])
        t = self._tags[off : off + c.sets * c.ways]
        if t.size and int(t.max()) >> int(self._P[k, K.SBITS]) >= K.NARROW_EMPTY:
            self._widen(k)
        ctags, perm, empty = self._compact[k][:3]
        K.canonical_to_compact(self._P, k, self._tags, self._stamp, ctags, perm, empty)
        self._compact_live[k] = True

    def _sync_canonical(self):
        """Bring the canonical state arrays up to date: write back the compact form of the levels
        that ran on it, and (after the canonical loads path, which skips valid bits) mark resident
        unsectored lines valid."""
        if self._valid_stale:
            self._valid[self._tags >= 0] = 1
            self._valid_stale = False
        for k, compact in enumerate(self._compact):
            if compact is not None and not self._canon_live[k]:
                ctags, perm, empty = compact[:3]
                K.compact_to_canonical(self._P, k, ctags, perm, empty, self._tags, self._stamp, self._valid,
                                       self._dirty, self._clock)
                self._canon_live[k] = True

    def feed(self, chunk: TraceChunk, want_outcome: bool = True):
        """Replay one :class:`TraceChunk`; returns the first-level outcome of each access
        (int8: 0 hit, 1 sector miss, 2 miss; an access spanning lines gets its worst piece).

        Sized accesses are cut into line pieces in sub-chunks of at most
        :data:`~cachesim.trace.MAX_CHUNK_BYTES` bytes, so memory stays bounded whatever the sizes.
        """
        parts, recs = [], []
        for sub in byte_bounded(chunk):
            parts.append(self._feed_one(sub, want_outcome))
            recs.append(self._last_requests)
        if len(parts) == 1:
            return parts[0]
        if all(r is not None for r in recs):
            self._last_requests = np.concatenate(recs)
        return np.concatenate(parts)

    def _feed_one(self, chunk: TraceChunk, want_outcome: bool):
        if chunk.write is not None and chunk.write.any():
            self._may_be_dirty = True
        if (chunk.size is None and chunk.write is None and not self._sectored
                and not self._may_be_dirty and self._inclusion == K.NON_INCLUSIVE):
            outcome = np.zeros(len(chunk) if want_outcome else 0, dtype=np.int8)
            outcome, rec = self._feed_loads(chunk.addr, outcome, want_outcome)
            self.accesses += len(chunk)
            self._last_requests = rec
            return outcome
        b0, b1, w, owner = split_pieces(chunk, self.config.levels[0].line)
        outcome, rec = self.feed_pieces(b0, b1, w, want_outcome)
        self.accesses += len(chunk)
        self._last_requests = rec
        if owner is not None and outcome.shape[0]:
            starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
            outcome = np.maximum.reduceat(outcome, starts).astype(np.int8)
        return outcome

    def result(self) -> ReplayResult:
        """Counters so far as a :class:`ReplayResult`."""
        return result_of(self.config, self._stats, self.accesses, self._mem)

    def contents(self, level: int | str = 0) -> set[int]:
        """Line numbers resident in ``level`` (index or name)."""
        k = self._level_index(level)
        self._sync_canonical()
        c = self.config.levels[k]
        off = int(self._P[k, K.OFF])
        t = self._tags[off : off + c.sets * c.ways]
        return set(int(x) for x in t[t >= 0])

    def sector_contents(self, level: int | str = 0) -> dict[int, tuple[int, int]]:
        """``{line: (valid_mask, dirty_mask)}`` of ``level``."""
        k = self._level_index(level)
        self._sync_canonical()
        c = self.config.levels[k]
        off = int(self._P[k, K.OFF])
        sl = slice(off, off + c.sets * c.ways)
        full = (1 << c.sectors_per_line) - 1
        return {
            int(t): (int(v) & full, int(d) & full)
            for t, v, d in zip(self._tags[sl], self._valid[sl], self._dirty[sl])
            if t >= 0
        }

    def _level_index(self, level) -> int:
        names = [c.name for c in self.config.levels]
        if isinstance(level, str):
            if level not in names:
                raise CacheSimError(f"level={plain(level)!r} is not one of {names}")
            return names.index(level)
        if not is_int(level) or not 0 <= level < len(names):
            raise CacheSimError(
                f"level={plain(level)!r} must be a name in {names} or an index in [0, {len(names)})"
            )
        return int(level)


def result_of(config: HierarchyConfig, stats: np.ndarray, accesses: int, mem: np.ndarray) -> ReplayResult:
    """The :class:`ReplayResult` of counters ``stats`` (levels x :data:`~cachesim.stats.COUNTERS`), the
    number of trace ``accesses`` and the memory traffic ``mem = (bytes read, bytes written)``."""
    levels = tuple(
        LevelStats(c.name, **{name: int(stats[k, j]) for j, name in enumerate(COUNTERS)})
        for k, c in enumerate(config.levels)
    )
    return ReplayResult(levels, int(accesses), config, int(mem[0]), int(mem[1]))


def seed_state(seed: int) -> int:
    """Initial xorshift64 state of a level with ``seed`` (never zero)."""
    x = (int(seed) * 0x9E3779B97F4A7C15 + 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF
    return x or 1


def _total_len(trace):
    if isinstance(trace, TraceChunk | np.ndarray | list | tuple | range):
        return len(trace)
    try:
        return len(trace)
    except TypeError:
        return None


def replay(trace, hierarchy, *, chunk_size: int = DEFAULT_CHUNK, progress: bool = False) -> ReplayResult:
    """Replay a memory trace through a cache hierarchy.

    Parameters
    ----------
    trace : array of int, TraceChunk or iterable of TraceChunk
        Anything :func:`cachesim.trace.iter_chunks` accepts; chunks are replayed one by one with
        the cache state kept, so the trace may be larger than memory.
    hierarchy : HierarchyConfig, LevelConfig, preset name, dict or path
    chunk_size : int
        Largest number of accesses handed to the kernel at once.
    progress : bool
        Show a tqdm progress bar (with a total when the trace has a length).

    Returns
    -------
    ReplayResult

    Notes
    -----
    Every level obeys ``accesses = hits + misses + sector_misses``; see the module docstring for
    the model. :func:`cachesim.parallel.replay_parallel` gives the same counters using several threads.
    """
    sim = Simulator(hierarchy)
    feed_chunks(trace, lambda ch: sim.feed(ch, want_outcome=False), chunk_size, progress)
    return sim.result()


def feed_chunks(trace, feed, chunk_size: int, progress: bool, through=None) -> int:
    """Call ``feed(chunk)`` on every chunk of ``trace`` (see :func:`replay`), with an optional tqdm bar;
    returns the number of accesses fed. ``through``: a function the chunk iterator is passed through."""
    chunks = iter_chunks(trace, chunk_size)
    if through is not None:
        chunks = through(chunks)
    bar = None
    total = 0
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=_total_len(trace), unit="acc", unit_scale=True, desc="replay")
    try:
        for ch in chunks:
            feed(ch)
            total += len(ch)
            if bar is not None:
                bar.update(len(ch))
    finally:
        if bar is not None:
            bar.close()
    return total


@dataclass(frozen=True)
class AccessResult:
    """Outcome of :meth:`Cache.access_detailed`.

    Attributes
    ----------
    outcome : ndarray of int8
        Per access: 0 hit, 1 sector miss, 2 (tag) miss.
    down_addr, down_size : ndarray of int64
        Requests this cache sent to the level below, in order (fills, write-backs, write-throughs).
    down_write : ndarray of bool
    """

    outcome: np.ndarray
    down_addr: np.ndarray
    down_size: np.ndarray
    down_write: np.ndarray

    @property
    def hit(self) -> np.ndarray:
        """Boolean hit mask."""
        return self.outcome == HIT


class Cache:
    """One stateful cache level (e.g. a GPU SM's L1 feeding a shared L2).

    Parameters
    ----------
    level : LevelConfig or dict
        The level's configuration.

    Examples
    --------
    >>> c = Cache(LevelConfig("L1", 1024, 64, 2))
    >>> c.access([0, 8, 64, 4096]).tolist()
    [False, True, False, False]
    """

    def __init__(self, level):
        if isinstance(level, dict):
            level = LevelConfig.from_dict(level)
        if not isinstance(level, LevelConfig):
            raise CacheSimError(f"level must be a LevelConfig or a dict, got {type(level).__name__}")
        self.config = level
        self._sim = Simulator(HierarchyConfig(levels=(level,), name=level.name), record_memory=True)

    def _chunk(self, addresses, write, size, unit):
        a = np.asarray(addresses)
        if a.ndim == 0:
            a = a.reshape(1)
        if unit == "line":
            ch = make_chunk(a)
            a = ch.addr << (self.config.line.bit_length() - 1)
        elif unit != "byte":
            raise CacheSimError(f"unit={unit!r} must be 'byte' or 'line'")
        return make_chunk(a, size=size, write=write)

    def access_detailed(self, addresses, write=None, *, size=None, unit: str = "byte") -> AccessResult:
        """Access ``addresses`` (bytes, or line numbers with ``unit="line"``) in order.

        ``write``: bool or bool array (default: loads); ``size``: bytes per access (default 1).
        Returns an :class:`AccessResult` with the per-access outcome and the requests sent below.
        """
        ch = self._chunk(addresses, write, size, unit)
        out = self._sim.feed(ch)
        rec = self._sim._last_requests
        return AccessResult(out, rec[:, 0].copy(), rec[:, 1] - rec[:, 0], rec[:, 2].astype(bool))

    def access(self, addresses, write=None, *, size=None, unit: str = "byte") -> np.ndarray:
        """Access ``addresses`` in order; returns the boolean hit mask (see :meth:`access_detailed`)."""
        return self.access_detailed(addresses, write, size=size, unit=unit).hit

    def outcome(self, addresses, write=None, *, size=None, unit: str = "byte") -> np.ndarray:
        """Access ``addresses``; returns int8 outcomes (0 hit, 1 sector miss, 2 miss)."""
        return self.access_detailed(addresses, write, size=size, unit=unit).outcome

    @property
    def stats(self) -> LevelStats:
        """Counters so far."""
        return self._sim.result().levels[0]

    def contents(self) -> set[int]:
        """Resident line numbers."""
        return self._sim.contents(0)

    def sector_contents(self) -> dict[int, tuple[int, int]]:
        """``{line: (valid_mask, dirty_mask)}``."""
        return self._sim.sector_contents(0)
