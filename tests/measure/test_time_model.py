"""Measured GPU time ratios beside the issue-aware cost model (COMPARISON.md's time section)."""

import re
from pathlib import Path

import pytest

from cachesim.measure.compare import time_model as tm

GPU = Path(__file__).resolve().parents[2] / "measurements" / "gpu"

pytestmark = pytest.mark.skipif(not (GPU / tm.PREDICTIONS_FILE).exists(), reason="GPU records not present")


@pytest.fixture(scope="module")
def rows():
    return tm.time_rows(GPU)


def test_every_recorded_ratio_has_a_prediction(rows):
    assert len(rows) > 600
    def base(name):
        return re.sub(r"-t\d+x\d+$", "", name)

    kinds = {(base(r.numerator), base(r.denominator)) for r in rows}
    for pair in [("hashednet-hash", "dense"), ("hashednet-hash", "hashednet-arith-only"),
                 ("hashednet-hash", "roast-table-a64"), ("roast-hash-a1", "roast-table-a1"),
                 ("roast-table-a1", "roast-table-a64"), ("hashednet-hash", "roast-hash-a1")]:
        assert pair in kinds, pair
    assert {r.config for r in rows} >= {"autotuned", "128x128x64-g8-w4-s4"}
    assert all(r.predicted > 0 and r.measured > 0 for r in rows)


def test_every_miss_names_its_cause(rows):
    assert all(r.miss != "unexplained" for r in rows)
    assert all((r.miss == "") == r.within for r in rows)


def test_summary_and_leave_one_shape_out(rows):
    s = tm.time_summary(rows)
    errs = [abs(r.predicted / r.measured - 1) for r in rows]
    assert s["mean_abs_error"] == pytest.approx(sum(errs) / len(errs))
    assert s["within_25pct"] == pytest.approx(sum(abs(r.measured / r.predicted - 1) <= 0.25 for r in rows)
                                              / len(rows))
    loso = tm.leave_one_shape_out(rows)
    assert loso["fitted_constants"] == []
    assert set(loso["held_out_mae_by_shape"]) == {r.shape for r in rows}


def test_stored_predictions_are_reproducible():
    """A few stored predictions recomputed from the model (the cheap dense and ROAST ones)."""
    tm._load_stored(GPU)
    keys = [k for k in tm._STORED if k[0] in ("dense", "roast")][:6]
    assert keys
    for k in keys:
        t, dom = tm._compute(*k)
        assert t == pytest.approx(tm._STORED[k][0], rel=1e-9) and dom == tm._STORED[k][1]


def test_measured_times_of_one_case():
    m = tm.measured_times(GPU, "4096x768x3072", 262144, "128x128x64-g8-w4-s4")
    assert {"dense", "hashednet-hash", "hashednet-arith-only", "hashednet-table"} <= set(m)
    assert m["hashednet-hash"] > 10 * m["dense"]
