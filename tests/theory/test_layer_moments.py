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


def _enumerate_layer(x, w, memory, tile, sign, align=1):
    """Exact E||X W_hat - X W||^2 and Cov of the outputs of row 0 under kernel placement, all starts."""
    import itertools

    bk, bn = tile
    k, n = w.shape
    kb, nb = k // bk, n // bn
    starts = range(0, memory - bk * bn, align)
    signs = list(itertools.product([-1, 1], repeat=kb * nb)) if sign == "tile" else [(1,) * (kb * nb)]
    errs, outs = [], []
    for st in itertools.product(starts, repeat=kb * nb):
        for g in signs:
            t = np.arange(k)[:, None] // bk * nb + np.arange(n)[None, :] // bn
            idx = np.array(st)[t] + (np.arange(k)[:, None] % bk) * bn + np.arange(n)[None, :] % bn
            gs = np.array(g, float)[t]
            mem = np.zeros(memory)
            np.add.at(mem, idx, gs * w)
            w_hat = gs * mem[idx]
            errs.append(((x @ w_hat - x @ w) ** 2).sum())
            outs.append(x[0] @ w_hat)
    outs = np.array(outs)
    d = outs - outs.mean(axis=0)
    return float(np.mean(errs)), d.T @ d / len(outs)


@pytest.mark.parametrize("sign,align", [("none", 1), ("tile", 2), ("none", 2)])
def test_layer_kernel_equals_enumeration(sign, align):
    from roast_theory.layer_moments import output_covariance

    rng = np.random.default_rng(len(sign) + align)
    x, w = rng.standard_normal((3, 4)), rng.standard_normal((4, 4)) + 0.5
    mse, cov = _enumerate_layer(x, w, 9, (2, 2), sign, align)
    assert layer_output_mse(x, w, 9, (2, 2), sign, "kernel", align).mse == pytest.approx(mse, abs=1e-9)
    got = output_covariance(x[0], w, 9, (2, 2), sign, "kernel", align).covariance
    np.testing.assert_allclose(got, cov, atol=1e-9)


@pytest.mark.parametrize("sign,placement,align", [("none", "kernel", 1), ("tile", "kernel", 2),
                                                  ("none", "circular", 1)])
def test_layer_mse_and_covariance_other_hashings_match_monte_carlo(sign, placement, align):
    from roast_theory.layer_moments import output_covariance

    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((5, 12)), rng.standard_normal((12, 10)) + 0.5
    res = layer_output_mse(x, w, 40, (4, 5), sign, placement, align)
    cov = output_covariance(x[0], w, 40, (4, 5), sign, placement, align).covariance
    errs, outs = [], []
    for s in range(3000):
        mp = TileMapping((12, 10), 40, tile=(4, 5), placement=placement, sign=sign, seed=s, align=align)
        w_hat = mp.recover(mp.sketch(w))
        errs.append(((x @ w_hat - x @ w) ** 2).sum())
        outs.append(x[0] @ w_hat)
    errs = np.array(errs)
    assert abs(errs.mean() - res.mse) < 5 * errs.std() / np.sqrt(errs.size)
    d = np.array(outs) - np.array(outs).mean(axis=0)
    for a, b in [(0, 1), (0, 7), (3, 3)]:  # same tile column, different tile columns, a variance
        prod = d[:, a] * d[:, b]
        assert abs(prod.mean() - cov[a, b]) < 5 * prod.std() / np.sqrt(prod.size)


def test_general_route_equals_element_circular_closed_form():
    from roast_theory import layer_moments as lm

    rng = np.random.default_rng(8)
    x, w = rng.standard_normal((4, 6)), rng.standard_normal((6, 6))
    opts = lm._hashing("element", "circular", 1, (2, 3), 20)
    closed = layer_output_mse(x, w, 20, (2, 3)).mse
    assert lm._general_layer_mse(x, w, opts) == pytest.approx(closed, rel=1e-12)
    np.testing.assert_allclose(lm._general_covariance(x[0], w, opts),
                               lm.output_covariance(x[0], w, 20, (2, 3)).covariance, atol=1e-12)


def test_layer_bad_hashing_input():
    with pytest.raises(RoastTheoryError, match="sign='odd'"):
        layer_output_mse(np.ones((2, 4)), np.ones((4, 2)), 10, (2, 2), sign="odd")
    with pytest.raises(RoastTheoryError, match="memory=4"):
        layer_output_mse(np.ones((2, 4)), np.ones((4, 2)), 4, (2, 2), placement="kernel")
    with pytest.raises(RoastTheoryError, match="align=2"):
        layer_output_mse(np.ones((2, 4)), np.ones((4, 2)), 10, (2, 2), align=2)


def test_cli_layer(capsys, tmp_path):
    import json

    from roast_theory.layer_moments import output_covariance
    from roast_toolkit.cli import theory_cmd as cli

    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((3, 4)), rng.standard_normal((4, 4))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "w.npy", w)
    argv = ["layer", "--x", str(tmp_path / "x.npy"), "--w", str(tmp_path / "w.npy"), "--memory", "9",
            "--tile", "2,2", "--sign", "none", "--placement", "kernel", "--align", "2", "--json"]
    assert cli.main([*argv, "--covariance"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mse"] == layer_output_mse(x, w, 9, (2, 2), "none", "kernel", 2).mse and out["tile"] == [2, 2]
    np.testing.assert_array_equal(out["output_covariance"],
                                  output_covariance(x[0], w, 9, (2, 2), "none", "kernel", 2).covariance)
    assert cli.main(["layer", "--x", str(tmp_path / "x.npy"), "--w", str(tmp_path / "w.npy"), "--memory", "4",
                     "--tile", "2,2", "--placement", "kernel"]) == 2
    assert "memory=4" in capsys.readouterr().err
