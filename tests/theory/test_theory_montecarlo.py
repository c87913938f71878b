"""Monte Carlo estimators against exact brute-force enumeration of every hash and sign assignment.

Expected values here never come from roast_theory's closed forms: each tiny case enumerates all tile
starts and all signs with plain Python loops, and larger cases use elementary facts (unbiasedness, the
binomial slot coverage of independent starts). Tolerances are 5 standard errors of the estimate itself.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from roast_theory import _mc_kernels as K
from roast_theory.errors import RoastTheoryError
from roast_theory.hashes import family_class
from roast_theory.mappings import TileMapping
from roast_theory.montecarlo import (
    MonteCarloEstimate,
    kernel_vs_ideal_gap,
    mc_inner_product,
    mc_kernel,
    mc_module_output,
    mc_placement_load,
    mc_total_inner_product,
    mc_unused_fraction,
    mc_weight_mse,
)

TRIALS = 200_000


# --------------------------------------------------------------------------------- brute force
def brute(modules, m_list, tile, sign, placement, what="inner"):
    """Exact mean and variance by enumerating every start and sign (plain Python).

    ``modules``: list of (x_l, w_l) already scaled; module l lives in segment l of sizes ``m_list``
    (one shared segment when ``len(m_list) == 1``).
    """
    elems = []  # (module, tile key, offset, x, w)
    for l, (x, w) in enumerate(modules):
        for i in range(len(w)):
            elems.append((l, (l, i // tile), i % tile, x[i] if x is not None else 0.0, w[i]))
    tiles = sorted({e[1] for e in elems})
    seg = [m_list[0] if len(m_list) == 1 else m_list[l] for l, _ in tiles]
    base = [0 if len(m_list) == 1 else sum(m_list[:l]) for l, _ in tiles]
    m_total = sum(m_list)
    spans = [s if placement == "circular" else s - tile for s in seg]
    n_sign = len(elems) if sign == "element" else len(tiles) if sign == "tile" else 0
    values = []
    for starts in itertools.product(*[range(s) for s in spans]):
        for signs in itertools.product((-1, 1), repeat=n_sign):
            mem = [0.0] * m_total
            slots, gs = [], []
            for e in elems:
                t = tiles.index(e[1])
                pos = starts[t] + e[2]
                if placement == "circular":
                    pos %= seg[t]
                slot = base[t] + pos
                g = 1 if sign == "none" else signs[elems.index(e)] if sign == "element" else signs[t]
                mem[slot] += g * e[4]
                slots.append(slot)
                gs.append(g)
            if what == "inner":
                values.append(sum(g * e[3] * mem[s] for g, e, s in zip(gs, elems, slots)))
            else:
                values.append(sum((g * mem[s] - e[4]) ** 2 for g, e, s in zip(gs, elems, slots)))
    v = np.array(values)
    return v.mean(), v.var()


def assert_close(est: MonteCarloEstimate, mean, var):
    assert abs(est.z_score(mean, of="mean")) < 5, (est, mean)
    assert abs(est.z_score(var, of="variance")) < 5, (est, var)


X3 = np.array([1.0, -2.0, 0.5])
W3 = np.array([0.7, 1.3, -1.1])


@pytest.mark.parametrize("sign", ["element", "none"])
def test_element_hashing_n3_m3_against_enumeration(sign):
    mean, var = brute([(X3, W3)], [3], 1, sign, "circular")
    est = mc_inner_product(X3, W3, memory=3, tile=1, sign=sign, trials=TRIALS, seed=1)
    assert_close(est, mean, var)
    if sign == "element":
        assert np.isclose(mean, X3 @ W3)  # the enumeration itself: unbiased with signs
    else:
        assert not np.isclose(mean, X3 @ W3)  # and biased without


X5 = np.array([0.3, -1.0, 2.0, 0.8, -0.4])
W5 = np.array([1.0, 0.5, -0.7, 1.2, 0.9])


@pytest.mark.parametrize("sign", ["element", "tile", "none"])
@pytest.mark.parametrize("placement, m", [("circular", 3), ("kernel", 5)])
def test_tiles_with_partial_tile_against_enumeration(sign, placement, m):
    mean, var = brute([(X5, W5)], [m], 2, sign, placement)
    est = mc_inner_product(X5, W5, memory=m, tile=2, sign=sign, placement=placement, trials=TRIALS, seed=2)
    assert_close(est, mean, var)


@pytest.mark.parametrize("sign, tile", [("element", 1), ("tile", 2), ("none", 2)])
def test_weight_mse_against_enumeration(sign, tile):
    mean, var = brute([(None, W5)], [4], tile, sign, "circular", what="mse")
    est = mc_weight_mse(W5, memory=4, tile=tile, sign=sign, trials=TRIALS, seed=3)
    assert_close(est, mean, var)


def test_total_inner_product_global_and_local_against_enumeration():
    xs = [np.array([1.0, -0.5]), np.array([0.25, 2.0, -1.0])]
    ws = [np.array([0.5, 1.5]), np.array([-1.0, 0.3, 0.8])]
    lam = [2.0, 0.5]
    scaled = [(lam[l] * xs[l], ws[l] / lam[l]) for l in range(2)]
    mean, var = brute(scaled, [4], 1, "element", "circular")
    est = mc_total_inner_product(xs, ws, memory=4, sharing="global", scales=lam, trials=TRIALS, seed=4)
    assert_close(est, mean, var)
    # local: m = 5 split 2 / 3 (p = 2/5, 3/5)
    mean, var = brute(list(zip(xs, ws)), [2, 3], 1, "element", "circular")
    est = mc_total_inner_product(xs, ws, memory=5, sharing="local", scales=lam, trials=TRIALS, seed=5)
    assert_close(est, mean, var)


def test_module_output_against_enumeration():
    xs = [np.array([1.0, -0.5]), np.array([0.25, 2.0, -1.0])]
    ws = [np.array([0.5, 1.5]), np.array([-1.0, 0.3, 0.8])]
    mean, var = brute([(xs[0], ws[0]), (np.zeros(3), ws[1])], [3], 1, "element", "circular")
    est = mc_module_output(xs, ws, 0, memory=3, sharing="global", trials=TRIALS, seed=6)
    assert_close(est, mean, var)


def test_kernel_is_inner_product_of_sketches():
    mean, var = brute([(X3, W3)], [2], 1, "element", "circular")
    assert_close(mc_kernel(X3, W3, memory=2, trials=TRIALS, seed=7), mean, var)


# --------------------------------------------------------------------------------- larger cases
def test_unbiased_with_signs_all_families():
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=64), np.sin(np.arange(64) / 7)
    for fam in ["ideal", "rz-stable", "rz-v1", "hashednet-triton", "robez"]:
        for tile, sign in [(1, "element"), (8, "element"), (8, "tile")]:
            est = mc_inner_product(x, w, memory=40, tile=tile, sign=sign, placement="kernel", family=fam,
                                   trials=10_000, seed=8)
            assert abs(est.z_score(x @ w)) < 5, (fam, tile, sign, est)


def test_numba_kernels_match_bincount_reference():
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=37), rng.normal(size=37)
    cases = [(40, 4, "kernel", "tile", "rz-stable"), (7, 1, "circular", "none", "ideal"),
             (10**7, 5, "circular", "element", "rz-v1"), (10**12, 3, "kernel", "tile", "ideal")]
    for m, tile, placement, sign, fam in cases:
        plan = K.make_plan([(37,)], (1, tile), [m], shared=True)
        h = K.draw_slots(rng, plan, 300, fam, placement)
        g = K.draw_signs(rng, plan, 300, sign)
        np.testing.assert_allclose(K.inner_products(h, g, x, w, m), K.inner_products_reference(h, g, x, w, m),
                                   rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(K.weight_sq_errors(h, g, w, m), K.weight_sq_errors_reference(h, g, w, m),
                                   rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("sign", ["none", "element", "tile"])
@pytest.mark.parametrize("placement", ["kernel", "circular"])
def test_fused_kernel_matches_materialised_slots(sign, placement):
    """The fused numba pass equals slots_from_starts + the bincount reference on the same draws."""
    rng = np.random.default_rng(3)
    shapes, tile = [(13,), (22,)], (1, 4)
    xs, ws = rng.normal(size=35), rng.normal(size=35)
    plans = (K.make_plan(shapes, tile, [30], shared=True), K.make_plan(shapes, tile, [9, 17], shared=False))
    for plan in plans:
        s = K.draw_starts(rng, plan, 200, "rz-v1", placement)
        g = K.draw_sign_draws(rng, plan, 200, sign)
        h = K.slots_from_starts(plan, s, placement)
        ge = K.expand_signs(plan, g, sign)
        np.testing.assert_allclose(K.fused_estimates(plan, s, g, sign, placement, xs, ws, "inner"),
                                   K.inner_products_reference(h, ge, xs, ws, plan.m_total), rtol=1e-12,
                                   atol=1e-12)
        np.testing.assert_allclose(K.fused_estimates(plan, s, g, sign, placement, None, ws, "mse"),
                                   K.weight_sq_errors_reference(h, ge, ws, plan.m_total), rtol=1e-12,
                                   atol=1e-12)


@pytest.mark.parametrize("name", ["rz-stable", "rz-v1", "hashednet-triton", "robez"])
@pytest.mark.parametrize("placement", ["kernel", "circular"])
def test_kernel_family_draws_equal_tile_mapping_per_trial(name, placement):
    """Batched per-trial kernel hashes equal TileMapping with that trial's explicit R (independent path)."""
    cls = family_class(name)
    shape, tile, m = (6, 20), (2, 4), 50
    plan = K.make_plan([shape], tile, [m], shared=True)
    h = K.draw_slots(np.random.default_rng(9), plan, 20, name, placement)
    r = cls.draw_params(np.random.default_rng(9), 20)
    for t in range(20):
        mp = TileMapping(shape, m, tile=tile, placement=placement, sign="none", family=cls(r=tuple(r[t])))
        assert np.array_equal(h[t], mp.index.ravel())


def test_local_plan_segments_are_disjoint():
    plan = K.make_plan([(5,), (7,)], (1, 2), [4, 6], shared=False)
    h = K.draw_slots(np.random.default_rng(0), plan, 1000, "ideal", "circular")
    assert h[:, :5].min() >= 0 and h[:, :5].max() < 4
    assert h[:, 5:].min() >= 4 and h[:, 5:].max() < 10


def _exact_kernel_load(shape, tile_shape, m):
    """E[(1/n) sum_b c_b^2], c_b ~ Binomial(n_tiles, p_b), p_b = P(start in (b - T, b]), start in [0, m-T)."""
    n = shape[0] * shape[1]
    t = tile_shape[0] * tile_shape[1]
    n_tiles = n // t
    span = m - t
    b = np.arange(m)
    p = np.clip(np.minimum(b, span - 1) - np.maximum(b - t + 1, 0) + 1, 0, None) / span
    return float(np.sum(n_tiles * p * (1 - p) + (n_tiles * p) ** 2) / n)


@pytest.mark.parametrize("shape, tile, m", [((64, 64), (4, 8), 256), ((32, 48), (8, 16), 300)])
def test_placement_load_against_binomial_coverage(shape, tile, m):
    est = mc_placement_load(shape, tile, m, trials=4000, seed=10)
    assert abs(est.z_score(_exact_kernel_load(shape, tile, m))) < 5


def test_placement_load_partial_tiles_uses_element_path():
    # (10, 10) with (4, 4) tiles has partial tiles: compare with a direct per-trial TileMapping loop
    est = mc_placement_load((10, 10), (4, 4), 40, trials=3000, seed=11)
    loads = []
    for s in range(1500):
        idx = TileMapping((10, 10), 40, tile=(4, 4), placement="kernel", sign="none", seed=s).index.ravel()
        c = np.bincount(idx, minlength=40)
        loads.append(np.mean(c[idx]))
    ref = np.mean(loads)
    se = np.hypot(est.mean_se, np.std(loads) / np.sqrt(len(loads)))
    assert abs(est.mean - ref) < 5 * se


@pytest.mark.parametrize("n, m, tile", [(2000, 2000, 1), (1000, 300, 10), (999, 300, 10)])
def test_unused_fraction_against_independent_coverage(n, m, tile):
    est = mc_unused_fraction(n, m, tile, trials=2000, seed=12)
    n_full, rest = divmod(n, tile)
    # a slot is unused iff no tile covers it: each tile of size T covers it with probability T/m
    expected = (1 - tile / m) ** n_full * (1 - rest / m) ** (1 if rest else 0)
    assert abs(est.z_score(expected)) < 5
    if tile == 1:
        assert abs(est.mean - np.exp(-1)) < 0.01


def test_variance_standard_error_matches_spread_of_repeats():
    x, w = np.array([1.0, 2.0, -1.0, 0.5]), np.array([0.5, -1.0, 1.0, 2.0])
    ests = [mc_inner_product(x, w, memory=3, trials=2000, seed=s) for s in range(300)]
    v = np.array([e.variance for e in ests])
    se = np.mean([e.variance_se for e in ests])
    # the SD of 300 variance estimates is known to about +-4% x 2; allow 25%
    assert 0.75 < v.std(ddof=1) / se < 1.25
    mean_se = np.mean([e.mean_se for e in ests])
    assert 0.75 < np.std([e.mean for e in ests], ddof=1) / mean_se < 1.25


def test_estimate_methods():
    est = MonteCarloEstimate.from_samples(np.array([1.0, 2.0, 3.0, 4.0]), seed=5)
    assert est.mean == 2.5 and np.isclose(est.variance, 5 / 3) and est.trials == 4 and est.seed == 5
    lo, hi = est.confidence_interval(0.95)
    assert np.isclose((hi - lo) / 2, 1.959963984540054 * est.mean_se)
    lo, hi = est.variance_confidence_interval(0.5)
    assert lo < est.variance < hi
    assert np.isclose(est.z_score(2.0), 0.5 / est.mean_se)
    with pytest.raises(RoastTheoryError, match="of='std'"):
        est.z_score(1.0, of="std")
    with pytest.raises(RoastTheoryError, match="level=1.5"):
        est.confidence_interval(1.5)


def test_reproducible_and_seed_dependent():
    x, w = np.arange(10.0), np.ones(10)
    a = mc_inner_product(x, w, memory=7, tile=2, family="rz-v1", trials=1000, seed=3)
    assert a == mc_inner_product(x, w, memory=7, tile=2, family="rz-v1", trials=1000, seed=3)
    assert a != mc_inner_product(x, w, memory=7, tile=2, family="rz-v1", trials=1000, seed=4)


def test_kernel_vs_ideal_gap_fields():
    rng = np.random.default_rng(2)
    x, w = rng.normal(size=48), rng.normal(size=48)
    gap = kernel_vs_ideal_gap(x, w, memory=40, tile=4, family="rz-stable", trials=20_000, seed=1)
    assert gap.difference == gap.variance_kernel - gap.variance_ideal
    assert np.isclose(gap.difference_se, np.hypot(gap.kernel.variance_se, gap.ideal.variance_se))
    assert gap.z_score == gap.difference / gap.difference_se
    assert gap.kernel.seed == 1 and gap.ideal.seed == 2


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: mc_inner_product([1.0, 2.0], [1.0], memory=3), "shape"),
        (lambda: mc_inner_product([1.0, np.nan], [1.0, 2.0], memory=3), "non-finite"),
        (lambda: mc_inner_product([1.0], [1.0], memory=3, tile=4), "memory=3"),
        (lambda: mc_inner_product([1.0], [1.0], memory=4, tile=4, placement="kernel"), "memory=4"),
        (lambda: mc_inner_product([1.0], [1.0], memory=3, family="sha1"), "family='sha1'"),
        (lambda: mc_inner_product([1.0], [1.0], memory=3, trials=1), "trials=1"),
        (lambda: mc_inner_product([1.0], [1.0], memory=3, seed=-2), "seed=-2"),
        (lambda: mc_inner_product([1.0], [1.0], memory=3, sign="x"), "sign='x'"),
        (lambda: mc_total_inner_product([[1.0]], [[1.0], [2.0]], memory=3), "xs has 1 modules but ws has 2"),
        (lambda: mc_total_inner_product([[1.0]], [[1.0]], memory=3, sharing="hybrid"), "sharing='hybrid'"),
        (lambda: mc_total_inner_product([[1.0] * 9, [1.0]], [[1.0] * 9, [1.0]], memory=4, sharing="local"),
         "module 1 gets m_l=0"),
        (lambda: mc_total_inner_product([[1.0]], [[1.0]], memory=3, scales=[-1.0]), "scales"),
        (lambda: mc_module_output([[1.0]], [[1.0]], 1, memory=3), "module=1"),
        (lambda: mc_placement_load((4, 4), (2, 2), 4), "memory=4"),
        (lambda: mc_unused_fraction(0, 4), "n=0"),
    ],
)
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(RoastTheoryError, match=match):
        call()


def test_kernel_vs_ideal_gap_default_placement_follows_the_kernel():
    # HashedNet (tile 1) hashes raw mod H: the default must be circular, not the tile kernel's mod (H - T).
    x = w = np.ones(64)
    default = kernel_vs_ideal_gap(x, w, memory=16, family="hashednet-triton", trials=2_000, seed=3)
    circular = kernel_vs_ideal_gap(x, w, memory=16, family="hashednet-triton", placement="circular",
                                   trials=2_000, seed=3)
    kernel = kernel_vs_ideal_gap(x, w, memory=16, family="hashednet-triton", placement="kernel",
                                 trials=2_000, seed=3)
    assert default.ideal.variance == circular.ideal.variance
    assert default.ideal.variance != kernel.ideal.variance
