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
@given(sizes=st.lists(st.integers(1, 9), min_size=1, max_size=5), extra=st.integers(0, 500),
       seed=st.integers(0, 10_000))
def test_decomposition_is_exact_and_alignment_nonnegative(sizes, extra, seed):
    m = sum(sizes) + extra  # m >= n: every module gets at least one whole slot
    rng = np.random.default_rng(seed)
    xs = [rng.standard_normal(s) * rng.uniform(0.1, 3) for s in sizes]
    ws = [rng.standard_normal(s) * rng.uniform(0.1, 3) for s in sizes]
    res = sharing_variance(xs, ws, m)
    scale = max(1.0, m * (res.global_variance + res.local_variance))
    assert abs(res.decomposition_residual()) < 1e-9 * scale
    assert res.alignment_term >= -1e-9 * scale
    assert res.diagonal_term <= 1e-9 * scale
    # independent recomputation of V_L with whole-slot budgets (largest remainder of n_l m / n)
    n = sum(sizes)
    slots = [s_ * m // n for s_ in sizes]  # exact integer remainders: ties go to the lower index
    for i in sorted(range(len(sizes)), key=lambda i: (-(sizes[i] * m % n), i))[:m - sum(slots)]:
        slots[i] += 1
    assert res.local_slots == tuple(slots) and sum(res.local_slots) == m
    v_l = sum(q(x, w) / ml for x, w, ml in zip(xs, ws, slots))
    assert res.local_variance == pytest.approx(v_l, rel=1e-9, abs=1e-12)


def test_allocation():
    xs, ws = modules(3)
    xs.append(np.zeros(5))
    ws.append(np.ones(5))
    alloc = optimal_allocation(xs, ws, 100)
    assert sum(alloc.slots) == 100 and alloc.slots[2] == 1  # no signal: the one slot every module keeps
    assert sum(alloc.proportional_slots) == 100 and sum(alloc.norm_slots) == 100
    assert alloc.exact_optimal_variance <= alloc.variance <= min(alloc.proportional_variance,
                                                                 alloc.norm_variance)
    norms = [np.linalg.norm(x) * np.linalg.norm(w) for x, w in zip(xs, ws)]
    share = np.array(norms) / sum(norms) * 100
    assert np.all(np.abs(np.array(alloc.norm_slots[:2]) - share[:2]) < 2)
    assert alloc.variance == pytest.approx(sum(q(x, w) / s for x, w, s in zip(xs[:2], ws[:2], alloc.slots)))
    # exhaustive search over all budgets of the two modules with signal
    qs = [q(x, w) for x, w in zip(xs[:2], ws[:2])]
    best = min(qs[0] / a + qs[1] / (99 - a) for a in range(1, 99))
    assert alloc.variance == pytest.approx(best, rel=1e-12)


def test_integer_allocation_beats_norm_allocation_and_is_exhaustively_optimal():
    import itertools

    rng = np.random.default_rng(11)
    for _ in range(40):
        k = int(rng.integers(1, 4))
        xs = [rng.standard_normal(int(rng.integers(2, 6))) * rng.uniform(0.1, 4) for _ in range(k)]
        ws = [rng.standard_normal(x.size) * rng.uniform(0.1, 4) for x in xs]
        m = int(rng.integers(k, 12))
        alloc = optimal_allocation(xs, ws, m)
        qs = [max(q(x, w), 0.0) for x, w in zip(xs, ws)]
        best = min(sum(ql / c for ql, c in zip(qs, comb))
                   for comb in itertools.product(range(1, m + 1), repeat=k) if sum(comb) == m)
        assert alloc.variance == pytest.approx(best, rel=1e-12, abs=1e-12)
        assert alloc.variance <= alloc.norm_variance + 1e-12


def test_whole_slot_local_variance_matches_monte_carlo_sizes_100_37():
    from roast_theory.montecarlo import mc_total_inner_product

    rng = np.random.default_rng(3)
    xs = [rng.standard_normal(100), 2 * rng.standard_normal(37)]  # energy in the small module
    ws = [rng.standard_normal(100), 2 * rng.standard_normal(37)]
    res = sharing_variance(xs, ws, 50)
    assert res.local_slots == (36, 14)  # 36.5 and 13.5: the tie goes to the lower module index
    est = mc_total_inner_product(xs, ws, memory=50, sharing="local", trials=100_000, seed=4)
    assert abs(est.z_score(res.local_variance, of="variance")) < 5
    real = sum(q(x, w) / (x.size / 137 * 50) for x, w in zip(xs, ws))  # real-valued budgets p_l m
    assert abs(res.local_variance - real) > 5 * est.variance_se  # the old closed form is rejected
    given = sharing_variance(xs, ws, 50, local_slots=(30, 20))
    assert given.local_slots == (30, 20)
    assert given.local_variance == pytest.approx(q(xs[0], ws[0]) / 30 + q(xs[1], ws[1]) / 20)
    assert abs(given.decomposition_residual()) < 1e-9 * 50 * given.local_variance


def test_optimal_scales_minimise_global_variance():
    from roast_theory.sharing import optimal_scales

    rng = np.random.default_rng(8)
    xs = [rng.standard_normal(30) * 3, rng.standard_normal(50) * 0.2]
    ws = [rng.standard_normal(30) * 0.1, rng.standard_normal(50) * 2]
    lam = optimal_scales(xs, ws)
    nx, nw = [np.linalg.norm(x) for x in xs], [np.linalg.norm(w) for w in ws]
    assert lam[0] ** 4 / lam[1] ** 4 == pytest.approx((nw[0] / nx[0]) ** 2 / (nw[1] / nx[1]) ** 2)
    best = sharing_variance(xs, ws, 80, scales=lam).global_variance
    for s in np.geomspace(0.05, 20, 41):
        assert best <= sharing_variance(xs, ws, 80, scales=[1.0, s]).global_variance * (1 + 1e-12)
    with pytest.raises(RoastTheoryError, match="module 1"):
        optimal_scales(xs, [ws[0], np.zeros(50)])


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
    (lambda: sharing_variance([np.ones(90), np.ones(2)], [np.ones(90), np.ones(2)], 10), "m_l=0"),
    (lambda: sharing_variance([np.ones(3)] * 2, [np.ones(3)] * 2, 10, local_slots=(5, 4)), "sum to 9"),
    (lambda: sharing_variance([np.ones(3)] * 2, [np.ones(3)] * 2, 10, local_slots=(10, 0)), "m_l=0"),
    (lambda: sharing_variance([np.ones(3)] * 2, [np.ones(3)] * 2, 10, local_slots=(10,)), "one per module"),
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


def test_cli_sharing_local_slots_and_scales(tmp_path):
    import json
    import subprocess
    import sys

    rng = np.random.default_rng(9)
    xs = [rng.standard_normal(100), 2 * rng.standard_normal(37)]
    ws = [rng.standard_normal(100), 2 * rng.standard_normal(37)]
    np.savez(tmp_path / "m.npz", x0=xs[0], w0=ws[0], x1=xs[1], w1=ws[1])
    base = [sys.executable, "-m", "roast_toolkit.cli.theory_cmd", "sharing", "--modules",
            str(tmp_path / "m.npz"), "--memory", "50", "--json"]
    out = json.loads(subprocess.run(base, capture_output=True, text=True, check=True).stdout)
    assert out["local_slots"] == [36, 14] and sum(out["allocation"]["slots"]) == 50
    qs = [q(x, w) for x, w in zip(xs, ws)]
    best = min(qs[0] / a + qs[1] / (50 - a) for a in range(1, 50))
    assert out["allocation"]["variance"] == pytest.approx(best, rel=1e-12)
    cmd = base + ["--local-slots", "30,20", "--scales", "optimal"]
    out = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    assert out["local_slots"] == [30, 20]
    bad = subprocess.run(base + ["--local-slots", "30,19"], capture_output=True, text=True)
    assert bad.returncode == 2 and "sum to 49" in bad.stderr
