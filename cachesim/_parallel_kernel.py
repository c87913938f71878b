"""Compiled kernels of :mod:`cachesim.parallel`: the set-group partition of a chunk, and GIL-free entry
points to the replay kernels of :mod:`cachesim._kernel`.

Every function here is compiled with ``nogil=True``, so threads of one process run them at the same
time. The replay entry points only call the kernel of the same name in :mod:`cachesim._kernel` (the
compiled code is the same; only the entry point releases the GIL), so a thread replaying its set group
runs exactly the serial simulator's code.

Partition: piece ``i`` has the set-group key :func:`group_key` of ``b0[i]``. :func:`select_keys` copies
the pieces of a range of keys out of a chunk, in order (what one worker does when there are few).
:func:`count_keys` counts the pieces of ``[lo, hi)`` per key; :func:`scatter_keys` copies them to the slots
of their key, starting at ``pos[key]`` (a counting sort; stable, so the pieces of each key stay in trace
order).
"""

from __future__ import annotations

from numba import njit

from . import _kernel as K


@njit(cache=True, inline="always")
def group_key(a, shift, mask, fold):
    """Set-group key of byte address ``a``: ``(a >> shift) & mask``; with ``fold > 0`` (one XOR-indexed
    level of ``2**fold`` sets) the low bits of the XOR-folded set index of line ``a >> shift``."""
    if fold == 0:
        return (a >> shift) & mask
    return K.set_index(a >> shift, 1 << fold, fold, 1) & mask


@njit(cache=True, nogil=True)
def count_keys(b0, lo, hi, shift, mask, fold, counts):
    """Add to ``counts[key]`` the number of pieces of ``b0[lo:hi]`` whose :func:`group_key` is ``key``."""
    for i in range(lo, hi):
        counts[group_key(b0[i], shift, mask, fold)] += 1


@njit(cache=True, nogil=True)
def scatter_keys(b0, b1, w, lo, hi, shift, mask, fold, pos, ob0, ob1, ow):
    """Copy pieces ``lo .. hi-1`` to the slots of their key: ``ob0[pos[key]] = b0[i]``, then
    ``pos[key] += 1``.

    ``b1`` and ``w`` are copied alongside when they have entries (empty arrays are skipped).
    """
    with_b1 = b1.shape[0] > 0
    with_w = w.shape[0] > 0
    for i in range(lo, hi):
        a = b0[i]
        g = group_key(a, shift, mask, fold)
        p = pos[g]
        ob0[p] = a
        if with_b1:
            ob1[p] = b1[i]
        if with_w:
            ow[p] = w[i]
        pos[g] = p + 1


@njit(cache=True, nogil=True)
def select_keys(b0, b1, w, shift, mask, fold, lo_key, hi_key, ob0, ob1, ow):
    """Copy, in order, the pieces whose :func:`group_key` is in ``[lo_key, hi_key)`` to ``ob0`` (``ob1``,
    ``ow`` alongside when ``b1``, ``w`` have entries); returns their number.

    Branch-free: every piece is written to the next free slot, which only advances for a selected piece
    (a data-dependent branch would be mispredicted half of the time on a random trace).
    """
    with_b1 = b1.shape[0] > 0
    with_w = w.shape[0] > 0
    p = 0
    for i in range(b0.shape[0]):
        a = b0[i]
        g = group_key(a, shift, mask, fold)
        ob0[p] = a
        if with_b1:
            ob1[p] = b1[i]
        if with_w:
            ow[p] = w[i]
        p += (g >= lo_key) & (g < hi_key)
    return p


@njit(cache=True, nogil=True)
def run_level_loads_compact(P, k, ctags, perm, empty, limit, stats, addrs, shift, out, outcome, want_outcome,
                            emit, ahead):
    """:func:`cachesim._kernel.run_level_loads_compact` without the GIL."""
    return K.run_level_loads_compact(P, k, ctags, perm, empty, limit, stats, addrs, shift, out, outcome,
                                     want_outcome, emit, ahead)


@njit(cache=True, nogil=True)
def run_level_loads(P, k, ts, tags, stamp, tree, clock, rng, stats, addrs, shift, out, outcome,
                    want_outcome, emit):
    """:func:`cachesim._kernel.run_level_loads` without the GIL."""
    return K.run_level_loads(P, k, ts, tags, stamp, tree, clock, rng, stats, addrs, shift, out, outcome,
                             want_outcome, emit)


@njit(cache=True, nogil=True)
def run_level(P, k, tags, stamp, valid, dirty, tree, clock, rng, stats, b0s, b1s, ws, outcome, rec):
    """:func:`cachesim._kernel.run_level` without the GIL."""
    return K.run_level(P, k, tags, stamp, valid, dirty, tree, clock, rng, stats, b0s, b1s, ws, outcome, rec)


@njit(cache=True, nogil=True)
def run_nested(P, inclusion, tags, stamp, valid, dirty, tree, clock, rng, stats, mem, b0s, b1s, ws, outcome,
               rec, nrec):
    """:func:`cachesim._kernel.run_nested` without the GIL."""
    return K.run_nested(P, inclusion, tags, stamp, valid, dirty, tree, clock, rng, stats, mem, b0s, b1s, ws,
                        outcome, rec, nrec)


@njit(cache=True, nogil=True)
def run_exclusive(P, tags, stamp, valid, dirty, tree, clock, rng, stats, mem, b0s, b1s, ws, outcome):
    """:func:`cachesim._kernel.run_exclusive` without the GIL."""
    return K.run_exclusive(P, tags, stamp, valid, dirty, tree, clock, rng, stats, mem, b0s, b1s, ws, outcome)
