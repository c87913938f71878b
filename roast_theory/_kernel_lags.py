"""Private plan for kernel placement: lag laws of bounded starts and the no-sign (C3-kernel) sums.

Kernel placement puts tile ``t`` at ``h(i) = s_t + o(i)`` with the start ``s_t`` uniform on the ``S``
multiples of ``A`` (the alignment) in ``[0, m - Z)``, ``S = ceil((m - Z) / A)``. Writing ``s_t = A k_t``:

* two tiles: ``P(s_a - s_b = A i) = (S - |i|)_+ / S^2`` (triangular law), lags that are not multiples of
  ``A`` have probability 0;
* three tiles sharing ``a``: ``P(s_a - s_b = A i1, s_a - s_c = A i2) = (S - (max(0,i1,i2) -
  min(0,i1,i2)))_+ / S^3``, because ``k_a`` must keep ``k_a - i1`` and ``k_a - i2`` inside ``[0, S)``.

Unlike circular placement the lags of two tile pairs that share a tile are *not* independent, so the
variance without signs has a three-tile term. Conditioning on ``s_a`` makes the other starts independent:
``Cov(f(s_a - s_b), g(s_a - s_c)) = Cov_{k_a}(E[f | k_a], E[g | k_a])``, and ``E[f | k_a]`` is a window
sum of ``f`` over ``S`` consecutive lags, computed by cumulative sums (constant away from the edges).
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sfft

from . import _gram_lags, _tiles
from .errors import RoastTheoryError


def n_starts(memory: int, tile: int, align: int) -> int:
    """Number ``S`` of starts: multiples of ``align`` in ``[0, memory - tile)``."""
    span = memory - tile
    if span < 1:
        raise RoastTheoryError(f"memory={memory} leaves no start for tile size {tile} (kernel placement "
                               f"needs memory >= tile + 1)")
    return -(-span // align)


def lag_probability(s: int, align: int):
    """``p(d) = P(s_a - s_b = d) = [A | d] (S - |d| / A)_+ / S^2`` as a vectorised function of ``d``."""
    s = float(s)

    def p(d):
        d = np.asarray(d)
        on = (d % align) == 0
        return np.where(on, np.clip(s - np.abs(d) / align, 0.0, None), 0.0) / s**2

    return p


def _lag_index(length: int, tile: int) -> np.ndarray:
    """Lag ``d`` held at each index of a length-``length`` correlation (``d < 0`` at the end)."""
    idx = np.arange(length)
    return np.where(idx < tile, idx, idx - length)


def _xcorr_rows(F: np.ndarray, G: np.ndarray, length: int) -> np.ndarray:
    """Row-wise ``c(d) = sum_o F[o] G[o + d]`` (FFT-indexed, no wrap for ``length >= 2Z - 1``)."""
    return sfft.irfft(np.conj(sfft.rfft(F, n=length, axis=-1)) * sfft.rfft(G, n=length, axis=-1),
                      n=length, axis=-1)


def window_quadratic(rows: np.ndarray, tile: int, s: int, align: int) -> np.ndarray:
    """Per row ``r``: ``sum_{d1, d2} r(d1) r(d2) P3(d1, d2) = S^-3 sum_{j<S} F(j)^2``.

    ``F(j) = sum_{k<S} r(A (j - k))`` is the window sum of the aligned lags; it equals the row total for
    ``I <= j <= S - 1 - I`` (``I = (Z - 1) // A``), so only ``2I`` values of ``j`` are evaluated. When
    ``S > 2I`` those are the prefix sums ``F(j) = cs(j)`` (``j < I``) and the suffix sums ``F(j) = total -
    cs(j - S)`` (``j >= S - I``) of the aligned lags, read as slices.
    """
    big_i = (tile - 1) // align
    v = _aligned_lags(rows, tile, align)
    cs = np.cumsum(v, axis=1)
    total = cs[:, -1]
    if s > 2 * big_i + 1:
        head, tail = cs[:, big_i:2 * big_i], total[:, None] - cs[:, :big_i]
        mid = s - 2 * big_i
        return (np.einsum("ij,ij->i", head, head) + np.einsum("ij,ij->i", tail, tail)
                + mid * total**2) / float(s) ** 3

    def cum(i):  # sum_{i' <= i} v(i'), i an integer array
        out = cs[:, np.clip(i + big_i, 0, 2 * big_i)]
        out = np.where(i[None, :] < -big_i, 0.0, out)
        return out

    js, mid = _window_positions(s, big_i)
    f = cum(np.minimum(js, big_i)) - cum(js - s)
    return ((f * f).sum(axis=1) + mid * total**2) / float(s) ** 3


def _aligned_lags(rows: np.ndarray, tile: int, align: int) -> np.ndarray:
    """The aligned lags ``A i``, ``|A i| < Z``, of FFT-indexed rows, in increasing order of ``i``."""
    big_i = (tile - 1) // align
    length = rows.shape[-1]
    neg = rows[:, length - big_i * align:length:align] if big_i else rows[:, :0]
    return np.concatenate([neg, rows[:, 0:big_i * align + 1:align]], axis=1)


def _window_positions(s: int, big_i: int) -> tuple[np.ndarray, int]:
    """The starts ``j < S`` whose window of lags is cut by an edge (``j < I`` or ``j > S - 1 - I``), and
    how many starts in between see the full window (all ``S`` starts are listed when ``S <= 2I + 1``)."""
    if s <= 2 * big_i + 1:
        return np.arange(s), 0
    return np.concatenate([np.arange(big_i), np.arange(s - big_i, s)]), s - 2 * big_i


def _aligned_index(length: int, tile: int, align: int) -> np.ndarray:
    """FFT-grid indices of the aligned lags ``A i``, ``|A i| < Z``, in increasing order of ``i``."""
    big_i = (tile - 1) // align
    return (np.arange(-big_i, big_i + 1) * align) % length


def window_quadratic_2d(t: np.ndarray, tile: int, s: int, align: int) -> float:
    """``sum_{d1, d2} T(d1, d2) P3(d1, d2) = S^-3 sum_{j<S} sum_{k1, k2 < S} T(A(j - k1), A(j - k2))``.

    The inner double sum is a box sum of the aligned lag grid, read from its summed-area table; it equals
    the grid total for ``I <= j <= S - 1 - I``.
    """
    idx = _aligned_index(t.shape[0], tile, align)
    big_i = (idx.size - 1) // 2
    sat = np.zeros((idx.size + 1, idx.size + 1))
    sat[1:, 1:] = t[np.ix_(idx, idx)].cumsum(axis=0).cumsum(axis=1)
    js, mid = _window_positions(s, big_i)
    hi = np.minimum(js, big_i) + big_i + 1  # exclusive, in SAT coordinates
    lo = np.clip(js - s + 1, -big_i, None) + big_i
    box = sat[hi, hi] - sat[lo, hi] - sat[hi, lo] + sat[lo, lo]
    return float(box.sum() + mid * sat[-1, -1]) / float(s) ** 3


def _all_pairs_lag_grid(X: np.ndarray, W: np.ndarray, length: int) -> np.ndarray:
    """``T(d1, d2) = sum_{a, b} [C_ab(d1) C_ab(d2) + C_ab(d1) D_ab(d2)]`` over all ordered tile pairs.

    By the Gram matrices ``GX = X^T X``, ``GW = W^T W``, ``H = X^T W``:
    ``sum_ab C_ab(d1) C_ab(d2) = sum_o GX[o1, o2] GW[o1 + d1, o2 + d2]`` and ``sum_ab C_ab(d1) D_ab(d2) =
    sum_o H[o1, o2] H[o2 + d2, o1 + d1]``, 2-D cross-correlations computed by FFT.
    """
    shape = (length, length)
    gx, gw, h = X.T @ X, W.T @ W, X.T @ W
    spec = np.conj(sfft.rfft2(gx, s=shape, workers=-1)) * sfft.rfft2(gw, s=shape, workers=-1)
    fh, fht = _spectra_of_pair(h, length)
    spec += np.conj(fh) * fht
    return sfft.irfft2(spec, s=shape, workers=-1)


def _spectra_of_pair(h: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """``rfft2`` of ``h`` and of ``h.T`` (zero-padded to ``length``) from one half-complex 2-D transform.

    ``G = fft(rfft(h, axis=0), axis=1)`` holds ``F_h[k1, k2]`` for ``k1 <= L/2``; ``F_{h^T}[k1, k2] =
    F_h[k2, k1]`` is ``G.T``, and the rows ``k1 > L/2`` of ``F_h`` follow from Hermitian symmetry.
    """
    half = length // 2 + 1
    g = sfft.fft(sfft.rfft(h, n=length, axis=0, workers=-1), n=length, axis=1, workers=-1)  # (half, L)
    fht = np.ascontiguousarray(g.T)  # (L, half)
    fh = np.empty((length, half), dtype=np.complex128)
    fh[:half] = g[:, :half]
    rows = g[length - half:0:-1]  # k1 = half .. L-1  ->  row L - k1
    fh[half:, 0] = np.conj(rows[:, 0])  # column k2 = 0 -> 0, k2 > 0 -> L - k2
    fh[half:, 1:] = np.conj(rows[:, length - 1:length - half:-1])
    return fh, fht


class AlignFree:
    """The pieces of the kernel-placement sums that depend on ``(X, W)`` only, computed on first use and
    kept: the Gram pairs of :func:`_gram_lags.gram_pairs` and the row spectra ``rfft(X)``, ``rfft(W)``.

    One instance serves every number of starts ``S`` and alignment ``A`` of the same tile layout (the
    tile advisor tries several alignments per tile shape; the Gram products are its largest cost).
    """

    def __init__(self, X: np.ndarray, W: np.ndarray):
        self.X, self.W = X, W
        self._grams = None
        self._spectra = {}

    def grams(self) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
        if self._grams is None:
            self._grams = _gram_lags.gram_pairs(self.X, self.W)
        return self._grams

    def spectra(self, length: int) -> tuple[np.ndarray, np.ndarray]:
        if length not in self._spectra:
            rows = _gram_lags.nonzero_rows(self.X)  # one output of a layer: most tiles of x are zero
            fx = np.zeros((self.X.shape[0], length // 2 + 1), dtype=np.complex128)
            fx[rows] = sfft.rfft(self.X[rows], n=length, axis=1)
            self._spectra[length] = (fx, sfft.rfft(self.W, n=length, axis=1))
        return self._spectra[length]

    def row_profiles(self, length: int) -> np.ndarray:
        """``R_a = sum_{b != a} S_ab`` per tile (rows, FFT-indexed lags), from the row spectra."""
        key = ("profiles", length)
        if key not in self._spectra:
            fx, fw = self.spectra(length)
            rows = _gram_lags.nonzero_rows(self.X)
            fxt, fwt = fx.sum(axis=0), fw.sum(axis=0)
            spec = np.conj(fw) * fxt  # conj(fx) (fwt - fw) + conj(fw) (fxt - fx), fx = 0 off `rows`
            spec[rows] += np.conj(fx[rows]) * (fwt - fw[rows]) - np.conj(fw[rows]) * fx[rows]
            self._spectra[key] = sfft.irfft(spec, n=length, axis=1)
        return self._spectra[key]


def _grid_sums_fft(X: np.ndarray, W: np.ndarray, s: int, align: int) -> tuple[float, float]:
    """``sum_d p(d) T(d, d)`` and ``sum T P3`` from the full 2-D lag grid ``T`` (FFT; any ``S``)."""
    tile = X.shape[1]
    length = sfft.next_fast_len(2 * tile - 1, real=True)
    pvec = _lag_weights(length, tile, s, align)
    t = _all_pairs_lag_grid(X, W, length)
    return float(np.diagonal(t) @ pvec), window_quadratic_2d(t, tile, s, align)


def _grid_sums(X: np.ndarray, W: np.ndarray, s: int, align: int, shared=None) -> tuple[float, float]:
    """:func:`_grid_sums_fft` from chain sums of the Gram matrices where the lag laws are unclipped."""
    if not _gram_lags.fast_path_ok(X.shape[1], s, align):
        return _grid_sums_fft(X, W, s, align)
    pair, three = 0.0, 0.0
    for g1, g2 in (shared or AlignFree(X, W)).grams():
        p2, p3 = _gram_lags.pair_and_three(g1, g2, s, align)
        pair, three = pair + p2, three + p3
    return pair, three


def none_sign_moments(X: np.ndarray, W: np.ndarray, s: int, align: int,
                      grid_sums=None, shared=None) -> tuple[float, float]:
    """Bias and variance of ``<w_hat, x>`` without signs under kernel placement (see module notes).

    ``<w_hat, x> = <x, w> + sum_{a<b} S_ab(s_a - s_b)`` with ``S_ab = C_ab + D_ab``. The pair terms give
    ``sum_{a<b} Var S_ab(lag)``; pairs of pairs sharing tile ``a`` give
    ``sum_a [Q(R_a) - (p.R_a)^2] - sum_{a != b} [Q(S_ab) - (p.S_ab)^2]`` with ``R_a = sum_{b != a} S_ab``
    and ``Q(r) = r^T P3 r``. With ``T`` of :func:`_all_pairs_lag_grid`, ``sum_{a,b} Q(S_ab) = 2 <T, P3>``
    (``DD`` and ``DC`` are reflections of ``CC`` and ``CD``) and ``sum_{a,b} p.(C_ab^2 + C_ab D_ab)`` is
    the ``p``-weighted diagonal of ``T``; the ``a = b`` terms come from per-tile correlations. The two
    sums over ``T`` come from ``grid_sums`` (default :func:`_grid_sums`: Gram chain sums, or the FFT grid
    where the lag laws are clipped, ``S < 2 (Z - 1) // A``). ``shared``: an :class:`AlignFree` of
    ``(X, W)`` whose Gram matrices and row spectra are reused between calls (other ``S`` or ``align``).
    """
    tile = X.shape[1]
    length = sfft.next_fast_len(2 * tile - 1, real=True)
    pvec = _lag_weights(length, tile, s, align)
    shared = shared or AlignFree(X, W)
    fx, fw = shared.spectra(length)
    bias, pp_pairs, p_r = _first_moments(X, W, fx, length, pvec)
    t_diag, t_three = grid_sums(X, W, s, align) if grid_sums else _grid_sums(X, W, s, align, shared)
    s_aa, same = _same_tile(fx, fw, length, pvec)
    v2 = t_diag - same - pp_pairs
    three = float(window_quadratic(shared.row_profiles(length), tile, s, align).sum() - p_r @ p_r)
    pairs_p3 = 2.0 * t_three - float(window_quadratic(s_aa, tile, s, align).sum())
    three -= pairs_p3 - 2.0 * pp_pairs
    return bias, v2 + three


def _first_moments(X: np.ndarray, W: np.ndarray, fx: np.ndarray, length: int,
                   pvec: np.ndarray) -> tuple[float, float, np.ndarray]:
    """The bias ``sum_{a != b} p.C_ab``, ``sum_{a<b} (p.S_ab)^2`` and ``p_r[a] = sum_{b != a} p.S_ab``.

    ``m1[a, b] = p.C_ab`` is zero on the rows of tiles where ``x`` is zero, so only the ``r`` non-zero
    rows ``m1r = m1[rows]`` are formed (``r x n_tiles`` instead of ``n_tiles^2``). With ``nn = m1 + m1^T``
    (``nn[a, b] = p.S_ab``): ``sum nn^2 = 2 sum m1r^2 + 2 sum_{a, b in rows} m1[a, b] m1[b, a]``, the
    diagonal ``nn[a, a] = 2 m1[a, a]`` lives on ``rows`` and ``sum_b nn[a, b]`` is the row sum of ``m1``
    plus its column sum.
    """
    tile = X.shape[1]
    rows = _gram_lags.nonzero_rows(X)
    xp = sfft.irfft(fx[rows] * sfft.rfft(pvec), n=length, axis=1)[:, :tile]
    m1r = xp @ W.T  # m1r[k, b] = m1[rows[k], b] = sum_d p(d) C_ab(d)
    diag_r = m1r[np.arange(rows.size), rows]
    bias = float(m1r.sum() - diag_r.sum())
    sub = m1r[:, rows]
    pp_pairs = float((m1r * m1r).sum() + (sub * sub.T).sum() - 2.0 * diag_r @ diag_r)
    p_r = m1r.sum(axis=0)
    p_r[rows] += m1r.sum(axis=1) - 2.0 * diag_r
    return bias, pp_pairs, p_r


def tile_sign_variance(X: np.ndarray, W: np.ndarray, s: int, align: int, shared=None) -> float:
    """``sum_{a != b} sum_d p(d) [C_ab(d)^2 + C_ab(d) D_ab(d)]`` (one sign per tile, kernel placement).

    All ordered pairs from the Gram chain sums (:func:`_gram_lags.pair_sum`) minus the ``a = b`` terms
    from per-tile correlations; where the pair law is clipped (``S < (Z - 1) // A``) the diagonal FFT
    sums of :func:`_tiles.tile_sign_weighted_lag_sum`. ``shared`` as in :func:`none_sign_moments`.
    """
    tile = X.shape[1]
    if not _gram_lags.fast_path_ok(tile, s, align, three=False):
        return _tiles.tile_sign_weighted_lag_sum(X, W, lag_probability(s, align))
    shared = shared or AlignFree(X, W)
    total = sum(_gram_lags.pair_sum(g1, g2, s, align) for g1, g2 in shared.grams())
    length = sfft.next_fast_len(2 * tile - 1, real=True)
    pvec = _lag_weights(length, tile, s, align)
    _, same = _same_tile(*shared.spectra(length), length, pvec)
    return total - same


def _lag_weights(length: int, tile: int, s: int, align: int) -> np.ndarray:
    """``p(d)`` at each FFT index (``d < 0`` at the end), zero for ``|d| >= Z``."""
    lag = _lag_index(length, tile)
    return lag_probability(s, align)(lag) * (np.abs(lag) < tile)


def _same_tile(fx: np.ndarray, fw: np.ndarray, length: int, pvec: np.ndarray) -> tuple[np.ndarray, float]:
    """Per-tile ``S_aa = C_aa + D_aa`` (rows, FFT-indexed; ``D_aa(d) = C_aa(-d)``) from the row spectra,
    and ``sum_a sum_d p(d) [C_aa(d)^2 + C_aa(d) D_aa(d)]`` (rows of tiles where ``x`` or ``w`` is zero are
    zero and left out)."""
    rows = np.flatnonzero(np.any(fx != 0, axis=1) & np.any(fw != 0, axis=1))
    c_aa = sfft.irfft(np.conj(fx[rows]) * fw[rows], n=length, axis=1)
    s_aa = c_aa + np.concatenate([c_aa[:, :1], c_aa[:, :0:-1]], axis=1)  # index d -> index -d mod L
    return s_aa, float(pvec @ np.einsum("ij,ij->j", c_aa, s_aa))


def _reference_none_sign_moments(X: np.ndarray, W: np.ndarray, s: int, align: int) -> tuple[float, float]:
    """:func:`none_sign_moments` with the 2-D FFT lag grid for every ``S`` (the previous implementation,
    kept as the reference the chain sums are tested against)."""
    return none_sign_moments(X, W, s, align, grid_sums=_grid_sums_fft)


def _residue_cumsum(v: np.ndarray, align: int) -> np.ndarray:
    """``cs[:, q] = sum_{o <= q, o = q mod A} v[:, o]`` (cumulative sums along each residue class)."""
    z = v.shape[1]
    pad = -(-z // align) * align
    vv = np.zeros((v.shape[0], pad))
    vv[:, :z] = v
    return vv.reshape(v.shape[0], -1, align).cumsum(axis=1).reshape(v.shape[0], pad)[:, :z]


def _window_at(cs: np.ndarray, u: np.ndarray, s: int, align: int) -> np.ndarray:
    """``G(u) = sum_{k<S} v[u - A k]`` (``v`` zero outside ``[0, Z)``) from the residue cumsums."""
    z = cs.shape[1]

    def cum(q):
        over = np.maximum(q - z + 1, 0)
        q = q - align * (-(-over // align))
        out = cs[:, np.clip(q, 0, z - 1)]
        return np.where(q[None, :] < 0, 0.0, out)

    return cum(u) - cum(u - align * s)


def shifted_window_energy(V: np.ndarray, C: np.ndarray, s: int, align: int) -> np.ndarray:
    """Per row: ``sum_o C[o] sum_{j<S} G_V(o + A j)^2 = sum_u G_V(u)^2 G_C(u)`` (windows of ``S`` aligned
    steps). Both windows are full, and depend on ``u mod A`` only, for ``Z - 1 <= u <= A (S - 1)``."""
    z = V.shape[1]
    top = align * (s - 1) + z  # u ranges over [0, top)
    csv, csc = _residue_cumsum(V, align), _residue_cumsum(C, align)
    lo_mid, hi_mid = z - 1, align * (s - 1)  # inclusive middle range
    if hi_mid - lo_mid + 1 <= 2 * align:
        u = np.arange(top)
        return (_window_at(csv, u, s, align) ** 2 * _window_at(csc, u, s, align)).sum(axis=1)
    (lo_v, up_v, tot_v), (lo_c, up_c, tot_c) = _edge_windows(csv, s, align), _edge_windows(csc, s, align)
    edge = np.einsum("ij,ij->i", lo_v * lo_v, lo_c) + np.einsum("ij,ij->i", up_v * up_v, up_c)
    rep = np.arange(lo_mid, lo_mid + align)  # one u per residue class in the middle
    count = (hi_mid - rep) // align + 1
    mid = ((tot_v * tot_v * tot_c)[:, rep % align]) @ count
    return edge + mid


def _edge_windows(cs: np.ndarray, s: int, align: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Window sums ``G(u)`` at the lower edge ``u < Z - 1``, at the upper edge ``A (S - 1) < u < A (S - 1)
    + Z``, and the residue-class totals ``(rows, A)`` (``G`` of the middle), when the middle is not empty.

    Lower edge: the window reaches below 0, ``G(u) = cs(u)``. Upper edge: with ``q = u - A S`` (in
    ``[1 - A, Z - A)``), ``G(u) = total(u mod A) - cs(q)`` for ``q >= 0`` and the class total otherwise.
    """
    z = cs.shape[1]
    width = min(align, z)
    last = np.arange(width) + align * ((z - 1 - np.arange(width)) // align)
    totals = np.zeros((cs.shape[0], align))
    totals[:, :width] = cs[:, last]
    upper = totals[:, np.arange(1 - align, z - align) % align]
    if z > align:
        upper[:, align - 1:] -= cs[:, :z - align]
    return cs[:, :z - 1], upper, totals


def none_sign_weight_mse(W: np.ndarray, mask: np.ndarray, s: int, align: int) -> float:
    """``E |w_hat - w|^2`` without signs under kernel placement.

    For element ``i`` (tile ``a``, offset ``o``) the error is ``e_i = sum_{b != a} W_b[o + s_a - s_b]``.
    ``E e_i^2 = sum_{b != a} sum_{o'} W_b[o']^2 p(o' - o) + sum_{b != c} E[U_b U_c]``: given
    ``s_a = A j`` the other starts are independent and ``E[W_b[o + A j - s_b] | j] = G_b(o + A j) / S``,
    so the cross terms are ``S^-3 sum_j [(sum_{b != a} G_b)^2 - sum_{b != a} G_b^2](o + A j)``.
    """
    p = lag_probability(s, align)
    pairs = _tiles.cross_tile_weighted(mask, W * W, p)
    wt = W.sum(axis=0)
    count = mask.sum(axis=0)
    cross = shifted_window_energy(wt[None, :] - W, mask, s, align).sum()
    cross -= shifted_window_energy(W, count[None, :] - mask, s, align).sum()
    return float(pairs + cross / float(s) ** 3)
