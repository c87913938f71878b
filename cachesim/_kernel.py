"""Private numba kernels of the cache simulator (runnable with ``NUMBA_DISABLE_JIT=1``).

State of a hierarchy of ``n`` levels lives in flat numpy arrays (one slot per cache way of every
set of every level, level ``k`` starting at ``P[k, OFF]``):

- ``tags``  int64, the resident line number (``-1``: invalid way);
- ``stamp`` int64, last-use time (LRU, MRU) or insertion time (FIFO), from a per-level clock that
  ticks once per lookup;
- ``valid``, ``dirty`` int64 sector bit masks (bit ``s`` = sector ``s`` of the line);
- ``tree``  int8, ``ways - 1`` tree-PLRU bits per set (heap order);
- ``rng``   uint64, one xorshift64 state per level (random policy).

Modulo-indexed, unsectored LRU levels of at most 16 ways also have a compact form (uint32 or int64
tags, one 64-bit recency word per set) used by the loads fast path; see :func:`lru_loads_compact`.
The engine converts between the two forms when it switches paths.

Semantics are those of :mod:`cachesim.reference` (the oracle these kernels are tested against).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit

# policy codes
LRU, FIFO, RANDOM, PLRU, MRU = 0, 1, 2, 3, 4
POLICY_CODE = {"lru": LRU, "fifo": FIFO, "random": RANDOM, "plru": PLRU, "mru": MRU}

# columns of the per-level parameter table P
SETS, WAYS, LSHIFT, SSHIFT, NSECT, POLICY, WB, HASH, SBITS, OFF, TOFF, NPAR = range(12)

# columns of the per-level stats table (order of cachesim.stats.COUNTERS)
ACC, WRITES, HITS, MISSES, SMISSES, EVICT, WBACK, BREAD, BWRITTEN, INVAL, NSTAT = range(11)

# inclusion codes
NON_INCLUSIVE, INCLUSIVE, EXCLUSIVE = 0, 1, 2

STACK = 4096

#: LRU levels with at least this many sets are replayed set by set (see _lru_loads_bucketed).
BUCKET_MIN_SETS = 4096

#: Most ways of a level kept in the compact LRU form of the loads fast path (4-bit way numbers).
COMPACT_MAX_WAYS = 16
#: The compact loads path prefetches the set of the access this far ahead when the level's state
#: is larger than PREFETCH_MIN_BYTES (larger than a host's first-level data cache).
PREFETCH_AHEAD = 8
PREFETCH_MIN_BYTES = 32 * 1024
#: Compact tags are uint32 (``NARROW_EMPTY`` marks an invalid way) until a tag >= NARROW_EMPTY shows
#: up; the level then switches to int64 tags (``-1`` invalid) for good.
NARROW_EMPTY = 0xFFFFFFFF
WIDE_LIMIT = 1 << 62


if numba.config.DISABLE_JIT:

    def prefetch(arr, i):
        """No-op without the JIT (a prefetch only changes speed)."""

else:
    import llvmlite.ir as _ir
    from numba.core import cgutils as _cgutils
    from numba.extending import intrinsic as _intrinsic

    @_intrinsic
    def prefetch(typingctx, arr, i):
        """Hint the host to fetch ``arr[i]`` into its caches (``llvm.prefetch``, read, high locality)."""
        sig = numba.types.void(arr, i)

        def codegen(context, builder, signature, args):
            aryty = signature.args[0]
            ary = context.make_array(aryty)(context, builder, args[0])
            ptr = _cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
            i8p = _ir.IntType(8).as_pointer()
            i32 = _ir.IntType(32)
            fnty = _ir.FunctionType(_ir.VoidType(), [i8p, i32, i32, i32])
            fn = _cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
            builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
            return context.get_dummy_value()

        return sig, codegen


@njit(cache=True)
def xorshift64(state):
    """One step of Marsaglia's xorshift64 (13, 7, 17) on a uint64 state; returns the new state."""
    x = state
    x ^= x << np.uint64(13)
    x ^= x >> np.uint64(7)
    x ^= x << np.uint64(17)
    return x


@njit(cache=True)
def set_index(line, sets, sbits, hashed):
    """Set of ``line``: ``line mod sets`` or the XOR-fold of all ``sbits``-bit chunks of ``line``."""
    if hashed == 0 or sbits == 0:
        return line & (sets - 1)
    x = line
    r = 0
    while x != 0:
        r ^= x & (sets - 1)
        x >>= sbits
    return r


@njit(cache=True)
def _popcount(m):
    c = 0
    while m != 0:
        m &= m - 1
        c += 1
    return c


@njit(cache=True)
def _range_mask(b0, b1, lshift, sshift):
    """Sector mask of the bytes ``[b0, b1)`` (inside one line)."""
    lmask = (1 << lshift) - 1
    s0 = (b0 & lmask) >> sshift
    s1 = ((b1 - 1) & lmask) >> sshift
    nb = s1 - s0 + 1
    if nb >= 64:
        return -1
    return ((1 << nb) - 1) << s0


@njit(cache=True)
def _plru_touch(tree, t0, ways, way):
    node = 0
    depth = 0
    w = ways
    while w > 1:
        w >>= 1
        depth += 1
    for d in range(depth - 1, -1, -1):
        b = (way >> d) & 1
        tree[t0 + node] = 1 - b
        node = 2 * node + 1 + b


@njit(cache=True)
def _plru_victim(tree, t0, ways):
    node = 0
    way = 0
    w = ways
    while w > 1:
        b = tree[t0 + node]
        way = (way << 1) | b
        node = 2 * node + 1 + b
        w >>= 1
    return way


@njit(cache=True)
def _find(tags, base, ways, line):
    for w in range(ways):
        if tags[base + w] == line:
            return w
    return -1


@njit(cache=True)
def _touch(P, k, s, base, way, stamp, tree, clock):
    pol = P[k, POLICY]
    if pol == LRU or pol == MRU:
        stamp[base + way] = clock[k]
    elif pol == PLRU:
        ways = P[k, WAYS]
        _plru_touch(tree, P[k, TOFF] + s * (ways - 1), ways, way)


@njit(cache=True)
def _filled(P, k, s, base, way, stamp, tree, clock):
    pol = P[k, POLICY]
    if pol == PLRU:
        ways = P[k, WAYS]
        _plru_touch(tree, P[k, TOFF] + s * (ways - 1), ways, way)
    else:
        stamp[base + way] = clock[k]


@njit(cache=True)
def _victim(P, k, s, base, tags, stamp, tree, rng):
    ways = P[k, WAYS]
    for w in range(ways):
        if tags[base + w] == -1:
            return w
    pol = P[k, POLICY]
    if pol == LRU or pol == FIFO:
        best = 0
        bs = stamp[base]
        for w in range(1, ways):
            if stamp[base + w] < bs:
                bs = stamp[base + w]
                best = w
        return best
    if pol == MRU:
        best = 0
        bs = stamp[base]
        for w in range(1, ways):
            if stamp[base + w] > bs:
                bs = stamp[base + w]
                best = w
        return best
    if pol == RANDOM:
        x = xorshift64(rng[k])
        rng[k] = x
        return np.int64(x % np.uint64(ways))
    return _plru_victim(tree, P[k, TOFF] + s * (ways - 1), ways)


@njit(cache=True)
def _back_invalidate(P, k, vline, tags, valid, dirty, stats):
    """Invalidate ``vline`` (a level-k line) in every level above k; return the level-k sector
    mask of the dirty data they held."""
    lk = P[k, LSHIFT]
    sk = P[k, SSHIFT]
    out = 0
    for j in range(k):
        lj = P[j, LSHIFT]
        sj = P[j, SSHIFT]
        nsj = P[j, NSECT]
        first = vline << (lk - lj)
        for jl in range(first, first + (1 << (lk - lj))):
            s = set_index(jl, P[j, SETS], P[j, SBITS], P[j, HASH])
            base = P[j, OFF] + s * P[j, WAYS]
            way = _find(tags, base, P[j, WAYS], jl)
            if way < 0:
                continue
            stats[j, INVAL] += 1
            d = dirty[base + way]
            if d != 0:
                for q in range(nsj):
                    if (d >> q) & 1:
                        b0 = (jl << lj) + (q << sj)
                        out |= _range_mask(b0, b0 + (1 << sj), lk, sk)
            tags[base + way] = -1
            valid[base + way] = 0
            dirty[base + way] = 0
    return out


@njit(cache=True)
def _push(st, sp, lvl, b0, b1, w, phase, mask):
    st[sp, 0] = lvl
    st[sp, 1] = b0
    st[sp, 2] = b1
    st[sp, 3] = w
    st[sp, 4] = phase
    st[sp, 5] = mask
    return sp + 1


@njit(cache=True)
def _push_runs(st, sp, lvl, linebase, mask, nsect, sshift, w):
    """Push one request per run of set bits of ``mask``, so that the lowest run is popped first."""
    q = nsect - 1
    while q >= 0:
        if (mask >> q) & 1:
            hi = q
            while q >= 0 and (mask >> q) & 1:
                q -= 1
            lo = q + 1
            sp = _push(st, sp, lvl, linebase + (lo << sshift), linebase + ((hi + 1) << sshift), w, 0, 0)
        else:
            q -= 1
    return sp


@njit(cache=True)
def run_nested(P, inclusion, tags, stamp, valid, dirty, tree, clock, rng, stats, mem,
               b0s, b1s, ws, outcome, rec, nrec):
    """Replay line pieces ``[b0s[i], b1s[i])`` (write flags ``ws``) through a non-inclusive or
    inclusive hierarchy, one request at a time (fetch below first, then install, then write back
    the victim). ``outcome[i]``: 0 hit, 1 sector miss, 2 miss at the first level. If ``rec`` has
    rows, the requests reaching memory are recorded there (b0, b1, write); returns their count."""
    nlev = P.shape[0]
    st = np.empty((STACK, 6), dtype=np.int64)
    nr = nrec
    for i in range(b0s.shape[0]):
        sp = _push(st, 0, 0, b0s[i], b1s[i], ws[i], 0, 0)
        while sp > 0:
            sp -= 1
            k = st[sp, 0]
            b0 = st[sp, 1]
            b1 = st[sp, 2]
            w = st[sp, 3]
            phase = st[sp, 4]
            if k == nlev:
                if w:
                    mem[1] += b1 - b0
                else:
                    mem[0] += b1 - b0
                if nr < rec.shape[0]:
                    rec[nr, 0] = b0
                    rec[nr, 1] = b1
                    rec[nr, 2] = w
                    nr += 1
                continue
            lshift = P[k, LSHIFT]
            sshift = P[k, SSHIFT]
            ways = P[k, WAYS]
            line = b0 >> lshift
            s = set_index(line, P[k, SETS], P[k, SBITS], P[k, HASH])
            base = P[k, OFF] + s * ways
            mask = _range_mask(b0, b1, lshift, sshift)
            wb = P[k, WB]
            if phase == 1:
                way = _find(tags, base, ways, line)
                if way >= 0:
                    valid[base + way] |= mask
                    _touch(P, k, s, base, way, stamp, tree, clock)
                    if w:
                        dirty[base + way] |= mask
                    continue
                way = _victim(P, k, s, base, tags, stamp, tree, rng)
                vline = tags[base + way]
                if vline != -1:
                    stats[k, EVICT] += 1
                    vd = dirty[base + way]
                    if inclusion == INCLUSIVE and k > 0:
                        vd |= _back_invalidate(P, k, vline, tags, valid, dirty, stats)
                    if vd != 0:
                        stats[k, WBACK] += 1
                        stats[k, BWRITTEN] += _popcount(vd) << sshift
                        sp = _push_runs(st, sp, k + 1, vline << lshift, vd, P[k, NSECT], sshift, 1)
                tags[base + way] = line
                valid[base + way] = mask
                dirty[base + way] = mask if w else 0
                _filled(P, k, s, base, way, stamp, tree, clock)
                continue
            # phase 0: lookup
            clock[k] += 1
            stats[k, ACC] += 1
            if w:
                stats[k, WRITES] += 1
            way = _find(tags, base, ways, line)
            if way >= 0:
                v = valid[base + way]
                if (v & mask) == mask:
                    stats[k, HITS] += 1
                    if k == 0:
                        outcome[i] = 0
                    _touch(P, k, s, base, way, stamp, tree, clock)
                    if w:
                        if wb:
                            dirty[base + way] |= mask
                        else:
                            stats[k, BWRITTEN] += b1 - b0
                            sp = _push(st, sp, k + 1, b0, b1, 1, 0, 0)
                    continue
                stats[k, SMISSES] += 1
                if k == 0:
                    outcome[i] = 1
                missing = mask & ~v
            else:
                stats[k, MISSES] += 1
                if k == 0:
                    outcome[i] = 2
                missing = mask
            if w and not wb:
                stats[k, BWRITTEN] += b1 - b0
                sp = _push(st, sp, k + 1, b0, b1, 1, 0, 0)
                continue
            stats[k, BREAD] += _popcount(missing) << sshift
            sp = _push(st, sp, k, b0, b1, w, 1, 0)
            sp = _push_runs(st, sp, k + 1, line << lshift, missing, P[k, NSECT], sshift, 0)
    return nr


@njit(cache=True)
def run_exclusive(P, tags, stamp, valid, dirty, tree, clock, rng, stats, mem, b0s, b1s, ws, outcome):
    """Replay line pieces through an exclusive (victim) hierarchy of unsectored write-back levels
    of one line size: a first-level miss looks the line up below (a hit there moves it up), fills
    only the first level, and each victim moves one level down (dirty last-level victims go to
    memory)."""
    nlev = P.shape[0]
    lshift = P[0, LSHIFT]
    lbytes = np.int64(1) << lshift
    for i in range(b0s.shape[0]):
        w = ws[i]
        line = b0s[i] >> lshift
        clock[0] += 1
        stats[0, ACC] += 1
        if w:
            stats[0, WRITES] += 1
        s = set_index(line, P[0, SETS], P[0, SBITS], P[0, HASH])
        base = P[0, OFF] + s * P[0, WAYS]
        way = _find(tags, base, P[0, WAYS], line)
        if way >= 0:
            stats[0, HITS] += 1
            outcome[i] = 0
            _touch(P, 0, s, base, way, stamp, tree, clock)
            if w:
                dirty[base + way] = 1
            continue
        stats[0, MISSES] += 1
        outcome[i] = 2
        d = 0
        found = False
        for j in range(1, nlev):
            clock[j] += 1
            stats[j, ACC] += 1
            sj = set_index(line, P[j, SETS], P[j, SBITS], P[j, HASH])
            bj = P[j, OFF] + sj * P[j, WAYS]
            wj = _find(tags, bj, P[j, WAYS], line)
            if wj >= 0:
                stats[j, HITS] += 1
                d = dirty[bj + wj]
                tags[bj + wj] = -1
                valid[bj + wj] = 0
                dirty[bj + wj] = 0
                found = True
                break
            stats[j, MISSES] += 1
        if not found:
            mem[0] += lbytes
        stats[0, BREAD] += lbytes
        # install at level 0, cascading victims down
        cl = line
        cd = 1 if (w or d) else 0
        for j in range(nlev):
            if j > 0:
                clock[j] += 1
            sj = set_index(cl, P[j, SETS], P[j, SBITS], P[j, HASH])
            bj = P[j, OFF] + sj * P[j, WAYS]
            wj = _victim(P, j, sj, bj, tags, stamp, tree, rng)
            vl = tags[bj + wj]
            vd = dirty[bj + wj]
            tags[bj + wj] = cl
            valid[bj + wj] = 1
            dirty[bj + wj] = cd
            _filled(P, j, sj, bj, wj, stamp, tree, clock)
            if vl == -1:
                break
            stats[j, EVICT] += 1
            if vd:
                stats[j, WBACK] += 1
            if j == nlev - 1:
                if vd:
                    stats[j, BWRITTEN] += lbytes
                    mem[1] += lbytes
                break
            stats[j, BWRITTEN] += lbytes
            cl = vl
            cd = vd
    return 0


@njit(cache=True, inline="always")
def _lru_lookup(ts, base, ways, line, c):
    """Look ``line`` up in the LRU set at ``base`` of ``ts`` (tags, stamps) at time ``c``; on a miss fill
    the least recently used way. Returns 0 (hit), 1 (miss into an empty way) or 2 (miss with eviction)."""
    best = 0
    bs = ts[base, 1]
    for w in range(ways):
        if ts[base + w, 0] == line:
            ts[base + w, 1] = c
            return 0
        st = ts[base + w, 1]
        if st < bs:
            bs = st
            best = w
    r = 1 if ts[base + best, 0] == -1 else 2
    ts[base + best, 0] = line
    ts[base + best, 1] = c
    return r


@njit(cache=True)
def _lru_loads(ts, off, ways, sets, c, addrs, shift, out, outcome, want_outcome, emit):
    """LRU, modulo indexing, loads only, on ``ts[:, 0]`` = tags, ``ts[:, 1]`` = stamps (C order, so a
    way's tag and stamp share a memory line): returns (misses, hits, evictions, clock)."""
    n = addrs.shape[0]
    nout = 0
    hits = 0
    evict = 0
    prev = -1
    for i in range(n):
        line = addrs[i] >> shift
        if line == prev:
            hits += 1
            continue
        prev = line
        c += 1
        r = _lru_lookup(ts, off + (line & (sets - 1)) * ways, ways, line, c)
        if r == 0:
            hits += 1
            continue
        evict += r - 1
        if want_outcome:
            outcome[i] = 2
        if emit:
            out[nout] = line
        nout += 1
    return nout, hits, evict, c


@njit(cache=True)
def _lru_loads_bucketed(ts, off, ways, sets, c, addrs, shift, out, flag, emit):
    """:func:`_lru_loads` for a level whose state does not fit in the host caches.

    Sets are independent under LRU (no state shared between sets), so the accesses are first
    grouped by set with a stable counting sort, each set's accesses replayed back to back (its
    ways stay in the host cache), and the misses, flagged ``flag[i] = 2``, collected again in
    trace order."""
    n = addrs.shape[0]
    start = np.zeros(sets + 1, dtype=np.int64)
    for i in range(n):
        start[((addrs[i] >> shift) & (sets - 1)) + 1] += 1
    for s in range(sets):
        start[s + 1] += start[s]
    pos = start[:-1].copy()
    bline = np.empty(n, dtype=np.int64)
    bidx = np.empty(n, dtype=np.int64)
    for i in range(n):
        line = addrs[i] >> shift
        s = line & (sets - 1)
        p = pos[s]
        bline[p] = line
        bidx[p] = i
        pos[s] = p + 1
    hits = 0
    evict = 0
    nmiss = 0
    for s in range(sets):
        base = off + s * ways
        prev = -1
        for j in range(start[s], start[s + 1]):
            line = bline[j]
            if line == prev:
                hits += 1
                continue
            prev = line
            c += 1
            r = _lru_lookup(ts, base, ways, line, c)
            if r == 0:
                hits += 1
                continue
            evict += r - 1
            flag[bidx[j]] = 2
            nmiss += 1
    if emit:
        nout = 0
        for i in range(n):
            if flag[i] == 2:
                out[nout] = addrs[i] >> shift
                nout += 1
    return nmiss, hits, evict, c


@njit(cache=True)
def run_level_loads(P, k, ts, tags, stamp, tree, clock, rng, stats, addrs, shift, out, outcome,
                    want_outcome, emit):
    """Loads only, unsectored level ``k`` seen alone: replay lines ``addrs >> shift`` and write the
    missed lines, in order, to ``out`` (if ``emit``); returns their number. Exact for a
    non-inclusive hierarchy (a level's behaviour does not depend on the levels below it). An
    access to the same line as the access just before it is a hit that changes no policy state
    (the line is the most recently used one), so it is counted and skipped. ``outcome`` must come
    zeroed; misses are marked 2. Valid/dirty bits are not written (the caller marks resident
    lines valid before any other kernel runs; no line is dirty on this path)."""
    ways = P[k, WAYS]
    sets = P[k, SETS]
    sbits = P[k, SBITS]
    hashed = P[k, HASH]
    pol = P[k, POLICY]
    off = P[k, OFF]
    n = addrs.shape[0]
    if pol == LRU and hashed == 0 and sets >= BUCKET_MIN_SETS and n >= 4 * sets:
        flag = outcome if want_outcome else np.zeros(n, dtype=np.int8)
        nout, hits, evict, c = _lru_loads_bucketed(ts, off, ways, sets, clock[k], addrs, shift, out, flag,
                                                   emit)
        clock[k] = c
    elif pol == LRU and hashed == 0:
        nout, hits, evict, c = _lru_loads(ts, off, ways, sets, clock[k], addrs, shift, out, outcome,
                                          want_outcome, emit)
        clock[k] = c
    else:
        nout = 0
        hits = 0
        evict = 0
        prev = -1
        for i in range(n):
            line = addrs[i] >> shift
            if line == prev:
                hits += 1
                continue
            prev = line
            s = set_index(line, sets, sbits, hashed)
            base = off + s * ways
            clock[k] += 1
            way = _find(tags, base, ways, line)
            if way >= 0:
                _touch(P, k, s, base, way, stamp, tree, clock)
                hits += 1
                continue
            way = _victim(P, k, s, base, tags, stamp, tree, rng)
            if tags[base + way] != -1:
                evict += 1
            tags[base + way] = line
            _filled(P, k, s, base, way, stamp, tree, clock)
            if want_outcome:
                outcome[i] = 2
            if emit:
                out[nout] = line
            nout += 1
    stats[k, ACC] += n
    stats[k, HITS] += hits
    stats[k, MISSES] += nout
    stats[k, EVICT] += evict
    stats[k, BREAD] += nout << P[k, LSHIFT]
    return nout


@njit(cache=True)
def _emit_runs(rec, nr, linebase, mask, nsect, sshift, w):
    """Append one request per run of set bits of ``mask`` (lowest run first)."""
    q = 0
    while q < nsect:
        if (mask >> q) & 1:
            lo = q
            while q < nsect and (mask >> q) & 1:
                q += 1
            rec[nr, 0] = linebase + (lo << sshift)
            rec[nr, 1] = linebase + (q << sshift)
            rec[nr, 2] = w
            nr += 1
        else:
            q += 1
    return nr


@njit(cache=True)
def run_level(P, k, tags, stamp, valid, dirty, tree, clock, rng, stats, b0s, b1s, ws, outcome, rec):
    """Level ``k`` seen alone (non-inclusive hierarchies are a composition of these): replay the
    pieces ``[b0s[i], b1s[i])`` and append the requests sent to the level below to ``rec`` in the
    order of the recursive model (fetch runs, then the victim's write-back runs; or the
    write-through); returns their number. Same rules as :func:`run_nested`."""
    lshift = P[k, LSHIFT]
    sshift = P[k, SSHIFT]
    ways = P[k, WAYS]
    nsect = P[k, NSECT]
    wb = P[k, WB]
    nr = 0
    for i in range(b0s.shape[0]):
        b0 = b0s[i]
        b1 = b1s[i]
        w = ws[i]
        line = b0 >> lshift
        s = set_index(line, P[k, SETS], P[k, SBITS], P[k, HASH])
        base = P[k, OFF] + s * ways
        mask = _range_mask(b0, b1, lshift, sshift)
        clock[k] += 1
        stats[k, ACC] += 1
        if w:
            stats[k, WRITES] += 1
        way = _find(tags, base, ways, line)
        if way >= 0:
            v = valid[base + way]
            if (v & mask) == mask:
                stats[k, HITS] += 1
                _touch(P, k, s, base, way, stamp, tree, clock)
                if w:
                    if wb:
                        dirty[base + way] |= mask
                    else:
                        stats[k, BWRITTEN] += b1 - b0
                        rec[nr, 0] = b0
                        rec[nr, 1] = b1
                        rec[nr, 2] = 1
                        nr += 1
                continue
            stats[k, SMISSES] += 1
            outcome[i] = 1
            missing = mask & ~v
        else:
            stats[k, MISSES] += 1
            outcome[i] = 2
            missing = mask
        if w and not wb:
            stats[k, BWRITTEN] += b1 - b0
            rec[nr, 0] = b0
            rec[nr, 1] = b1
            rec[nr, 2] = 1
            nr += 1
            continue
        stats[k, BREAD] += _popcount(missing) << sshift
        nr = _emit_runs(rec, nr, line << lshift, missing, nsect, sshift, 0)
        if way >= 0:
            valid[base + way] |= mask
            _touch(P, k, s, base, way, stamp, tree, clock)
            if w:
                dirty[base + way] |= mask
            continue
        way = _victim(P, k, s, base, tags, stamp, tree, rng)
        vline = tags[base + way]
        if vline != -1:
            stats[k, EVICT] += 1
            vd = dirty[base + way]
            if vd != 0:
                stats[k, WBACK] += 1
                stats[k, BWRITTEN] += _popcount(vd) << sshift
                nr = _emit_runs(rec, nr, vline << lshift, vd, nsect, sshift, 1)
        tags[base + way] = line
        valid[base + way] = mask
        dirty[base + way] = mask if w else 0
        _filled(P, k, s, base, way, stamp, tree, clock)
    return nr


# ------------------------------------------------------------------ compact LRU form (loads fast path)
#
# An LRU level that is modulo-indexed, unsectored and has at most 16 ways has a second, compact form
# used while only loads are replayed: ``ctags[s * ways + w]`` holds the tag ``line >> sbits`` of way
# ``w`` of set ``s`` (uint32 while every tag fits, else int64; ``empty`` marks an invalid way) and
# ``perm[s]`` the recency order of the set's ways, 4 bits per position, position 0 (bits 0..3) the
# most recently used way, position ``ways - 1`` the least recently used one. Invalid ways always sit
# at the least recently used end (they are never touched, and a fill takes the LRU position), so the
# LRU victim is an invalid way whenever there is one, as in :func:`_victim`. A way keeps its slot in
# both forms; :func:`compact_to_canonical` and :func:`canonical_to_compact` convert between them.


def perm_identity(ways: int) -> int:
    """Initial recency word of a set: way ``ways - 1`` most recent, way 0 least (filled first)."""
    p = 0
    for j in range(ways):
        p |= (ways - 1 - j) << (4 * j)
    return p


@njit(cache=True)
def _perm_to_front(p, way):
    """Move ``way`` (present in the recency word ``p``) to the most recent position."""
    ones = np.uint64(0x1111111111111111)
    x = p ^ (np.uint64(way) * ones)  # nibble 0 where ``way`` sits
    # high bit of every nibble set iff the nibble is non-zero (no carry leaves a nibble)
    sevens = np.uint64(0x7777777777777777)
    nz = ((x & sevens) + sevens) | x
    z = ~(nz | sevens)  # high bit of each zero nibble
    low = z & (~z + np.uint64(1))  # lowest one: the position of ``way`` (z != 0)
    below = (low - np.uint64(1)) >> np.uint64(3)  # nibbles more recent than ``way``
    upto = (below << np.uint64(4)) | np.uint64(15)
    return (p & ~upto) | ((p & below) << np.uint64(4)) | np.uint64(way)


@njit(cache=True, inline="always")
def _compact_body(ctags, perm, empty, limit, ways, sets, sbits, addrs, shift, out, outcome,
                            want_outcome, emit, ahead):
    # Indices into the state are unsigned: numba then emits no negative-index wraparound code,
    # which halves the time of this loop.
    n = addrs.shape[0]
    nout = 0
    hits = 0
    evict = 0
    prev = -1
    smask = sets - 1
    uways = np.uint64(ways)
    top = np.uint64(4 * (ways - 1))
    if ways == 16:
        full = np.uint64(0xFFFFFFFFFFFFFFFF)
    else:
        full = (np.uint64(1) << np.uint64(4 * ways)) - np.uint64(1)
    for i in range(n):
        if ahead > 0 and i + ahead < n:
            s2 = np.uint64((addrs[i + ahead] >> shift) & smask)
            prefetch(ctags, s2 * uways)
            prefetch(perm, s2)
        line = addrs[i] >> shift
        if line == prev:
            hits += 1
            continue
        s = np.uint64(line & smask)
        base = s * uways
        tag = line >> sbits
        if tag >= limit:  # does not fit the tag type: stop here, the caller widens the tags
            return nout, hits, evict, i
        prev = line
        hw = -1
        for w in range(ways):  # no early exit: the compares vectorise
            if ctags[base + np.uint64(w)] == tag:
                hw = w
        p = perm[s]
        if hw >= 0:
            hits += 1
            perm[s] = _perm_to_front(p, hw)
            continue
        v = (p >> top) & np.uint64(15)
        perm[s] = ((p << np.uint64(4)) & full) | v
        slot = base + v
        if ctags[slot] != empty:
            evict += 1
        ctags[slot] = tag
        if want_outcome:
            outcome[i] = 2
        if emit:
            out[np.uint64(nout)] = line
        nout += 1
    return nout, hits, evict, n


@njit(cache=True)
def lru_loads_compact(ctags, perm, empty, limit, ways, sets, sbits, addrs, shift, out, outcome, want_outcome,
                      emit, ahead):
    """LRU loads on the compact form of a level: replay lines ``addrs >> shift``, mark misses
    ``outcome[i] = 2`` (if ``want_outcome``) and write the missed lines, in order, to ``out`` (if
    ``emit``). An access to the line of the access just before it is a hit that changes nothing and
    is skipped. With ``ahead > 0`` the set of access ``i + ahead`` is prefetched. Stops before the
    first access whose tag is ``>= limit`` (it does not fit ``ctags``).
    Returns (misses, hits, evictions, accesses replayed)."""
    # Common associativities get a copy of the loop with the way count known to the compiler, and
    # levels that are not prefetched one without the prefetch test.
    if ahead == 0:
        if ways == 16:
            return _compact_body(ctags, perm, empty, limit, 16, sets, sbits, addrs, shift, out, outcome,
                                 want_outcome, emit, 0)
        if ways == 8:
            return _compact_body(ctags, perm, empty, limit, 8, sets, sbits, addrs, shift, out, outcome,
                                 want_outcome, emit, 0)
        return _compact_body(ctags, perm, empty, limit, ways, sets, sbits, addrs, shift, out, outcome,
                             want_outcome, emit, 0)
    if ways == 16:
        return _compact_body(ctags, perm, empty, limit, 16, sets, sbits, addrs, shift, out, outcome,
                             want_outcome, emit, ahead)
    return _compact_body(ctags, perm, empty, limit, ways, sets, sbits, addrs, shift, out, outcome,
                         want_outcome, emit, ahead)


@njit(cache=True)
def run_level_loads_compact(P, k, ctags, perm, empty, limit, stats, addrs, shift, out, outcome, want_outcome,
                            emit, ahead):
    """:func:`run_level_loads` on the compact form of level ``k`` (see :func:`lru_loads_compact`);
    returns (misses, accesses replayed)."""
    nout, hits, evict, done = lru_loads_compact(ctags, perm, empty, limit, P[k, WAYS], P[k, SETS],
                                                P[k, SBITS], addrs, shift, out, outcome, want_outcome, emit,
                                                ahead)
    stats[k, ACC] += done
    stats[k, HITS] += hits
    stats[k, MISSES] += nout
    stats[k, EVICT] += evict
    stats[k, BREAD] += nout << P[k, LSHIFT]
    return nout, done


@njit(cache=True)
def compact_to_canonical(P, k, ctags, perm, empty, tags, stamp, valid, dirty, clock):
    """Write the compact form of level ``k`` into the canonical arrays: tags, valid bits (clean,
    unsectored lines), and LRU stamps ``clock - position`` (older than any later lookup)."""
    ways = P[k, WAYS]
    sbits = P[k, SBITS]
    off = P[k, OFF]
    c = clock[k]
    for s in range(P[k, SETS]):
        p = perm[s]
        base = s * ways
        for j in range(ways):
            w = np.int64((p >> np.uint64(4 * j)) & np.uint64(15))
            g = off + base + w
            t = ctags[base + w]
            if t == empty:
                tags[g] = -1
                valid[g] = 0
            else:
                tags[g] = (np.int64(t) << sbits) | s
                valid[g] = 1
                stamp[g] = c - j
            dirty[g] = 0


@njit(cache=True)
def canonical_to_compact(P, k, tags, stamp, ctags, perm, empty):
    """Build the compact form of LRU level ``k`` from the canonical tags and stamps (ways ordered by
    stamp, most recent first, invalid ways last)."""
    ways = P[k, WAYS]
    sbits = P[k, SBITS]
    off = P[k, OFF]
    order = np.empty(ways, dtype=np.int64)
    for s in range(P[k, SETS]):
        base = s * ways
        m = 0
        for w in range(ways):
            g = off + base + w
            if tags[g] == -1:
                ctags[base + w] = empty
            else:
                ctags[base + w] = tags[g] >> sbits
                # insertion sort by stamp, most recent first
                j = m
                while j > 0 and stamp[off + base + order[j - 1]] < stamp[g]:
                    order[j] = order[j - 1]
                    j -= 1
                order[j] = w
                m += 1
        for w in range(ways):
            if tags[off + base + w] == -1:
                order[m] = w
                m += 1
        p = np.uint64(0)
        for j in range(ways):
            p |= np.uint64(order[j]) << np.uint64(4 * j)
        perm[s] = p
