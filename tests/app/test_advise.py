"""The tile advisor: rows agree with the closed form and the cost model, the Pareto front, CLI, errors."""

import json
import subprocess
import sys

import numpy as np
import pytest

from roast_theory import RoastTheoryError, block_tile_moments
from roast_toolkit.advise import Advice, advise
from roast_toolkit.advise._advice import _pareto_flags


def test_advice_rows_match_closed_form_and_predict():
    from cachesim.kernels import predict

    adv = advise((64, 96), 1500, tiles=[(8, 8), (16, 16), (8, 32)], aligns=(1, 4), batch=128,
                 cost_model="roofline")
    assert isinstance(adv, Advice) and len(adv.rows) == 6
    rng = np.random.default_rng(0)
    w = rng.standard_normal((64, 96)) / 8.0
    x = np.zeros((64, 96))
    x[:, 0] = rng.standard_normal(64)
    for r in adv.rows:
        ref = block_tile_moments(x, w, 1500, r.tile, "element", "kernel", align=r.align)
        assert r.variance == pytest.approx(ref.variance, rel=1e-12)
        pred = predict("roast", (128, 64, 96), "h200", dtype="bf16", block=(64, r.tile[1], r.tile[0]),
                       memory=1500, analytic=True)
        assert r.predicted_time_s == pytest.approx(pred.predicted_time_s)
    d = adv.to_dict()
    assert json.loads(json.dumps(d))["rows"][0]["tile"] == list(adv.rows[0].tile)
    front = adv.pareto()
    assert front and all(r.pareto for r in front)
    for r in adv.rows:  # a row off the front is beaten on both axes by some row
        if not r.pareto:
            assert any(o.predicted_time_s <= r.predicted_time_s and o.variance <= r.variance for o in adv.rows
                       if o is not r)


def test_issue_model_prices_the_alignment():
    from cachesim.kernels import predict

    adv = advise((768, 3072), 147456, tiles=[(32, 64)], aligns=(1, 64), batch=512)
    for r in adv.rows:
        assert r.cost_model == "issue"
        ref = predict("roast", (512, 768, 3072), "h200", dtype="bf16", block=(64, 64, 32), memory=147456,
                      align=r.align, tile=(32, 64), index="hash")
        assert r.predicted_time_s == pytest.approx(ref.predicted_time_s)
    assert adv.rows[0].predicted_time_s != adv.rows[1].predicted_time_s


def test_pareto_flags_by_hand():
    assert _pareto_flags([1, 2, 3, 2], [3, 2, 1, 3]) == [True, True, True, False]


def test_plot_returns_a_figure():
    import matplotlib

    matplotlib.use("Agg")
    adv = advise((32, 64), 600, tiles=[(8, 8), (8, 16)], aligns=(1,), batch=64)
    fig = adv.plot()
    assert fig.axes and fig.axes[0].get_xlabel().startswith("predicted kernel time")


def test_no_sign_uses_the_c3_kernel_form():
    adv = advise((32, 32), 400, tiles=[(8, 8)], aligns=(2,), sign="none", batch=64)
    assert adv.rows[0].bias != 0.0


@pytest.mark.parametrize("kwargs,needle", [
    (dict(shape=(32, 32), memory=10, tiles=[(8, 8)]), "no tile fits"),
    (dict(shape=(32, 32), memory=400, aligns=(0,)), "aligns[0]=0"),
    (dict(shape=(32, 32), memory=400, sign="both"), "sign='both'"),
])
def test_bad_input(kwargs, needle):
    with pytest.raises(RoastTheoryError) as info:
        advise(**kwargs)
    assert needle in str(info.value)


def test_cli_advise_json_and_error():
    base = [sys.executable, "-m", "roast_toolkit.cli.theory_cmd", "advise", "--shape", "64x96",
            "--memory", "1500", "--tiles", "8x8,16x16", "--aligns", "1,8"]
    out = json.loads(subprocess.run(base + ["--json"], capture_output=True, text=True, check=True).stdout)
    assert len(out["rows"]) == 4 and out["pareto"]
    bad = subprocess.run(base[:-4] + ["--tiles", "8by8"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--tiles" in bad.stderr


@pytest.mark.parametrize("sign", ["element", "tile", "none"])
def test_by_align_equals_one_call_per_alignment(sign):
    from roast_theory import block_tile_moments_by_align

    rng = np.random.default_rng(5)
    w = rng.standard_normal((32, 48))
    x = np.zeros((32, 48))
    x[:, 17] = rng.standard_normal(32)
    got = block_tile_moments_by_align(x, w, 700, (8, 16), sign, (1, 4, 32))
    assert len(got) == 3
    for a, res in zip((1, 4, 32), got):
        ref = block_tile_moments(x, w, 700, (8, 16), sign, "kernel", align=a)
        assert res.align == a and res.formula == ref.formula
        assert res.variance == pytest.approx(ref.variance, rel=1e-12)
        assert res.mean == pytest.approx(ref.mean, rel=1e-12, abs=1e-12)
