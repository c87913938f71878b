"""Closed forms A, C1-C4 against an independent Monte Carlo, a naive pair-loop reference and hand formulas."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roast_theory import RoastTheoryError
from roast_theory.moments import (
    block_tile_moments,
    element_hashing_moments,
    layout_moments,
    tile_hashing_moments,
    weight_mse,
)

TRIALS = 100_000


# ------------------------------------------------------------------ independent references (test-only)
def mc_estimates(x, w, m, tile_id, offset, tile, sign, placement, trials=TRIALS, seed=0, batch=25_000):
    """Simulate M = S w, w_hat = g M[h], Y = <w_hat, x> directly; return (Y draws, |w_hat - w|^2 draws)."""
    x, w = np.asarray(x, float), np.asarray(w, float)
    n, n_tiles = x.size, int(tile_id.max()) + 1
    rng = np.random.default_rng(seed)
    ys, errs = [], []
    for start in range(0, trials, batch):
        t = min(batch, trials - start)
        hi = m if placement == "circular" else m - tile
        s = rng.integers(0, hi, (t, n_tiles))
        h = (s[:, tile_id] + offset) % m
        if sign == "element":
            g = rng.choice([-1.0, 1.0], (t, n))
        elif sign == "tile":
            g = rng.choice([-1.0, 1.0], (t, n_tiles))[:, tile_id]
        else:
            g = np.ones((t, n))
        flat = np.arange(t)[:, None] * m + h
        mem = np.bincount(flat.ravel(), weights=(g * w).ravel(), minlength=t * m)
        w_hat = g * mem[flat]
        ys.append(w_hat @ x)
        errs.append(((w_hat - w) ** 2).sum(axis=1))
    return np.concatenate(ys), np.concatenate(errs)


def z_mean(draws, expected):
    return (draws.mean() - expected) / (draws.std(ddof=1) / np.sqrt(draws.size))


def z_var(draws, expected):
    v = draws.var(ddof=1)
    m4 = np.mean((draws - draws.mean()) ** 4)
    return (v - expected) / np.sqrt((m4 - v * v) / draws.size)


def chunks(n, tile):
    return np.arange(n) // tile, np.arange(n) % tile


def naive_tiled(x, w, m, tile_id, offset, sign):
    """Pair-by-pair evaluation of the C1/C2/C3 sums of the notes (lags folded mod m), O(n^2)."""
    n = x.size
    inner = float(x @ w)
    tiles = sorted(set(tile_id.tolist()))
    if sign == "element":
        var = sum(x[i] ** 2 * w[j] ** 2 + x[i] * w[i] * x[j] * w[j]
                  for i in range(n) for j in range(n) if tile_id[i] != tile_id[j]) / m
        return inner, var
    total, bias, pair_var = 0.0, 0.0, 0.0
    for a in tiles:
        for b in tiles:
            if a == b:
                continue
            c = np.zeros(m)
            d = np.zeros(m)
            for i in np.flatnonzero(tile_id == a):
                for j in np.flatnonzero(tile_id == b):
                    c[(offset[j] - offset[i]) % m] += x[i] * w[j]
                    d[(offset[j] - offset[i]) % m] += w[i] * x[j]
            total += np.sum(c * c + c * d)
            bias += c.sum() / m
            s = c + d
            pair_var += 0.5 * (np.mean(s * s) - np.mean(s) ** 2)
    if sign == "tile":
        return inner, total / m
    return inner + bias, pair_var


def smooth_pair(n, seed=1):
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, n)
    return np.sin(3 * t) + 0.3 + 0.2 * rng.standard_normal(n), np.cos(2 * t) + 0.1 * rng.standard_normal(n)


# --------------------------------------------------------------------------- Monte Carlo agreement
CASES = [  # n, tile, memory, sign, placement
    (48, 1, 40, "element", "circular"),
    (48, 1, 40, "none", "circular"),
    (50, 8, 40, "element", "circular"),   # short last chunk
    (50, 8, 40, "tile", "circular"),
    (50, 8, 40, "none", "circular"),
    (48, 8, 11, "tile", "circular"),      # wrapped lags: m < 2Z - 1
    (48, 8, 11, "none", "circular"),
    (48, 8, 40, "element", "kernel"),
    (30, 5, 9, "element", "kernel"),
    (48, 8, 40, "tile", "kernel"),
    (30, 5, 9, "tile", "kernel"),
]


@pytest.mark.parametrize("n,tile,m,sign,placement", CASES)
def test_moments_match_monte_carlo(n, tile, m, sign, placement):
    x, w = smooth_pair(n)
    res = tile_hashing_moments(x, w, m, tile, sign, placement)
    tid, off = chunks(n, tile)
    y, err = mc_estimates(x, w, m, tid, off, tile, sign, placement, seed=n + tile + m)
    assert abs(z_mean(y, res.mean)) < 5
    assert abs(z_var(y, res.variance)) < 5
    mse = weight_mse(w, m, tile, sign, placement)
    if not (sign == "none" and placement == "kernel"):
        assert abs(z_mean(err, mse.mse)) < 5


def test_x_equals_w_and_kernel_tile_sign_weight_error():
    x, _ = smooth_pair(40, seed=3)
    res = tile_hashing_moments(x, x, 37, 4, "tile")
    y, _ = mc_estimates(x, x, 37, *chunks(40, 4), 4, "tile", "circular", seed=5)
    assert abs(z_var(y, res.variance)) < 5
    mse = weight_mse(x, 37, 4, "tile", "kernel")
    _, err = mc_estimates(x, x, 37, *chunks(40, 4), 4, "tile", "kernel", seed=6)
    assert abs(z_mean(err, mse.mse)) < 5


def test_block_layout_matches_monte_carlo():
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((6, 8)) + 0.5, rng.standard_normal((6, 8)) + 0.5
    res = block_tile_moments(x, w, 50, (4, 4), "tile")
    k, n = np.meshgrid(np.arange(6), np.arange(8), indexing="ij")
    tid = ((k // 4) * 2 + n // 4).ravel()
    off = ((k % 4) * 4 + n % 4).ravel()
    y, _ = mc_estimates(x.ravel(), w.ravel(), 50, tid, off, 16, "tile", "circular", seed=7)
    assert abs(z_var(y, res.variance)) < 5
    same = layout_moments(x.ravel(), w.ravel(), tid, off, 50, 16, "tile")
    assert same.variance == pytest.approx(res.variance, rel=1e-12)


# -------------------------------------------------------- dropping a term is detected by the MC
def test_dropped_terms_are_detected():
    n, tile, m = 48, 8, 40
    x, w = smooth_pair(n)
    tid, off = chunks(n, tile)
    # C1 without the in-tile reduction term = element-hashing variance: rejected by the MC
    y1, _ = mc_estimates(x, w, m, tid, off, tile, "element", "circular", seed=11)
    assert abs(z_var(y1, element_hashing_moments(x, w, m).variance)) > 5
    # C2 without the C*D cross term
    y2, _ = mc_estimates(x, w, m, tid, off, tile, "tile", "circular", seed=12)
    full = tile_hashing_moments(x, w, m, tile, "tile").variance
    _, naive_c2 = naive_tiled(x, w, m, tid, off, "tile")
    assert naive_c2 == pytest.approx(full, rel=1e-10)
    only_c2 = sum(
        np.sum(np.correlate(w[tid == b], x[tid == a], mode="full") ** 2)
        for a in range(6) for b in range(6) if a != b
    ) / m
    assert abs(z_var(y2, only_c2)) > 5
    # C3 without the -Q(X., W.)/m^2 correction = C2 variance
    y3, _ = mc_estimates(x, w, m, tid, off, tile, "none", "circular", seed=13)
    assert abs(z_var(y3, full)) > 5
    # weight error (n - Z)|w|^2/m versus the element value (n - 1)|w|^2/m
    _, e = mc_estimates(x, w, m, tid, off, tile, "tile", "circular", seed=14)
    assert abs(z_mean(e, (n - 1) * (w @ w) / m)) > 5


# ------------------------------------------------------------- naive reference and hand formulas
@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 14), tile=st.integers(1, 6), extra=st.integers(0, 12),
       sign=st.sampled_from(["element", "tile", "none"]), seed=st.integers(0, 10_000))
def test_fft_sums_equal_naive_pair_loop(n, tile, extra, sign, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(n), rng.standard_normal(n)
    m = tile + extra
    res = tile_hashing_moments(x, w, m, tile, sign)
    mean, var = naive_tiled(x, w, m, *chunks(n, tile), sign)
    assert res.mean == pytest.approx(mean, rel=1e-9, abs=1e-9)
    assert res.variance == pytest.approx(var, rel=1e-8, abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 40), tile=st.integers(1, 8), seed=st.integers(0, 10_000))
def test_tiling_never_raises_element_sign_variance(n, tile, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(n), rng.standard_normal(n)
    v1 = element_hashing_moments(x, w, 17).variance
    vz = tile_hashing_moments(x, w, 17, tile, "element").variance
    assert vz <= v1 + 1e-9 * max(1.0, v1)


def test_hand_formulas():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(12), rng.standard_normal(12)
    q = (x @ x) * (w @ w) + (x @ w) ** 2 - 2 * np.sum(x**2 * w**2)
    a = element_hashing_moments(x, w, 7)
    assert a.variance == pytest.approx(q / 7) and a.bias == 0 and a.mean == pytest.approx(x @ w)
    b = element_hashing_moments(x, w, 7, sign="none")
    assert b.bias == pytest.approx((x.sum() * w.sum() - x @ w) / 7)
    assert b.variance == pytest.approx(q * 6 / 49)
    assert weight_mse(w, 7).mse == pytest.approx(11 * (w @ w) / 7)
    assert weight_mse(w, 7, tile=4, sign="tile").mse == pytest.approx(8 * (w @ w) / 7)
    assert weight_mse(w, 7, tile=4).relative() == pytest.approx(8 / 7)
    # constant vectors, per-tile sign: C_ab(d) = Z - |d|, so Var = (2/m) k(k-1) sum_d (Z - |d|)^2
    z, k, m = 6, 4, 40
    ones = np.ones(z * k)
    expect = 2 * k * (k - 1) * sum((z - abs(d)) ** 2 for d in range(-z + 1, z)) / m
    assert tile_hashing_moments(ones, ones, m, z, "tile").variance == pytest.approx(expect)


def test_notes_sanity_orderings():
    # ROAST-NOTES: n=64, m=40, smooth w, random x, per-element signs: Z = 1/4/16 gives 52.27/50.73/41.08
    rng = np.random.default_rng(2)
    w = np.cos(np.linspace(0, 3, 64)) + 1.0
    x = rng.standard_normal(64)
    v = [tile_hashing_moments(x, w, 40, z).variance for z in (1, 4, 16)]
    assert v[0] > v[1] > v[2]
    # n=48, Z=8, m=40 smooth: per-tile sign (~165) far above no sign (~120), positive bias (~18.6)
    xs, ws = smooth_pair(48)
    c2 = tile_hashing_moments(xs, ws, 40, 8, "tile")
    c3 = tile_hashing_moments(xs, ws, 40, 8, "none")
    assert c2.variance > c3.variance and c3.bias > 0 and c2.bias == 0


def test_result_object():
    res = tile_hashing_moments(np.ones(8), np.ones(8), 10, 2, "none")
    d = res.to_dict()
    assert set(d) >= {"mean", "variance", "bias", "exact_inner_product"}
    assert res.std() == pytest.approx(np.sqrt(res.variance))
    assert res.mse() == pytest.approx(res.variance + res.bias**2)
    with pytest.raises(AttributeError):
        res.mean = 0.0


# ------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs,needle", [
    (dict(x=np.ones(4), w=np.ones(5), memory=10, tile=1), "shape"),
    (dict(x=np.ones(8), w=np.ones(8), memory=3, tile=4), "memory=3"),
    (dict(x=np.ones(8), w=np.ones(8), memory=4, tile=4, placement="kernel"), "memory=4"),
    (dict(x=np.ones(8), w=np.ones(8), memory=10.5, tile=1), "memory=10.5"),
    (dict(x=np.ones(8), w=np.ones(8), memory=10, tile=-2), "tile=-2"),
    (dict(x=np.ones(8), w=np.ones(8), memory=10, tile=2.0), "tile=2.0"),
    (dict(x=[1.0, np.nan], w=np.ones(2), memory=10, tile=1), "x has a non-finite"),
    (dict(x=np.ones(2), w=[np.inf, 1.0], memory=10, tile=1), "w has a non-finite"),
    (dict(x=np.ones(8), w=np.ones(8), memory=10, tile=2, sign="random"), "sign='random'"),
    (dict(x=np.ones(8), w=np.ones(8), memory=10, tile=2, placement="wrap"), "placement='wrap'"),
    (dict(x=np.ones(8), w=np.ones(8), memory=10, tile=2, sign="none", placement="kernel"), "sign='none'"),
])
def test_bad_input(kwargs, needle):
    with pytest.raises(RoastTheoryError, match=None) as info:
        tile_hashing_moments(**kwargs)
    assert needle in str(info.value)


def test_bad_layouts_and_shapes():
    with pytest.raises(RoastTheoryError, match="unique"):
        layout_moments(np.ones(3), np.ones(3), np.array([0, 0, 1]), np.array([1, 1, 0]), 10, 2)
    with pytest.raises(RoastTheoryError, match="offset"):
        layout_moments(np.ones(3), np.ones(3), np.array([0, 0, 1]), np.array([0, 2, 0]), 10, 2)
    with pytest.raises(RoastTheoryError, match=r"tile=4 must be a pair \(BK, BN\)"):
        block_tile_moments(np.ones((4, 4)), np.ones((4, 4)), 10, 4)
    with pytest.raises(RoastTheoryError, match="2-dimensional"):
        block_tile_moments(np.ones(4), np.ones(4), 10, (2, 2))
    with pytest.raises(RoastTheoryError, match="sign='tile'"):
        element_hashing_moments(np.ones(4), np.ones(4), 10, sign="tile")


def naive_kernel(x, w, m, tile_id, offset, tile, sign):
    """Pair-by-pair kernel-placement variance, p(d) = (S - |d|)_+ / S^2 with S = m - tile."""
    s_starts = m - tile

    def p(d):
        return max(s_starts - abs(d), 0) / s_starts**2

    n = x.size
    if sign == "element":
        return sum((x[i] ** 2 * w[j] ** 2 + x[i] * w[i] * x[j] * w[j]) * p(offset[j] - offset[i])
                   for i in range(n) for j in range(n) if tile_id[i] != tile_id[j])
    total = 0.0
    n_tiles = int(tile_id.max()) + 1
    for a in range(n_tiles):
        for b in range(n_tiles):
            if a == b:
                continue
            c, d = {}, {}
            for i in np.flatnonzero(tile_id == a):
                for j in np.flatnonzero(tile_id == b):
                    lag = offset[j] - offset[i]
                    c[lag] = c.get(lag, 0.0) + x[i] * w[j]
                    d[lag] = d.get(lag, 0.0) + w[i] * x[j]
            total += sum(p(lag) * (c[lag] ** 2 + c[lag] * d[lag]) for lag in c)
    return total


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 14), tile=st.integers(1, 6), extra=st.integers(1, 12),
       sign=st.sampled_from(["element", "tile"]), seed=st.integers(0, 10_000))
def test_kernel_placement_equals_naive_pair_loop(n, tile, extra, sign, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(n), rng.standard_normal(n)
    m = tile + extra
    res = tile_hashing_moments(x, w, m, tile, sign, "kernel")
    expect = naive_kernel(x, w, m, *chunks(n, tile), tile, sign)
    assert res.variance == pytest.approx(max(expect, 0.0), rel=1e-8, abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 30), tile=st.integers(1, 5), extra=st.integers(1, 10),
       sign=st.sampled_from(["element", "tile", "none"]), placement=st.sampled_from(["circular", "kernel"]),
       seed=st.integers(0, 10_000))
def test_general_layout_is_invariant_to_relabelling(n, tile, extra, sign, placement, seed):
    if sign == "none" and placement == "kernel":
        return
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(n), rng.standard_normal(n)
    m = tile + extra
    tid, off = chunks(n, tile)
    relabel = rng.permutation(int(tid.max()) + 1)[tid]  # shuffle tile ids
    order = rng.permutation(n)  # shuffle element order
    res = layout_moments(x[order], w[order], relabel[order], off[order], m, tile, sign, placement)
    ref = tile_hashing_moments(x, w, m, tile, sign, placement)
    assert res.mean == pytest.approx(ref.mean, rel=1e-9, abs=1e-9)
    assert res.variance == pytest.approx(ref.variance, rel=1e-8, abs=1e-9)
