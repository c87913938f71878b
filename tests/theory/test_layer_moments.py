"""E||X W_hat - X W||_F^2 against a direct Monte Carlo over TileMapping draws."""

import numpy as np
import pytest

from roast_theory import RoastTheoryError
from roast_theory.layer_moments import layer_output_mse
from roast_theory.mappings import TileMapping


@pytest.mark.parametrize("tile", [(1, 1), (4, 5), (3, 2)])
def test_layer_output_mse_matches_monte_carlo(tile):
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((5, 12)), rng.standard_normal((12, 10))
    res = layer_output_mse(x, w, 40, tile)
    errs = []
    for s in range(3000):
        mp = TileMapping((12, 10), 40, tile=tile, placement="circular", sign="element", seed=s)
        errs.append(((x @ mp.recover(mp.sketch(w)) - x @ w) ** 2).sum())
    errs = np.array(errs)
    assert abs(errs.mean() - res.mse) < 5 * errs.std() / np.sqrt(errs.size)
    assert res.relative() == pytest.approx(res.mse / ((x @ w) ** 2).sum())


def test_element_hashing_formula_by_hand():
    # one input row, one column: the error variance of <x, w_hat> is Q(x, w) / m
    x, w = np.array([[1.0, 2.0]]), np.array([[3.0], [-1.0]])
    res = layer_output_mse(x, w, 7)
    q = (1 + 4) * (9 + 1) + (3 - 2) ** 2 - 2 * (9 + 4)
    assert res.mse == pytest.approx(q / 7)


def test_bad_input():
    with pytest.raises(RoastTheoryError, match="must be"):
        layer_output_mse(np.ones((2, 3)), np.ones((4, 2)), 10)
    with pytest.raises(RoastTheoryError, match="memory=3"):
        layer_output_mse(np.ones((2, 4)), np.ones((4, 2)), 3, (2, 2))


def test_output_covariance_matches_monte_carlo_and_trace():
    from roast_theory.layer_moments import output_covariance

    rng = np.random.default_rng(2)
    x, w = rng.standard_normal(8), rng.standard_normal((8, 6)) + 1.0  # mean weight: outputs correlate
    res = output_covariance(x, w, 24, (4, 3))
    assert np.trace(res.covariance) == pytest.approx(layer_output_mse(x[None], w, 24, (4, 3)).mse)
    ys = []
    for s in range(4000):
        mp = TileMapping((8, 6), 24, tile=(4, 3), placement="circular", sign="element", seed=s)
        ys.append(x @ mp.recover(mp.sketch(w)))
    d = np.array(ys) - np.array(ys).mean(axis=0)
    for a, b in [(0, 1), (0, 4), (2, 2), (1, 5)]:  # same tile column, different tile columns, a variance
        prod = d[:, a] * d[:, b]
        assert abs(prod.mean() - res.covariance[a, b]) < 5 * prod.std() / np.sqrt(prod.size)
    assert np.allclose(np.diag(res.correlation()), 1.0)
