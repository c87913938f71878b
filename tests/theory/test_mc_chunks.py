"""Monte Carlo moments streamed block by block: equal to the one-array formulas, bounded memory."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import roast_theory as rt
from roast_theory import _mc_kernels as K
from roast_theory._mc_results import Comparison, MomentAccumulator, MonteCarloEstimate


def _one_array(y):
    """The textbook formulas on the whole array (written out here, not taken from the code under test)."""
    n = y.size
    mean = y.sum() / n
    d = y - mean
    var = (d ** 2).sum() / (n - 1)
    mu4 = (d ** 4).sum() / n
    var_var = mu4 / n - var ** 2 * (n - 3) / (n * (n - 1))
    return mean, var, np.sqrt(var / n), np.sqrt(var_var)


@pytest.mark.parametrize("blocks", [[1000], [1, 999], [333, 333, 334], [7] * 100 + [300], [2] * 500])
@pytest.mark.parametrize("dist", ["normal", "skewed", "offset"])
def test_merged_blocks_equal_the_one_array_moments(blocks, dist):
    rng = np.random.default_rng(1)
    y = {"normal": rng.normal(size=1000), "skewed": rng.exponential(size=1000) ** 3,
         "offset": 1e6 + rng.normal(size=1000)}[dist][: sum(blocks)]
    acc = MomentAccumulator()
    lo = 0
    for b in blocks:
        acc.add(y[lo:lo + b])
        lo += b
    est = MonteCarloEstimate.from_moments(acc, 0)
    want = _one_array(y)
    got = (est.mean, est.variance, est.mean_se, est.variance_se)
    # "offset": mean 1e6, variance 1 -- condition number ~1e12, the one-array result itself is only
    # good to ~1e-10 there
    np.testing.assert_allclose(got, want, rtol=1e-9 if dist == "offset" else 1e-12, atol=0)
    assert est.trials == y.size


class _Recording(MomentAccumulator):
    """Keeps every block it is fed, to redo the one-array computation on the same values."""

    seen: list = []

    def add(self, y):
        _Recording.seen.append(np.array(y, dtype=np.float64).ravel())
        super().add(y)


@pytest.mark.parametrize("case", [
    dict(memory=40, tile=1, sign="element", placement="circular"),
    dict(memory=40, tile=4, sign="tile", placement="kernel"),
    dict(memory=200, tile=8, sign="none", placement="circular", family="rz-stable"),
])
def test_chunked_estimator_equals_the_unchunked_formulas(monkeypatch, case):
    from roast_theory import montecarlo

    rng = np.random.default_rng(3)
    x, w = rng.normal(size=64), rng.normal(size=64)
    monkeypatch.setattr(K, "BLOCK_ELEMENTS", 64 * 100)  # 30 blocks of 100 trials
    monkeypatch.setattr(montecarlo, "MomentAccumulator", _Recording)
    _Recording.seen = []
    many = rt.mc_inner_product(x, w, trials=3000, seed=5, **case)
    assert len(_Recording.seen) == 30
    want = _one_array(np.concatenate(_Recording.seen))
    got = (many.mean, many.variance, many.mean_se, many.variance_se)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)
    again = rt.mc_inner_product(x, w, trials=3000, seed=5, **case)
    assert again == many  # same seed, same estimate


def test_estimate_carries_its_parameters_and_compares_with_the_closed_form():
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=32), rng.normal(size=32)
    est = rt.mc_inner_product(x, w, memory=16, tile=4, sign="tile", placement="circular", trials=20000,
                              seed=2)
    d = est.to_dict()
    assert (d["memory"], d["tile"], d["sign"], d["placement"], d["family"], d["trials"], d["seed"]) == (
        16, 4, "tile", "circular", "ideal", 20000, 2)
    cf = rt.tile_hashing_moments(x, w, 16, 4, "tile", "circular")
    cmp = est.compare(cf)
    assert isinstance(cmp, Comparison)
    assert abs(cmp.z_mean) < 5 and abs(cmp.z_variance) < 5
    assert cmp.to_dict()["estimate"]["memory"] == 16
    off = est.compare({"mean": cf.mean, "variance": 10 * cf.variance})
    assert not off.variance_within_ci and off.z_variance < -5
    with pytest.raises(rt.RoastTheoryError, match="no mean and variance"):
        est.compare(3.0)


def _peak_rss_mb(trials: int) -> float:
    code = (
        "import resource, numpy as np, roast_theory as rt\n"
        "x = np.linspace(-1, 1, 16); w = np.cos(np.arange(16.0))\n"
        f"rt.mc_inner_product(x, w, memory=64, tile=4, trials={trials}, seed=0)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


@pytest.mark.slow
def test_peak_memory_does_not_grow_with_trials():
    small, big = _peak_rss_mb(2_000_000), _peak_rss_mb(20_000_000)
    # the one-array version kept 8 bytes per trial: +144 MB for 18e6 more trials; streamed: flat
    assert big - small < 40, (small, big)


def test_std_and_mse_are_properties_with_a_deprecated_call():
    res = rt.tile_hashing_moments(np.ones(8), np.arange(8.0), 4, 1, "element", "circular")
    est = rt.mc_inner_product(np.ones(8), np.arange(8.0), memory=4, trials=100, seed=0)
    assert isinstance(res.std, float) and isinstance(est.std, float)  # one convention: properties
    assert res.std == pytest.approx(np.sqrt(res.variance)) and res.mse == pytest.approx(res.variance)
    with pytest.warns(DeprecationWarning, match=r"std\(\) is deprecated"):
        assert res.std() == res.std
    with pytest.warns(DeprecationWarning, match=r"mse\(\) is deprecated"):
        assert res.mse() == res.mse
