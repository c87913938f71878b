"""Closed-form moments of hashed inner products and weight errors (results A and C1-C4 below).

Model: ``M = S w`` with ``S[b, i] = g_i [h(i) = b]``, ``w_hat_i = g_i M[h(i)]``, estimator ``<w_hat, x>``.
Element ``i`` lies in tile ``t(i)`` at offset ``o(i)``; tile starts ``s_t`` are independent and uniform.

* ``placement="circular"``: ``h(i) = (s_t(i) + o(i)) mod m``, ``s_t`` uniform on ``[0, m)`` (needs ``m >= Z``
  so that the offsets of one tile are distinct slots).
* ``placement="kernel"``: ``h(i) = s_t(i) + o(i)``, ``s_t`` uniform on ``[0, m - Z)`` as in the RzLinear
  kernels (needs ``m >= Z + 1``); slot ``m - 1`` is never used.

Hash positions are assumed fully independent across tiles (the "ideal" family; 4-wise would do). Signs
``g`` are independent Rademacher variables, per element (``sign="element"``), per tile (``"tile"``) or absent
(``"none"``).

Result labels (the ``formula`` field of every result object; the sharing results B1-B3 are in
:mod:`roast_theory.sharing`):

* ``A``: element hashing (``Z = 1``). With signs the estimator is unbiased, ``Var = Q(x, w) / m``; the
  weight error is ``(n - 1) |w|^2 / m``.
* ``C1``: tiles with a sign per element. Two elements of one tile never share a slot and elements of
  different tiles share one with probability ``1/m``, so tiling can only lower the variance of ``A``.
* ``C2``: one sign per tile. Two tiles that meet at lag ``d`` collide in every aligned pair at once; the
  variance is a sum over tile pairs of squared lag correlations (it grows with ``Z`` for smooth vectors).
* ``C3``: no sign. Biased by the collisions; the variance is ``C2``'s minus the squared bias terms.
* ``C4``: the weight error ``E |w_hat - w|^2``, ``(n - Z) |w|^2 / m`` for full circular tiles with signs.
* ``-kernel`` suffix: kernel placement, where the start difference of two tiles has the triangular law
  ``P(s_a - s_b = d) = (S - |d|)_+ / S^2``. With ``align = A`` the starts are the ``S = ceil((m - Z) / A)``
  multiples of ``A`` below ``m - Z``; lags are multiples of ``A`` and ``|d|`` counts in steps of ``A``.
  ``C3-kernel`` (no sign) adds a three-tile term: two tile pairs sharing tile ``a`` have dependent lags,
  ``P(s_a - s_b = A i1, s_a - s_c = A i2) = (S - (max(0, i1, i2) - min(0, i1, i2)))_+ / S^3``.

Lag wrap-around (C2/C3): when ``m >= 2Z - 1`` the lags ``(-Z, Z)`` are distinct modulo ``m``. For
``Z <= m < 2Z - 1`` they are not, and the lag correlations are folded modulo ``m`` (circular correlation of
length ``m``), which keeps the formulas exact for circular placement at every ``m >= Z``.
"""

from __future__ import annotations

import numpy as np

from . import _kernel_lags as _kl
from . import _tiles
from ._deprecation import renamed_kwargs
from ._validate import (
    PLACEMENTS,
    SIGNS,
    check_choice,
    check_int,
    check_layout,
    check_memory,
    check_pair,
    check_tile_pair,
    check_vector,
)
from .errors import RoastTheoryError
from .results import InnerProductMoments, WeightError


# ------------------------------------------------------------------------------------------- executors
def _check_align(align, placement: str) -> int:
    """``align`` is a positive integer; other than 1 it needs kernel placement (starts ``A k < m - Z``)."""
    a = check_int("align", align, low=1)
    if a != 1 and placement != "kernel":
        raise RoastTheoryError(f"align={a} needs placement='kernel' (circular starts are not aligned): "
                               "use align=1 or placement='kernel'")
    return a


def _moments_from_matrices(X, W, memory: int, tile: int, sign: str, placement: str,
                           formula: str, align: int = 1, shared=None) -> InnerProductMoments:
    m = memory
    inner = float(np.sum(X * W))
    xs, ws = X.sum(axis=1), W.sum(axis=1)
    mean, variance = inner, float("nan")
    if placement == "circular":
        if sign == "element":
            variance = (_tiles.q_form(X.ravel(), W.ravel()) - float(_tiles.q_rows(X, W).sum())) / m
        else:
            var_tile = _tiles.tile_sign_lag_sum(X, W, m) / m
            if sign == "tile":
                variance = var_tile
            else:
                mean = inner + (xs.sum() * ws.sum() - xs @ ws) / m
                variance = var_tile - _tiles.q_form(xs, ws) / m**2
    else:
        n_s = _kl.n_starts(m, tile, align)
        p = _kl.lag_probability(n_s, align)
        if sign == "element":
            xw = X * W
            variance = _tiles.cross_tile_weighted(X * X, W * W, p) + _tiles.cross_tile_weighted(xw, xw, p)
        elif sign == "tile":
            variance = _kl.tile_sign_variance(X, W, n_s, align, shared)
        else:
            bias, variance = _kl.none_sign_moments(X, W, n_s, align, shared=shared)
            mean = inner + bias
    variance = max(float(variance), 0.0)
    return InnerProductMoments(
        mean=float(mean), variance=variance, bias=float(mean - inner), exact_inner_product=inner,
        memory=m, tile=tile, sign=sign, placement=placement, formula=formula, align=align,
    )


def _formula(tile: int, sign: str, placement: str) -> str:
    if placement == "kernel":
        if sign == "none":
            return "C3-kernel"
        return "C2-kernel" if sign == "tile" and tile > 1 else "C1-kernel"
    if tile == 1:
        return "A"
    return {"element": "C1", "tile": "C2", "none": "C3"}[sign]


# --------------------------------------------------------------------------------------------- public
def element_hashing_moments(x, w, memory, sign: str = "element") -> InnerProductMoments:
    """Mean and variance of ``<w_hat, x>`` under element hashing (result A).

    Parameters
    ----------
    x, w : array_like, shape (n,)
        Input and weight vectors.
    memory : int
        Number of slots ``m >= 1``.
    sign : {"element", "none"}
        Per-element Rademacher signs or none.

    Returns
    -------
    InnerProductMoments

    Notes
    -----
    With signs: ``E = <w, x>``, ``Var = Q(x, w) / m``,
    ``Q(x, w) = |x|^2 |w|^2 + <x, w>^2 - 2 sum_i x_i^2 w_i^2``.

    Without signs: ``E = <w, x> + (1/m) sum_{i != j} x_i w_j`` and, for a hash that is 4-wise independent,
    ``Var = sum_{i<j} (x_i w_j + x_j w_i)^2 Var([h_i = h_j]) = Q(x, w) (m - 1) / m^2``: the collision
    indicators of two distinct pairs are uncorrelated (3-wise independence for pairs sharing an element).
    """
    sign = check_choice("sign", sign, ("element", "none"))
    xv, wv = check_pair(x, w)
    m = check_memory(memory, 1, "circular")
    return _moments_from_matrices(xv[:, None], wv[:, None], m, 1, sign, "circular", "A")


def tile_hashing_moments(x, w, memory, tile, sign: str = "element",
                         placement: str = "circular", align: int = 1) -> InnerProductMoments:
    """Mean and variance of ``<w_hat, x>`` with 1-D chunks of ``tile`` consecutive elements (C1-C3).

    Parameters
    ----------
    x, w : array_like, shape (n,)
        Input and weight vectors; element ``i`` lies in chunk ``i // tile`` at offset ``i % tile`` (the last
        chunk may be shorter).
    memory : int
        Number of slots ``m``; ``m >= tile`` (circular) or ``m >= tile + 1`` (kernel).
    tile : int
        Chunk size ``Z >= 1``.
    sign : {"element", "tile", "none"}
    placement : {"circular", "kernel"}
    align : int
        Kernel placement only: tile starts are multiples of ``align`` (default 1: every start).

    Returns
    -------
    InnerProductMoments

    Notes
    -----
    C1 (per-element signs): ``Var = (1/m) sum_{t(i) != t(j)} (x_i^2 w_j^2 + x_i w_i x_j w_j)
    = (Q(x, w) - sum_t Q(x_t, w_t)) / m``.

    C2 (per-tile sign): ``Var = (1/m) sum_{a != b} sum_d [C_ab(d)^2 + C_ab(d) D_ab(d)]`` with
    ``C_ab(d) = sum_{o(j) - o(i) = d} x_i w_j`` (i in a, j in b), ``D_ab`` the same with x and w swapped, lags
    folded modulo ``m`` when ``m < 2Z - 1``. Computed by FFT/Parseval without looping over tile pairs.

    C3 (no sign): ``E = <w, x> + (1/m) [(sum x)(sum w) - sum_a X_a W_a]`` (``X_a``, ``W_a`` tile sums);
    lags of distinct tile pairs are pairwise independent, so
    ``Var = sum_{a<b} Var(S_ab(lag)) = Var_C2 - Q(X., W.) / m^2`` with ``S_ab = C_ab + D_ab``.

    Kernel placement (starts uniform on ``[0, S)``, ``S = m - Z``), per-element signs:
    ``Var = sum_{t(i) != t(j)} (x_i^2 w_j^2 + x_i w_i x_j w_j) p(o(j) - o(i))``,
    ``p(d) = P(s_a - s_b = d) = (S - |d|)_+ / S^2``; per-tile sign:
    ``Var = sum_{a != b} sum_d p(d) [C_ab(d)^2 + C_ab(d) D_ab(d)]`` (lags never wrap), summed over tile pairs
    through the Gram matrices ``X^T X``, ``W^T W``, ``X^T W``: ``p`` is linear in ``|d|`` on the lags, so the
    weighted sums are prefix sums along the diagonals of the Gram matrices (``O(n Z^2)`` for the Gram
    products, ``O(Z^2)`` after; :mod:`roast_theory._gram_lags`).

    Kernel placement without sign: ``<w_hat, x> = <x, w> + sum_{a<b} S_ab(s_a - s_b)``,
    ``S_ab = C_ab + D_ab``; ``E = <x, w> + sum_{a != b} sum_d p(d) C_ab(d)`` and
    ``Var = sum_{a<b} Var S_ab(lag) + sum_a sum_{b != c} Cov(S_ab(s_a - s_b), S_ac(s_a - s_c))``, the
    covariances from the three-tile law above (given ``s_a`` the two lags are independent). Lag sums use FFT
    cross-correlations, the sums over all tile pairs the diagonals of the Gram matrices (both laws are linear
    in ``|i|``-distances when ``S >= 2 (Z - 1) // A``; otherwise 2-D correlations of the Gram matrices), the
    three-tile sums per-tile lag profiles ``R_a = sum_{b != a} S_ab`` (``O(n Z^2 + n_tiles^2 Z)``).
    """
    sign = check_choice("sign", sign, SIGNS)
    placement = check_choice("placement", placement, PLACEMENTS)
    xv, wv = check_pair(x, w)
    z = check_int("tile", tile, low=1)
    m = check_memory(memory, z, placement)
    X, W = _tiles.chunk_matrix(xv, z), _tiles.chunk_matrix(wv, z)
    a = _check_align(align, placement)
    return _moments_from_matrices(X, W, m, z, sign, placement, _formula(z, sign, placement), a)


@renamed_kwargs(tile_shape="tile")
def block_tile_moments(x, w, memory, tile, sign: str = "tile",
                       placement: str = "circular", align: int = 1) -> InnerProductMoments:
    """Moments for a 2-D weight ``(K, N)`` cut into ``BK x BN`` blocks (the ROAST-MM B-tiles).

    Element ``(k, n)`` lies in tile ``(k // BK, n // BN)`` at offset ``(k % BK) * BN + n % BN``, i.e. the
    1-D theory with ``Z = BK * BN``. The estimator is ``sum_{k,n} x[k,n] w_hat[k,n]``; one output of
    ``y = a W`` is the case ``x[k, n] = a_k [n = n0]``.

    Notes
    -----
    Same formulas as :func:`tile_hashing_moments` with the block layout.
    """
    sign = check_choice("sign", sign, SIGNS)
    placement = check_choice("placement", placement, PLACEMENTS)
    xv, wv = check_pair(x, w, ndim=2)
    bk, bn = check_tile_pair(tile)
    z = bk * bn
    m = check_memory(memory, z, placement)
    X, W = _tiles.block_matrix(xv, bk, bn), _tiles.block_matrix(wv, bk, bn)
    a = _check_align(align, placement)
    return _moments_from_matrices(X, W, m, z, sign, placement, _formula(z, sign, placement), a)


def block_tile_moments_by_align(x, w, memory, tile, sign: str = "tile", aligns=(1,)) -> tuple:
    """:func:`block_tile_moments` with kernel placement for several alignments, sharing the work.

    Parameters
    ----------
    x, w : array_like, shape (K, N)
    memory : int
    tile : (int, int)
        The block ``(BK, BN)``.
    sign : {"element", "tile", "none"}
    aligns : sequence of int
        Start alignments; one result per entry, in order.

    Returns
    -------
    tuple of InnerProductMoments
        Equal to ``block_tile_moments(x, w, memory, tile, sign, "kernel", align=a)`` for each ``a``.

    Notes
    -----
    The Gram matrices ``X^T X``, ``W^T W``, ``X^T W`` and the per-tile spectra do not depend on the
    alignment (only the lag law ``p`` does), so they are computed once for all alignments.
    """
    sign = check_choice("sign", sign, SIGNS)
    xv, wv = check_pair(x, w, ndim=2)
    bk, bn = check_tile_pair(tile)
    z = bk * bn
    m = check_memory(memory, z, "kernel")
    aligns = [_check_align(a, "kernel") for a in aligns]
    X, W = _tiles.block_matrix(xv, bk, bn), _tiles.block_matrix(wv, bk, bn)
    shared = _kl.AlignFree(X, W)
    formula = _formula(z, sign, "kernel")
    return tuple(_moments_from_matrices(X, W, m, z, sign, "kernel", formula, a, shared) for a in aligns)


def layout_moments(x, w, tile_id, offset, memory, tile_size, sign: str = "tile",
                   placement: str = "circular", align: int = 1) -> InnerProductMoments:
    """Moments for an arbitrary layout given per-element ``tile_id`` and ``offset`` in ``[0, tile_size)``.

    Notes
    -----
    Same formulas as :func:`tile_hashing_moments`; the 1-D chunks and 2-D blocks are special layouts.
    """
    sign = check_choice("sign", sign, SIGNS)
    placement = check_choice("placement", placement, PLACEMENTS)
    xv, wv = check_pair(x, w)
    z = check_int("tile_size", tile_size, low=1)
    m = check_memory(memory, z, placement)
    tid, off = check_layout(tile_id, offset, xv.size, z)
    X, W = _tiles.id_matrix(xv, tid, off, z), _tiles.id_matrix(wv, tid, off, z)
    a = _check_align(align, placement)
    return _moments_from_matrices(X, W, m, z, sign, placement, _formula(z, sign, placement), a)


def weight_mse(w, memory, tile=1, sign: str = "element", placement: str = "circular",
               align: int = 1) -> WeightError:
    """Expected squared reconstruction error ``E |w_hat - w|^2`` (results A and C4).

    Parameters
    ----------
    w : array_like, shape (n,) or (K, N)
        A vector in chunks of ``tile``, or a weight matrix in ``(BK, BN)`` blocks (ROAST-MM B-tiles, the
        layout of :func:`block_tile_moments`).
    memory : int
    tile : int or (int, int)
        Chunk size ``Z`` (1: element hashing), or the block ``(BK, BN)`` for a 2-D ``w``.
    sign : {"element", "tile", "none"}
    placement : {"circular", "kernel"}

    Returns
    -------
    WeightError
        ``tile`` is the tile size ``Z`` (``BK * BN`` for blocks).

    Notes
    -----
    With signs (either convention), circular: ``E|w_hat - w|^2 = (n |w|^2 - sum_t n_t |w_t|^2) / m``
    (``n_t`` elements in tile t), i.e. ``(n - Z) |w|^2 / m`` when every chunk is full and ``(n-1)|w|^2/m`` for
    ``Z = 1``. Without signs, circular, add ``(1/m^2) sum_t n_t [(sum_{b != t} W_b)^2 - sum_{b != t} W_b^2]``
    (``W_b`` tile sums; two elements of one other tile never both hit a slot). Kernel placement with signs:
    ``sum_i sum_{t(j) != t(i)} w_j^2 p(o(j) - o(i))``, ``p(d) = (S - |d|)_+ / S^2``. Kernel placement without
    sign adds, for element ``i`` in tile ``a``, the products of two other tiles' collisions with ``i``
    (three-tile law; see :func:`roast_theory._kernel_lags.none_sign_weight_mse`). ``align`` as in
    :func:`tile_hashing_moments`.
    """
    sign = check_choice("sign", sign, SIGNS)
    placement = check_choice("placement", placement, PLACEMENTS)
    W, mask, z = _weight_tiles(w, tile)
    wv = W[mask > 0]
    m = check_memory(memory, z, placement)
    n_t = mask.sum(axis=1)
    norm_sq = float(wv @ wv)
    if placement == "circular":
        w_sq_t = (W * W).sum(axis=1)
        mse = (wv.size * norm_sq - float(n_t @ w_sq_t)) / m
        if sign == "none":
            ws = W.sum(axis=1)
            s1, s2 = ws.sum(), (ws * ws).sum()
            mse += float(n_t @ ((s1 - ws) ** 2 - (s2 - ws**2))) / m**2
    else:
        a = _check_align(align, placement)
        n_s = _kl.n_starts(m, z, a)
        if sign == "none":
            mse = _kl.none_sign_weight_mse(W, mask, n_s, a)
        else:
            mse = _tiles.cross_tile_weighted(mask, W * W, _kl.lag_probability(n_s, a))
    return WeightError(mse=float(mse), norm_sq=norm_sq, memory=m, tile=z, sign=sign,
                       formula="A" if z == 1 else "C4")


def _weight_tiles(w, tile) -> tuple[np.ndarray, np.ndarray, int]:
    """Tile matrix of ``w``, its 0/1 occupancy mask and the tile size: 1-D chunks or 2-D blocks."""
    if np.ndim(w) == 2:
        wv = check_vector("w", w, ndim=2)
        bk, bn = check_tile_pair(tile)
        return (_tiles.block_matrix(wv, bk, bn), _tiles.block_matrix(np.ones_like(wv), bk, bn), bk * bn)
    wv = check_vector("w", w)
    z = check_int("tile", tile, low=1)
    return _tiles.chunk_matrix(wv, z), _tiles.chunk_matrix(np.ones_like(wv), z), z
