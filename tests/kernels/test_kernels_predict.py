"""``cachesim.kernels.predict`` / ``explain``: the library entry points behind ``cachesim kernel|explain``."""

import dataclasses
import json
import warnings

import numpy as np
import pytest

from cachesim import CacheSimError
from cachesim.kernels import (
    Block,
    GemmShape,
    KernelExplanation,
    KernelPrediction,
    explain,
    get_target,
    n_waves,
    plan_gemm,
    predict,
    predict_cpu,
    predict_gpu,
    simulate_gemm_cpu,
    simulate_gemm_gpu,
)
from roast_toolkit.cli.cachesim_cmd import main


def test_gpu_prediction_equals_the_pipeline_by_hand():
    p = predict("roast", "128x128x128", "h200", block="32x32x32", memory=5000)
    plan = plan_gemm("roast", "128x128x128", block="32x32x32", memory=5000)
    t = get_target("h200")
    traffic = simulate_gemm_gpu(plan, target=t)
    cost = predict_gpu(traffic, t, n_waves=n_waves(plan.n_programs, t.num_sms))
    assert isinstance(p, KernelPrediction)
    assert p.traffic == traffic
    assert p.predicted_time_s == cost.predicted_time_s and p.dominant == cost.dominant
    assert p.terms == {tm.name: tm.seconds for tm in cost.terms}
    assert list(p.terms) == ["compute", "L1", "L2", "DRAM", "latency"]
    assert p.model == "simulation" and p.shape == GemmShape(128, 128, 128) and p.block == Block(32, 32, 32)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.kernel = "dense"


def test_shape_and_block_as_tuples_and_numpy_ints():
    a = predict("hashednet", (256, 128, 128), block=(64, 32, 32), memory=np.int64(5000), analytic=True,
                group_m=np.int32(8))
    b = predict("hashednet", "256x128x128", block="64x32x32", memory=5000, analytic=True)
    assert a.to_dict() == b.to_dict()
    assert a.model == "analytic"
    c = predict("hashednet", GemmShape(256, 128, 128), block=Block(64, 32, 32), memory=5000, analytic=True)
    assert c.predicted_time_s == b.predicted_time_s


def test_tf32_false_prices_true_fp32():
    a = predict("dense", "256x256x256", block="64x64x32", analytic=True)
    b = predict("dense", "256x256x256", block="64x64x32", analytic=True, tf32=False)
    # fp32 without tensor cores: 67 TFLOP/s instead of 495 (the target's datasheet table)
    assert b.terms["compute"] == pytest.approx(a.terms["compute"] * 495 / 67)


def test_cpu_prediction_by_hand():
    p = predict("hashednet", "64x64x64", "zen4", block="32x32x32", memory=5000, loop_tiles="16x16x16")
    tr = simulate_gemm_cpu("hashednet", "64x64x64", target="zen4", loop_tiles="16x16x16", block="32x32x32",
                           memory=5000)
    c = predict_cpu(tr.accesses, tr.dram_bytes, tr.flops, "zen4", kernel="hashednet")
    assert p.traffic == tr and p.predicted_time_s == c.predicted_time_s and p.parts == ()
    assert p.options["loop_tiles"] == "16x16x16"


def test_tiles_keyword_is_deprecated():
    with pytest.warns(DeprecationWarning, match="loop_tiles"):
        a = predict("dense", "64x64x64", "zen4", tiles="16x16x16")
    b = predict("dense", "64x64x64", "zen4", loop_tiles="16x16x16")
    assert a.to_dict() == b.to_dict()
    with pytest.raises(TypeError, match="bogus"):
        predict("dense", "64x64x64", bogus=1)


@pytest.mark.parametrize("target", ["h200", "zen4"])
def test_gather_is_the_sum_of_its_parts(target):
    p = predict("gather-roast", "64x64x64", target, block="32x32x32", memory=5000)
    (n1, c1), (n2, c2) = p.parts
    assert (n1, n2) == ("gather", "matmul")
    assert p.predicted_time_s == pytest.approx(c1.predicted_time_s + c2.predicted_time_s, rel=1e-15)
    for name, sec in p.terms.items():
        assert sec == pytest.approx(c1.term(name).seconds + c2.term(name).seconds, rel=1e-15)
    slower = c1 if c1.predicted_time_s >= c2.predicted_time_s else c2
    assert p.dominant == slower.dominant


@pytest.mark.parametrize("argv", [
    ["--kernel", "roast", "--shape", "128x128x128", "--block", "32x32x32", "--memory", "5000"],
    ["--kernel", "gather-hashednet", "--shape", "64x64x64", "--block", "32x32x32", "--memory", "5000"],
    ["--kernel", "gather-roast", "--shape", "64x64x64", "--block", "32x32x32", "--memory", "5000",
     "--target", "zen4"],
])
def test_to_dict_is_the_cli_json(capsys, argv):
    assert main(["kernel", *argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    kw = dict(zip([a.lstrip("-") for a in argv[::2]], argv[1::2]))
    p = predict(kw.pop("kernel"), kw.pop("shape"), kw.pop("target", "h200"), block=kw.pop("block"),
                memory=int(kw.pop("memory")))
    assert json.loads(json.dumps(p.to_dict())) == out


def test_cli_tiles_flag_is_a_deprecated_alias(capsys):
    base = ["kernel", "--kernel", "dense", "--shape", "64x64x64", "--target", "zen4", "--json"]
    assert main([*base, "--tiles", "16x16x16"]) == 0
    old = capsys.readouterr()
    assert "--tiles is deprecated" in old.err and "--loop-tiles" in old.err
    assert main([*base, "--loop-tiles", "16x16x16"]) == 0
    new = capsys.readouterr()
    assert new.err == "" and new.out == old.out
    assert main(base) == 0
    assert capsys.readouterr().out != old.out  # 32x32x32 default tiles give other counts


@pytest.mark.parametrize("kwargs,name", [
    (dict(kernel="conv"), "kernel='conv'"),
    (dict(target="a100"), "target='a100'"),
    (dict(dtype="fp64"), "dtype='fp64'"),
    (dict(memory=0), "memory=0"),
    (dict(memory=2.5), "memory=2.5"),
    (dict(backward="yes"), "backward='yes'"),
    (dict(kernel="gather-roast", memory=None), "memory"),
    (dict(kernel="gather-roast", memory=5000, backward=True), "backward"),
    (dict(target="zen4", analytic=True), "GPU-only"),
    (dict(shape=(64, 64)), "shape"),
])
def test_bad_inputs_name_the_argument(kwargs, name):
    kw = dict(kernel="dense", shape="64x64x64", block="32x32x32") | kwargs
    with pytest.raises(CacheSimError, match=name.replace("(", r"\(")):
        predict(kw.pop("kernel"), kw.pop("shape"), **kw)


def test_explain_library_matches_predict():
    e = explain("256x256x256", memory=65536, block="64x64x32")
    assert isinstance(e, KernelExplanation)
    ro = predict("roast", "256x256x256", memory=65536, block="64x64x32", analytic=True)
    hn = predict("hashednet", "256x256x256", memory=65536, block="64x64x32", analytic=True)
    assert e["roast"].predicted_time_s == ro.predicted_time_s
    assert e.hashednet_over_roast == hn.predicted_time_s / ro.predicted_time_s
    d = e.to_dict()
    assert d["ratio_hashednet_over_roast"]["predicted_time"] == e.hashednet_over_roast
    assert d["memory"] == 65536 and d["model"] == "analytic" and list(d["kernels"]) == ["dense", "roast",
                                                                                          "hashednet"]
    with pytest.raises(CacheSimError, match="GPU"):
        explain("256x256x256", "zen4")
    with pytest.raises(CacheSimError, match="kernel='gather-roast'"):
        e["gather-roast"]


def test_explain_default_memory():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        e = explain("256x256x256", block="64x64x32")
    assert e["roast"].memory == 1 << 20


def test_old_keyword_and_attribute_names_warn():
    from cachesim.kernels import gather_cpu

    with pytest.warns(DeprecationWarning, match=r"plan_gemm\(kind=...\) is deprecated: use kernel="):
        plan = plan_gemm(kind="roast", shape="64x64x64", block="32x32x32", memory=5000)
    assert plan.kernel == "roast"
    with pytest.warns(DeprecationWarning, match=r"GemmPlan.kind is deprecated"):
        assert plan.kind == "roast"
    with pytest.warns(DeprecationWarning, match="loop_tiles"):
        old = simulate_gemm_cpu(kernel="dense", shape="32x32x32", tiles="16x16x16")
    assert old == simulate_gemm_cpu(kernel="dense", shape="32x32x32", loop_tiles="16x16x16")
    with pytest.warns(DeprecationWarning, match="loop_tiles"):
        gather_cpu("gather-roast", "32x32x32", 5000, block="32x32x32", tiles="16x16x16")
    with pytest.raises(TypeError, match="both"):
        plan_gemm(kind="roast", kernel="roast")
    c = predict_cpu([1, 1, 1], 0, 1, "zen4", kernel="k")
    with pytest.warns(DeprecationWarning):
        assert predict_cpu([1, 1, 1], 0, 1, "zen4", kind="k") == c
    with pytest.warns(DeprecationWarning, match="CostPrediction.kind"):
        assert c.kind == "k"
