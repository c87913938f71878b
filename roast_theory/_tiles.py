"""Private plan for the tiled closed forms: tile matrices and FFT lag sums.

A *tile layout* assigns every element ``i`` a tile ``t(i)`` and an in-tile offset ``o(i)`` in ``[0, Z)``.
Everything the closed forms need is a sum over pairs of elements weighted by a function of the lag
``o(j) - o(i)``; with the values arranged as a ``(n_tiles, Z)`` matrix (zeros where a tile has no element)
those sums are cross-correlations computed with the FFT in ``O(n log Z)``.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sfft


def chunk_matrix(v: np.ndarray, tile: int) -> np.ndarray:
    """1-D chunking: element ``i`` is in tile ``i // tile`` at offset ``i % tile`` (last chunk padded)."""
    n = v.size
    n_tiles = -(-n // tile)
    out = np.zeros(n_tiles * tile)
    out[:n] = v
    return out.reshape(n_tiles, tile)


def block_matrix(v: np.ndarray, bk: int, bn: int) -> np.ndarray:
    """2-D blocks of a ``(K, N)`` array: tile ``(k // bk, n // bn)``, offset ``(k % bk) * bn + n % bn``."""
    k, n = v.shape
    kb, nb = -(-k // bk), -(-n // bn)
    pad = np.zeros((kb * bk, nb * bn))
    pad[:k, :n] = v
    return pad.reshape(kb, bk, nb, bn).transpose(0, 2, 1, 3).reshape(kb * nb, bk * bn)


def id_matrix(v: np.ndarray, tile_id: np.ndarray, offset: np.ndarray, tile: int) -> np.ndarray:
    """General layout given per-element tile ids and offsets (validated by :func:`check_layout`)."""
    n_tiles = int(tile_id.max()) + 1 if tile_id.size else 0
    out = np.zeros((n_tiles, tile))
    out[tile_id, offset] = v
    return out


def fft_length(tile: int, memory: int) -> tuple[int, bool]:
    """FFT length for lag sums and whether lags wrap modulo ``memory``.

    Lags ``d`` range over ``(-Z, Z)``. With ``memory >= 2Z - 1`` they are distinct modulo ``memory`` and a
    zero-padded length ``>= 2Z - 1`` gives the plain (non-wrapping) correlation; otherwise the lags wrap and
    the circular correlation of length exactly ``memory`` folds them modulo ``memory``.
    """
    if memory >= 2 * tile - 1:
        return sfft.next_fast_len(2 * tile - 1, real=True), False
    return memory, True


def _rfft_weights(length: int) -> np.ndarray:
    """Weights that turn a sum over the half spectrum of a real signal into the full-spectrum sum."""
    half = length // 2 + 1
    wts = np.full(half, 2.0)
    wts[0] = 1.0
    if length % 2 == 0:
        wts[-1] = 1.0
    return wts


def tile_sign_lag_sum(X: np.ndarray, W: np.ndarray, memory: int) -> float:
    """``sum_{a != b} sum_r [C_ab(r)^2 + C_ab(r) D_ab(r)]`` with lags folded modulo ``memory``.

    ``C_ab(d) = sum_{o(j) - o(i) = d} x_i w_j`` (i in tile a, j in tile b); ``D_ab`` swaps x and w. Uses
    Parseval: with ``FX_a``, ``FW_a`` the DFTs of the rows, ``sum_{a,b} sum_d C_ab(d)^2 =
    (1/L) sum_k (sum_a |FX_a|^2)(sum_b |FW_b|^2)`` and
    ``sum_{a,b} sum_d C_ab D_ab = (1/L) sum_k (sum_a G_a)^2``
    with ``G_a = FW_a conj(FX_a)``; the diagonal ``a = b`` is subtracted term by term. No loop over pairs.
    """
    tile = X.shape[1]
    length, _ = fft_length(tile, memory)
    fx = sfft.rfft(X, n=length, axis=1)
    fw = sfft.rfft(W, n=length, axis=1)
    wts = _rfft_weights(length)
    px = fx.real**2 + fx.imag**2
    pw = fw.real**2 + fw.imag**2
    g = fw * np.conj(fx)
    sq_all = px.sum(axis=0) * pw.sum(axis=0)
    sq_diag = (px * pw).sum(axis=0)
    gs = g.sum(axis=0)
    cross_all = (gs * gs).real
    cross_diag = (g * g).real.sum(axis=0)
    return float(wts @ (sq_all - sq_diag + cross_all - cross_diag) / length)


def cross_tile_weighted(F: np.ndarray, G: np.ndarray, p_of_lag) -> float:
    """``sum_{t(i) != t(j)} F_i G_j p(o(j) - o(i))`` for a lag weight ``p`` (no wrap: lags in (-Z, Z)).

    All-pairs part from the column sums, same-tile part from the summed per-row spectra, both by FFT
    (only rows where both ``F`` and ``G`` have a non-zero entry add to the same-tile part).
    """
    tile = F.shape[1]
    length = sfft.next_fast_len(2 * tile - 1, real=True)
    both = np.flatnonzero(np.any(F != 0, axis=1) & np.any(G != 0, axis=1))
    ff = sfft.rfft(F[both], n=length, axis=1)
    fg = sfft.rfft(G[both], n=length, axis=1)
    fcol = sfft.rfft(F.sum(axis=0), n=length)
    gcol = sfft.rfft(G.sum(axis=0), n=length)
    spec = np.conj(fcol) * gcol - (np.conj(ff) * fg).sum(axis=0)
    corr = sfft.irfft(spec, n=length)
    lags = np.arange(length)
    lags = np.where(lags < tile, lags, lags - length)  # index -> lag d
    valid = np.abs(lags) < tile
    return float(np.sum(corr[valid] * p_of_lag(lags[valid])))


def kernel_lag_probability(n_starts: int):
    """``P(s_a - s_b = d)`` for independent uniform starts in ``[0, n_starts)``: ``(S - |d|)_+ / S^2``."""
    s = float(n_starts)

    def p(d):
        return np.clip(s - np.abs(d), 0.0, None) / s**2

    return p


def q_form(x: np.ndarray, w: np.ndarray) -> float:
    """``Q(x, w) = |x|^2 |w|^2 + <x, w>^2 - 2 sum_i x_i^2 w_i^2``."""
    xw = x * w
    return float((x @ x) * (w @ w) + xw.sum() ** 2 - 2.0 * (xw @ xw))


def q_rows(X: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Row-wise ``Q(X_t, W_t)``."""
    xw = X * W
    return (X * X).sum(1) * (W * W).sum(1) + xw.sum(1) ** 2 - 2.0 * (xw * xw).sum(1)


def _diagonal_correlation_sum(g1: np.ndarray, g2: np.ndarray, length: int, block: int = 256) -> np.ndarray:
    """``A(d) = sum_{o,o'} g1[o, o'] g2[o + d, o' + d]`` for every lag, as an array indexed like an FFT.

    Along each diagonal ``k = o' - o`` the sum over ``o`` is a cross-correlation of the k-th diagonals of
    ``g1`` and ``g2``; the spectra of all diagonals are summed (in blocks of ``block`` diagonals).
    """
    tile = g1.shape[0]
    o = np.arange(tile)
    spec = np.zeros(length // 2 + 1, dtype=np.complex128)
    ks = np.arange(-(tile - 1), tile)
    for start in range(0, ks.size, block):
        k = ks[start:start + block, None]
        cols = o[None, :] + k
        valid = (cols >= 0) & (cols < tile)
        cols = np.clip(cols, 0, tile - 1)
        rows = np.broadcast_to(o[None, :], cols.shape)
        d1 = np.where(valid, g1[rows, cols], 0.0)
        d2 = np.where(valid, g2[rows, cols], 0.0)
        spec += (np.conj(sfft.rfft(d1, n=length, axis=1)) * sfft.rfft(d2, n=length, axis=1)).sum(axis=0)
    return sfft.irfft(spec, n=length)


def tile_sign_weighted_lag_sum(X: np.ndarray, W: np.ndarray, p_of_lag) -> float:
    """``sum_{a != b} sum_d p(d) [C_ab(d)^2 + C_ab(d) D_ab(d)]`` without wrap (kernel placement).

    With the Gram matrices ``GX = X^T X``, ``GW = W^T W`` and ``H = X^T W``:
    ``sum_{a,b} C_ab(d)^2 = sum_{o,o'} GX[o,o'] GW[o+d,o'+d]`` and
    ``sum_{a,b} C_ab(d) D_ab(d) = sum_{o,o'} H[o,o'] H[o'+d,o+d]``, each a sum over diagonals of
    cross-correlations (``O(n Z + Z^2 log Z)``); the diagonal ``a = b`` comes from per-tile FFTs.
    """
    tile = X.shape[1]
    length = sfft.next_fast_len(2 * tile - 1, real=True)
    gx, gw, h = X.T @ X, W.T @ W, X.T @ W
    total = _diagonal_correlation_sum(gx, gw, length) + _diagonal_correlation_sum(h, h.T, length)
    spec_aa = np.conj(sfft.rfft(X, n=length, axis=1)) * sfft.rfft(W, n=length, axis=1)
    c_aa = sfft.irfft(spec_aa, n=length, axis=1)
    rev = np.concatenate([c_aa[:, :1], c_aa[:, :0:-1]], axis=1)  # C_aa(-d) = D_aa(d)
    total -= (c_aa * c_aa + c_aa * rev).sum(axis=0)
    lags = np.arange(length)
    lags = np.where(lags < tile, lags, lags - length)
    valid = np.abs(lags) < tile
    return float(np.sum(total[valid] * p_of_lag(lags[valid])))
