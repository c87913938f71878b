"""One on-disk trace replayed across Dask workers, each simulating a group of cache sets.

Why this is exact: under a replacement policy whose state is per set (LRU, FIFO, MRU, tree PLRU), the
state of a set changes only on requests to lines that map to it. If a partition of the lines maps every
set of every level into one part, then a request for a line of part g -- a trace access, a fill, a
write-back, an inclusive back-invalidation, an exclusive victim moving down -- only ever touches sets of
part g, at every level. Replaying only the accesses of part g, in their trace order, therefore goes
through exactly the states those sets go through in the full replay, and every counter of the hierarchy
is the sum over the parts.

The parts: with modulo set indexing, level k (line ``2**l_k`` bytes, ``2**s_k`` sets) takes its set
index from address bits ``[l_k, l_k + s_k)``; the group key takes address bits ``[L, L + f)`` with
``L = max_k l_k`` and ``f = min_k (s_k - (L - l_k))``, which lie inside every level's set bits. So there
are ``F = 2**f`` independent set groups (64 for the ``zen4`` preset: its L1 has 64 sets); worker ``i`` of
``N`` takes the accesses whose key ``mod N == i``. A single level with XOR-folded set indexing is split by
the low bits of its set index instead.

Not exact, and refused for ``groups > 1``: the ``random`` policy (one pseudo-random stream per level,
shared by all its sets), and a hierarchy of several levels with an XOR-indexed level (no line partition
respects both its sets and the others').
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._dask import open_scheduler, parse_scheduler
from .errors import SweepError

EXACT_POLICIES = ("lru", "fifo", "mru", "plru")


@dataclass(frozen=True)
class ShardedReplay:
    """Result of :func:`replay_sharded`.

    Attributes
    ----------
    result : cachesim.ReplayResult
        The merged counters: the same object a single-process :func:`cachesim.replay` returns.
    groups : int
        Number of workers' tasks the sets were split into.
    scheduler : str
    seconds : float
        Wall time of the call.
    group_seconds : tuple of float
        Wall time of each task on its worker (streaming the whole trace and simulating its sets).
    group_pieces : tuple of int
        First-level requests (line pieces of the trace) each task simulated.
    """

    result: object
    groups: int
    scheduler: str
    seconds: float
    group_seconds: tuple
    group_pieces: tuple

    def to_dict(self) -> dict:
        return {"result": self.result.to_dict(), "groups": self.groups, "scheduler": self.scheduler,
                "seconds": self.seconds, "group_seconds": list(self.group_seconds),
                "group_pieces": list(self.group_pieces)}


@dataclass(frozen=True)
class _Plan:
    """How a line piece's byte address maps to its set group: ``key(b0) % groups``."""

    how: str        # "modulo": key = (b0 >> shift) & (fine - 1);  "xor": key = xor-fold set & (fine - 1)
    shift: int
    fine: int
    sets: int = 1
    sbits: int = 0

    def task_of(self, b0: np.ndarray, groups: int) -> np.ndarray:
        if self.how == "modulo":
            key = (b0 >> self.shift) & (self.fine - 1)
        else:
            line = b0 >> self.shift
            key = np.zeros_like(line)
            while line.any():
                key ^= line & (self.sets - 1)
                line = line >> self.sbits
            key &= self.fine - 1
        return key % groups


def plan_groups(config) -> _Plan:
    """The set-group plan of a hierarchy (``F`` independent groups), or :class:`SweepError`."""
    levels = config.levels
    random = [c.name for c in levels if c.policy not in EXACT_POLICIES]
    if random:
        raise SweepError(f"level {random[0]!r} has policy='random': its victims come from one random "
                         "stream shared by all sets, so set groups cannot reproduce its counts; use groups=1")
    lbits = [c.line.bit_length() - 1 for c in levels]
    sbits = [c.sets.bit_length() - 1 for c in levels]
    if any(c.index_hash == "xor" for c in levels):
        if len(levels) > 1:
            raise SweepError(f"hierarchy {config.name!r} has an XOR-indexed level among several: no set "
                             "groups are independent at every level; use groups=1")
        return _Plan("xor", lbits[0], levels[0].sets, levels[0].sets, sbits[0])
    top = max(lbits)
    f = min(s - (top - lb) for s, lb in zip(sbits, lbits))
    return _Plan("modulo", top, 1 << max(f, 0))


def replay_group(path: str, fmt, chunk_size: int, include_instructions: bool, config, plan: _Plan,
                 groups: int, index: int) -> dict:
    """Stream the trace and simulate the sets of group ``index`` (what one worker runs)."""
    from cachesim.engine import Simulator, split_pieces
    from cachesim.traceio import open_trace

    t0 = time.perf_counter()
    sim = Simulator(config)
    line = config.levels[0].line
    accesses = pieces = 0
    for chunk in open_trace(path, fmt, chunk_size=chunk_size, include_instructions=include_instructions):
        b0, b1, w, _ = split_pieces(chunk, line)
        keep = plan.task_of(b0, groups) == index if groups > 1 else slice(None)
        b0, b1, w = (np.ascontiguousarray(a[keep]) for a in (b0, b1, w))
        sim.feed_pieces(b0, b1, w, want_outcome=False)
        accesses += len(chunk)
        pieces += b0.shape[0]
    res = sim.result()
    return {"levels": res.levels, "memory": (res.memory_bytes_read, res.memory_bytes_written),
            "accesses": accesses, "pieces": pieces, "seconds": time.perf_counter() - t0}


def _merge(config, parts: list[dict]):
    from dataclasses import fields

    from cachesim.stats import LevelStats, ReplayResult

    names = [f.name for f in fields(LevelStats) if f.name != "name"]
    levels = tuple(LevelStats(c.name, **{n: sum(getattr(p["levels"][k], n) for p in parts) for n in names})
                   for k, c in enumerate(config.levels))
    return ReplayResult(levels, parts[0]["accesses"], config, sum(p["memory"][0] for p in parts),
                        sum(p["memory"][1] for p in parts))


def replay_sharded(trace, hierarchy, *, scheduler="synchronous", groups: int = 2, format=None,
                   chunk_size: int = 1 << 20, include_instructions: bool = False,
                   connect_timeout: float = 10.0) -> ShardedReplay:
    """Replay an on-disk trace with its cache sets split into ``groups`` tasks (one per Dask worker).

    Parameters
    ----------
    trace : str or Path
        A trace file every worker can read (the same path on every machine).
    hierarchy : HierarchyConfig, preset name, dict or path
        Anything :func:`cachesim.load_hierarchy` accepts.
    scheduler : str or distributed.Client
        As for :func:`run_sweep`: ``"synchronous"``, ``"local:N"``, an address or a Client.
    groups : int
        Tasks; each streams the whole trace and simulates the sets of its group. At most the number of
        independent set groups of the hierarchy (see the module notes).
    format, chunk_size, include_instructions
        As for :func:`cachesim.open_trace`.

    Returns
    -------
    ShardedReplay
        ``result`` has exactly the counters of ``cachesim.replay(open_trace(trace), hierarchy)``.

    Raises
    ------
    SweepError
        A missing trace, ``groups`` out of range, a policy or indexing that set groups cannot reproduce,
        or an unreachable scheduler.
    """
    from cachesim.config import load_hierarchy
    from cachesim.traceio import open_trace

    t0 = time.perf_counter()
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise SweepError(f"groups={groups!r} must be an integer >= 1")
    config = load_hierarchy(hierarchy)
    plan = plan_groups(config) if groups > 1 else _Plan("modulo", 0, 1)
    if groups > plan.fine:
        raise SweepError(f"groups={groups} must be <= {plan.fine}, the number of independent set groups of "
                         f"hierarchy {config.name!r}")
    path = str(Path(trace).resolve())
    tf = open_trace(path, format, chunk_size=chunk_size, include_instructions=include_instructions)
    sched = parse_scheduler(scheduler)
    tasks = [(path, tf.format, chunk_size, include_instructions, config, plan, groups, i)
             for i in range(groups)]
    parts: list = [None] * groups
    with open_scheduler(sched, connect_timeout=connect_timeout) as run:
        for i, res in run(replay_group, tasks):
            if isinstance(res, BaseException):
                raise SweepError(f"set group {i} failed: {type(res).__name__}: {res}") from res
            parts[i] = res
    return ShardedReplay(_merge(config, parts), groups, sched.text, time.perf_counter() - t0,
                         tuple(p["seconds"] for p in parts), tuple(p["pieces"] for p in parts))
