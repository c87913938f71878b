"""Private plan: kernel-placement lag sums over all tile pairs from Gram matrices, without 2-D FFTs.

Kernel placement draws tile starts ``A k`` with ``k`` uniform on ``[0, S)`` (see :mod:`._kernel_lags`). For
tile-pair lag profiles ``C_ab(d) = sum_o X[a, o] W[b, o + d]`` the closed forms need two sums over all
ordered tile pairs, both quadratic in the profiles and linear in a Gram pair ``(G1, G2)`` (``G1 = X^T X``,
``G2 = W^T W`` or ``G1 = X^T W``, ``G2 = (X^T W)^T``, see :func:`_kernel_lags._all_pairs_lag_grid`):

* the *pair sum* ``sum_d p(d) sum_{o, o'} G1[o, o'] G2[o + d, o' + d]`` with the triangular law
  ``p(A i) = (S - |i|) / S^2``;
* the *three-tile sum* ``sum_{i1, i2} P3(i1, i2) sum_{o, o'} G1[o, o'] G2[o + A i1, o' + A i2]`` with
  ``S^3 P3 = S - (max(0, i1, i2) - min(0, i1, i2)) = S - (|i1| + |i2| + |i1 - i2|) / 2``.

Both weights are *linear* in ``|i|``-type distances as long as no clipping ``(.)_+`` is active: ``S >= I``
for the pair law and ``S >= 2 I`` for the three-tile law, ``I = (Z - 1) // A`` the largest aligned lag
(:func:`fast_path_ok`). Every term is then a sum of ``G1 * G2`` products along *chains*: the entries
``(o + A i, o' + A i)`` of one diagonal of a Gram matrix with a fixed row residue ``o mod A``. The
distance weights ``sum_{u, u'} a(u) b(u') |u - u'|`` along a chain come from prefix sums of ``b`` and
``u b``. The cost is ``O(Z^2)`` per Gram pair (plus the ``O(n Z^2)`` Gram products), against the
``O(Z^2 log Z)`` 2-D correlation grid it replaces, and everything stays in float64. The one pass over the
Gram matrices (:func:`_chain_kernel`) is a numba kernel; the ``nojit`` tests run it as plain Python.
"""

from __future__ import annotations

import numpy as np
from numba import njit


def fast_path_ok(tile: int, s: int, align: int, three: bool = True) -> bool:
    """Whether the lag laws are unclipped: ``S >= 2 I`` (both laws) or ``S >= I`` (``three=False``: the
    pair law only), ``I = (Z - 1) // A``."""
    return s >= (2 if three else 1) * ((tile - 1) // align)


def _step(tile: int, align: int) -> int:
    """Residue count used for chains: ``min(A, Z)`` (with ``A >= Z`` every chain is a single entry)."""
    return min(align, tile)


@njit(cache=True, nogil=True)
def _chain_kernel(g1, g2, step):  # pragma: no cover - compiled
    """One row-ordered pass over both Gram matrices with running sums per chain ``(o mod step, o' - o)``.

    Returns ``sum_chains (sum a)(sum b)``, ``sum_chains sum_{u, u'} a(u) b(u') |u - u'|`` and the chain
    totals of ``g1`` and ``g2`` as ``(step, 2Z - 1)`` arrays (column ``j`` is the diagonal ``o' - o = j -
    (Z - 1)``). The distance sum uses ``|u - u'| = sum_k [u <= k < u'] + [u' <= k < u]`` over the chain
    positions ``k``: ``sum_k [A(k) B_tot + A_tot B(k) - 2 A(k) B(k)]`` with running sums ``A(k)``, ``B(k)``.
    """
    z = g1.shape[0]
    width = 2 * z - 1
    ca = np.zeros((step, width))
    cb = np.zeros((step, width))
    sa = np.zeros((step, width))
    sb = np.zeros((step, width))
    sab = 0.0
    for o in range(z):
        r = o % step
        for q in range(z):
            j = q - o + z - 1
            av = ca[r, j] + g1[o, q]
            bv = cb[r, j] + g2[o, q]
            ca[r, j] = av
            cb[r, j] = bv
            sa[r, j] += av
            sb[r, j] += bv
            sab += av * bv
    full = 0.0
    dist = -2.0 * sab
    for r in range(step):
        for j in range(width):
            full += ca[r, j] * cb[r, j]
            dist += sa[r, j] * cb[r, j] + ca[r, j] * sb[r, j]
    return full, dist, ca, cb


def _chain_distance(a: np.ndarray, b: np.ndarray) -> float:
    """``sum_{u, u'} a[u, ...] b[u', ...] |u - u'|`` summed over all trailing positions (axis 0 = chain).

    ``sum_{u'} |u - u'| b(u') = 2 (u B(u) - M(u)) + M_tot - u B_tot`` with the prefix sums
    ``B(u) = sum_{u' <= u} b(u')`` and ``M(u) = sum_{u' <= u} u' b(u')``.
    """
    u = np.arange(b.shape[0], dtype=float).reshape((-1,) + (1,) * (b.ndim - 1))
    cb = np.cumsum(b, axis=0)
    cm = np.cumsum(b * u, axis=0)
    inner = 2.0 * (u * cb - cm) + (cm[-1] - u * cb[-1])
    return float(np.vdot(a, inner))


def _residue_rows(g: np.ndarray, step: int) -> np.ndarray:
    """``out[u, r, r'] = sum_{o' = r' mod step} g[u step + r, o']`` (column residue sums, rows as chains)."""
    z = g.shape[0]
    zp = -(-z // step) * step
    if zp != z:
        g = np.pad(g, ((0, zp - z), (0, zp - z)))
    return g.reshape(zp, zp // step, step).sum(axis=1).reshape(zp // step, step, step)


def _residue_cols(g: np.ndarray, step: int) -> np.ndarray:
    """:func:`_residue_rows` of ``g.T`` without transposing: ``out[u, r, r'] = sum_{o = r' mod step}
    g[o, u step + r]``."""
    z = g.shape[0]
    zp = -(-z // step) * step
    if zp != z:
        g = np.pad(g, ((0, zp - z), (0, zp - z)))
    return g.reshape(zp // step, step, zp).sum(axis=0).T.reshape(zp // step, step, step)


def pair_sum(g1: np.ndarray, g2: np.ndarray, s: int, align: int) -> float:
    """The pair sum of the module notes alone (needs ``S >= I``): ``(S full - dist) / S^2``."""
    step = _step(g1.shape[0], align)
    full, dist, _, _ = _chain_kernel(np.ascontiguousarray(g1), np.ascontiguousarray(g2), step)
    return (s * full - dist) / float(s) ** 2


def pair_and_three(g1: np.ndarray, g2: np.ndarray, s: int, align: int) -> tuple[float, float]:
    """The pair sum and the three-tile sum of the module notes for one Gram pair (needs ``S >= 2 I``).

    Pair: along each chain ``sum_{u, u'} a(u) b(u') (S - |u - u'|) = S (sum a)(sum b) - sum a b |u - u'|``.
    Three-tile, with ``q = o + A i1``, ``q' = o' + A i2``: the constant part pairs residue-block sums of
    ``g1`` and ``g2``; ``|i1|`` is a chain distance between row ``o`` and row ``q`` of column-residue sums
    (``|i2|`` the same with rows and columns swapped); ``|i1 - i2| = |(q - q') - (o - o')| / A`` is a
    distance between diagonals of one residue class, paired through the chain totals of both matrices.
    """
    z = g1.shape[0]
    step = _step(z, align)
    full, dist, t1, t2 = _chain_kernel(np.ascontiguousarray(g1), np.ascontiguousarray(g2), step)
    pair = (s * full - dist) / float(s) ** 2
    r1, r2 = _residue_rows(g1, step), _residue_rows(g2, step)
    block = float(np.vdot(r1.sum(axis=0), r2.sum(axis=0)))
    abs1 = _chain_distance(r1, r2)
    abs2 = _chain_distance(_residue_cols(g1, step), _residue_cols(g2, step))
    abs12 = _chain_distance(_diagonal_classes(t1, step), _diagonal_classes(t2, step))
    three = (s * block - 0.5 * (abs1 + abs2 + abs12)) / float(s) ** 3
    return pair, three


def _diagonal_classes(totals: np.ndarray, step: int) -> np.ndarray:
    """Chain totals ``(step_r, 2Z - 1)`` regrouped as ``(J / step, step_r, step_class)``: axis 0 runs over
    the diagonals ``j`` of one class ``j mod step`` (two of them are ``|j - j'| / step`` steps apart)."""
    width = totals.shape[1]
    jp = -(-width // step) * step
    pad = np.zeros((step, jp))
    pad[:, :width] = totals
    return pad.reshape(step, jp // step, step).transpose(1, 0, 2)


def gram_pairs(X: np.ndarray, W: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """The two Gram pairs ``(X^T X, W^T W)`` and ``(X^T W, W^T X)`` whose lag sums add up to ``T``.

    Tiles where ``x`` is zero add nothing to ``X^T X`` and ``X^T W`` and are left out (one output of a
    layer touches one column of tiles only).
    """
    rows = nonzero_rows(X)
    xs, ws = X[rows], W[rows]
    # W^T X as its own (low-rank, cheap) product: a contiguous copy of h.T costs more for large tiles
    return (xs.T @ xs, W.T @ W), (xs.T @ ws, ws.T @ xs)


def nonzero_rows(X: np.ndarray) -> np.ndarray:
    """Indices of the tiles (rows) with a non-zero entry."""
    return np.flatnonzero(np.any(X != 0, axis=1))
