"""The recorded CPU gather ratios against the model (measurements/COMPARISON_CPU.md)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cachesim.errors import CacheSimError
from cachesim.measure.compare import cpu_time

ROOT = Path(__file__).resolve().parents[2]
CPU = ROOT / "measurements" / "cpu"


@pytest.fixture(scope="module")
def rows():
    return cpu_time.cpu_ratio_rows(CPU)


def test_comparison_file_is_up_to_date():
    assert (ROOT / "measurements" / "COMPARISON_CPU.md").read_text() == cpu_time.cpu_time_markdown(CPU)


def test_every_ratio_is_within_35_percent_or_names_its_cause(rows):
    assert len(rows) == 576  # 18 sizes x 2 backends x (5 paired records x 3 ratios + 1 older sweep x 1)
    for r in rows:
        assert r.within or (r.cause and r.cause != cpu_time.UNEXPLAINED), r.to_dict()
        assert r.within == (r.cause is None)


def test_stated_errors(rows):
    """The numbers the report states: most ratios within target, held-out error like the anchors'."""
    s = cpu_time.cpu_time_summary(rows)
    for rec in ("gather_paired.json", "gather_paired_2.json", "gather_paired_3.json", "gather_paired_4.json",
                "gather_paired_5.json"):
        assert s[rec]["within_share"] >= 0.9  # 0.935-0.944 against the cpu_micro_5 calibration
        assert s[rec + " held out"]["mae"] <= 0.2
    assert s["all"]["within_share"] >= 0.93  # 0.938 (0.895 against cpu_micro_4, 0.915 against cpu_micro_3)
    assert s["held out"]["rows"] == 416 and s["held out"]["unexplained_misses"] == 0


def test_default_calibration_is_the_newest_record_read_as_minima():
    cal = cpu_time.micro_calibration(CPU)
    assert cal.source.startswith("cpu_micro_5.json") and cal.stat == "min"
    assert cpu_time.micro_calibration(CPU, "cpu_micro.json").stat == "median"  # older: medians only
    assert cpu_time.micro_calibration(CPU, stat="median").stat == "median"
    with pytest.raises(CacheSimError, match="record='nope.json'"):
        cpu_time.micro_calibration(CPU, "nope.json")


def test_the_minimum_is_robust_to_a_loaded_gather_run():
    """gather_paired_2.json was timed at load average ~2 on 2 cores: its medians miss the target far more
    often than its fastest repeats, against either quiet calibration."""
    tab = {(d["calibration"], d["record"], d["stat"]): d["within_share"] for d in cpu_time.stat_table(CPU)}
    for cal in ("cpu_micro.json", "cpu_micro_3.json"):
        assert tab[(cal, "gather_paired_2.json", "min")] >= 0.9 > 0.8 > tab[(cal, "gather_paired_2.json",
                                                                                "median")]
        # the process CPU time leaves out descheduling only: no better than the median here
        assert tab[(cal, "gather_paired_2.json", "cpu")] < tab[(cal, "gather_paired_2.json", "min")]
    # a calibration measured while a co-tenant kept memory busy stays off with either statistic
    assert max(tab[("cpu_micro_2.json", r, s)] for r in ("gather_paired.json", "gather_paired_3.json")
               for s in ("median", "min", "cpu")) < 0.6


def test_gather_then_matmul_check_points():
    """The measured torch layer beside matmul + gather: within 35% with index_select at 256 MiB; the
    advanced-indexing layer is slower than predicted (another backend), never faster."""
    pts = [p for p in cpu_time.gather_matmul_rows(CPU) if p["record"] == "cpu_micro_3.json"]
    assert len(pts) == 8
    by = {(p["scheme"], p["gather"], p["memory_bytes"]): p for p in pts}
    assert abs(by[("hashednet", "index_select", 256 << 20)]["error"]) <= 0.35
    assert all(p["error"] < 0 for p in pts)
    big = [by[(s, "index_select", 256 << 20)]["measured_ns"] for s in ("hashednet", "roast")]
    assert big[0] > 2 * big[1]  # measured: HashedNet's layer is far slower once M is past L3
    # the quiet-machine run (load 0.35-0.61): the index_select layer within 15 % at both sizes
    quiet = [p for p in cpu_time.gather_matmul_rows(CPU) if p["record"] == "cpu_micro_4.json"]
    assert len(quiet) == 8
    assert all(abs(p["error"]) <= 0.15 for p in quiet if p["gather"] == "index_select")
    # and the cpu_micro_5 run (load 0.5-0.9): the same
    again = [p for p in cpu_time.gather_matmul_rows(CPU) if p["record"] == "cpu_micro_5.json"]
    assert len(again) == 8
    assert all(abs(p["error"]) <= 0.15 for p in again if p["gather"] == "index_select")


def test_hashednet_over_roast_grows_past_the_caches_as_measured(rows):
    """Both measured and predicted HashedNet/ROAST ratios are ~1 in L1 and > 5 once M is far past L3."""
    pr = {(r.memory_bytes, r.backend): r for r in rows
          if r.record == "gather_paired.json" and r.ratio == "hashednet/roast"}
    for b in ("torch", "numpy"):
        small, big = pr[(4096, b)], pr[(256 << 20, b)]
        assert small.measured < 1.3 and small.predicted < 1.3
        assert big.measured > 5 and big.predicted > 5


def test_calibration_uses_only_the_micro_record_and_never_sys(tmp_path, monkeypatch):
    import cachesim.presets as presets

    def no_sys(*a, **k):
        raise AssertionError("read /sys")

    monkeypatch.setattr(presets, "host_hierarchy", no_sys)
    monkeypatch.setitem(presets._PRESETS, "host", no_sys)
    shutil.copy(CPU / "cpu_micro_5.json", tmp_path / "cpu_micro_5.json")
    alone = cpu_time.micro_calibration(tmp_path)
    assert alone == cpu_time.micro_calibration(CPU)  # the gather records do not change a constant
    assert alone.capacity_bytes[:2] == (32 << 10, 1 << 20)  # the record's geometry, not this machine's


def test_missing_micro_record_is_a_clear_error(tmp_path):
    with pytest.raises(CacheSimError, match="cpu_micro"):
        cpu_time.micro_calibration(tmp_path)
