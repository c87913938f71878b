"""Global vs local sharing under tile hashing (B2/B3 with ROAST tiles): enumeration and Monte Carlo."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import roast_theory as rt
from roast_theory.errors import RoastTheoryError


def enumerate_sharing(xs, ws, memory, tile, sign, placement, local_slots=None, align=1, scales=None):
    """Exact (mean, var) of sum_l <x_l, w_hat_l> by listing every start (and tile sign) combination.

    Tiles: chunks of ``tile`` inside each module. Global: one segment of ``memory`` slots; local: module
    ``l`` in its own segment of ``local_slots[l]`` slots. Stored values ``w / lambda``, read times lambda.
    """
    lam = np.ones(len(xs)) if scales is None else np.asarray(scales, float)
    tiles = []  # (module, element indices of the tile)
    for l, x in enumerate(xs):
        for s in range(0, x.size, tile):
            tiles.append((l, list(range(s, min(s + tile, x.size)))))
    segs = [memory] * len(xs) if local_slots is None else list(local_slots)
    base = [0] * len(xs) if local_slots is None else list(np.cumsum([0] + segs[:-1]))

    def starts(seg):
        return range(seg) if placement == "circular" else range(0, seg - tile, align)

    signs = list(itertools.product([-1, 1], repeat=len(tiles))) if sign == "tile" else [(1,) * len(tiles)]
    ys = []
    for st in itertools.product(*[starts(segs[l]) for l, _ in tiles]):
        for g in signs:
            mem = np.zeros(sum(segs) if local_slots is not None else memory)
            slot = []
            for t, (l, idx) in enumerate(tiles):
                h = [base[l] + ((st[t] + o) % segs[l]) for o in range(len(idx))]
                slot.append(h)
                for o, i in enumerate(idx):
                    mem[h[o]] += g[t] * ws[l][i] / lam[l]
            ys.append(sum(g[t] * lam[l] * mem[slot[t][o]] * xs[l][i]
                          for t, (l, idx) in enumerate(tiles) for o, i in enumerate(idx)))
    ys = np.array(ys)
    return ys.mean(), ys.var()


@pytest.mark.parametrize("sign,placement", [("tile", "circular"), ("none", "circular"), ("none", "kernel"),
                                            ("tile", "kernel")])
def test_b3_tiles_equal_enumeration(sign, placement):
    rng = np.random.default_rng(len(sign) + len(placement))
    xs = [rng.standard_normal(4), rng.standard_normal(2)]
    ws = [rng.standard_normal(4), rng.standard_normal(2)]
    m = 9
    res = rt.tile_sharing_variance(xs, ws, m, 2, sign, placement, scales=[1.5, 0.5])
    g_mean, g_var = enumerate_sharing(xs, ws, m, 2, sign, placement, scales=[1.5, 0.5])
    l_mean, l_var = enumerate_sharing(xs, ws, m, 2, sign, placement, local_slots=res.local_slots)
    assert res.local_slots == (6, 3)
    assert res.global_mean == pytest.approx(g_mean, abs=1e-9) and res.global_variance == pytest.approx(g_var,
                                                                                                      abs=1e-9)
    assert res.local_mean == pytest.approx(l_mean, abs=1e-9) and res.local_variance == pytest.approx(l_var,
                                                                                                    abs=1e-9)
    assert res.formula.startswith("B3-C") and res.global_mse() >= res.global_variance


def test_b2_tiles_equal_enumeration_aligned_kernel():
    rng = np.random.default_rng(4)
    xs = [rng.standard_normal(4), rng.standard_normal(2)]
    ws = [rng.standard_normal(4), rng.standard_normal(2)]
    res = rt.tile_module_output_variance(xs, ws, 1, 11, 2, "none", "kernel", align=2, local_slots=(7, 4))
    xs0 = [np.zeros(4), xs[1]]
    g_mean, g_var = enumerate_sharing(xs0, ws, 11, 2, "none", "kernel", align=2)
    l_mean, l_var = enumerate_sharing(xs0, ws, 11, 2, "none", "kernel", local_slots=(7, 4), align=2)
    assert res.module == 1 and res.formula == "B2-C3-kernel" and res.align == 2
    assert (res.global_mean, res.global_variance) == pytest.approx((g_mean, g_var), abs=1e-9)
    assert (res.local_mean, res.local_variance) == pytest.approx((l_mean, l_var), abs=1e-9)


@pytest.mark.parametrize("sign,placement", [("tile", "circular"), ("none", "kernel")])
def test_b3_tiles_match_monte_carlo(sign, placement):
    t = np.arange(48.0)
    xs, ws = [np.cos(t[:32] / 5) + 0.3, np.sin(t[:16] / 3)], [np.sin(t[:32] / 7) + 0.2, np.cos(t[:16] / 4)]
    res = rt.tile_sharing_variance(xs, ws, 40, 8, sign, placement)
    for sharing, mean, var, seed in (("global", res.global_mean, res.global_variance, 3),
                                     ("local", res.local_mean, res.local_variance, 4)):
        est = rt.mc_total_inner_product(xs, ws, memory=40, sharing=sharing, tile=8, sign=sign,
                                        placement=placement, trials=200_000, seed=seed)
        assert abs(est.z_score(mean)) < 5 and abs(est.z_score(var, of="variance")) < 5


def test_element_sign_tile_one_is_element_hashing_b3():
    rng = np.random.default_rng(7)
    xs = [rng.standard_normal(5), rng.standard_normal(3)]
    ws = [rng.standard_normal(5), rng.standard_normal(3)]
    a = rt.tile_sharing_variance(xs, ws, 16, 1)
    b = rt.sharing_variance(xs, ws, 16)
    assert a.global_variance == pytest.approx(b.global_variance, rel=1e-12)
    assert a.local_variance == pytest.approx(b.local_variance, rel=1e-12) and a.local_slots == b.local_slots


@pytest.mark.parametrize("kwargs,needle", [
    (dict(memory=9, tile=4, placement="kernel"), "m_l=3"),
    (dict(memory=20, tile=2, scales=[1.0, 0.0]), "scales[1]"),
    (dict(memory=20, tile=2, local_slots=(19, 2)), "sum to 21"),
    (dict(memory=20, tile=2, align=4), "align=4"),
])
def test_bad_input(kwargs, needle):
    with pytest.raises(RoastTheoryError) as info:
        rt.tile_sharing_variance([np.ones(6), np.ones(3)], [np.ones(6), np.ones(3)], **kwargs)
    assert needle in str(info.value)


def test_cli_sharing_tile_option(capsys, tmp_path):
    import json

    from roast_toolkit.cli import theory_cmd as cli

    xs, ws = [np.cos(np.arange(12.0)), np.ones(8)], [np.sin(np.arange(12.0)) + 0.2, np.linspace(-1, 1, 8)]
    np.savez(tmp_path / "m.npz", x0=xs[0], w0=ws[0], x1=xs[1], w1=ws[1])
    argv = ["sharing", "--modules", str(tmp_path / "m.npz"), "--memory", "20", "--json"]
    assert cli.main(argv) == 0
    assert "tile_hashing" not in json.loads(capsys.readouterr().out)
    assert cli.main([*argv, "--tile", "4", "--sign", "none", "--placement", "kernel", "--align", "2"]) == 0
    out = json.loads(capsys.readouterr().out)["tile_hashing"]
    res = rt.tile_sharing_variance(xs, ws, 20, 4, "none", "kernel", align=2)
    assert out["global_variance"] == res.global_variance and out["local_slots"] == [12, 8]
    assert out["global_wins"] == res.global_wins()
    assert cli.main(["sharing", "--modules", str(tmp_path / "m.npz"), "--memory", "9", "--tile", "4",
                     "--placement", "kernel"]) == 2
    assert "m_l=4" in capsys.readouterr().err
