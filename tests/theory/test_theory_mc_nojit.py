"""The Monte Carlo kernels on tiny inputs, small enough to run as pure Python (``NUMBA_DISABLE_JIT=1``).

Every check compares with a plain loop written here from the definitions (slot ``h(i) = s_t(i) + o(i)``,
wrapped inside the module's segment for circular placement; ``M = S w``; ``w_hat_i = g_i M[h(i)]``), or
with exact enumeration, never with numbers taken from the code under test.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import roast_theory as rt
from roast_theory import _mc_kernels as K

pytestmark = pytest.mark.nojit


def naive_slots(shapes, tile, seg_sizes, shared, starts, placement):
    """Slots of every element of every module, row-major, from per-tile starts (loops, no numpy tricks)."""
    bk, bn = tile
    slots, t0, base = [], 0, 0
    for l, shape in enumerate(shapes):
        k_dim, n_dim = (1, shape[0]) if len(shape) == 1 else shape
        n_nb = -(-n_dim // bn)
        seg = seg_sizes[0] if shared else seg_sizes[l]
        for k in range(k_dim):
            for n in range(n_dim):
                t = t0 + (k // bk) * n_nb + n // bn
                p = int(starts[t]) + (k % bk) * bn + n % bn
                if placement == "circular":
                    p %= seg
                slots.append(p + (0 if shared else base))
        t0 += -(-k_dim // bk) * n_nb
        base += 0 if shared else seg
    return np.array(slots)


def naive_estimate(h, g, x, w, m, what):
    mem = np.zeros(m)
    for i, slot in enumerate(h):
        mem[slot] += g[i] * w[i]
    w_hat = np.array([g[i] * mem[slot] for i, slot in enumerate(h)])
    return float(x @ w_hat) if what == "inner" else float(((w_hat - w) ** 2).sum())


@pytest.mark.parametrize("sign", ["none", "element", "tile"])
@pytest.mark.parametrize("placement", ["circular", "kernel"])
@pytest.mark.parametrize("what", ["inner", "mse"])
def test_fused_kernel_against_loops(sign, placement, what):
    shapes, tile, segs = [(3, 5), (4,)], (2, 2), [9, 7]
    for shared in (True, False):
        plan = K.make_plan(shapes, tile, segs, shared=shared)
        rng = np.random.default_rng(1)
        x, w = rng.standard_normal(plan.n), rng.standard_normal(plan.n)
        starts = K.draw_starts(rng, plan, 4, "ideal", placement)
        g = K.draw_sign_draws(rng, plan, 4, sign)
        got = K.fused_estimates(plan, starts, g, sign, placement, x if what == "inner" else None, w, what)
        for t in range(4):
            h = naive_slots(shapes, tile, segs, shared, starts[t], placement)
            if sign == "none":
                gi = np.ones(plan.n)
            elif sign == "element":
                gi = g[t]
            else:
                gi = g[t][plan.elem_tile]
            want = naive_estimate(h, gi, x, w, plan.m_total, what)
            assert got[t] == pytest.approx(want, rel=1e-12, abs=1e-12)
            # the materialised path gives the same slots
            np.testing.assert_array_equal(K.slots_from_starts(plan, starts, placement)[t], h)


@pytest.mark.parametrize("relabel", [False, True])
def test_slot_kernel_and_references_against_loops(monkeypatch, relabel):
    if relabel:  # force the path that relabels the used slots 0..u-1 before summing
        monkeypatch.setattr(K, "SCRATCH_SLOTS", 4)
    rng = np.random.default_rng(2)
    m, b, n = 50, 3, 6
    h = rng.integers(0, m, size=(b, n))
    h[:, 1] = h[:, 0]  # make sure some slots collide
    g = rng.choice(np.array([-1, 1], np.int8), size=(b, n))
    x, w = rng.standard_normal(n), rng.standard_normal(n)
    for gg in (g, None):
        gi = np.ones((b, n)) if gg is None else gg
        inner = [naive_estimate(h[t], gi[t], x, w, m, "inner") for t in range(b)]
        sq = [naive_estimate(h[t], gi[t], x, w, m, "mse") for t in range(b)]
        np.testing.assert_allclose(K.inner_products(h, gg, x, w, m), inner, rtol=1e-12)
        np.testing.assert_allclose(K.weight_sq_errors(h, gg, w, m), sq, rtol=1e-12)
        np.testing.assert_allclose(K.inner_products_reference(h, gg, x, w, m), inner, rtol=1e-12)
        np.testing.assert_allclose(K.weight_sq_errors_reference(h, gg, w, m), sq, rtol=1e-12)


def test_bincount_references_compact_many_bins(monkeypatch):
    monkeypatch.setattr(K, "BLOCK_ELEMENTS", 10)  # b * m > 2 * BLOCK_ELEMENTS: bins go through np.unique
    rng = np.random.default_rng(3)
    h = rng.integers(0, 40, size=(2, 5))
    x, w = rng.standard_normal(5), rng.standard_normal(5)
    inner = [naive_estimate(h[t], np.ones(5), x, w, 40, "inner") for t in range(2)]
    np.testing.assert_allclose(K.inner_products_reference(h, None, x, w, 40), inner, rtol=1e-12)
    assert list(K.block_sizes(25, 4)) == [2] * 12 + [1]  # at most BLOCK_ELEMENTS // 4 trials per block


def test_signs_and_blocks():
    plan = K.make_plan([(4, 4)], (2, 2), [10], shared=True)
    rng = np.random.default_rng(4)
    assert K.draw_sign_draws(rng, plan, 3, "none") is None
    g_tile = K.draw_sign_draws(rng, plan, 3, "tile")
    assert g_tile.shape == (3, 4) and set(np.unique(g_tile)) <= {-1, 1}
    ge = K.expand_signs(plan, g_tile, "tile")
    for i in range(16):  # element (k, n) takes the sign of its 2 x 2 tile
        k, n = divmod(i, 4)
        np.testing.assert_array_equal(ge[:, i], g_tile[:, (k // 2) * 2 + n // 2])
    assert K.draw_signs(rng, plan, 2, "element").shape == (2, 16)
    assert list(K.block_sizes(5, 10**9)) == [1] * 5


def test_kernel_family_starts_follow_the_family_formula():
    plan = K.make_plan([(4, 6)], (2, 3), [40], shared=True)
    rng = np.random.default_rng(5)
    starts = K.draw_starts(rng, plan, 2, "rz-v1", "kernel")
    r = np.random.default_rng(5).integers(0, rt.RzV1Hash.P, size=(2, 3), dtype=np.int64)
    for t in range(2):
        fam = rt.RzV1Hash(r=tuple(int(v) for v in r[t]))
        for tile in range(plan.n_tiles):
            kb, nb = divmod(tile, 2)
            assert starts[t, tile] == fam.tile_starts(kb, nb, 40 - 6)
    unequal = K.make_plan([(2,), (3,)], (1, 1), [3, 5], shared=False)
    s = K.draw_starts(rng, unequal, 200, "ideal", "circular")
    assert s[:, :2].max() == 2 and s[:, 2:].max() == 4 and s.min() == 0


@pytest.mark.parametrize("placement", ["circular", "kernel"])
def test_window_slot_counts_against_loops(placement):
    rng = np.random.default_rng(6)
    m, t_size = 9, 3
    starts = rng.integers(0, m if placement == "circular" else m - t_size, size=(4, 5))
    got = K.slot_counts_window(starts, t_size, m, placement)
    for t in range(4):
        want = np.zeros(m)
        for s in starts[t]:
            for o in range(t_size):
                want[(s + o) % m] += 1
        np.testing.assert_array_equal(got[t], want)
    h = rng.integers(0, m, size=(2, 7))
    np.testing.assert_array_equal(K.slot_counts(h, m), [np.bincount(row, minlength=m) for row in h])


def test_estimators_against_enumeration():
    """n = 3 elements, m = 3 slots, per-element signs: the exact law of <w_hat, x> over 27 * 8 outcomes."""
    x, w = np.array([1.0, -2.0, 0.5]), np.array([0.3, 1.0, -1.5])
    vals = []
    for h in itertools.product(range(3), repeat=3):
        for g in itertools.product((-1, 1), repeat=3):
            vals.append(naive_estimate(np.array(h), np.array(g), x, w, 3, "inner"))
    mean, var = np.mean(vals), np.var(vals)
    est = rt.mc_inner_product(x, w, memory=3, trials=4000, seed=0)
    assert abs(est.mean - mean) < 5 * est.mean_se and abs(est.variance - var) < 5 * est.variance_se


def test_materialised_path_gives_the_fused_values(monkeypatch):
    x, w = np.linspace(-1, 1, 10), np.cos(np.arange(10.0))
    kw = dict(memory=7, tile=3, sign="tile", trials=30, seed=4)
    fused = (rt.mc_inner_product(x, w, **kw), rt.mc_weight_mse(w, **kw))
    monkeypatch.setattr(K, "SCRATCH_SLOTS", 2)
    big = (rt.mc_inner_product(x, w, **kw), rt.mc_weight_mse(w, **kw))
    for a, b in zip(fused, big):
        assert a.mean == pytest.approx(b.mean, rel=1e-12)
        assert a.variance == pytest.approx(b.variance, rel=1e-12)


def test_sharing_and_placement_estimators_run_small():
    xs, ws = [np.ones(4), np.arange(3.0)], [np.linspace(0, 1, 4), np.ones(3)]
    for sharing in ("global", "local"):
        est = rt.mc_total_inner_product(xs, ws, memory=10, sharing=sharing, tile=2, trials=20, seed=1,
                                        scales="auto" if sharing == "global" else None)
        assert est.trials == 20 and np.isfinite(est.variance)
    one = rt.mc_module_output(xs, ws, 1, memory=10, trials=20, seed=1)
    assert one.trials == 20
    kern = rt.mc_kernel(xs[0], ws[0], memory=5, trials=20, seed=2)
    assert kern.trials == 20
    # every slot of an 8-slot memory is covered by the 2 x 4 tile of a 2 x 4 weight: load 1 everywhere
    assert rt.mc_placement_load((2, 4), (2, 4), 8, trials=5, seed=0, placement="circular").mean == 1.0
    assert rt.mc_placement_load((3, 5), (2, 4), 12, trials=5, seed=0).trials == 5  # partial tiles
    assert rt.mc_unused_fraction(1, 4, trials=5, seed=0).mean == pytest.approx(0.75)  # one element, 4 slots
    gap = rt.kernel_vs_ideal_gap(np.ones(6), np.ones(6), memory=9, tile=2, trials=20, seed=0)
    assert gap.family == "rz-stable" and gap.kernel.trials == gap.ideal.trials == 20


def test_element_hashing_slots_are_the_starts():
    plan = K.make_plan([(5,)], (1, 1), [7], shared=True)
    starts = K.draw_starts(np.random.default_rng(7), plan, 3, "ideal", "circular")
    np.testing.assert_array_equal(K.slots_from_starts(plan, starts, "circular"), starts)
    again = K.draw_slots(np.random.default_rng(7), plan, 3, "ideal", "circular")
    np.testing.assert_array_equal(again, starts)
