"""Model layouts: global / local sharing, module scales, slot allocation, sketch/recover conventions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roast_theory.errors import RoastTheoryError
from roast_theory.layout import INIT_STD, ModelLayout, auto_scales, local_slots
from roast_theory.montecarlo import mc_total_inner_product

SHAPES = [(8, 6), (4, 10), (12,)]


def _weights(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s) for s in SHAPES]


def test_auto_scales_by_hand():
    assert INIT_STD == 0.04
    np.testing.assert_allclose(auto_scales([(64, 10), (100,), (4, 3)]), [3.125, 2.5, 12.5])


def test_local_slots_by_hand():
    assert local_slots([1, 1, 1], 10).tolist() == [4, 3, 3]
    assert local_slots([2, 3], 5).tolist() == [2, 3]
    assert local_slots([1, 3], 10).tolist() == [3, 7]  # 2.5 / 7.5: the tie goes to the lower index
    assert local_slots([5], 7).tolist() == [7]


@settings(max_examples=200, deadline=None)
@given(sizes=st.lists(st.integers(1, 10**6), min_size=1, max_size=12), m=st.integers(1, 10**7))
def test_property_local_slots_sum_and_rounding(sizes, m):
    m_l = local_slots(sizes, m)
    assert int(m_l.sum()) == m
    share = np.array(sizes, dtype=np.float64) * m / sum(sizes)
    assert np.all(np.abs(m_l - share) < 1.0 + 1e-9)


def test_global_sketch_is_sum_of_scaled_module_sketches():
    lay = ModelLayout.global_(SHAPES, 30, tile=1, scales="auto", seed=3)
    ws = _weights()
    lam = auto_scales(SHAPES)
    np.testing.assert_allclose(lay.scales, lam)
    mem = lay.sketch(ws)
    want = sum(mp.matrix() @ (w.ravel() / l_) for mp, w, l_ in zip(lay.mappings, ws, lam))
    np.testing.assert_allclose(mem, want, atol=1e-12)
    rec = lay.recover(mem)
    for mp, r, l_ in zip(lay.mappings, rec, lam):
        np.testing.assert_allclose(r.ravel(), l_ * (mp.matrix().T @ mem), atol=1e-12)
    assert lay.module_memory == (30, 30, 30)


def test_global_adjoint_with_scales():
    lay = ModelLayout.global_(SHAPES, 25, scales=[2.0, 0.5, 3.0], sign="element", seed=1)
    ws = _weights(1)
    m2 = np.random.default_rng(2).normal(size=25)
    lhs = lay.sketch(ws) @ m2
    rhs = sum(np.sum(w * r) / l_ ** 2 for w, r, l_ in zip(ws, lay.recover(m2), lay.scales))
    assert np.isclose(lhs, rhs)


def test_local_layout_sizes_and_roundtrip_shapes():
    lay = ModelLayout.local(SHAPES, 50, seed=2)
    sizes = [48, 40, 12]
    assert lay.module_memory == tuple(local_slots(sizes, 50).tolist()) and sum(lay.module_memory) == 50
    mems = lay.sketch(_weights())
    assert [m.shape for m in mems] == [(k,) for k in lay.module_memory]
    rec = lay.recover(mems)
    assert [r.shape for r in rec] == SHAPES
    np.testing.assert_array_equal(lay.scales, 1.0)


def test_modules_get_distinct_seeds():
    lay = ModelLayout.global_([(50,), (50,)], 97, tile=1, seed=0)
    assert not np.array_equal(lay.mappings[0].index, lay.mappings[1].index)
    again = ModelLayout.global_([(50,), (50,)], 97, tile=1, seed=0)
    assert np.array_equal(lay.mappings[1].index, again.mappings[1].index)


def test_kernel_family_layout():
    lay = ModelLayout.global_([(64, 128), (32, 64)], 5000, tile=(32, 64), placement="kernel", sign="none",
                              family="rz-stable", seed=4)
    for mp in lay.mappings:
        assert mp.index.max() < 5000 and np.all(mp.sign == 1)


def test_layout_agrees_with_monte_carlo_global_sharing():
    """Layouts over many seeds vs mc_total_inner_product (the MC draws hashes without ModelLayout)."""
    shapes = [(6,), (4,)]
    rng = np.random.default_rng(5)
    xs = [rng.normal(size=s) for s in shapes]
    ws = [rng.normal(size=s) for s in shapes]
    lam = [2.0, 0.5]
    ys = []
    for seed in range(800):
        lay = ModelLayout.global_(shapes, 7, tile=2, scales=lam, seed=seed)
        rec = lay.recover(lay.sketch(ws))
        ys.append(sum(float(x @ r) for x, r in zip(xs, rec)))
    ys = np.array(ys)
    est = mc_total_inner_product(xs, ws, memory=7, tile=2, scales=lam, trials=100_000, seed=6)
    se_mean = np.hypot(est.mean_se, ys.std(ddof=1) / np.sqrt(ys.size))
    assert abs(ys.mean() - est.mean) < 5 * se_mean
    d = ys - ys.mean()
    se_var = np.sqrt(np.mean(d ** 4) / ys.size - ys.var() ** 2 / ys.size)
    assert abs(ys.var(ddof=1) - est.variance) < 5 * np.hypot(se_var, est.variance_se)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ModelLayout.local([(100,), (2,)], 10, tile=2), r"module 1 \(shape \(2,\), 0 slots\)"),
        (lambda: ModelLayout.global_([(4,)], 3, tile=4), "memory=3"),
        (lambda: ModelLayout.global_([], 3), "empty"),
        (lambda: ModelLayout.global_([(4,)], 8, scales=[1.0, 2.0]), "scales"),
        (lambda: ModelLayout.global_([(4,)], 8, scales="big"), "scales='big'"),
        (lambda: ModelLayout.global_([(4, 0)], 8), r"module_shapes\[0\]\[1\]=0"),
        (lambda: ModelLayout.global_([(4,)], 8).sketch([np.ones(4), np.ones(4)]), "2 arrays"),
        (lambda: ModelLayout.global_([(4,)], 8).sketch([np.ones(5)]), r"weights\[0\]"),
        (lambda: ModelLayout.local([(4,)], 8).recover([np.ones(8), np.ones(8)]), "2 arrays"),
        (lambda: auto_scales([(4,)], init_std=0.0), "init_std"),
        (lambda: local_slots([0, 3], 5), r"sizes\[0\]=0"),
    ],
)
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(RoastTheoryError, match=match):
        call()


def test_frozen():
    lay = ModelLayout.local([(4,)], 8)
    with pytest.raises(AttributeError):
        lay.memory = 9
    with pytest.raises(ValueError):
        lay.scales[0] = 2.0
