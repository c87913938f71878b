"""TMA-record rows of the time model and the vendor GEMM's price."""

import re
from pathlib import Path

import pytest

from cachesim.errors import CacheSimError
from cachesim.kernels.cost import predict_vendor_gemm
from cachesim.measure.compare import time_model as tm
from cachesim.measure.compare import tma_time

GPU = Path(__file__).resolve().parents[2] / "measurements" / "gpu"
needs_records = pytest.mark.skipif(not (GPU / "call18_headline").exists(), reason="GPU records not present")


def test_variant_names_of_the_tma_records():
    assert tma_time.describe_variant("tma-dense") == ("dense", None, None, None, "tma")
    assert tma_time.describe_variant("tma-roast-table-a128-t64x128") == ("roast", "table", 128, "64x128",
                                                                         "tma")
    assert tma_time.describe_variant("tma-roast-hash32-a256-t64x256") == ("roast", "hash32", 256, "64x256",
                                                                          "tma")
    assert tma_time.describe_variant("fast-roast-table-pf-a64-t64x256")[:3] == ("roast", "table-pf", 64)
    assert tma_time.describe_variant("cublas") == ("cublas", None, None, None, "auto")
    assert tma_time.describe_variant("gather-hashednet-hash") is None


@needs_records
def test_every_tma_ratio_is_compared_with_its_cause():
    rows = tma_time.tma_rows(GPU)
    assert len(rows) > 1500
    assert tma_time.tma_skipped(GPU) == 0
    pairs = {(re.sub(r"-t\d+x\d+$", "", r.numerator), r.denominator) for r in rows}
    assert ("tma-roast-table-a128", "tma-dense") in pairs
    assert ("hashednet-hash", "tma-roast-table-a128-t64x128") in pairs
    assert any(r.denominator == "cublas" for r in rows)
    assert all(r.miss != "unexplained" and (r.miss == "") == r.within for r in rows)
    # the rows are those time_rows reports for the TMA folders
    ours = [r for r in tm.time_rows(GPU) if r.record in tma_time.TMA_FOLDERS]
    assert len(ours) == len(rows)


@needs_records
def test_dx_rows_are_the_recorded_dx_ratios():
    """Each dX row is the recorded ms of the TMA ROAST dX kernel over the TMA dense dX kernel at the same
    record, shape, array size and configuration (read here from the JSON, not through the module)."""
    import json

    rows = tma_time.dx_rows(GPU)
    assert len(rows) > 400
    assert {r.denominator for r in rows} == {"tma-dense (dX)"}
    assert all(r.numerator.endswith(" (dX)") and r.numerator.startswith("tma-roast-") for r in rows)
    assert all(r.miss != "unexplained" and (r.miss == "") == r.within for r in rows)
    ms = {}
    for folder in tma_time.TMA_FOLDERS:
        for f in (GPU / folder).glob("gpu_fast_tma*.json"):
            for c in json.loads(f.read_text())["cases"]:
                if c.get("type") == "dx" and isinstance(c.get("ms"), float) and c.get("passed", True):
                    shape = f"{c['M']}x{c['K']}x{c['N']}"
                    ms[(folder, shape, c["memory"], c["config"], c["variant"])] = c["ms"]
    for r in rows:
        key = (r.record, r.shape, r.memory, r.config)
        want = ms[key + (r.numerator[:-5],)] / ms[key + ("tma-dense",)]
        assert r.measured == pytest.approx(want, rel=1e-12)


@needs_records
def test_vendor_gemm_is_priced_at_the_measured_ceiling():
    """cuBLAS at 4096^3 bf16: compute-bound at the calibration's 729.3 TFLOP/s, plus the launch; the
    recorded best (call18_headline, 0.179-0.182 ms) within 10 %."""
    p = predict_vendor_gemm("4096x4096x4096")
    assert p.dominant == "compute"
    assert p.term("compute").seconds == pytest.approx(2 * 4096 ** 3 / 729.258e12, rel=1e-6)
    assert p.predicted_time_s == pytest.approx(0.18e-3, rel=0.1)
    with pytest.raises(CacheSimError, match="no measured GEMM ceiling"):
        predict_vendor_gemm("64x64x64", "h100")
