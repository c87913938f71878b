"""Private numba kernels for LRU stack distances (plain Python when ``NUMBA_DISABLE_JIT=1``).

Two kernels, each streaming one chunk of line numbers through state arrays owned by the caller:

* :func:`per_set_chunk` -- bounded per-set LRU stacks (move-to-front arrays of depth ``max_depth``).
* :func:`olken_chunk` -- Olken's algorithm: a hash table line -> time of last access plus a Fenwick
  tree over access times marking each line's last access; the distance of a reuse is the number of
  marks after the previous access. Times are compacted when the tree is full, so memory stays
  O(distinct lines) however long the trace.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def mix64(x):
    """SplitMix64 finaliser of a uint64 (a bijection with good avalanche)."""
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@numba.njit(cache=True)
def per_set_chunk(lines, n_sets, stacks, head, fill, hist, out):
    """Push ``lines`` through per-set LRU stacks.

    Set ``s``'s stack is a ring: depth ``k`` lives at ``stacks[s, (head[s] + k) % max_depth]``
    for ``k < fill[s]``, most recent first (empty slots hold -1), so a miss pushes in O(1)
    (no shifting). ``hist[d]`` counts reuses at depth ``d < max_depth``; the return value is the
    number of accesses at depth ``>= max_depth`` or first touches. ``out`` (same length as
    ``lines`` or empty) receives each access's depth, ``-1`` for ``>= max_depth``.
    """
    max_depth = stacks.shape[1]
    record = out.shape[0] > 0
    n_far = 0
    for i in range(lines.shape[0]):
        x = lines[i]
        s = x % n_sets
        f = fill[s]
        h = head[s]
        row = stacks[s]
        # branch-free scan of the whole row (vectorisable); empty slots hold -1
        p = -1
        for k in range(max_depth):
            if row[k] == x:
                p = k
        j = f
        if p >= 0:
            j = p - h if p >= h else p - h + max_depth
        if j < f:
            hist[j] += 1
            if record:
                out[i] = j
            # move depths 0..j-1 one step deeper (physical p walks back to the head)
            while p != h:
                q = p - 1 if p > 0 else max_depth - 1
                row[p] = row[q]
                p = q
            row[h] = x
        else:
            n_far += 1
            if record:
                out[i] = -1
            h = h - 1 if h > 0 else max_depth - 1
            head[s] = h
            row[h] = x
            if f < max_depth:
                fill[s] = f + 1
    return n_far


@numba.njit(cache=True)
def per_set_chunk_grouped(lines, n_sets, stacks, head, fill, hist, out):
    """Same result as :func:`per_set_chunk`, visiting the chunk set by set.

    Sets are independent, so a stable counting sort by set keeps every set's access order; each
    set's stack row then stays in cache while its accesses are processed (many-set geometries).
    """
    n = lines.shape[0]
    start = np.zeros(n_sets + 1, dtype=np.int64)
    for i in range(n):
        start[lines[i] % n_sets + 1] += 1
    for s in range(n_sets):
        start[s + 1] += start[s]
    pos = start[:-1].copy()
    grouped = np.empty(n, dtype=np.int64)
    record = out.shape[0] > 0
    where = np.empty(n if record else 0, dtype=np.int64)
    for i in range(n):
        s = lines[i] % n_sets
        grouped[pos[s]] = lines[i]
        if record:
            where[pos[s]] = i
        pos[s] += 1
    tmp = np.empty(n if record else 0, dtype=np.int64)
    n_far = per_set_chunk(grouped, n_sets, stacks, head, fill, hist, tmp)
    if record:
        for k in range(n):
            out[where[k]] = tmp[k]
    return n_far


@numba.njit(cache=True)
def _fenwick_add(bit, i, v):
    n = bit.shape[0]
    i += 1
    while i <= n:
        bit[i - 1] += v
        i += i & (-i)


@numba.njit(cache=True)
def _fenwick_prefix(bit, i):
    """Sum of entries ``0..i`` inclusive (0 when ``i < 0``)."""
    s = 0
    i += 1
    while i > 0:
        s += bit[i - 1]
        i -= i & (-i)
    return s


@numba.njit(cache=True)
def _popcount(x):
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@numba.njit(cache=True)
def _marks_upto(words, bit, p):
    """Marks at times ``0..p`` inclusive: Fenwick tree over 64-bit words, popcount inside one."""
    w = p >> 6
    b = p & 63
    if b == 63:
        mask = np.uint64(0xFFFFFFFFFFFFFFFF)
    else:
        mask = (np.uint64(1) << np.uint64(b + 1)) - np.uint64(1)
    return _fenwick_prefix(bit, w - 1) + _popcount(words[w] & mask)


@numba.njit(cache=True)
def _ht_find(table, x):
    """Slot of ``x`` in an open-addressing table of rows ``(key, value)`` (key -1: empty)."""
    mask = table.shape[0] - 1
    h = np.int64(mix64(np.uint64(x)) & np.uint64(mask))
    while table[h, 0] != -1 and table[h, 0] != x:
        h = (h + 1) & mask
    return h


@numba.njit(cache=True)
def _ht_grow(table):
    nt = np.full((table.shape[0] * 2, 2), -1, dtype=np.int64)
    for k in range(table.shape[0]):
        if table[k, 0] != -1:
            h = _ht_find(nt, table[k, 0])
            nt[h, 0] = table[k, 0]
            nt[h, 1] = table[k, 1]
    return nt


@numba.njit(cache=True)
def _compact(table, n_live, n_words):
    """Renumber the live last-access times to ``0..n_live-1`` (order kept); rebuild the marks."""
    slots = np.flatnonzero(table[:, 0] != -1)
    order = np.argsort(table[slots, 1])
    for r in range(order.shape[0]):
        table[slots[order[r]], 1] = r
    words = np.zeros(n_words, dtype=np.uint64)
    bit = np.zeros(n_words, dtype=np.int64)
    for i in range(n_words):
        c = min(64, max(0, n_live - 64 * i))
        if c == 64:
            words[i] = np.uint64(0xFFFFFFFFFFFFFFFF)
        elif c > 0:
            words[i] = (np.uint64(1) << np.uint64(c)) - np.uint64(1)
        bit[i] += c
        j = i + ((i + 1) & (-(i + 1)))
        if j < n_words:
            bit[j] += bit[i]
    return words, bit


@numba.njit(cache=True)
def _olken_run(lines, i, table, words, bit, hist, state, out):
    """Process ``lines[i:]`` until done or a structure is full; return the next index."""
    t = state[0]
    n_live = state[1]
    n_cold = state[2]
    record = out.shape[0] > 0
    one = np.uint64(1)
    t_cap = 64 * words.shape[0]
    n = lines.shape[0]
    while i < n:
        if t == t_cap or 2 * (n_live + 1) > table.shape[0] or n_live + 1 > hist.shape[0]:
            break
        x = lines[i]
        h = _ht_find(table, x)
        if table[h, 0] == x:
            p = table[h, 1]
            d = n_live - _marks_upto(words, bit, p)
            words[p >> 6] &= ~(one << np.uint64(p & 63))
            _fenwick_add(bit, p >> 6, -1)
            hist[d] += 1
            if record:
                out[i] = d
        else:
            table[h, 0] = x
            n_live += 1
            n_cold += 1
            if record:
                out[i] = -1
        table[h, 1] = t
        words[t >> 6] |= one << np.uint64(t & 63)
        _fenwick_add(bit, t >> 6, 1)
        t += 1
        i += 1
    state[0] = t
    state[1] = n_live
    state[2] = n_cold
    return i


@numba.njit(cache=True)
def olken_chunk(lines, table, words, bit, hist, state, out):
    """Olken's exact LRU stack distances for one chunk.

    ``table``: hash table rows ``(line, time of last access)``; ``words``: one bit per time, set
    at each line's last access; ``bit``: Fenwick tree of the words' popcounts.
    ``state = [t, n_live, n_cold]``: next time stamp, distinct lines so far, first touches.
    ``hist[d]`` counts reuses at distance ``d``; ``out`` (length of ``lines`` or empty) receives
    the distance of each access, ``-1`` for a first touch. Returns the (possibly reallocated)
    ``table, words, bit, hist``.
    """
    i = 0
    while True:
        i = _olken_run(lines, i, table, words, bit, hist, state, out)
        if i == lines.shape[0]:
            break
        n_live = state[1]
        if state[0] == 64 * words.shape[0]:
            n_words = max(words.shape[0], (2 * n_live) // 64 + 16)
            words, bit = _compact(table, n_live, n_words)
            state[0] = n_live
        if 2 * (n_live + 1) > table.shape[0]:
            table = _ht_grow(table)
        if n_live + 1 > hist.shape[0]:
            nh = np.zeros(2 * hist.shape[0], dtype=np.int64)
            nh[: hist.shape[0]] = hist
            hist = nh
    return table, words, bit, hist


@numba.njit(cache=True)
def shards_keep(lines, threshold, salt):
    """Mask of lines whose salted hash, reduced to 24 bits, is below ``threshold``."""
    keep = np.empty(lines.shape[0], dtype=np.bool_)
    for i in range(lines.shape[0]):
        h = mix64(np.uint64(lines[i]) ^ salt) >> np.uint64(40)
        keep[i] = h < threshold
    return keep
