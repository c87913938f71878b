"""The global-vs-local training experiment on a tiny configuration (trains above chance; bookkeeping)."""

import math

import numpy as np
import pytest

from roast_theory.errors import RoastTheoryError

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytestmark = pytest.mark.torch

from roast_theory.experiments import layer_mapping, train_sharing_experiment  # noqa: E402


@pytest.fixture(scope="module")
def tiny():
    return train_sharing_experiment((4,), seeds=2, hidden=16, epochs=3, tile=(4, 4))


def test_tiny_experiment_trains_above_chance(tiny):
    assert len(tiny.runs) == 2 * 2 * 2 and len(tiny.dense) == 2
    for run in tiny.runs + tiny.dense:
        assert run.test_accuracy > 0.4, run  # 10 classes: chance is 0.1
        assert 0 <= run.train_accuracy <= 1


def test_memory_sizes_follow_the_compression(tiny):
    n_weights = 64 * 16 + 16 * 10
    for run in tiny.runs:
        assert run.n_weights == n_weights
        if run.sharing == "global":
            assert run.memory == (n_weights // 4,)
        else:
            assert run.memory == (64 * 16 // 4, 16 * 10 // 4)


def test_summary_is_mean_and_standard_error_of_runs(tiny):
    for s in tiny.table():
        acc = [r.test_accuracy for r in tiny.runs
               if (r.scheme, r.sharing, r.compression) == (s.scheme, s.sharing, s.compression)]
        assert s.n_seeds == len(acc) == 2
        assert s.mean == pytest.approx(sum(acc) / 2)
        assert s.standard_error == pytest.approx(abs(acc[0] - acc[1]) / 2)  # sd/sqrt(2) for two values
        lo, hi = s.confidence_interval(0.95)
        assert lo <= s.mean <= hi
        assert hi - s.mean == pytest.approx(12.706204736 * s.standard_error, rel=1e-6)  # t_{0.975, 1}
    assert "dense" in tiny.format()
    assert len(tiny.to_cases()) == 10


def test_layer_mappings_give_the_layer_its_index():
    mp = layer_mapping("tile", 8, 12, 50, tile=(4, 4), seed=3)
    idx = np.asarray(mp.index)
    assert idx.shape == (8, 12) and idx.min() >= 0 and idx.max() < 50
    assert set(np.unique(mp.sign)) <= {-1, 1}
    # inside one tile, slots are start + row * BN + col (mod m)
    for kb in range(2):
        for nb in range(3):
            block = idx[4 * kb:4 * kb + 4, 4 * nb:4 * nb + 4]
            expect = (block[0, 0] + np.arange(4)[:, None] * 4 + np.arange(4)[None, :]) % 50
            np.testing.assert_array_equal(block, expect)
    e1 = np.asarray(layer_mapping("element", 30, 30, 17, seed=1).index)
    e2 = np.asarray(layer_mapping("element", 30, 30, 17, seed=2).index)
    assert e1.max() < 17 and (e1 != e2).mean() > 0.8
    # roughly uniform slot use: chi-square with 16 dof far below an absurd value
    counts = np.bincount(e1.ravel(), minlength=17)
    chi2 = ((counts - 900 / 17) ** 2 / (900 / 17)).sum()
    assert chi2 < 16 + 5 * math.sqrt(32)
    with pytest.raises(RoastTheoryError, match="memory=10"):
        layer_mapping("tile", 8, 12, 10, tile=(4, 4))


@pytest.mark.parametrize("kwargs, match", [
    (dict(compressions=(1,)), "compression=1"),
    (dict(seeds=0), "seeds=0"),
    (dict(schemes=("row",)), "scheme='row'"),
    (dict(sharings=("both",)), "sharing='both'"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(RoastTheoryError, match=match):
        train_sharing_experiment(**kwargs)
