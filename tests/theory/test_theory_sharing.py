"""B1-B3 and allocation: closed forms vs an independent Monte Carlo, the exact decomposition, properties."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roast_theory import RoastTheoryError
from roast_theory.sharing import (
    kernel_variance,
    module_output_variance,
    optimal_allocation,
    sharing_variance,
)

TRIALS = 100_000


def hashed_copies(u, m, trials=TRIALS, seed=0):
    """Element hashing with per-element signs: return w_hat draws, shape (trials, n)."""
    u = np.asarray(u, float)
    rng = np.random.default_rng(seed)
    h = rng.integers(0, m, (trials, u.size))
    g = rng.choice([-1.0, 1.0], (trials, u.size))
    flat = np.arange(trials)[:, None] * m + h
    mem = np.bincount(flat.ravel(), weights=(g * u).ravel(), minlength=trials * m)
    return g * mem[flat]


def z_var(draws, expected):
    v = draws.var(ddof=1)
    m4 = np.mean((draws - draws.mean()) ** 4)
    return (v - expected) / np.sqrt((m4 - v * v) / draws.size)


def modules(seed=0):
    rng = np.random.default_rng(seed)
    xs = [rng.standard_normal(12) + 1.0, 2.0 * rng.standard_normal(24)]
    ws = [rng.standard_normal(12) + 0.5, 0.5 * rng.standard_normal(24)]
    return xs, ws


def q(x, w):
    return (x @ x) * (w @ w) + (x @ w) ** 2 - 2 * np.sum(x**2 * w**2)


def test_b3_global_and_local_match_monte_carlo():
    xs, ws = modules()
    m = 24  # p = 1/3, 2/3: local budgets 8 and 16 are integers
    res = sharing_variance(xs, ws, m)
    x_all, w_all = np.concatenate(xs), np.concatenate(ws)
    y_global = hashed_copies(w_all, m, seed=1) @ x_all
    assert abs(z_var(y_global, res.global_variance)) < 5
    y_local = hashed_copies(ws[0], 8, seed=2) @ xs[0] + hashed_copies(ws[1], 16, seed=3) @ xs[1]
    assert abs(z_var(y_local, res.local_variance)) < 5
    assert abs(res.decomposition_residual()) < 1e-9 * max(1.0, m * abs(res.difference()))


def test_counterexample_local_beats_global():
    # weights only in module 1, inputs only in module 2
    xs = [np.zeros(6), np.linspace(1, 2, 6)]
    ws = [np.linspace(-1, 1, 6) + 0.2, np.zeros(6)]
    res = sharing_variance(xs, ws, 12)
    assert res.local_variance == 0 and res.global_variance > 0 and not res.global_wins()
    y = hashed_copies(np.concatenate(ws), 12, seed=4) @ np.concatenate(xs)
    assert abs(z_var(y, res.global_variance)) < 5


def test_b2_module_output_with_scales_matches_monte_carlo():
    xs, ws = modules(1)
    scales = [0.5, 2.0]
    m = 24
    res = module_output_variance(xs, ws, 0, m, scales)
    us = np.concatenate([ws[0] / 0.5, ws[1] / 2.0])
    u_hat = hashed_copies(us, m, seed=5)
    y = 0.5 * (u_hat[:, :12] @ xs[0])
    assert abs(z_var(y, res.global_variance)) < 5
    y_local = hashed_copies(ws[0], 8, seed=6) @ xs[0]
    assert abs(z_var(y_local, res.local_variance)) < 5
    # dropping the -2 sum x^2 u^2 term is rejected
    wrong = 0.25 / m * ((xs[0] @ xs[0]) * (us @ us) + (xs[0] @ (ws[0] / 0.5)) ** 2)
    assert abs(z_var(y, wrong)) > 5


def test_b1_kernel_variance():
    rng = np.random.default_rng(7)
    x, x2 = rng.standard_normal(10), rng.standard_normal(10)
    res = kernel_variance(x, x2, 30, 40)
    assert res.ratio() == pytest.approx(4.0)
    assert res.global_variance == pytest.approx(q(x, x2) / 30)
    full_x = np.concatenate([x, np.zeros(30)])
    # <phi x, phi x2> = <S^T S x2, x>: the other 30 elements carry no input, so they do not matter
    y = hashed_copies(np.concatenate([x2, np.zeros(30)]), 30, seed=8) @ full_x
    assert abs(z_var(y, res.global_variance)) < 5


def test_x_equals_w():
    # heterogeneous energy: the covariance and alignment terms dominate and global wins
    rng = np.random.default_rng(2)
    xs = [rng.standard_normal(40), 3.0 * rng.standard_normal(40)]
    res = sharing_variance(xs, xs, 24)
    assert res.global_wins() and res.covariance_term > 0 and res.alignment_term > 0
    # exactly homogeneous x = w = 1: only the diagonal term is left and LOCAL wins (contrary to the notes'
    # "x = w: strictly"): m V_G = 2n^2 - 2n, m V_L = sum_l (2 n_l^2 - 2 n_l) / p_l = 2n^2 - 2kn
    ones = [np.ones(10), np.ones(10)]
    hom = sharing_variance(ones, ones, 24)
    assert hom.global_variance == pytest.approx((2 * 400 - 40) / 24)
    assert hom.local_variance == pytest.approx((2 * 400 - 80) / 24)
    assert hom.covariance_term == pytest.approx(0, abs=1e-9)
    assert hom.alignment_term == pytest.approx(0, abs=1e-9)
    assert not hom.global_wins()
    y = hashed_copies(np.ones(20), 24, seed=9) @ np.ones(20)
    assert abs(z_var(y, hom.global_variance)) < 5


@settings(max_examples=50, deadline=None)
@given(sizes=st.lists(st.integers(1, 9), min_size=1, max_size=5), m=st.integers(1, 500),
       seed=st.integers(0, 10_000))
def test_decomposition_is_exact_and_alignment_nonnegative(sizes, m, seed):
    rng = np.random.default_rng(seed)
    xs = [rng.standard_normal(s) * rng.uniform(0.1, 3) for s in sizes]
    ws = [rng.standard_normal(s) * rng.uniform(0.1, 3) for s in sizes]
    res = sharing_variance(xs, ws, m)
    scale = max(1.0, m * (res.global_variance + res.local_variance))
    assert abs(res.decomposition_residual()) < 1e-9 * scale
    assert res.alignment_term >= -1e-9 * scale
    # independent recomputation of V_L from the notes
    n = sum(sizes)
    v_l = sum(q(x, w) / (len(x) / n * m) for x, w in zip(xs, ws))
    assert res.local_variance == pytest.approx(v_l, rel=1e-9, abs=1e-12)


def test_allocation():
    xs, ws = modules(3)
    xs.append(np.zeros(5))
    ws.append(np.ones(5))
    alloc = optimal_allocation(xs, ws, 100)
    assert sum(alloc.slots) == 100 and alloc.slots[2] == 0
    assert sum(alloc.proportional_slots) == 100
    assert alloc.exact_optimal_variance <= alloc.variance <= alloc.proportional_variance
    norms = [np.linalg.norm(x) * np.linalg.norm(w) for x, w in zip(xs, ws)]
    share = np.array(norms) / sum(norms) * 100
    assert np.all(np.abs(np.array(alloc.slots) - share) < 1)
    assert alloc.variance == pytest.approx(sum(q(x, w) / s for x, w, s in zip(xs[:2], ws[:2], alloc.slots)))


def test_allocation_rounding_keeps_every_module():
    xs = [np.ones(3), np.ones(3) * 100, np.ones(3)]
    alloc = optimal_allocation(xs, xs, 4)
    assert sum(alloc.slots) == 4 and min(alloc.slots) >= 1


@pytest.mark.parametrize("call,needle", [
    (lambda: sharing_variance([np.ones(3)], [np.ones(4)], 10), "shape"),
    (lambda: sharing_variance([np.ones(3)], [np.ones(3), np.ones(2)], 10), "modules"),
    (lambda: sharing_variance([np.ones(3)], [np.ones(3)], 0), "memory=0"),
    (lambda: sharing_variance([[np.nan, 1.0]], [np.ones(2)], 5), "xs[0]"),
    (lambda: module_output_variance([np.ones(3)], [np.ones(3)], 1, 10), "module=1"),
    (lambda: module_output_variance([np.ones(3)], [np.ones(3)], 0, 10, [-1.0]), "scales[0]"),
    (lambda: kernel_variance(np.ones(3), np.ones(3), 10, 2), "n_total=2"),
    (lambda: kernel_variance(np.ones(3), np.ones(3), 10, 9, 4), "module_size=4"),
    (lambda: optimal_allocation([np.ones(2)] * 3, [np.ones(2)] * 3, 2), "memory=2"),
])
def test_bad_input(call, needle):
    with pytest.raises(RoastTheoryError) as info:
        call()
    assert needle in str(info.value)


def test_b3_with_scales_matches_monte_carlo_and_local_is_scale_free():
    from roast_theory import mc_total_inner_product

    xs, ws = modules()
    m, lam = 24, [0.5, 3.0]
    plain, scaled = sharing_variance(xs, ws, m), sharing_variance(xs, ws, m, scales=lam)
    assert scaled.local_variance == pytest.approx(plain.local_variance, rel=1e-12)
    assert scaled.global_variance != pytest.approx(plain.global_variance, rel=1e-3)
    est = mc_total_inner_product(xs, ws, memory=m, sharing="global", scales=lam, trials=100_000, seed=7)
    assert abs(est.z_score(scaled.global_variance, of="variance")) < 5
    assert abs(scaled.decomposition_residual()) < 1e-9 * max(1.0, m * abs(scaled.difference()))
    with pytest.raises(RoastTheoryError, match="scales"):
        sharing_variance(xs, ws, m, scales=[1.0, -1.0])
