"""Slot-load profile and unused memory of tile placements.

Kernel placement draws starts in ``[0, m - T)``: slots near the two ends of the memory are covered by
fewer tiles than slots in the middle, so the middle is over-loaded compared with ideal hashing (``n / m``
weights per slot). Independent random placement also leaves slots unused: with ``m = n`` element hashing
about ``e^-1`` (37 %) of the slots hold no weight.

Tiles are placed independently. ``placement="kernel"``: a tile of size ``T`` starts uniformly in
``[0, m - T)`` and is written without wrap-around (RzLinear); ``placement="circular"``: starts uniform on
``[0, m)`` and positions wrap modulo ``m``. A tile whose occupied offsets are ``occ`` covers slot ``b`` with
probability ``c(b) / S`` where ``c(b) = #{o in occ : 0 <= b - o < S}`` (``S = m - T``) for the kernel.
"""

from __future__ import annotations

import numpy as np

from ._deprecation import renamed_kwargs
from ._validate import PLACEMENTS, check_choice, check_int, check_matrix_shape, check_memory, check_tile_pair
from .results import SlotLoad, UnusedFraction


def _box_count(occ: np.ndarray, n_starts: int, memory: int) -> np.ndarray:
    """``c(b) = sum_o occ[o] [0 <= b - o < n_starts]`` for ``b in [0, memory)`` (exact, cumsums)."""
    cs = np.concatenate([[0], np.cumsum(occ, dtype=np.int64)])
    b = np.arange(memory)
    hi = np.clip(b + 1, 0, occ.size)
    lo = np.clip(b - n_starts + 1, 0, occ.size)
    return (cs[hi] - cs[lo]).astype(np.float64)


def _tile_groups(shape, tile) -> tuple[int, int, list[tuple[int, np.ndarray]]]:
    """Distinct tile shapes of a ``(K, N)`` matrix in ``(BK, BN)`` blocks: ``[(count, occupancy mask)]``."""
    k, n = check_matrix_shape("shape", shape)
    bk, bn = check_tile_pair(tile)
    rows = {bk: k // bk}
    if k % bk:
        rows[k % bk] = 1
    cols = {bn: n // bn}
    if n % bn:
        cols[n % bn] = 1
    groups = []
    for r, nr in rows.items():
        for c, nc in cols.items():
            if nr * nc == 0:
                continue
            occ = np.zeros((bk, bn))
            occ[:r, :c] = 1.0
            groups.append((nr * nc, occ.ravel()))
    return k * n, bk * bn, groups


def _coverage(groups, tile: int, memory: int, placement: str) -> list[tuple[int, np.ndarray]]:
    """Per group: ``(count, q(b))`` with ``q(b)`` the probability that one tile of the group covers slot b."""
    out = []
    for count, occ in groups:
        if placement == "kernel":
            n_starts = memory - tile
            out.append((count, _box_count(occ, n_starts, memory) / n_starts))
        else:
            out.append((count, np.full(memory, occ.sum() / memory)))
    return out


@renamed_kwargs(tile_shape="tile")
def kernel_slot_load(shape, tile, memory, placement: str = "kernel") -> SlotLoad:
    """Expected slot loads when a ``(K, N)`` weight in ``(BK, BN)`` tiles is placed into ``memory`` slots.

    Parameters
    ----------
    shape : (int, int)
        Weight shape ``(K, N)``.
    tile : (int, int)
        Tile shape ``(BK, BN)``, ``T = BK * BN``; edge tiles may be partial.
    memory : int
        Slots ``m``; ``m >= T + 1`` for the kernel placement.
    placement : {"kernel", "circular"}

    Returns
    -------
    SlotLoad
        ``profile[b] = E L(b)`` (expected number of weights in slot b); ``load_at_weight_slot =
        sum_b (E L(b))^2 / n`` (the square of the *expected* load, weighted by where the weights land: the
        profile's quantity; ideal hashing: ``n / m``). It is not ``E[sum_b L(b)^2] / n``, the expected load
        seen from a random weight, which is ``1 + collisions_per_weight`` and what
        :func:`roast_theory.mc_placement_load` estimates; ``collisions_per_weight``, the exact expected
        number of *other* weights sharing a weight's slot (ideal: ``(n - 1) / m``).

    Notes
    -----
    ``E L(b) = sum_t q_t(b)`` with ``q_t(b) = c_t(b) / S`` (kernel) and, since tiles are independent and a
    tile puts at most one weight in a slot, ``sum_b E[L(b)(L(b) - 1)] = sum_b [E L(b)^2 - sum_t q_t(b)^2]``.
    """
    placement = check_choice("placement", placement, PLACEMENTS)
    n, t_size, groups = _tile_groups(shape, tile)
    h = check_memory(memory, t_size, placement)
    cov = _coverage(groups, t_size, h, placement)
    profile = sum(c * q for c, q in cov)
    sq = sum(c * q * q for c, q in cov)
    load = float(profile @ profile / n)
    coll = float((profile @ profile - sq.sum()) / n)
    return SlotLoad(profile=profile, load_at_weight_slot=load, ideal_load=n / h, collisions_per_weight=coll,
                    ideal_collisions_per_weight=(n - 1) / h, n_weights=n, memory=h, tile_size=t_size,
                    placement=placement)


def unused_fraction(n, memory, tile=1, placement: str = "circular") -> UnusedFraction:
    """Exact expected fraction of slots left unused by ``n`` elements in 1-D chunks of ``tile``.

    Parameters
    ----------
    n : int
        Number of elements (``ceil(n / tile)`` chunks, the last may be shorter).
    memory : int
        Slots ``m``.
    tile : int
        Chunk size ``Z`` (1: element hashing).
    placement : {"circular", "kernel"}

    Returns
    -------
    UnusedFraction

    Notes
    -----
    Slot b is unused iff no chunk covers it: ``P = prod_t (1 - q_t(b))``. Circular: ``q_t = Z_t / m`` for
    every slot, so the fraction is ``prod_t (1 - Z_t / m)``; element hashing with ``m = n`` gives
    ``(1 - 1/m)^m -> e^{-1}``. Kernel: ``(1/m) sum_b prod_t (1 - c_t(b) / S)``.
    """
    placement = check_choice("placement", placement, PLACEMENTS)
    n = check_int("n", n, low=1)
    z = check_int("tile", tile, low=1)
    m = check_memory(memory, z, placement)
    full, last = divmod(n, z)
    groups = [(full, np.ones(z))] if full else []
    if last:
        occ = np.zeros(z)
        occ[:last] = 1.0
        groups.append((1, occ))
    with np.errstate(divide="ignore"):
        log_free = sum(c * np.log1p(-np.minimum(q, 1.0)) for c, q in _coverage(groups, z, m, placement))
    frac = float(np.mean(np.exp(log_free)))
    return UnusedFraction(fraction=frac, n=n, memory=m, tile=z, placement=placement)
