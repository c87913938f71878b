"""A deliberately simple pure-Python cache-hierarchy simulator: the oracle of the kernels.

One set is a list of ways (``None`` or a :class:`Line`) plus one policy object from
:mod:`cachesim.policies`; requests recurse down the hierarchy. Slow (~10^5 accesses/s) and meant
for tests. The model is documented in :mod:`cachesim.engine`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import load_hierarchy
from .policies import POLICY_CLASSES, XorShift64
from .stats import COUNTERS, LevelStats, ReplayResult
from .trace import iter_chunks


@dataclass
class Line:
    tag: int
    valid: int  # sector bit mask
    dirty: int


def seed_state(seed: int) -> int:
    """Initial xorshift64 state of a level with ``seed`` (same rule as the engine)."""
    x = (int(seed) * 0x9E3779B97F4A7C15 + 0x2545F4914F6CDD1D) & ((1 << 64) - 1)
    return x or 1


class RefLevel:
    """One level: sets of ways, a policy object per set, counters."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.rng = XorShift64(seed_state(cfg.seed))
        cls = POLICY_CLASSES[cfg.policy]
        self.sets = [[None] * cfg.ways for _ in range(cfg.sets)]
        self.policy = [cls(cfg.ways, self.rng) for _ in range(cfg.sets)]
        self.count = dict.fromkeys(COUNTERS, 0)

    def set_of(self, line: int) -> int:
        s = self.cfg.sets
        if self.cfg.index_hash == "modulo" or s == 1:
            return line % s
        bits = s.bit_length() - 1
        r = 0
        while line:
            r ^= line % s
            line >>= bits
        return r

    def find(self, line: int):
        s = self.set_of(line)
        for w, x in enumerate(self.sets[s]):
            if x is not None and x.tag == line:
                return s, w
        return s, None

    def sectors(self, b0: int, b1: int) -> int:
        """Bit mask of the sectors touched by bytes ``[b0, b1)``."""
        ss = self.cfg.sector_size
        lo = (b0 % self.cfg.line) // ss
        hi = ((b1 - 1) % self.cfg.line) // ss
        return sum(1 << q for q in range(lo, hi + 1))

    def choose_way(self, s: int) -> int:
        for w, x in enumerate(self.sets[s]):
            if x is None:
                return w
        return self.policy[s].victim()


def runs(mask: int, nbits: int):
    """Runs of consecutive set bits of ``mask`` as ``(lo, hi)`` inclusive, lowest first."""
    out = []
    q = 0
    while q < nbits:
        if (mask >> q) & 1:
            lo = q
            while q < nbits and (mask >> q) & 1:
                q += 1
            out.append((lo, q - 1))
        else:
            q += 1
    return out


class ReferenceSimulator:
    """Pure-Python hierarchy simulator with the same interface as :class:`cachesim.Simulator`."""

    def __init__(self, hierarchy):
        self.config = load_hierarchy(hierarchy)
        self.levels = [RefLevel(c) for c in self.config.levels]
        self.mem_read = 0
        self.mem_written = 0
        self.accesses = 0
        self.memory_requests: list[tuple[int, int, bool]] = []

    # ----- non-inclusive / inclusive -------------------------------------------------------
    def request(self, k: int, b0: int, b1: int, write: bool) -> int:
        """Serve bytes ``[b0, b1)`` at level ``k``; returns 0 hit, 1 sector miss, 2 miss."""
        if k == len(self.levels):
            if write:
                self.mem_written += b1 - b0
            else:
                self.mem_read += b1 - b0
            self.memory_requests.append((b0, b1 - b0, write))
            return 0
        L = self.levels[k]
        c = L.cfg
        n = L.count
        line = b0 // c.line
        mask = L.sectors(b0, b1)
        n["accesses"] += 1
        n["writes"] += int(write)
        s, w = L.find(line)
        if w is not None and L.sets[s][w].valid & mask == mask:
            n["hits"] += 1
            L.policy[s].hit(w)
            if write:
                if c.write_back:
                    L.sets[s][w].dirty |= mask
                else:
                    n["bytes_written"] += b1 - b0
                    self.request(k + 1, b0, b1, True)
            return 0
        if w is not None:
            n["sector_misses"] += 1
            outcome = 1
            missing = mask & ~L.sets[s][w].valid
        else:
            n["misses"] += 1
            outcome = 2
            missing = mask
        if write and not c.write_back:
            n["bytes_written"] += b1 - b0
            self.request(k + 1, b0, b1, True)
            return outcome
        ss = c.sector_size
        n["bytes_read"] += bin(missing).count("1") * ss
        for lo, hi in runs(missing, c.sectors_per_line):
            self.request(k + 1, line * c.line + lo * ss, line * c.line + (hi + 1) * ss, False)
        # install
        s, w = L.find(line)
        if w is not None:
            x = L.sets[s][w]
            x.valid |= mask
            if write:
                x.dirty |= mask
            L.policy[s].hit(w)
            return outcome
        w = L.choose_way(s)
        old = L.sets[s][w]
        L.sets[s][w] = Line(line, mask, mask if write else 0)
        if old is not None:
            n["evictions"] += 1
            L.policy[s].invalidate(w)
        L.policy[s].fill(w)
        if old is not None:
            dirty = old.dirty
            if self.config.inclusion == "inclusive":
                dirty |= self.back_invalidate(k, old.tag)
            if dirty:
                n["writebacks"] += 1
                n["bytes_written"] += bin(dirty).count("1") * ss
                for lo, hi in runs(dirty, c.sectors_per_line):
                    self.request(k + 1, old.tag * c.line + lo * ss, old.tag * c.line + (hi + 1) * ss, True)
        return outcome

    def back_invalidate(self, k: int, tag: int) -> int:
        """Remove level-k line ``tag`` from every level above; return its dirty sectors (level k)."""
        ck = self.levels[k].cfg
        lo_byte, hi_byte = tag * ck.line, (tag + 1) * ck.line
        dirty = 0
        for j in range(k):
            Lj = self.levels[j]
            cj = Lj.cfg
            for jline in range(lo_byte // cj.line, hi_byte // cj.line):
                s, w = Lj.find(jline)
                if w is None:
                    continue
                x = Lj.sets[s][w]
                Lj.count["invalidations"] += 1
                for q in range(cj.sectors_per_line):
                    if (x.dirty >> q) & 1:
                        b = jline * cj.line + q * cj.sector_size
                        dirty |= self.levels[k].sectors(b, b + cj.sector_size)
                Lj.sets[s][w] = None
                Lj.policy[s].invalidate(w)
        return dirty

    # ----- exclusive ------------------------------------------------------------------------
    def request_exclusive(self, b0: int, write: bool) -> int:
        levels = self.levels
        L0 = levels[0]
        line = b0 // L0.cfg.line
        L0.count["accesses"] += 1
        L0.count["writes"] += int(write)
        s, w = L0.find(line)
        if w is not None:
            L0.count["hits"] += 1
            L0.policy[s].hit(w)
            if write:
                L0.sets[s][w].dirty = 1
            return 0
        L0.count["misses"] += 1
        L0.count["bytes_read"] += L0.cfg.line
        dirty = 0
        for Lj in levels[1:]:
            Lj.count["accesses"] += 1
            sj, wj = Lj.find(line)
            if wj is not None:
                Lj.count["hits"] += 1
                dirty = Lj.sets[sj][wj].dirty
                Lj.sets[sj][wj] = None
                Lj.policy[sj].invalidate(wj)
                break
            Lj.count["misses"] += 1
        else:
            self.mem_read += L0.cfg.line
        item = Line(line, 1, 1 if (write or dirty) else 0)
        for j, Lj in enumerate(levels):
            sj = Lj.set_of(item.tag)
            wj = Lj.choose_way(sj)
            old = Lj.sets[sj][wj]
            Lj.sets[sj][wj] = item
            if old is not None:
                Lj.policy[sj].invalidate(wj)
            Lj.policy[sj].fill(wj)
            if old is None:
                break
            Lj.count["evictions"] += 1
            Lj.count["writebacks"] += int(bool(old.dirty))
            if j == len(levels) - 1:
                if old.dirty:
                    Lj.count["bytes_written"] += Lj.cfg.line
                    self.mem_written += Lj.cfg.line
                break
            Lj.count["bytes_written"] += Lj.cfg.line
            item = old
        return 2

    # ----- driver ---------------------------------------------------------------------------
    def feed(self, chunk) -> np.ndarray:
        """Replay one TraceChunk; returns the first-level outcome per access (worst piece)."""
        line0 = self.levels[0].cfg.line
        out = np.zeros(len(chunk), dtype=np.int8)
        for i in range(len(chunk)):
            a = int(chunk.addr[i])
            size = 1 if chunk.size is None else int(chunk.size[i])
            write = False if chunk.write is None else bool(chunk.write[i])
            end = a + size
            worst = 0
            while a < end:
                b1 = min(end, (a // line0 + 1) * line0)
                if self.config.inclusion == "exclusive":
                    o = self.request_exclusive(a, write)
                else:
                    o = self.request(0, a, b1, write)
                worst = max(worst, o)
                a = b1
            out[i] = worst
        self.accesses += len(chunk)
        return out

    def result(self) -> ReplayResult:
        levels = tuple(LevelStats(L.cfg.name, **L.count) for L in self.levels)
        return ReplayResult(levels, self.accesses, self.config, self.mem_read, self.mem_written)

    def contents(self, level: int = 0) -> set[int]:
        return {x.tag for st in self.levels[level].sets for x in st if x is not None}

    def sector_contents(self, level: int = 0) -> dict[int, tuple[int, int]]:
        return {x.tag: (x.valid, x.dirty) for st in self.levels[level].sets for x in st if x is not None}


def reference_replay(trace, hierarchy, *, chunk_size: int = 1 << 16) -> ReplayResult:
    """Replay ``trace`` with the pure-Python :class:`ReferenceSimulator`."""
    sim = ReferenceSimulator(hierarchy)
    for ch in iter_chunks(trace, chunk_size):
        sim.feed(ch)
    return sim.result()
