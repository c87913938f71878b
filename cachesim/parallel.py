"""Exact replay with the cache sets split across threads: :func:`replay_parallel`.

Why it is exact. Under the ``lru``, ``fifo``, ``mru`` and ``plru`` policies the state of a cache set
changes only on requests for lines that map to that set. Take a partition of the lines such that every
set of every level lies inside one part. Every request the model makes for a line of part ``g`` -- a
trace access, a fill, a write-back, a write-through, an inclusive back-invalidation, an exclusive victim
moving down -- is for a line of part ``g`` again (a victim shares its set with the line that evicted
it). Replaying only the accesses of part ``g``, in trace order, therefore takes the sets of part ``g``
through exactly the states they go through in the whole replay, at every level and under every
inclusion, and each counter of the hierarchy is the sum of its values over the parts. (Timestamps of
the LRU and FIFO orders are only compared within a set, so a per-part clock orders them the same way.)

The partition. Level ``k`` (lines of ``2**l_k`` bytes, ``2**s_k`` modulo-indexed sets) takes its set
index from address bits ``[l_k, l_k + s_k)``. With ``L = max_k l_k`` and
``f = min_k (s_k - (L - l_k))``, the bits ``[L, L + f)`` lie inside every level's set index, so the
``2**f`` values of ``key = (address >> L) mod 2**f`` are independent set groups (64 for the ``zen4``
preset, whose L1 has 64 sets); ``G = 2**min(f, MAX_KEY_BITS)`` of them are used. Worker ``w`` of ``N``
simulates the keys ``floor(w G / N) <= key < floor((w + 1) G / N)``; one partition serves every level,
because the lower levels only ever see requests for lines of the part they came from.

How. Each chunk of the trace is cut into line pieces (as :class:`~cachesim.engine.Simulator` does) and
handed on in rounds of at most :data:`ROUND` pieces. With at most :data:`SELECT_MAX_WORKERS` workers,
thread ``w`` copies the pieces of its keys out of each round, in trace order, in one branch-free pass, and
replays them; so every thread reads every round. These threads run at their own pace (no thread waits for
the others after each round; the calling thread, which reads and cuts the next chunks meanwhile, is at
most :data:`AHEAD` rounds ahead of the slowest). With more workers, each round is sorted by key with a
stable counting sort shared by the threads (each counts the keys of a ``1/N`` slice, then copies its
pieces to the slots of their key), and worker ``w``'s pieces are one contiguous run of the sorted round,
its keys one after the other, each key's pieces in trace order (the order between different keys does not
matter: their sets are disjoint). Either way, a thread replays its pieces through its own simulator state
with the compiled kernels, which release the GIL (:mod:`cachesim._parallel_kernel`). State is carried
across chunks, so streamed traces (:func:`cachesim.open_trace`) work as in :func:`cachesim.replay`.

Serial fallback. Where no partition reproduces the serial counts, :func:`replay_parallel` replays
serially and emits one :class:`SerialFallbackWarning` saying why:

- a level with ``policy="random"`` (one pseudo-random stream per level, shared by all its sets);
- a level with ``index_hash="xor"`` among several levels (its set index depends on every bit of the line
  number, so no split of the lines keeps the sets of both indexings together). A hierarchy of one
  XOR-indexed level is split by the low bits of its (folded) set index instead;
- no address bit is common to every level's set index (``f <= 0``: a one-set level, or line sizes so
  different that the set bits do not overlap).

When the hierarchy has fewer independent groups than ``workers``, it uses one worker per group (same
warning). ``workers`` that is not an integer in ``[1, MAX_WORKERS]`` raises
:class:`~cachesim.errors.CacheSimError`.

Memory: each worker holds a full copy of the simulator state (about 40 bytes per cache line of the
hierarchy), of which it touches only its own sets.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np

from . import _kernel as K
from . import _parallel_kernel as PK
from ._validate import check_allocation, check_int
from .config import HierarchyConfig, load_hierarchy
from .engine import (
    _STATE_BYTES_PER_LINE,
    MAX_SIM_LINES,
    Simulator,
    feed_chunks,
    replay,
    result_of,
    split_pieces,
)
from .stats import ReplayResult
from .trace import DEFAULT_CHUNK, TraceChunk, byte_bounded

#: Most threads :func:`replay_parallel` accepts.
MAX_WORKERS = 256

#: Up to this many workers, each worker copies its own pieces out of every chunk (:func:`select_keys
#: <cachesim._parallel_kernel.select_keys>`, about 1 ns per piece and worker); with more, the threads sort
#: each chunk by group together (about 4-5 ns per piece in all), which then costs less per worker.
SELECT_MAX_WORKERS = 4

#: Line pieces handed to the workers at a time (bounds the buffers of a worker to 3 x 8 MiB).
ROUND = 1 << 20

#: Rounds the calling thread may be ahead of the slowest worker (free-running workers, see :class:`_Rounds`).
AHEAD = 4

#: The group key takes at most this many address bits (a lookup table of ``2**MAX_KEY_BITS`` entries
#: maps a key to its worker).
MAX_KEY_BITS = 12

_EXACT_POLICIES = ("lru", "fifo", "mru", "plru")
_NONE = np.empty(0, dtype=np.int64)


class SerialFallbackWarning(UserWarning):
    """:func:`replay_parallel` used fewer threads than asked (or one), to keep the counts exact."""


@dataclass(frozen=True)
class ShardPlan:
    """How :func:`replay_parallel` splits a hierarchy's sets among threads.

    Attributes
    ----------
    workers : int
        Threads that replay (1: serial).
    shift, groups : int
        A line piece at byte address ``a`` belongs to set group ``key = (a >> shift) mod groups``;
        worker ``w`` takes the keys ``floor(w * groups / workers) <= key < floor((w + 1) * groups /
        workers)``.
    reason : str
        Why fewer workers than asked are used (empty when all are).
    fold : int
        0, or (one XOR-indexed level of ``2**fold`` sets) the key is the set index XOR-folded from line
        ``a >> shift``, modulo ``groups``.
    """

    workers: int
    shift: int
    groups: int
    reason: str = ""
    fold: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def check_workers(workers) -> int:
    """``workers`` as an int in ``[1, MAX_WORKERS]``, else ``CacheSimError`` naming the value and range."""
    return check_int("workers", workers, low=1, high=MAX_WORKERS)


def _uncoupled_reason(config: HierarchyConfig) -> str:
    """Why the sets of ``config`` cannot be split into independent groups ("" when they can)."""
    for c in config.levels:
        if c.policy not in _EXACT_POLICIES:
            return (f"level {c.name!r} has policy={c.policy!r}, whose victims come from one random stream "
                    "shared by all its sets")
        if c.index_hash != "modulo" and len(config.levels) > 1:
            return (f"level {c.name!r} has index_hash={c.index_hash!r} in a hierarchy of several levels: no "
                    "split of the lines keeps the sets of every level together")
    return ""


def plan_shards(hierarchy, workers: int) -> ShardPlan:
    """The :class:`ShardPlan` of ``workers`` threads for ``hierarchy`` (see the module notes).

    Raises
    ------
    CacheSimError
        ``workers`` is not an integer in ``[1, MAX_WORKERS]``, or ``hierarchy`` is not valid.
    """
    workers = check_workers(workers)
    config = load_hierarchy(hierarchy)
    if workers == 1:
        return ShardPlan(1, 0, 1)
    lbits = [c.line.bit_length() - 1 for c in config.levels]
    sbits = [c.sets.bit_length() - 1 for c in config.levels]
    top = max(lbits)
    common = min(s - (top - lb) for s, lb in zip(sbits, lbits))
    fold = sbits[0] if config.levels[0].index_hash == "xor" else 0
    reason = _uncoupled_reason(config)
    if not reason and common <= 0:
        reason = ("no set-index bit is common to all its levels (a level with one set, or line sizes too "
                  "far apart)")
    if reason:
        return ShardPlan(1, 0, 1,
                         f"workers={workers}: hierarchy {config.name!r}: {reason}; replaying serially")
    groups = 1 << min(common, MAX_KEY_BITS)
    if workers > groups:
        return ShardPlan(groups, top, groups, f"workers={workers}: hierarchy {config.name!r} has {groups} "
                         f"independent set groups; replaying with workers={groups}", fold)
    return ShardPlan(workers, top, groups, "", fold)


class _ShardSimulator(Simulator):
    """A :class:`~cachesim.engine.Simulator` whose replay kernels release the GIL."""

    _kernels = PK


class _Rounds:
    """Rounds of line pieces that the calling thread puts and every worker thread takes, in order, each at
    its own pace (no worker waits for another); at most :data:`AHEAD` rounds are kept."""

    def __init__(self, workers: int):
        self._cond = threading.Condition()
        self._items: dict = {}
        self._made = 0
        self._done = [0] * workers
        self._closed = self._failed = False

    def put(self, item) -> bool:
        """Add a round (waits while the slowest worker is :data:`AHEAD` rounds behind); False once a worker
        failed."""
        with self._cond:
            self._cond.wait_for(lambda: self._failed or self._made - min(self._done) < AHEAD)
            if self._failed:
                return False
            self._items[self._made] = item
            self._made += 1
            self._cond.notify_all()
            return True

    def take(self, worker: int, i: int):
        """Round ``i`` (waits for it); None after :meth:`close` or :meth:`fail`."""
        with self._cond:
            self._cond.wait_for(lambda: i < self._made or self._closed or self._failed)
            return None if self._failed or i >= self._made else self._items[i]

    def release(self, worker: int, i: int) -> None:
        """``worker`` is done with round ``i``; rounds every worker is done with are dropped."""
        with self._cond:
            self._done[worker] = i + 1
            low = min(self._done)
            for k in [k for k in self._items if k < low]:
                del self._items[k]
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def fail(self) -> None:
        with self._cond:
            self._failed = True
            self._cond.notify_all()


class _Shards:
    """The per-thread simulators of one parallel replay and the partition of each chunk among them."""

    def __init__(self, config: HierarchyConfig, plan: ShardPlan, pool: ThreadPoolExecutor):
        n = plan.workers
        check_allocation(f"the simulator state of {n} workers (one copy of hierarchy {config.name!r} each)",
                         n * sum(c.n_lines for c in config.levels), _STATE_BYTES_PER_LINE,
                         hard_count=n * MAX_SIM_LINES, unit="lines")
        self.sims = [_ShardSimulator(config) for _ in range(n)]
        self.plan = plan
        self.pool = pool
        # worker j simulates the keys [first_key[j], first_key[j + 1])
        self.first_key = np.array([plan.groups * j // n for j in range(n + 1)])
        self.line = config.levels[0].line
        self._bufs: dict = {}
        self._rounds = self._workers = None
        if n <= SELECT_MAX_WORKERS:  # free-running workers, each selecting its pieces from every round
            self._rounds = _Rounds(n)
            self._workers = [pool.submit(self._select_loop, j) for j in range(n)]

    def feed(self, chunk: TraceChunk) -> None:
        """Replay one chunk: cut it into line pieces, hand them to the workers :data:`ROUND` at a time."""
        for sub in byte_bounded(chunk):
            if sub.size is None and sub.write is None:  # loads of one byte: the pieces are the addresses
                pieces = (np.ascontiguousarray(sub.addr), _NONE, _NONE)
            else:
                b0, b1, w, _ = split_pieces(sub, self.line)
                pieces = tuple(np.ascontiguousarray(a, dtype=np.int64) for a in (b0, b1, w))
            for lo in range(0, pieces[0].shape[0], ROUND):
                b0, b1, w = (a[lo : lo + ROUND] if a.shape[0] else _NONE for a in pieces)
                if self._rounds is None:
                    buckets = self._partition(b0, b1, w)
                    self._run_all(_feed_bucket, [(s, *bk) for s, bk in zip(self.sims, buckets)])
                elif not self._rounds.put((b0, b1, w)):
                    self.finish()  # raises the failed worker's error

    def _select_loop(self, j: int) -> None:
        """Worker ``j``: replay its pieces of every round, in order, until the rounds are closed."""
        try:
            i = 0
            while (item := self._rounds.take(j, i)) is not None:
                self._select_and_feed(j, *item)
                self._rounds.release(j, i)
                i += 1
        except BaseException:
            self._rounds.fail()
            raise

    def finish(self) -> None:
        """Wait for the workers to replay every round (raises a worker's error)."""
        if self._rounds is not None:
            self._rounds.close()
            for f in self._workers:
                f.result()

    def abort(self) -> None:
        """Stop the workers after their current round (the caller failed)."""
        if self._rounds is not None:
            self._rounds.fail()

    def _buffers(self, owner, b0: np.ndarray, b1: np.ndarray, w: np.ndarray) -> tuple:
        """Reusable output arrays for ``b0``'s pieces (empty where ``b1`` or ``w`` is empty)."""
        n = b0.shape[0]
        out = []
        for i, a in enumerate((b0, b1, w)):
            buf = self._bufs.get((owner, i), _NONE)
            if a.shape[0] and buf.shape[0] < n:
                buf = self._bufs[(owner, i)] = np.empty(n, dtype=np.int64)
            out.append(buf[:n] if a.shape[0] else _NONE)
        return tuple(out)

    def _select_and_feed(self, j: int, b0: np.ndarray, b1: np.ndarray, w: np.ndarray) -> None:
        """Worker ``j``: copy out the pieces of its keys, in trace order, and replay them."""
        p = self.plan
        ob0, ob1, ow = self._buffers(j, b0, b1, w)
        m = PK.select_keys(b0, b1, w, p.shift, p.groups - 1, p.fold, self.first_key[j], self.first_key[j + 1],
                           ob0, ob1, ow)
        _feed_bucket(self.sims[j], *(a[:m] for a in (ob0, ob1, ow)))

    def _partition(self, b0: np.ndarray, b1: np.ndarray, w: np.ndarray) -> list[tuple]:
        """Stable counting sort of the pieces by set-group key, done by all threads on slices of the chunk;
        returns each worker's bucket (its keys' pieces: key by key, each key's in trace order)."""
        n, nw, groups = b0.shape[0], self.plan.workers, self.plan.groups
        shift, mask, fold = self.plan.shift, groups - 1, self.plan.fold
        bounds = [n * i // nw for i in range(nw + 1)]
        counts = np.zeros((nw, groups), dtype=np.int64)
        self._run_all(PK.count_keys, [(b0, bounds[i], bounds[i + 1], shift, mask, fold, counts[i])
                                      for i in range(nw)])
        per_key = counts.sum(axis=0)
        key_start = np.concatenate(([0], np.cumsum(per_key)))
        pos = key_start[None, :-1] + np.cumsum(counts, axis=0) - counts  # slice i's first slot per key
        ob0, ob1, ow = self._buffers("sorted", b0, b1, w)
        self._run_all(PK.scatter_keys, [(b0, b1, w, bounds[i], bounds[i + 1], shift, mask, fold,
                                         np.ascontiguousarray(pos[i]), ob0, ob1, ow) for i in range(nw)])
        cut = key_start[self.first_key]
        return [tuple(a[cut[j] : cut[j + 1]] if a.shape[0] else _NONE for a in (ob0, ob1, ow))
                for j in range(nw)]

    def _run_all(self, fn, arglists) -> None:
        for f in [self.pool.submit(fn, *args) for args in arglists]:
            f.result()

    def result(self, config: HierarchyConfig, accesses: int) -> ReplayResult:
        stats = sum(s._stats for s in self.sims)
        mem = sum(s._mem for s in self.sims)
        return result_of(config, stats, accesses, mem)


def _feed_bucket(sim: Simulator, b0: np.ndarray, b1: np.ndarray, w: np.ndarray) -> None:
    """Replay one worker's pieces (``b1``/``w`` empty: one-byte loads) through its simulator."""
    if (b1.shape[0] == 0 and w.shape[0] == 0 and not sim._sectored and not sim._may_be_dirty
            and sim._inclusion == K.NON_INCLUSIVE):
        sim._feed_loads(b0, np.zeros(0, dtype=np.int8), False)
        return
    if b1.shape[0] == 0:
        b1 = b0 + 1
    if w.shape[0] == 0:
        w = np.zeros(b0.shape[0], dtype=np.int64)
    sim.feed_pieces(b0, b1, w, want_outcome=False)


def replay_parallel(trace, hierarchy, *, workers: int, chunk_size: int = DEFAULT_CHUNK,
                    progress: bool = False) -> ReplayResult:
    """Replay a memory trace with the cache sets split among ``workers`` threads; exact.

    Parameters
    ----------
    trace : array of int, TraceChunk or iterable of TraceChunk
        As for :func:`cachesim.replay` (streamed chunk by chunk; state is kept across chunks). The next
        chunks are read while earlier ones replay, so an iterable must not change a chunk's arrays after
        yielding it (the readers of :func:`cachesim.open_trace` yield new arrays each time).
    hierarchy : HierarchyConfig, LevelConfig, preset name, dict or path
    workers : int
        Threads, in ``[1, MAX_WORKERS]``.
    chunk_size, progress
        As for :func:`cachesim.replay`.

    Returns
    -------
    ReplayResult
        Exactly the counters of ``cachesim.replay(trace, hierarchy)``.

    Raises
    ------
    CacheSimError
        ``workers`` is not an integer in ``[1, MAX_WORKERS]``.

    Warns
    -----
    SerialFallbackWarning
        The hierarchy's sets cannot be split (``random`` policy, XOR indexing, no common set bits): the
        replay runs serially; or it has fewer independent set groups than ``workers``: it uses fewer.

    Notes
    -----
    Level ``k`` with lines of ``2**l_k`` bytes and ``2**s_k`` sets: the set groups are the values of the
    address bits ``[L, L + f)``, ``L = max_k l_k``, ``f = min_k (s_k - (L - l_k))``; see the module
    docstring for why splitting by them is exact.
    """
    config = load_hierarchy(hierarchy)
    plan = plan_shards(config, workers)
    if plan.reason:
        warnings.warn(plan.reason, SerialFallbackWarning, stacklevel=2)
    if plan.workers == 1:
        return replay(trace, config, chunk_size=chunk_size, progress=progress)
    with ThreadPoolExecutor(plan.workers, thread_name_prefix="cachesim-replay") as pool:
        shards = _Shards(config, plan, pool)
        try:
            accesses = feed_chunks(trace, shards.feed, chunk_size, progress, through=read_ahead)
        except BaseException:
            shards.abort()
            raise
        shards.finish()
    return shards.result(config, accesses)


def read_ahead(chunks: Iterator[TraceChunk]) -> Iterator[TraceChunk]:
    """The chunks of ``chunks``, the next one read (from a file: read and checked) in a thread of its own
    while the caller works on the current one. Errors of the reader are raised in the caller."""
    with ThreadPoolExecutor(1, thread_name_prefix="cachesim-read") as reader:
        nxt = reader.submit(next, chunks, None)
        while (chunk := nxt.result()) is not None:
            nxt = reader.submit(next, chunks, None)
            yield chunk
