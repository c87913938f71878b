"""The h200 calibration's micro3 constants are recounted from the record they cite (call21_micro3)."""

import json
import statistics
from pathlib import Path

import pytest

from cachesim.kernels import get_target

GPU = Path(__file__).resolve().parents[2] / "measurements" / "gpu"
MICRO3 = GPU / "call21_micro3" / "gpu_micro3.json"
MICRO3B = GPU / "call22_micro3b" / "gpu_micro3.json"

pytestmark = pytest.mark.skipif(not MICRO3.exists(), reason="GPU record not present")


@pytest.fixture(scope="module")
def cases():
    return json.loads(MICRO3.read_text())["cases"]


def test_every_micro3_kernel_was_checked(cases):
    checked = [c for c in cases if "equal_numpy" in c or "sum_ok" in c]
    assert len(checked) > 40
    assert all(c.get("equal_numpy", True) and c.get("sum_ok", True) for c in checked)
    assert not [c for c in cases if c["type"] in ("error", "skipped")]


def test_ceilings_are_the_records(cases):
    cal = get_target("h200").calibration
    stream = [c for c in cases if c["type"] == "l2-stream"]
    l2 = max(c["bytes_per_second"] for c in stream if c["memory_bytes"] < 1 << 30)
    dram = max(c["bytes_per_second"] for c in stream if c["memory_bytes"] > 1 << 30)
    assert cal["l2_read_gbs"] * 1e9 == pytest.approx(l2, rel=1e-3)
    assert cal["dram_stream_gbs"] * 1e9 == pytest.approx(dram, rel=1e-3)
    launch = {c["programs"]: c["seconds"] for c in cases if c["type"] == "launch"}
    assert cal["launch_s"] == pytest.approx(launch[132], rel=1e-3)
    assert cal["launch_per_wave_s"] == pytest.approx((launch[2112] - launch[132]) / 15, rel=1e-3)
    dense = {c["config"]: c["tflops"] for c in cases if c["type"] == "dense-ceiling"}
    assert set(dense) == set(cal["dense_tflops_by_config"])
    for cfg, tflops in dense.items():
        assert cal["dense_tflops_by_config"][cfg] == pytest.approx(tflops, rel=1e-3), cfg
    frac = [c["overlap_fraction"] for c in cases if c["type"] == "overlap-summary" and c["x_ops"] in (4, 16)]
    assert cal["overlap_fraction"] == pytest.approx(statistics.mean(frac), abs=1e-3)


def test_tile_tables_are_the_records(cases):
    cal = get_target("h200").calibration
    n = 0
    for c in cases:
        if c.get("programs_per_sm", 1) > (c.get("resident_per_sm") or 99):
            continue  # not every program resident: not a concurrency point
        warps = c.get("num_warps", 4) * c.get("programs_per_sm", 1)
        if c["type"] == "tile-align":
            table = cal["tile_align_per_s"][(c["align"], c["tile"][1])]
        elif c["type"] == "tma-tile" and c["path"] in ("tma-roast", "tma-dense"):
            table = cal["tma_tile_per_s"][c["path"][4:]]
        else:
            continue
        assert table[(warps, c["memory_bytes"])] == pytest.approx(c["elements_per_second"], rel=1e-3)
        n += 1
    assert n == 45 + 8  # 54 tile rows less the 9 whose programs did not all fit, 8 TMA rows


@pytest.mark.skipif(not MICRO3B.exists(), reason="GPU record not present")
def test_tma_l2_ceiling_agrees_with_the_pointer_ceiling():
    """The TMA path draws from L2 at the pointer path's ceiling: both about 9 TB/s (within 5 %)."""
    cases = json.loads(MICRO3B.read_text())["cases"]
    assert all(c["equal_numpy"] for c in cases if "equal_numpy" in c)
    tma = max(c["bytes_per_second"] for c in cases if c["type"] == "tma-l2")
    assert tma == pytest.approx(get_target("h200").calibration["l2_read_gbs"] * 1e9, rel=0.05)


MICRO3C = GPU / "call23_micro3c" / "gpu_micro3.json"
MICRO3E = GPU / "call25_micro3e" / "gpu_micro3.json"


@pytest.mark.skipif(not MICRO3E.exists(), reason="GPU record not present")
def test_tma_table_pair_is_the_record():
    """The calibration is call25's kernel-layout pair; the per-program layout (call23's, rerun in call25)
    gives the same rates at one program per SM within 3 %."""
    every = [c for c in json.loads(MICRO3E.read_text())["cases"] if c["type"] == "tma-table"]
    assert all(c["equal_numpy"] for c in every)
    cases = [c for c in every if c["layout"] == "kernel"]
    assert len(cases) == 12
    prog = {(c["path"], c["programs_per_sm"], c["memory_bytes"]): c["elements_per_second"]
            for c in every if c["layout"] == "program"}
    pair = get_target("h200").calibration["tma_table_per_s"]
    for c in cases:
        if c["programs_per_sm"] == 1:
            same = prog[(c["path"], 1, c["memory_bytes"])]
            assert c["elements_per_second"] == pytest.approx(same, rel=0.03)
        assert c["num_warps"] == 4  # the pair is keyed by programs per SM, each of 4 warps
        got = pair[c["path"]][(c["programs_per_sm"], c["memory_bytes"])]
        assert got == pytest.approx(c["elements_per_second"], rel=1e-3)
    # the table read is exposed at one program per SM, mostly hidden at two
    assert pair["hash"][(1, 2097152)] > 1.3 * pair["table"][(1, 2097152)]
    assert pair["hash"][(2, 2097152)] < 1.05 * pair["table"][(2, 2097152)]


def test_tma_table_excess_is_the_pair_difference():
    from cachesim.kernels import predict

    cal = get_target("h200").calibration
    kw = dict(dtype="bf16", block="128x128x64", num_warps=4, num_stages=3, memory=1 << 20, analytic=True,
              load_path="tma", tile=(64, 128), align=128)
    table = predict("roast", "4096x768x3072", "h200", index="table", **kw)
    hashed = predict("roast", "4096x768x3072", "h200", index="hash32", **kw)
    assert hashed.terms["lsu_excess"] == 0.0
    r = table.issue.programs_per_sm
    assert r == 3  # 65556 bytes of shared memory per program (its listing): three per SM; pair at 3, 2 MiB
    clock = cal["sm_clock_ghz"] / cal["micro_clock_ghz"]
    elements = 768 * 3072 * 32
    want = elements / clock * (1 / 3.349e12 - 1 / 3.383e12)
    assert table.terms["lsu_excess"] == pytest.approx(want, rel=1e-3)


MICRO3D = GPU / "call24_micro3d" / "gpu_micro3.json"


@pytest.mark.skipif(not MICRO3D.exists(), reason="GPU record not present")
def test_hash_overlap_record_supports_the_cited_cause():
    """COMPARISON.md cites call24 for the two-start in-loop hash kernels: the 64-bit hash runs after the
    dot with two starts per k-step and under it with one (recounted from the timed rows)."""
    cases = json.loads(MICRO3D.read_text())["cases"]
    assert all(c["equal_numpy"] for c in cases if c["type"] == "check")
    t = {(c["mode"], c["starts_per_step"], c["dot"], c["num_warps"], c["programs_per_sm"]):
         c["seconds_per_iteration_per_sm"] for c in cases if c["type"] == "hash-overlap"}
    for nw, per_sm in ((4, 1), (4, 2), (8, 1), (8, 2)):
        dot = t[(0, 1, True, nw, per_sm)]
        frac = {g: (dot + t[(2, g, False, nw, per_sm)] - t[(2, g, True, nw, per_sm)])
                / min(dot, t[(2, g, False, nw, per_sm)]) for g in (1, 2)}
        assert frac[1] >= 0.8 and frac[2] <= 0.25, (nw, per_sm, frac)
