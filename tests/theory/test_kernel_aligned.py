"""Kernel placement with aligned starts: closed forms against exhaustive enumeration and Monte Carlo."""

import itertools
import json
import subprocess
import sys

import numpy as np
import pytest

from roast_theory import RoastTheoryError
from roast_theory.moments import block_tile_moments, tile_hashing_moments, weight_mse
from roast_theory.montecarlo import mc_inner_product, mc_weight_mse


def enumerate_all(x, w, m, z, sign, align):
    """Exact moments by listing every start tuple (multiples of align below m - z) and every sign vector."""
    n = x.size
    n_tiles = -(-n // z)
    starts = range(0, m - z, align)
    tile_of, off = np.arange(n) // z, np.arange(n) % z
    if sign == "none":
        sign_sets = [np.ones(n)]
    elif sign == "element":
        sign_sets = [np.array(g, float) for g in itertools.product([-1, 1], repeat=n)]
    else:
        sign_sets = [np.array(g, float)[tile_of] for g in itertools.product([-1, 1], repeat=n_tiles)]
    ys, errs = [], []
    for st in itertools.product(starts, repeat=n_tiles):
        h = np.array(st)[tile_of] + off
        for g in sign_sets:
            mem = np.zeros(m)
            np.add.at(mem, h, g * w)
            w_hat = g * mem[h]
            ys.append(w_hat @ x)
            errs.append(((w_hat - w) ** 2).sum())
    ys = np.array(ys)
    return ys.mean(), ys.var(), float(np.mean(errs))


CASES = [  # n, tile, memory, align; m - Z small enough to enumerate, lags wider than the span
    (7, 3, 9, 1), (6, 2, 8, 1), (9, 3, 8, 1), (7, 3, 11, 2), (8, 3, 10, 3), (7, 3, 12, 4), (5, 2, 9, 8),
    (6, 2, 20, 1), (6, 3, 30, 2), (5, 3, 40, 3),  # many starts: window sums constant in the middle
    (8, 4, 6, 1), (9, 5, 9, 1), (10, 5, 13, 1),  # fewer starts than lags: clipped laws (FFT-grid path)
    (6, 2, 40, 4), (5, 2, 30, 3),  # align > tile with many starts
]


@pytest.mark.parametrize("n,tile,m,align", CASES)
@pytest.mark.parametrize("sign", ["none", "tile", "element"])
def test_kernel_moments_equal_enumeration(n, tile, m, align, sign):
    if sign == "element" and n > 6:
        pytest.skip("2^n sign vectors")
    rng = np.random.default_rng(n * 100 + m * 10 + align)
    x, w = rng.standard_normal(n), rng.standard_normal(n)
    mean, var, err = enumerate_all(x, w, m, tile, sign, align)
    res = tile_hashing_moments(x, w, m, tile, sign, "kernel", align=align)
    assert res.mean == pytest.approx(mean, abs=1e-9)
    assert res.variance == pytest.approx(var, abs=1e-9)
    assert res.align == align and res.formula.endswith("kernel")
    assert weight_mse(w, m, tile, sign, "kernel", align=align).mse == pytest.approx(err, abs=1e-9)


def test_no_sign_kernel_is_biased_and_differs_from_circular():
    x = w = np.ones(6)
    res = tile_hashing_moments(x, w, 8, 2, "none", "kernel")
    mean, var, _ = enumerate_all(x, w, 8, 2, "none", 1)
    assert res.bias > 0 and res.bias == pytest.approx(mean - 6.0, abs=1e-12)
    assert res.variance == pytest.approx(var, abs=1e-12)


@pytest.mark.parametrize("align,sign", [(1, "none"), (4, "none"), (4, "tile"), (2, "element")])
def test_kernel_aligned_matches_monte_carlo(align, sign):
    n, z, m = 48, 8, 40
    t = np.arange(n)
    x, w = np.cos(t / 6.0) + 0.3, np.sin(t / 5.0) + 0.2
    res = tile_hashing_moments(x, w, m, z, sign, "kernel", align=align)
    est = mc_inner_product(x, w, memory=m, tile=z, sign=sign, placement="kernel", trials=200_000, seed=align,
                           align=align)
    assert abs(est.z_score(res.mean)) < 5
    assert abs(est.z_score(res.variance, of="variance")) < 5
    mse = mc_weight_mse(w, memory=m, tile=z, sign=sign, placement="kernel", trials=100_000, seed=7,
                        align=align)
    assert abs(mse.z_score(weight_mse(w, m, z, sign, "kernel", align=align).mse)) < 5


def test_block_tiles_aligned_no_sign_equals_enumeration_of_the_1d_layout():
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))  # 2 tiles of 2 x 2 = 4 slots
    res = block_tile_moments(x, w, 9, (2, 2), "none", "kernel", align=2)
    def flat(a):  # tile (0, nb), offset k * 2 + n
        return a.reshape(2, 2, 2).transpose(1, 0, 2).reshape(-1)

    mean, var, _ = enumerate_all(flat(x), flat(w), 9, 4, "none", 2)
    assert res.mean == pytest.approx(mean, abs=1e-12)
    assert res.variance == pytest.approx(var, abs=1e-12)


@pytest.mark.parametrize("kwargs,needle", [
    (dict(memory=8, tile=8, placement="kernel", align=2), "memory=8"),
    (dict(memory=20, tile=4, placement="kernel", align=0), "align=0"),
    (dict(memory=20, tile=4, placement="kernel", align=1.5), "align=1.5"),
    (dict(memory=20, tile=4, placement="circular", align=4), "align=4"),
])
def test_bad_alignment(kwargs, needle):
    with pytest.raises(RoastTheoryError) as info:
        tile_hashing_moments(np.ones(8), np.ones(8), sign="none", **kwargs)
    assert needle in str(info.value)
    with pytest.raises(RoastTheoryError):
        mc_inner_product(np.ones(8), np.ones(8), sign="none", trials=10, **kwargs)


def test_cli_variance_kernel_align(tmp_path):
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal(7), rng.standard_normal(7)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "w.npy", w)
    cmd = [sys.executable, "-m", "roast_toolkit.cli.theory_cmd", "variance", "--x", str(tmp_path / "x.npy"),
           "--w", str(tmp_path / "w.npy"), "--memory", "11", "--tile", "3", "--sign", "none",
           "--placement", "kernel", "--align", "2", "--json"]
    out = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    mean, var, _ = enumerate_all(x, w, 11, 3, "none", 2)
    assert out["mean"] == pytest.approx(mean, abs=1e-9) and out["variance"] == pytest.approx(var, abs=1e-9)
    assert out["align"] == 2 and out["formula"] == "C3-kernel"
    bad = subprocess.run(cmd[:-3] + ["--align", "0"], capture_output=True, text=True)
    assert bad.returncode == 2 and "align=0" in bad.stderr


def test_tile_mapping_aligned_starts_and_mc_mean():
    from roast_theory.mappings import TileMapping

    x, w = np.linspace(-1, 1, 12), np.cos(np.arange(12.0))
    vals = []
    for seed in range(4000):
        mp = TileMapping((12,), 17, tile=3, placement="kernel", sign="none", align=4, seed=seed)
        assert np.all(mp.starts % 4 == 0) and mp.starts.max() < 17 - 3
        mem = np.zeros(17)
        np.add.at(mem, mp.index, w)
        vals.append(mem[mp.index] @ x)
    res = tile_hashing_moments(x, w, 17, 3, "none", "kernel", align=4)
    vals = np.array(vals)
    assert abs(vals.mean() - res.mean) < 5 * vals.std() / np.sqrt(vals.size)
    with pytest.raises(RoastTheoryError, match="align=2"):
        TileMapping((12,), 17, tile=3, align=2)


@pytest.mark.parametrize("sign,placement,align", [("none", "kernel", 2), ("tile", "kernel", 1),
                                                  ("none", "circular", 1), ("tile", "circular", 1)])
def test_weight_mse_of_block_tiles_equals_enumeration(sign, placement, align):
    """A 3 x 4 weight in 2 x 2 blocks (the last block row is half full), every start and tile sign."""
    rng = np.random.default_rng(len(sign) + align)
    w = rng.standard_normal((3, 4))
    m, (bk, bn) = 7, (2, 2)
    tile_of = (np.arange(3)[:, None] // bk) * 2 + np.arange(4)[None, :] // bn
    off = (np.arange(3)[:, None] % bk) * bn + np.arange(4)[None, :] % bn
    starts = range(m) if placement == "circular" else range(0, m - 4, align)
    if sign == "tile":
        sign_sets = [np.array(g, float)[tile_of] for g in itertools.product([-1, 1], repeat=4)]
    else:
        sign_sets = [np.ones((3, 4))]
    errs = []
    for st in itertools.product(starts, repeat=4):
        h = (np.array(st)[tile_of] + off) % m
        for g in sign_sets:
            mem = np.zeros(m)
            np.add.at(mem, h, g * w)
            errs.append(((g * mem[h] - w) ** 2).sum())
    res = weight_mse(w, m, (bk, bn), sign, placement, align=align)
    assert res.mse == pytest.approx(np.mean(errs), abs=1e-9) and res.tile == 4
