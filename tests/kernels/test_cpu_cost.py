"""CPU gather cost model: hand-computed cases, an LRU Monte Carlo check, the calibration and the waterfall."""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import replace

import numpy as np
import pytest

from cachesim.errors import CacheSimError
from cachesim.kernels.cpu_calibration import CpuCalibration, cpu_calibration
from cachesim.kernels.cpu_cost import (
    line_accesses_per_element,
    lru_hit_fraction,
    predict_cpu_gather,
    predict_dense_copy,
)
from cachesim.kernels.cpu_waterfall import CPU_STEPS, MATMUL_STEPS, cpu_waterfall
from cachesim.levels import HierarchyConfig, LevelConfig

KiB, MiB = 1 << 10, 1 << 20


def _cal(**kw) -> CpuCalibration:
    base = dict(line_bytes=64, capacity_bytes=(32 * KiB, MiB, 8 * MiB), latency_ns=(2.0, 5.0, 15.0),
                dram_anchor_bytes=(8 * MiB, 512 * MiB), dram_anchor_ns=(100.0, 160.0), mlp=(5.0, 10.0, 20.0),
                mlp_cap=22, base_ns={"torch": 1.0, "numpy": 2.0}, copy_ns={"torch": 0.25, "numpy": 0.2},
                stream_ns_per_byte=0.01, anchors_bytes=(4096.0,))
    return CpuCalibration(**(base | kw))


def test_lru_hit_without_streams_is_capacity_over_lines():
    assert lru_hit_fraction(100, 25) == pytest.approx(0.25)
    assert lru_hit_fraction(10, 25) == 1.0
    assert lru_hit_fraction(100, 0) == 0.0


def test_lru_hit_with_streams_solves_the_stack_distance_equation():
    n, c, r = 512.0, 512.0, 0.1875
    p = lru_hit_fraction(n, c, r)
    x = -math.log(1 - p)
    assert n * (1 - math.exp(-x)) + r * n * x == pytest.approx(c, rel=1e-6)
    assert 0.5 < p < 1.0  # the streams take part of the cache


def test_lru_hit_matches_an_lru_simulation():
    """Random accesses to n lines + r never-reused stream lines per access, fully associative LRU."""
    n, c, r, steps = 256, 128, 0.25, 200_000
    rng = np.random.default_rng(7)
    lines = rng.integers(0, n, steps)
    cache, hits, stream_id, acc = OrderedDict(), 0, 0, 0.0
    for i, ln in enumerate(lines):
        if ln in cache:
            hits += i >= steps // 10
            cache.move_to_end(ln)
        else:
            cache[ln] = None
        acc += r
        while acc >= 1:
            acc -= 1
            stream_id += 1
            cache[("s", stream_id)] = None
        while len(cache) > c:
            cache.popitem(last=False)
    measured = hits / (steps - steps // 10)
    # binomial sd ~ 0.001; the geometric-gap approximation is good to ~2 % here
    assert lru_hit_fraction(n, c, r) == pytest.approx(measured, abs=0.03)


def test_line_accesses_per_element_by_hand():
    assert line_accesses_per_element("hashednet") == (1.0, 1.0)
    u1, u2 = line_accesses_per_element("roast", (32, 64), 64)
    assert u1 == pytest.approx((252 / 64 + 1) / 64)        # 64 floats from a uniform 4-byte offset
    assert u2 == pytest.approx((8188 / 64 + 1) / 2048)     # a 32 x 64 tile is 8 KiB contiguous
    with pytest.raises(CacheSimError, match="scheme"):
        line_accesses_per_element("dense")


def test_dram_latency_is_log_linear_between_anchors():
    cal = _cal()
    assert cal.dram_latency_ns(64 * MiB) == pytest.approx(130.0)   # log 8 / log 64 = 1/2
    assert cal.dram_latency_ns(MiB) == 100.0 and cal.dram_latency_ns(1 << 40) == 160.0


def test_l1_resident_gather_costs_the_base():
    p = predict_cpu_gather("hashednet", 4096, "numpy", _cal())
    assert p.total_ns == pytest.approx(2.0, abs=1e-9)
    assert p.dominant.startswith("base")


def test_huge_array_is_dram_latency_over_mlp():
    cal = _cal(dram_anchor_ns=(100.0, 100.0))
    p = predict_cpu_gather("hashednet", 1 << 36, "torch", cal)
    # almost every access goes to DRAM: (100 - 2) / 20 = 4.9 ns; bandwidth 64 B x 0.01 = 0.64 ns
    assert p.total_ns == pytest.approx(1.0 + 4.9, abs=0.01)
    assert p.bandwidth_ns == pytest.approx(0.64, abs=0.01)
    assert p.dominant == "DRAM latency / MLP"


def test_bandwidth_bound_when_streaming_is_slow():
    cal = _cal(dram_anchor_ns=(100.0, 100.0), stream_ns_per_byte=1.0)
    p = predict_cpu_gather("hashednet", 1 << 36, "torch", cal)
    assert p.total_ns == pytest.approx(1.0 + 64.0, abs=0.1)
    assert p.dominant == "DRAM bandwidth"


def test_roast_pays_one_line_per_run_not_per_element():
    cal = _cal(dram_anchor_ns=(100.0, 100.0))
    h = predict_cpu_gather("hashednet", 1 << 36, "torch", cal)
    r = predict_cpu_gather("roast", 1 << 36, "torch", cal)
    u1, u2 = line_accesses_per_element("roast")
    # every line of a tile misses to DRAM once; the lines shared by two rows of a tile come back from L2
    assert h.total_ns - 1.0 == pytest.approx(98 / 20, rel=1e-3)
    assert r.total_ns - 1.0 == pytest.approx(u2 * 98 / 20 + (u1 - u2) * (5 - 2) / 5, rel=1e-3)


def test_dense_copy_prediction_is_eight_bytes_at_the_stream_cost():
    assert predict_dense_copy(_cal()) == pytest.approx(0.08)


def _micro_cases():
    """A synthetic record: chase plateaus 2 / 5 / 15 / 100 ns, independent loads with MLP 20 at DRAM."""
    cases = []
    for k in range(12, 30):
        b = 1 << k
        chase = 2.0 if b <= 32 * KiB else 5.0 if b <= MiB else 15.0 if b <= 4 * MiB else 100.0
        cases.append({"type": "chase", "memory_bytes": b, "ns_per_load": chase})
        ind = 1.0 if b <= 32 * KiB else 1.3 if b <= MiB else 1.8 if b <= 4 * MiB else 1.0 + 98 / 20 * (
            1 - 4 * MiB / b)
        cases.append({"type": "independent", "memory_bytes": b, "ns_per_load": ind})
    cases[-1]["ns_per_load"] = 1.0 + 98 / 20
    cases.append({"type": "stream", "ns_per_byte": 0.02})
    for b in ("torch", "numpy"):
        cases.append({"type": "backend-base", "backend": b, "ns_per_element": 0.5})
        cases.append({"type": "dense-copy", "backend": b, "ns_per_element": 0.2})
    return cases


def _hier(levels=3):
    lv = (LevelConfig("L1", 32 * KiB, 64, 8), LevelConfig("L2", MiB, 64, 8),
          LevelConfig("L3", 32 * MiB, 64, 16))
    return HierarchyConfig(levels=lv[:levels], name="synthetic")


def test_calibration_reads_each_constant_at_its_anchor():
    cal = cpu_calibration(_micro_cases(), _hier())
    assert cal.latency_ns == (2.0, 5.0, 15.0)
    assert cal.dram_anchor_bytes == (8 * MiB, 512 * MiB) and cal.dram_anchor_ns == (100.0, 100.0)
    assert cal.mlp[2] == pytest.approx(98 / (98 / 20))      # (chase - L1) / (independent - in-L1) = 20
    assert all(1.0 <= m <= 22 for m in cal.mlp)
    assert MiB <= cal.capacity_bytes[2] <= 32 * MiB
    assert cal.anchors_bytes == (4096.0, 64 * KiB, 2 * MiB, 8 * MiB, 512 * MiB)
    assert cal.to_dict()["base_ns"] == {"torch": 0.5, "numpy": 0.5}


def test_calibration_caps_mlp_at_the_documented_miss_buffers():
    cases = _micro_cases()
    cases[35]["ns_per_load"] = 1.0 + 98 / 100  # would be MLP 100
    assert cpu_calibration(cases, _hier()).mlp[2] == 22


@pytest.mark.parametrize("change, match", [
    (lambda c: [x for x in c if x.get("backend") != "numpy"], "backend"),
    (lambda c: [x for x in c if x["type"] != "chase" or x["memory_bytes"] < 64 * KiB], "chase"),
])
def test_calibration_rejects_incomplete_records(change, match):
    with pytest.raises(CacheSimError, match=match):
        cpu_calibration(change(_micro_cases()), _hier())


def test_calibration_needs_three_levels():
    with pytest.raises(CacheSimError, match="needs 3"):
        cpu_calibration(_micro_cases(), _hier(2))


def test_waterfall_steps_add_up_to_the_prediction():
    cal = _cal()
    sizes = [4 * KiB << k for k in range(0, 18, 3)]
    wf = cpu_waterfall(sizes, cal, scheme="hashednet", backend="torch", matmul_ns=0.5)
    assert [r.memory_bytes for r in wf.rows] == sizes
    for r in wf.rows:
        p = predict_cpu_gather("hashednet", r.memory_bytes, "torch", cal)
        assert r.total_ns == pytest.approx(0.5 + p.total_ns)
        assert r.cumulative_ns[0] == pytest.approx(0.5 + 0.25)       # matmul + the backend's dense copy
        assert r.cumulative_ns[1] == pytest.approx(0.5 + 1.0)        # + index load & arithmetic = base
        assert all(d >= 0 for d in r.deltas_ns)
    big = wf.rows[-1].to_dict()["steps"]
    assert [s["label"] for s in big] == list(CPU_STEPS)
    assert max(big, key=lambda s: s["delta_ns"])["label"] == "+ DRAM (latency / MLP)"
    assert "hashednet" in wf.format() and len(wf.to_dict()["rows"]) == len(sizes)


def test_waterfall_scales_memory_steps_when_bandwidth_bound():
    cal = replace(_cal(), stream_ns_per_byte=1.0)
    r = cpu_waterfall(1 << 36, cal).rows[0]
    p = predict_cpu_gather("hashednet", 1 << 36, "torch", cal)
    assert sum(r.deltas_ns[2:]) == pytest.approx(p.memory_ns)
    with pytest.raises(CacheSimError, match="backend"):
        cpu_waterfall(4096, cal, backend="jax")


def _with_minima(cases, factor=0.5):
    """The synthetic record as a newer one: each median also stored as its minimum times ``factor``."""
    out = []
    for c in cases:
        c = dict(c)
        for key in ("ns_per_load", "ns_per_byte", "ns_per_element"):
            if key in c:
                c[f"{key}_min"] = c[key] * factor
        out.append(c)
    return out


def test_calibration_reads_the_minimum_by_default_and_medians_on_request():
    cases = _with_minima(_micro_cases())
    low, med = cpu_calibration(cases, _hier()), cpu_calibration(cases, _hier(), stat="median")
    assert low.stat == "min" and med.stat == "median"
    assert low.latency_ns == (1.0, 2.5, 7.5) and med.latency_ns == (2.0, 5.0, 15.0)
    assert low.base_ns == {"torch": 0.25, "numpy": 0.25} and low.stream_ns_per_byte == pytest.approx(0.01)
    assert low.copy_ns == {"torch": 0.1, "numpy": 0.1}
    # an older record holds only medians: read as medians whatever stat asks, and says so
    old = cpu_calibration(_micro_cases(), _hier(), stat="min")
    assert old.stat == "median" and old.latency_ns == med.latency_ns
    with pytest.raises(CacheSimError, match="stat"):
        cpu_calibration(cases, _hier(), stat="mean")


def test_calibration_reads_process_cpu_time_on_request():
    cases = [dict(c, **{f"cpu_{k}": v * 2 for k, v in c.items() if k.startswith("ns_per")})
             for c in _micro_cases()]
    cpu = cpu_calibration(cases, _hier(), stat="cpu")
    assert cpu.stat == "cpu" and cpu.latency_ns == (4.0, 10.0, 30.0) and cpu.copy_ns["numpy"] == 0.4
    assert cpu_calibration(_micro_cases(), _hier(), stat="cpu").stat == "median"


def test_matmul_ns_is_two_flops_per_element_and_batch_row():
    # 4 ns per element of W at batch 128: 256 flops per element in 4 ns = 64 GFLOP/s
    cases = _micro_cases() + [{"type": "matmul", "batch": 128, "ns_per_element": 4.0}]
    med = cpu_calibration(cases, _hier(), stat="median")
    assert med.matmul_gflops == {128: pytest.approx(64.0)} and med.matmul_ns(128) == pytest.approx(4.0)
    cal = cpu_calibration(_with_minima(cases, 0.8), _hier())
    assert cal.matmul_gflops == {128: pytest.approx(80.0)} and cal.matmul_ns(128) == pytest.approx(3.2)
    with pytest.raises(CacheSimError, match="batch=7"):
        cal.matmul_ns(7)
    with pytest.raises(CacheSimError, match="--matmul"):
        cpu_calibration(_micro_cases(), _hier()).matmul_ns(128)


def test_gather_then_matmul_waterfall_starts_from_the_dense_matmul():
    cal = replace(_cal(), matmul_gflops={16: 32.0})
    sizes = [4 * KiB, 64 * MiB]
    wf = cpu_waterfall(sizes, cal, scheme="hashednet", matmul=16, measured={64 * MiB: 9.0})
    assert wf.steps == MATMUL_STEPS and wf.batch == 16 and wf.matmul_ns == pytest.approx(1.0)
    for r in wf.rows:
        p = predict_cpu_gather("hashednet", r.memory_bytes, "torch", cal)
        assert r.cumulative_ns[0] == pytest.approx(1.0)              # 2 * 16 flops / 32 GFLOP/s
        assert r.deltas_ns[1] == pytest.approx(1.0)                  # the whole gather loop (base)
        assert r.total_ns == pytest.approx(1.0 + p.total_ns)
    assert wf.rows[0].measured_ns is None and wf.rows[1].to_dict()["measured_ns"] == 9.0
    assert [s["label"] for s in wf.rows[1].to_dict()["steps"]][:2] == list(MATMUL_STEPS[:2])
    assert MATMUL_STEPS[0] == "dense matmul" and MATMUL_STEPS[2:] == CPU_STEPS[2:]
    text = wf.format()
    assert "X of 16 rows" in text and "(9.000)" in text and "dense matmul" in text
    with pytest.raises(CacheSimError, match="batch=8"):
        cpu_waterfall(4096, cal, matmul=8)


def _with_backend_gather(cases, slow=2.0, backends=("torch",)):
    """Add ``backend-gather`` cases whose extra time over the base is ``slow`` x the independent loads'."""
    ind = {c["memory_bytes"]: c["ns_per_load"] for c in cases if c["type"] == "independent"}
    return cases + [{"type": "backend-gather", "backend": b, "memory_bytes": m,
                     "ns_per_element": 0.5 + slow * (t - 1.0)} for b in backends for m, t in ind.items()]


def test_backend_gather_gives_that_backends_own_overlap_as_a_diagnostic():
    plain = cpu_calibration(_micro_cases(), _hier())
    cal = cpu_calibration(_with_backend_gather(_micro_cases()), _hier())
    assert cal.mlp == plain.mlp and set(cal.backend_mlp) == {"torch"} and plain.backend_mlp == {}
    # twice the extra time at every anchor: half the overlap at each level (DRAM: 20 -> 10)
    assert cal.backend_mlp["torch"] == pytest.approx(tuple(max(1.0, m / 2) for m in cal.mlp))
    assert cal.backend_mlp["torch"][2] == pytest.approx(10.0)
    # reported, not priced: the prediction is the compiled loop's
    for b in ("torch", "numpy"):
        assert predict_cpu_gather("hashednet", 1 << 36, b, cal).total_ns == pytest.approx(
            predict_cpu_gather("hashednet", 1 << 36, b, plain).total_ns)


def test_backend_gather_needs_every_anchor():
    cases = [c for c in _with_backend_gather(_micro_cases())
             if not (c["type"] == "backend-gather" and c["memory_bytes"] == 2 * MiB)]
    with pytest.raises(CacheSimError, match="anchor size"):
        cpu_calibration(cases, _hier())
