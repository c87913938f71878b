"""Cost model by hand, result objects, bad inputs, and the ``kernel`` / ``explain`` commands."""

import dataclasses
import json
import subprocess
import sys
from types import SimpleNamespace

import pytest

from cachesim import CacheSimError
from cachesim.kernels import get_target, plan_gemm, simulate_gemm_gpu
from cachesim.kernels.cost import CostPrediction, predict_cpu, predict_gpu
from roast_toolkit.cli.cachesim_cmd import main


def _traffic(**kw):
    base = dict(kernel="x", flops=2 * 10**9, l1_sector_requests=10**8, l2_sector_requests=10**8,
                write_sector_requests=0, dram_bytes=10**9)
    base.update(kw)
    return SimpleNamespace(**base)


def test_gpu_terms_by_hand():
    t = get_target("h200")
    p = predict_gpu(_traffic(), t, dtype="fp32", n_waves=2)
    # hand: compute 2e9 / 495e12; L1 3.2e9 B / (132 * 128 B * 1.98e9 /s); L2 3.2e9 B / 7e12; DRAM 1e9 / 4.8e12
    assert p.term("compute").seconds == pytest.approx(2e9 / 495e12)
    assert p.term("L1").seconds == pytest.approx(3.2e9 / (132 * 128 * 1.98e9))
    assert p.term("L2").seconds == pytest.approx(3.2e9 / 7e12)
    assert p.term("DRAM").seconds == pytest.approx(1e9 / 4.8e12)
    assert p.term("latency").seconds == pytest.approx(3e-6 + 2 * 600e-9)
    assert p.dominant == "L2"  # 4.57e-4 s beats L1 9.6e-5, compute 4.0e-6, DRAM 2.1e-4
    assert p.predicted_time_s == pytest.approx(3.2e9 / 7e12 + 3e-6 + 1.2e-6)
    assert all(tm.source for tm in p.terms)


def test_ratio_and_frozen():
    a = predict_gpu(_traffic(l2_sector_requests=2 * 10**8), "h200")
    b = predict_gpu(_traffic(), "h200")
    assert a.ratio(b) == pytest.approx(a.predicted_time_s / b.predicted_time_s)
    assert a.ratio(b) > 1.9
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.dominant = "DRAM"
    with pytest.raises(CacheSimError, match="other"):
        a.ratio(3.0)
    with pytest.raises(CacheSimError, match="term"):
        a.term("L7")


def test_cpu_terms_by_hand():
    t = get_target("zen4")
    p = predict_cpu([1000, 100, 10], 640, 2e6, t)
    assert p.term("L1").seconds == pytest.approx(64 * 1000 / (64 * 3.7e9))
    assert p.term("L3").seconds == pytest.approx(64 * 10 / (32 * 3.7e9))
    assert p.term("compute").seconds == pytest.approx(2e6 / 96e9)
    assert p.dominant == "compute"
    with pytest.raises(CacheSimError, match="level_accesses"):
        predict_cpu([1, 2], 0, 0, t)
    with pytest.raises(CacheSimError, match="GPU target"):
        predict_cpu([1, 2, 3], 0, 0, "h200")
    with pytest.raises(CacheSimError, match="CPU target"):
        predict_gpu(_traffic(), "zen4")


@pytest.mark.parametrize("kwargs,name", [
    (dict(shape="64x64"), "shape"),
    (dict(shape="64x0x64"), "shape"),
    (dict(shape="64x64x64", kernel="sparse"), "kernel"),
    (dict(shape="64x64x64", dtype="fp64"), "dtype"),
    (dict(shape="64x64x64", kernel="roast", memory=100, block="32x32x32"), "memory"),
    (dict(shape="64x64x64", kernel="hashednet", block="32x32x32"), "memory"),
    (dict(shape="64x64x64", block="32x32"), "block"),
    (dict(shape="64x64x64", block="24x32x32"), "BLOCK_M"),
    (dict(shape="100x64x64", block="32x32x32"), "M=100"),
    (dict(shape="64x64x64", block="32x32x32", group_m=0), "group_m"),
    (dict(shape="64x64x64", block="32x32x32", group_m=2**61), "group_m"),  # overflowed the grouped order
    (dict(shape="64x64x64", block="32x32x32", load_path="tma"), "load_path"),
])
def test_bad_inputs_name_the_argument(kwargs, name):
    with pytest.raises(CacheSimError, match=name):
        plan_gemm(**kwargs)


def test_bad_target():
    with pytest.raises(CacheSimError, match="target='tpu'"):
        simulate_gemm_gpu(kernel="dense", shape="64x64x64", block="32x32x32", target="tpu")
    with pytest.raises(CacheSimError, match="CPU"):
        simulate_gemm_gpu(kernel="dense", shape="64x64x64", block="32x32x32", target="zen4")


def test_cli_kernel_json(capsys):
    rc = main(["kernel", "--kernel", "roast", "--shape", "128x128x128", "--block", "32x32x32",
               "--memory", "5000", "--target", "h200", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    sim = simulate_gemm_gpu(kernel="roast", shape="128x128x128", block="32x32x32", memory=5000)
    for key in ("l1_sector_requests", "l2_sector_requests", "dram_bytes"):
        assert out[key] == getattr(sim, key)
    assert out["predicted_time_s"] > 0 and out["dominant"] in out["terms_s"]


@pytest.mark.parametrize("kernel,target", [("gather-hashednet", "h200"), ("hashednet", "zen4"),
                                           ("gather-roast", "zen4")])
def test_cli_kernel_other_paths(capsys, kernel, target):
    rc = main(["kernel", "--kernel", kernel, "--shape", "64x64x64", "--block", "32x32x32", "--memory", "5000",
               "--target", target, "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["predicted_time_s"] > 0 and out["dram_bytes"] > 0


@pytest.mark.parametrize("argv,name", [
    (["--kernel", "dense", "--shape", "64x64"], "shape"),
    (["--kernel", "dense", "--shape=-64x64x64"], "shape"),
    (["--kernel", "conv", "--shape", "64x64x64"], "kernel"),
    (["--kernel", "dense", "--shape", "64x64x64", "--dtype", "int8"], "dtype"),
    (["--kernel", "dense", "--shape", "64x64x64", "--target", "a100"], "target"),
    (["--kernel", "roast", "--shape", "64x64x64", "--block", "32x32x32", "--memory", "64"], "memory"),
    (["--kernel", "roast", "--shape", "64x64x64", "--memory", "lots"], "memory"),
    (["--kernel", "roast", "--shape", "256x256x256", "--block", "64x64x32", "--memory", "10000", "--analytic",
      "--group-m", "2305843009213693952"], "group_m"),  # the fuzz test's falsifying example
])
def test_cli_errors_exit_2(capsys, argv, name):
    rc = main(["kernel", *argv, "--json"])
    err = capsys.readouterr().err
    assert rc == 2
    assert name in err and "Traceback" not in err


def test_console_script_error_without_traceback():
    cmd = [sys.executable, "-m", "roast_toolkit.cli.cachesim_cmd", "kernel", "--kernel", "dense",
           "--shape", "1x2"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 2
    assert "shape" in res.stderr and "Traceback" not in res.stderr


def test_explain_reports_ratio_and_dominant(capsys):
    rc = main(["explain", "--shape", "1024x768x3072", "--memory", "1048576", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    r = out["ratio_hashednet_over_roast"]
    # analytic: per program-step (512 + 64 * E[distinct of 32 over 2^19 sectors]) / (512 + 64 * 4.875)
    assert r["l1_sector_requests"] == pytest.approx((512 + 64 * 31.999) / (512 + 312), rel=1e-3)
    assert r["dominant_hashednet"] in r["term_ratios"]
    rc = main(["explain", "--shape", "256x256x256", "--memory", "65536", "--block", "64x64x32"])
    text = capsys.readouterr().out
    assert rc == 0 and "HashedNet / ROAST" in text and "dominant term" in text
    assert isinstance(predict_gpu(_traffic(), "h200"), CostPrediction)
