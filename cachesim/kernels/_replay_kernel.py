"""Private replay kernel: a chain of sectored, set-associative LRU caches (numba) and its naive reference.

Level 0 may have several private instances (one L1 per SM); deeper levels are shared. Each access is one
sector request ``(addr, inst, op, flags)``:

* ``addr``  byte address (any byte of the sector),
* ``inst``  which level-0 instance serves it (the SM),
* ``op``    an operand class used only for the per-operand counters,
* ``flags`` bit 0 ``WRITE`` (marks the sector dirty in the last level), bit 1 ``BYPASS0`` (skips
  level 0: GPU stores, atomics, ``cp.async.cg``), bit 2 ``FULL`` (a write covering the whole sector:
  no DRAM fetch on a last-level miss).

Semantics per level (non-inclusive, fill on miss, as pycachesim / Dinero): look up the line tag in its
set; a hit on a valid sector stops the walk; otherwise the sector is filled (the line is allocated,
evicting the least-recently-used way, when its tag is absent) and the request goes to the next level.
Every level is updated in LRU order on each access. Only the last level tracks dirty sectors: dirty
sectors evicted from it, and those left at the end (:func:`flush_dirty`), are the DRAM write traffic;
upper-level write-backs are assumed to hit the level below and are not counted. The kernel runs with
``NUMBA_DISABLE_JIT=1`` (plain Python, slow); :class:`ReferenceChain` is an independent dict-based
implementation of the same semantics, used by the tests.
"""

from __future__ import annotations

from collections import OrderedDict

import numba
import numpy as np

from ._sector_flags import BYPASS0, FULL, WRITE  # noqa: F401 - the flags the kernels test


@numba.njit(cache=True, nogil=True)
def _popcount(x):
    c = 0
    while x:
        c += x & 1
        x >>= 1
    return c


@numba.njit(cache=True, nogil=True)
def _set_of(line, n_sets):
    """``line mod n_sets`` without a hardware division (slow on this machine): a mask for powers of two,
    else a float reciprocal with one correction step (exact: ``line < 2**52``)."""
    if (n_sets & (n_sets - 1)) == 0:
        return line & (n_sets - 1)
    q = np.int64(np.float64(line) * (1.0 / np.float64(n_sets)))
    r = line - q * n_sets
    if r < 0:
        r += n_sets
    elif r >= n_sets:
        r -= n_sets
    return r


@numba.njit(cache=True, nogil=True, inline="always")  # IR inlining: 2.5x faster than a call
def _access(a, inst, o, f, n_sets, ways, line_shift, sector_shift, base, inst_stride, ent, req, miss,
            dram_read, dram_write):
    """One sector request. Each set is ``ways`` consecutive int64 entries in recency order (most recent
    first; empty entries are -1 and sit at the end); an entry packs
    ``line << 16 | dirty_bits << 8 | valid_bits`` (at most 8 sectors per line)."""
    n_levels = n_sets.shape[0]
    last = n_levels - 1
    is_write = (f & 1) != 0
    lv0 = 1 if (f & 2) != 0 else 0
    for lv in range(lv0, n_levels):
        line = a >> line_shift[lv]
        sec = (a >> sector_shift[lv]) & ((1 << (line_shift[lv] - sector_shift[lv])) - 1)
        bit = np.int64(1) << sec
        nw = ways[lv]
        off = base[lv] + inst * inst_stride[lv] + _set_of(line, n_sets[lv]) * nw
        req[lv, o] += 1
        mark_dirty = is_write and lv == last
        found = -1
        for w in range(nw):
            e = ent[off + w]
            if e < 0:
                break
            if (e >> 16) == line:
                found = w
                break
        if found >= 0:
            e = ent[off + found]
            for j in range(found, 0, -1):
                ent[off + j] = ent[off + j - 1]
            hit = (e & bit) != 0
            e |= bit
            if mark_dirty:
                e |= bit << 8
            ent[off] = e
            if hit:
                return
        else:
            ev = ent[off + nw - 1]
            if lv == last and ev >= 0:
                dram_write[0] += _popcount((ev >> 8) & 255)
            for j in range(nw - 1, 0, -1):
                ent[off + j] = ent[off + j - 1]
            e = (line << 16) | bit
            if mark_dirty:
                e |= bit << 8
            ent[off] = e
        miss[lv, o] += 1
        if lv == last and not (is_write and (f & 4) != 0):
            dram_read[o] += 1


@numba.njit(cache=True, nogil=True)
def replay_chunk(addr, inst, op, flags, n_sets, ways, line_shift, sector_shift, base, inst_stride,
                 ent, req, miss, dram_read, dram_write):
    """Replay a flat chunk of sector requests, updating state and counters in place."""
    for i in range(addr.shape[0]):
        _access(addr[i], inst[i], op[i], flags[i], n_sets, ways, line_shift, sector_shift, base,
                inst_stride, ent, req, miss, dram_read, dram_write)


@numba.njit(cache=True, nogil=True)
def replay_rows(lanes, row_inst, row_op, row_flags, issued, n_sets, ways, line_shift, sector_shift, base,
                inst_stride, ent, req, miss, dram_read, dram_write):
    """Replay warp instructions: row ``r`` of ``lanes`` holds the sector addresses of one instruction,
    equal sectors adjacent; each distinct sector is one request (``issued[op]`` counts them)."""
    for r in range(lanes.shape[0]):
        o = row_op[r]
        prev = np.int64(-1)
        for j in range(lanes.shape[1]):
            a = lanes[r, j]
            if a == prev:
                continue
            prev = a
            issued[o] += 1
            _access(a, row_inst[r], o, row_flags[r], n_sets, ways, line_shift, sector_shift, base,
                    inst_stride, ent, req, miss, dram_read, dram_write)


class ChainState:
    """Geometry and state arrays of a cache chain, fed chunk by chunk to :func:`replay_chunk`.

    Parameters
    ----------
    levels : sequence of (size_bytes, ways, line_bytes, sector_bytes)
        From the level nearest the core outwards.
    n_instances : int
        Number of private level-0 caches (SMs).
    n_ops : int
        Number of operand classes counted separately.
    """

    def __init__(self, levels, n_instances: int = 1, n_ops: int = 1):
        n = len(levels)
        self.n_sets = np.empty(n, np.int64)
        self.ways = np.empty(n, np.int64)
        self.line_shift = np.empty(n, np.int64)
        self.sector_shift = np.empty(n, np.int64)
        self.base = np.empty(n, np.int64)
        self.inst_stride = np.zeros(n, np.int64)
        total = 0
        for lv, (size, ways, line, sector) in enumerate(levels):
            sets = max(1, size // (line * ways))
            self.n_sets[lv] = sets
            self.ways[lv] = ways
            self.line_shift[lv] = int(line).bit_length() - 1
            self.sector_shift[lv] = int(sector).bit_length() - 1
            self.base[lv] = total
            per = sets * ways
            if line // sector > 8:
                raise ValueError(f"at most 8 sectors per line (line={line}, sector={sector})")
            if lv == 0:
                self.inst_stride[0] = per
                total += per * n_instances
            else:
                total += per
        self.ent = np.full(total, -1, np.int64)
        self.req = np.zeros((n, n_ops), np.int64)
        self.miss = np.zeros((n, n_ops), np.int64)
        self.dram_read = np.zeros(n_ops, np.int64)
        self.dram_write = np.zeros(1, np.int64)
        self.issued = np.zeros(n_ops, np.int64)
        self.n_instances = n_instances

    def feed(self, addr, inst, op, flags) -> None:
        replay_chunk(np.ascontiguousarray(addr, np.int64), np.ascontiguousarray(inst, np.int64),
                     np.ascontiguousarray(op, np.int64), np.ascontiguousarray(flags, np.int64),
                     self.n_sets, self.ways, self.line_shift, self.sector_shift, self.base,
                     self.inst_stride, self.ent, self.req, self.miss, self.dram_read, self.dram_write)

    def feed_rows(self, lanes, row_inst, row_op, row_flags) -> None:
        replay_rows(np.ascontiguousarray(lanes, np.int64), np.ascontiguousarray(row_inst, np.int64),
                    np.ascontiguousarray(row_op, np.int64), np.ascontiguousarray(row_flags, np.int64),
                    self.issued, self.n_sets, self.ways, self.line_shift, self.sector_shift, self.base,
                    self.inst_stride, self.ent, self.req, self.miss, self.dram_read, self.dram_write)

    def flush_dirty(self) -> int:
        """Dirty sectors still held by the last level (written to DRAM at the end)."""
        lv = len(self.n_sets) - 1
        e = self.ent[self.base[lv]:]
        d = ((e[e >= 0] >> 8) & 255).astype(np.uint8)
        return int(np.unpackbits(d[:, None], axis=1).sum())


class ReferenceChain:
    """Naive reference with the same semantics: one ``OrderedDict`` (LRU order) per set."""

    def __init__(self, levels, n_instances: int = 1, n_ops: int = 1):
        self.levels = [(max(1, s // (ln * w)), w, ln, sc) for s, w, ln, sc in levels]
        self.sets: dict = {}
        n = len(levels)
        self.req = np.zeros((n, n_ops), np.int64)
        self.miss = np.zeros((n, n_ops), np.int64)
        self.dram_read = np.zeros(n_ops, np.int64)
        self.dram_write = 0

    def access(self, a: int, inst: int = 0, op: int = 0, flags: int = 0) -> None:
        last = len(self.levels) - 1
        for lv in range(1 if flags & BYPASS0 else 0, last + 1):
            n_sets, ways, line_b, sector_b = self.levels[lv]
            line = a // line_b
            sec = (a % line_b) // sector_b
            key = (lv, inst if lv == 0 else 0, line % n_sets)
            st = self.sets.setdefault(key, OrderedDict())
            self.req[lv, op] += 1
            mark_dirty = bool(flags & WRITE) and lv == last
            if line in st:
                st.move_to_end(line)
                entry = st[line]
                if sec in entry["valid"]:
                    if mark_dirty:
                        entry["dirty"].add(sec)
                    return
                entry["valid"].add(sec)
            else:
                if len(st) >= ways:
                    _, old = st.popitem(last=False)
                    if lv == last:
                        self.dram_write += len(old["dirty"])
                st[line] = entry = {"valid": {sec}, "dirty": set()}
            if mark_dirty:
                entry["dirty"].add(sec)
            self.miss[lv, op] += 1
            if lv == last and not (flags & WRITE and flags & FULL):
                self.dram_read[op] += 1

    def flush_dirty(self) -> int:
        last = len(self.levels) - 1
        return sum(len(e["dirty"]) for k, st in self.sets.items() if k[0] == last for e in st.values())
