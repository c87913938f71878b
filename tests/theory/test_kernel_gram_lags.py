"""Kernel-placement lag sums from Gram chain sums (the fast path of the no-sign and per-tile-sign forms).

The brute-force sums below are written from the definitions (triangular law ``p(A i) = (S - |i|)_+ / S^2``,
three-tile law ``P3(i1, i2) = (S - (max(0, i1, i2) - min(0, i1, i2)))_+ / S^3``) with Python loops.
"""

from __future__ import annotations

import numpy as np
import pytest

from roast_theory import _gram_lags as gl
from roast_theory import _kernel_lags as kl
from roast_theory import _tiles


def brute_sums(g1, g2, s, a):
    """``sum_d p(d) sum g1[o,o'] g2[o+d,o'+d]`` and ``sum_{i1,i2} P3 sum g1[o,o'] g2[o+A i1, o'+A i2]``."""
    z = g1.shape[0]
    big_i = (z - 1) // a
    pair = three = 0.0
    for o in range(z):
        for q in range(z):
            for i1 in range(-big_i, big_i + 1):
                o1 = o + a * i1
                if not 0 <= o1 < z:
                    continue
                if 0 <= q + a * i1 < z:
                    pair += g1[o, q] * g2[o1, q + a * i1] * max(s - abs(i1), 0) / s**2
                for i2 in range(-big_i, big_i + 1):
                    q2 = q + a * i2
                    if 0 <= q2 < z:
                        rng = max(0, i1, i2) - min(0, i1, i2)
                        three += g1[o, q] * g2[o1, q2] * max(s - rng, 0) / s**3
    return pair, three


CASES = [(5, 30, 1), (6, 10, 1), (7, 12, 3), (6, 4, 2), (5, 9, 8), (8, 7, 3), (4, 2, 1), (4, 3, 1)]


@pytest.mark.nojit
@pytest.mark.parametrize("z,s,a", CASES)
def test_chain_sums_equal_brute_force(z, s, a):
    rng = np.random.default_rng(z * 100 + s * 10 + a)
    g1, g2 = rng.standard_normal((z, z)), rng.standard_normal((z, z))
    pair, three = brute_sums(g1, g2, s, a)
    if gl.fast_path_ok(z, s, a, three=False):
        assert gl.pair_sum(g1, g2, s, a) == pytest.approx(pair, rel=1e-12, abs=1e-12)
    if gl.fast_path_ok(z, s, a):
        got = gl.pair_and_three(g1, g2, s, a)
        assert got == pytest.approx((pair, three), rel=1e-12, abs=1e-12)


def test_fast_path_condition():
    assert gl.fast_path_ok(2048, 4094, 1) and not gl.fast_path_ok(2048, 4093, 1)
    assert gl.fast_path_ok(2048, 2047, 1, three=False) and not gl.fast_path_ok(2048, 2046, 1, three=False)
    assert gl.fast_path_ok(2048, 62, 64) and not gl.fast_path_ok(2048, 61, 64)
    assert gl.fast_path_ok(8, 1, 8)  # align >= tile: only lag 0


@pytest.mark.nojit
@pytest.mark.parametrize("s,a", [(40, 1), (9, 1), (5, 1), (20, 3), (3, 2)])
def test_moments_fast_equal_fft_grid(s, a):
    rng = np.random.default_rng(s + a)
    X, W = rng.standard_normal((5, 6)), rng.standard_normal((5, 6))
    assert kl.none_sign_moments(X, W, s, a) == pytest.approx(kl._reference_none_sign_moments(X, W, s, a),
                                                             rel=1e-12)
    ref = _tiles.tile_sign_weighted_lag_sum(X, W, kl.lag_probability(s, a))
    assert kl.tile_sign_variance(X, W, s, a) == pytest.approx(ref, rel=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("align", [1, 8, 64])
def test_layer_sized_fast_path_equals_previous_implementation(align):
    """A 256 x 1024 weight in 32 x 64 tiles (``Z = 2048``, 128 tiles); memory 1/8 of the weight."""
    rng = np.random.default_rng(align)
    x, w = rng.standard_normal((256, 1024)), rng.standard_normal((256, 1024))
    X, W = _tiles.block_matrix(x, 32, 64), _tiles.block_matrix(w, 32, 64)
    s = kl.n_starts(256 * 1024 // 8, 2048, align)
    assert gl.fast_path_ok(2048, s, align)
    bias, var = kl.none_sign_moments(X, W, s, align)
    ref_bias, ref_var = kl._reference_none_sign_moments(X, W, s, align)
    assert bias == pytest.approx(ref_bias, rel=1e-9) and var == pytest.approx(ref_var, rel=1e-9)
    ref = _tiles.tile_sign_weighted_lag_sum(X, W, kl.lag_probability(s, align))
    assert kl.tile_sign_variance(X, W, s, align) == pytest.approx(ref, rel=1e-9)


def _dense_first_moments(X, W, s, a):
    """Bias, ``sum_{a<b} (p.S_ab)^2`` and ``sum_{b != a} p.S_ab`` per tile, by loops over all pairs."""
    z, n = X.shape[1], X.shape[0]
    p = kl.lag_probability(s, a)
    ps = np.zeros((n, n))  # ps[a, b] = sum_d p(d) C_ab(d), C_ab(d) = sum_o X[a, o] W[b, o + d]
    for ia in range(n):
        for ib in range(n):
            ps[ia, ib] = sum(p(q - o) * X[ia, o] * W[ib, q] for o in range(z) for q in range(z))
    bias = sum(ps[i, j] for i in range(n) for j in range(n) if i != j)
    pp = sum((ps[i, j] + ps[j, i]) ** 2 for i in range(n) for j in range(i + 1, n))
    p_r = np.array([sum(ps[i, j] + ps[j, i] for j in range(n) if j != i) for i in range(n)])
    return bias, pp, p_r


@pytest.mark.nojit
@pytest.mark.parametrize("s,a", [(12, 1), (5, 2)])
def test_first_moments_with_zero_input_tiles(s, a):
    """Tiles where ``x`` is zero (rows 0, 2, 3) are skipped; the result equals the all-pairs loops."""
    rng = np.random.default_rng(7 * s + a)
    X, W = rng.standard_normal((6, 5)), rng.standard_normal((6, 5))
    X[[0, 2, 3]] = 0.0
    length = 16
    fx = np.fft.rfft(X, n=length, axis=1)
    pvec = kl._lag_weights(length, 5, s, a)
    bias, pp, p_r = kl._first_moments(X, W, fx, length, pvec)
    ref_bias, ref_pp, ref_p_r = _dense_first_moments(X, W, s, a)
    assert bias == pytest.approx(ref_bias, rel=1e-12) and pp == pytest.approx(ref_pp, rel=1e-12)
    np.testing.assert_allclose(p_r, ref_p_r, rtol=1e-12, atol=1e-12)


@pytest.mark.nojit
def test_align_free_pieces_are_reused_and_equal_fresh_ones():
    rng = np.random.default_rng(3)
    X, W = rng.standard_normal((5, 6)), rng.standard_normal((5, 6))
    X[1] = 0.0
    shared = kl.AlignFree(X, W)
    for s, a in [(40, 1), (14, 3), (7, 6)]:
        fresh = kl.none_sign_moments(X, W, s, a)
        assert kl.none_sign_moments(X, W, s, a, shared=shared) == pytest.approx(fresh, rel=1e-13)
        assert kl.tile_sign_variance(X, W, s, a, shared) == pytest.approx(kl.tile_sign_variance(X, W, s, a),
                                                                         rel=1e-13)
    assert shared.grams() is shared.grams() and shared.spectra(16)[0] is shared.spectra(16)[0]
