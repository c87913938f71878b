"""The h200 calibration's micro3 constants are recounted from the record they cite (call21_micro3)."""

import json
import statistics
from pathlib import Path

import pytest

from cachesim.kernels import get_target, loop_table

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
MICRO3F = GPU / "call26_micro3f" / "gpu_micro3.json"
MICRO3G = GPU / "call27_micro3g" / "gpu_micro3.json"
MICRO3M = GPU / "call37_micro3m" / "gpu_micro3.json"
TABLE_RECORDS = (MICRO3E, MICRO3F, MICRO3G, MICRO3M)


def _table_rows(path, **match) -> list:
    rows = [c for c in json.loads(path.read_text())["cases"] if c["type"] == "tma-table"]
    assert rows and all(c["equal_numpy"] for c in rows)
    return [c for c in rows if all(c.get(k, False) == v for k, v in match.items())]


@pytest.mark.skipif(not all(p.exists() for p in TABLE_RECORDS), reason="GPU record not present")
def test_tma_table_pairs_are_the_records():
    """Each box size's pair is its record's kernel-layout rows: 16 KiB call25 (A loaded once), 24 KiB call37
    (A's 64x64 box every step), 32 KiB call26 (A's 128x64 box every step), 48 KiB call27 (64x256 B boxes
    and A's box); keyed by (programs per SM, array bytes), with the B elements of one step."""
    cal = get_target("h200").calibration["tma_table_per_s"]
    assert sorted(cal) == [16384, 24576, 32768, 49152]
    sources = {16384: _table_rows(MICRO3E, layout="kernel"),
               24576: _table_rows(MICRO3M, layout="kernel", a_box=True, a_rows=64),
               32768: _table_rows(MICRO3F, layout="kernel", a_box=True),
               49152: _table_rows(MICRO3G, layout="kernel", a_box=True, tile=[64, 256])}
    for size, rows in sources.items():
        assert len(rows) == {16384: 12, 24576: 12, 32768: 12, 49152: 4}[size]
        for c in rows:
            bk, bn = c["tile"]
            a_bytes = 2 * c.get("a_rows", 128) * bk if c.get("a_box") else 0
            assert size == 2 * bk * bn + a_bytes  # the bytes a step's boxes copy
            assert cal[size]["step"] == bk * bn
            got = cal[size][c["path"]][(c["programs_per_sm"], c["memory_bytes"])]
            assert got == pytest.approx(c["elements_per_second"], rel=1e-3)


@pytest.mark.skipif(not all(p.exists() for p in TABLE_RECORDS), reason="GPU record not present")
def test_tma_table_wait_grows_with_the_box_bytes_and_is_set_by_programs():
    """The start's wait at one program per SM (2 MiB) is 268 / 376 / 530 cycles per k-step for 16 / 32 / 48
    KiB of boxes, hidden at two programs; call27's rerun of the 32 KiB pair agrees within 3 % and its 8-warp
    pair within 3 % (the wait is set by programs per SM, not warps); call25's per-program layout within 3 %
    of the kernel layout at one program per SM."""
    def wait_cycles(rows, per_sm=1, mem=2097152):
        r = {c["path"]: c for c in rows if c["programs_per_sm"] == per_sm and c["memory_bytes"] == mem}
        s = r["table"]["tile"][0] * r["table"]["tile"][1]
        t, h = r["table"]["elements_per_second"], r["hash"]["elements_per_second"]
        return 132 * s * (1 / t - 1 / h) * 1.98e9

    waits = [wait_cycles(_table_rows(MICRO3E, layout="kernel")),
             wait_cycles(_table_rows(MICRO3F, a_box=True)),
             wait_cycles(_table_rows(MICRO3G, a_box=True, tile=[64, 256]))]
    assert [round(w, -1) for w in waits] == [270, 380, 530]
    assert abs(wait_cycles(_table_rows(MICRO3F, a_box=True), per_sm=2)) < 0.1 * waits[1]
    rerun = _table_rows(MICRO3G, a_box=True, tile=[64, 128], num_warps=4)
    eight = _table_rows(MICRO3G, a_box=True, tile=[64, 128], num_warps=8)
    first = {(c["path"], c["programs_per_sm"], c["memory_bytes"]): c["elements_per_second"]
             for c in _table_rows(MICRO3F, a_box=True)}
    assert len(rerun) == 12 and len(eight) == 8
    for rows, tol in ((rerun, 0.031), (eight, 0.031)):
        for c in rows:
            assert c["elements_per_second"] == pytest.approx(first[(c["path"], c["programs_per_sm"],
                                                                    c["memory_bytes"])], rel=tol)
    every = _table_rows(MICRO3E)
    prog = {(c["path"], c["memory_bytes"]): c["elements_per_second"] for c in every
            if c["layout"] == "program" and c["programs_per_sm"] == 1}
    for c in every:
        if c["layout"] == "kernel" and c["programs_per_sm"] == 1:
            assert c["elements_per_second"] == pytest.approx(prog[(c["path"], c["memory_bytes"])], rel=0.03)


def test_tma_table_excess_is_the_pair_difference_at_the_steps_bytes():
    """A 64x128x64 persistent kernel copies 24 KiB per step (A 64x64, B 64x128): call37's pair at one
    program per SM; 2 MiB array. A 40 KiB step lies halfway between the 32 and 48 KiB pairs (linear in the
    step's bytes)."""
    from cachesim.kernels import predict

    cal = get_target("h200").calibration
    kw = dict(dtype="bf16", block="64x128x64", num_warps=4, num_stages=3, memory=1 << 20, analytic=True,
              load_path="tma", tile=(64, 128), align=128, schedule="persistent")
    table = predict("roast", "4096x768x3072", "h200", index="table", **kw)
    hashed = predict("roast", "4096x768x3072", "h200", index="hash32", **kw)
    assert hashed.terms["lsu_excess"] == 0.0 and table.issue.programs_per_sm == 1
    clock = cal["sm_clock_ghz"] / cal["micro_clock_ghz"]
    steps = 768 * 3072 * (4096 // 64) / (128 * 64)
    e24 = 8192 * (1 / 2.222e12 - 1 / 3.009e12)
    e32 = 8192 * (1 / 1.633e12 - 1 / 2.290e12)
    # x 1.03125: 1536 programs on 132 SMs, the busiest runs 12 (12 x 132 / 1536)
    assert table.terms["lsu_excess"] == pytest.approx(steps * e24 / clock * 1.03125, rel=1e-3)
    assert table.terms["lsu"] == pytest.approx(steps * 8192 / 2.222e12 / clock * 1.03125, rel=1e-3)
    from cachesim.kernels.cost import _tma_table_step

    # 2 x 64 x (64 + 256) = 40960 bytes per step: halfway between the 32 and 48 KiB pairs
    half = type("I", (), {"programs_per_sm": 1, "memory_bytes": 2097152, "config": "64x256x64-g8-w4-s3"})()
    e48 = 16384 * (1 / 2.329e12 - 1 / 3.273e12)
    assert _tma_table_step(cal, half, "excess") == pytest.approx((e32 + e48) / 2,
                                                                                           rel=1e-9)


@pytest.mark.skipif(not MICRO3F.exists(), reason="GPU record not present")
def test_bm64_tile_table_is_the_record():
    """``tile_align_bm64_per_s`` is call26's 64-row tile rows (every program resident); its line-aligned
    rows run 1.3-1.9x the 128-row ones of the same run at 2 MiB and below (the 128-row rows are the
    dot's rate), the straddled (align 8) ones within 20 %."""
    cases = json.loads(MICRO3F.read_text())["cases"]
    assert all(c["equal_numpy"] for c in cases if c["type"] == "check")
    cal = get_target("h200").calibration["tile_align_bm64_per_s"]
    rows = [c for c in cases if c["type"] == "tile-align"]
    by = {(c["block"].split("x")[0], c["align"], c["tile"][1], c["programs_per_sm"], c["memory_bytes"]):
          c["elements_per_second"] for c in rows}
    n = 0
    for c in rows:
        if not c["block"].startswith("64x") or c.get("resident_per_sm") != c["programs_per_sm"]:
            continue
        got = cal[(c["align"], c["tile"][1])][(4 * c["programs_per_sm"], c["memory_bytes"])]
        assert got == pytest.approx(c["elements_per_second"], rel=1e-3)
        n += 1
        k128 = ("128", c["align"], c["tile"][1], c["programs_per_sm"], c["memory_bytes"])
        if c["align"] == 64 and c["tile"][1] == 128 and c["memory_bytes"] <= 2 << 20:
            assert 1.3 < c["elements_per_second"] / by[k128] < 2.0
        if c["align"] == 8 and c["programs_per_sm"] < 4:
            assert 0.8 < c["elements_per_second"] / by[k128] < 1.2
    assert n == 54 - 3  # align 1, 64x128 at four programs per SM: three resident


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


def test_64_row_kernels_take_the_64_row_tile_table():
    """A 64-row pointer kernel's tile path is priced by the 64-row microbenchmark rows, a 128-row one by the
    128-row rows (same alignment class, width, warps per SM and array size)."""
    from cachesim.kernels import predict
    from cachesim.kernels.micro_rates import tile_rate

    cal = get_target("h200").calibration
    clock = cal["sm_clock_ghz"] / cal["micro_clock_ghz"]
    kw = dict(dtype="bf16", num_warps=4, num_stages=4, memory=1 << 20, analytic=True, tile=(64, 128),
              align=64, index="table")
    for block, key in (("64x128x64", "tile_align_bm64_per_s"), ("128x128x64", "tile_align_per_s")):
        p = predict("roast", "4096x768x3072", "h200", block=block, **kw)
        warps = p.issue.warps_per_scheduler * 4
        want = p.issue.elements / (clock * tile_rate(cal[key][(64, 128)], warps, p.issue.memory_bytes))
        want *= 1.03125  # 1536 / 768 programs on 132 SMs: the busiest runs 12 / 6 (x 132 / programs)
        assert p.terms["lsu"] == pytest.approx(want, rel=1e-6), block


MICRO3H = GPU / "call28_micro3h" / "gpu_micro3.json"


@pytest.mark.skipif(not MICRO3H.exists(), reason="GPU record not present")
def test_a_streamed_tile_tables_are_the_record():
    """``tile_align_astream_per_s`` / ``_bm64_per_s`` are call28's A-streamed rows (every program resident);
    with A's tile in the loop the straddled path's excess over the line-aligned one grows (128 rows)."""
    cases = json.loads(MICRO3H.read_text())["cases"]
    assert all(c["equal_numpy"] for c in cases if c["type"] == "check")
    assert sum(c["type"] == "check" for c in cases) == 24
    cal = get_target("h200").calibration
    rows = [c for c in cases if c["type"] == "tile-align"]
    n = 0
    rate = {}
    for c in rows:
        bm = int(c["block"].split("x")[0])
        rate[(bm, c["a_stream"], c["align"], c["tile"][1], c["memory_bytes"], c["programs_per_sm"])] = \
            c["elements_per_second"]
        if not c["a_stream"] or c.get("resident_per_sm") != c["programs_per_sm"]:
            continue
        key = "tile_align_astream_per_s" if bm == 128 else "tile_align_astream_bm64_per_s"
        got = cal[key][(c["align"], c["tile"][1])][(4 * c["programs_per_sm"], c["memory_bytes"])]
        assert got == pytest.approx(c["elements_per_second"], rel=1e-3)
        n += 1
    assert n == 108 - 15  # 64x128 tiles at four programs per SM: 2-3 resident (9 at 128 rows, 6 at 64)
    for w in (64, 128):
        for mem in (131072, 2097152, 67108864):
            excess = {s: 1 / rate[(128, s, 8, w, mem, 1)] - 1 / rate[(128, s, 64, w, mem, 1)]
                      for s in (False, True)}
            assert excess[True] > 1.5 * excess[False] > 0


def _roast_128x128(align):
    """The 128x128x64 ROAST table kernel at ``align`` (4096x768x3072, 2 MiB array) and ``rate(table, a)``:
    its B elements over the tile rate of ``table`` at alignment class ``a``, width 128, its warps and array
    size, at the loaded clock, times the busiest SM's share (768 programs: the busiest of 132 SMs runs 6,
    x 132 / 768 = 1.03125)."""
    from cachesim.kernels import predict
    from cachesim.kernels.micro_rates import tile_rate

    cal = get_target("h200").calibration
    clock = cal["sm_clock_ghz"] / cal["micro_clock_ghz"]
    p = predict("roast", "4096x768x3072", "h200", dtype="bf16", block="128x128x64", num_warps=4, num_stages=4,
                memory=1 << 20, analytic=True, tile=(64, 128), align=align, index="hash")
    warps, mem, el = p.issue.warps_per_scheduler * 4, p.issue.memory_bytes, p.issue.elements

    def seconds(table, a):
        return el / (clock * tile_rate(cal[table][(a, 128)], warps, mem)) * 1.03125
    return p, seconds


def test_tile_excess_takes_the_a_streamed_rows():
    """An align-8 pointer kernel's lsu_excess is the A-streamed pair difference; its lsu stays the fixed-A
    tile path (the in-loop hash kernel: no start-table wait on top)."""
    from dataclasses import replace

    p, seconds = _roast_128x128(8)
    want = seconds("tile_align_astream_per_s", 8) - seconds("tile_align_astream_per_s", 64)
    assert p.terms["lsu_excess"] == pytest.approx(want, rel=1e-6)
    assert p.terms["lsu"] == pytest.approx(seconds("tile_align_per_s", 8), rel=1e-6)
    assert replace(p.issue.description, align=64).align == 64


def test_align1_excess_takes_the_fixed_a_rows():
    """Align 1 at 128x128x64: lsu_excess = elements x (1 / r_fixed(1) - 1 / r_fixed(64)), the fixed-A rows
    (the A-streamed align-1 microbenchmark compiles to another B path: test_kernels_tile_micro_listings)."""
    p, seconds = _roast_128x128(1)
    want = seconds("tile_align_per_s", 1) - seconds("tile_align_per_s", 64)
    assert p.terms["lsu_excess"] == pytest.approx(want, rel=1e-6)


CARVEOUT = GPU / "call29_ncu_carveout"


@pytest.mark.skipif(not CARVEOUT.exists(), reason="GPU record not present")
def test_launch_carveout_is_the_record():
    """Every Triton kernel Nsight Compute profiled (two array sizes, 48-144 KiB of shared memory) was
    launched with the 228 KiB carve-out; the h200 target's L1 for such kernels is what that leaves: 28 KiB."""
    import csv

    from cachesim.kernels.targets import gpu_target

    sizes = []
    for name in ("ncu_carveout_bert-ffn1_0.csv", "ncu_carveout_bert-ffn1_1.csv"):
        lines = (CARVEOUT / name).read_text().splitlines()
        rows = list(csv.DictReader([ln for ln in lines if ln.startswith('"')]))
        launches = [ln for ln in lines if ln.startswith("LAUNCH ") and not ln.startswith("LAUNCH cublas")]
        config = [r for r in rows if r["Metric Name"] == "launch__shared_mem_config_size"]
        dynamic = {float(r["Metric Value"].replace(",", "")) for r in rows
                   if r["Metric Name"] == "launch__shared_mem_per_block_dynamic"}
        assert len(config) == len(launches) == 18
        sizes += [float(r["Metric Value"].replace(",", "")) for r in config]
        assert min(dynamic) < 64 * 1024 < 128 * 1024 < max(dynamic)  # from small to large kernels
    assert set(sizes) == {233472.0}
    t = gpu_target("h200")
    assert t.launch_carveout_bytes == 228 * 1024
    assert {t.l1_bytes_for(s) for s in (49172, 100 * 1024, 200 * 1024)} == {28 * 1024}
    # Triton's launcher asks for the shared-preferring cache configuration only above 48 KiB
    assert t.l1_bytes_for(24 * 1024) == (256 - 32) * 1024 and t.l1_bytes_for(48 * 1024) == (256 - 64) * 1024


MICRO_SASS = GPU / "sass_offline" / "gpu_sass_hash_micro.json"


@pytest.mark.skipif(not (MICRO3D.exists() and MICRO_SASS.exists()), reason="records not present")
def test_variable_latency_cycles_are_recounted_from_call24_and_its_listings():
    """``variable_latency_cycles``: the call24 64-bit hash loops (no dot, 4 warps, one program per SM) take
    longer than their own listing's stall counts by more than the plain loop does; the excess over their
    MUFU + conversion instructions, pooled over one and two starts per k-step, each point near the pool."""
    timed = {(c["mode"], c["starts_per_step"], c["dot"], c["num_warps"], c["programs_per_sm"]):
             c["seconds_per_iteration_per_sm"] for c in json.loads(MICRO3D.read_text())["cases"]
             if c["type"] == "hash-overlap"}
    listed = {(c["mode"], c["starts_per_step"], c["dot"], c["num_warps"]): c
              for c in json.loads(MICRO_SASS.read_text())["cases"] if c["type"] == "sass"}
    assert len(listed) == 20 and all(c["loop_closed"] for c in listed.values())
    clock = 1.98e9  # the microbenchmark's clock (smi_after.txt of call24)

    def residual(mode, g):
        return timed[(mode, g, False, 4, 1)] * clock - listed[(mode, g, False, 4)]["stall_cycles"]

    excess, count = [], []
    for g in (1, 2):
        c = listed[(2, g, False, 4)]["by_class"]
        excess.append(residual(2, g) - residual(0, 1))
        count.append(c["mufu"] + c["convert"])
    assert count == [9, 18]  # three remainders by a runtime divisor per start: I2F, MUFU.RCP, F2I each
    per = [e / n for e, n in zip(excess, count)]
    pooled = sum(excess) / sum(count)
    assert get_target("h200").calibration["variable_latency_cycles"] == pytest.approx(pooled, abs=0.05)
    assert all(abs(p / pooled - 1) < 0.1 for p in per)


def test_variable_latency_is_charged_to_the_roast_hash_loops_only():
    from cachesim.kernels import predict

    cal = get_target("h200").calibration
    kw = dict(dtype="bf16", block="128x128x64", num_warps=4, num_stages=4, memory=1 << 20, analytic=True)
    hashed = predict("roast", "4096x768x3072", "h200", index="hash", align=64, tile=(64, 128), **kw)
    table = predict("roast", "4096x768x3072", "h200", index="table", align=64, tile=(64, 128), **kw)
    mix = loop_table.offline_loops().mixes[("roast-hash-a64-t64x128", "128x128x64-g8-w4-s4")]
    want = mix[1] + 9 * cal["variable_latency_cycles"]  # one start per k-step: nine MUFU / conversions
    assert hashed.issue.stall_cycles_per_iteration == pytest.approx(want)
    tmix = loop_table.offline_loops().mixes[("roast-table-a64-t64x128", "128x128x64-g8-w4-s4")]
    assert table.issue.stall_cycles_per_iteration == tmix[1]
    hn = predict("hashednet", "4096x768x3072", "h200", index="hash", **kw)
    assert hn.issue.stall_cycles_per_iteration == loop_table.offline_loops().mixes[
        ("hashednet-hash", "128x128x64-g8-w4-s4")][1]


L2PATH = GPU / "call31_ncu_l2path" / "ncu_l2path_bert-ffn1_0.csv"


@pytest.mark.skipif(not L2PATH.exists(), reason="GPU record not present")
def test_bypass_streams_deliver_every_requested_sector_to_l1():
    """call31: for the cp.async.cg streams the L1 receives over the crossbar exactly the sectors it
    requested (the model's L2 requests), while the L2 slices' texture-read counter sees 0.55-0.85 of them;
    straddled (align 8) starts receive 1.1-1.2x what they request; scalar (align 1) loads hit L1."""
    import csv

    lines = L2PATH.read_text().splitlines()
    labels = [ln.split(" ", 1)[1] for ln in lines if ln.startswith("LAUNCH ") and "cublas" not in ln]
    rows = list(csv.DictReader([ln for ln in lines if ln.startswith('"')]))
    got = {}
    for r in rows:
        if r["Metric Value"] != "n/a":  # the ldgsts metrics and l1tex2xbar requests: not reported here
            got.setdefault(int(r["ID"]), {})[r["Metric Name"]] = float(r["Metric Value"].replace(",", ""))
    assert len(got) == len(labels) == 18
    for i, label in enumerate(labels):
        m = got[i]
        asked, delivered = m["l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum"], m[
            "l1tex__m_xbar2l1tex_read_sectors.sum"]
        slices = m["lts__t_sectors_srcunit_tex_op_read.sum"]
        variant = label.split()[0]
        if variant == "dense" or "-a64-" in variant:
            assert delivered == pytest.approx(asked, rel=0.006), label
            assert 0.55 < slices / delivered < 0.85, label
        elif "-a8-" in variant:
            assert 1.1 < delivered / asked < 1.2, label
        elif "-a1-" in variant:
            assert delivered < 0.9 * asked, label


def test_64_row_tma_kernels_take_the_64_row_box_rows():
    """A 64-row TMA kernel's box path is priced by call34's 64-row rows, a 128-row one by call21/call22's;
    the constants are the record's (3 significant digits or more)."""
    import json
    from pathlib import Path

    from cachesim.kernels import predict
    from cachesim.kernels.micro_rates import tile_rate

    cal = get_target("h200").calibration
    rec = Path(__file__).resolve().parents[2] / "measurements/gpu/call34_micro3k/gpu_micro3.json"
    rows = [c for c in json.loads(rec.read_text())["cases"] if c.get("type") == "tma-tile"
            and c["block"].startswith("64x")]
    for c in rows:
        if c["path"] == "ptr-roast":
            continue
        key = (4 * c["programs_per_sm"], c["memory_bytes"])
        got = cal["tma_tile_bm64_per_s"]["roast" if c["path"] == "tma-roast" else "dense"][key]
        assert got == pytest.approx(float(c["elements_per_second"]), rel=2e-3)
    clock = cal["sm_clock_ghz"] / cal["micro_clock_ghz"]
    kw = dict(dtype="bf16", num_warps=4, num_stages=3, memory=1 << 20, analytic=True, tile=(64, 128),
              align=128, index="hash32", load_path="tma")
    for block, key in (("64x128x64", "tma_tile_bm64_per_s"), ("128x128x64", "tma_tile_per_s")):
        p = predict("roast", "4096x768x3072", "h200", block=block, **kw)
        warps = p.issue.warps_per_scheduler * 4
        want = p.issue.elements / (clock * tile_rate(cal[key]["roast"], warps, p.issue.memory_bytes))
        programs = (4096 // int(block.split("x")[0])) * (3072 // 128)
        want *= -(-programs // 132) * 132 / programs  # the busiest SM's share
        assert p.terms["lsu"] == pytest.approx(want, rel=1e-6), block


def test_table_gather_factor_is_recounted_from_call35():
    """The index-matrix factor of the HashedNet table gather: the time ratio table / computed index of
    call35's pairs whose two kernels keep the same programs resident, geometric mean per (resident warps,
    array bytes), by index-matrix bytes; every kernel checked against numpy."""
    import math

    rec = GPU / "call35_micro3l" / "gpu_micro3.json"
    cases = json.loads(rec.read_text())["cases"]
    checks = [c for c in cases if c["type"] == "check"]
    assert len(checks) == 2 and all(c["equal_numpy"] for c in checks)
    rows = {(c["geometry"], c["memory_bytes"], c["num_warps"], c["programs_per_sm"], c["name"]): c
            for c in cases if c["type"] == "gather-table"}
    pairs: dict = {}
    for (g, mem, nw, p, name), c in rows.items():
        other = rows[(g, mem, nw, p, "computed")]
        if name == "table" and other["resident_per_sm"] == c["resident_per_sm"]:
            key = (c["table_bytes"], nw * c["resident_per_sm"], mem)
            pairs.setdefault(key, []).append(c["seconds"] / other["seconds"])
    want: dict = {}
    for (table, w, mem), ratios in pairs.items():
        want.setdefault(table, {})[(w, mem)] = math.exp(statistics.fmean(map(math.log, ratios)))
    got = get_target("h200").calibration["gather_table_factor"]
    assert set(got) == set(want) == {9437184, 419430400}
    for table, points in want.items():
        assert set(got[table]) == set(points)
        for key, value in points.items():
            assert got[table][key] == pytest.approx(value, abs=6e-4), (table, key)


def test_only_the_table_kernels_gather_pays_the_table_gather_factor():
    from dataclasses import replace

    from cachesim.kernels import cost, predict

    t = get_target("h200")
    kw = dict(dtype="bf16", block="128x128x64", num_warps=4, num_stages=4, memory=1 << 18, analytic=True)
    p = predict("hashednet", "4096x768x3072", "h200", index="table", **kw)
    warps = p.issue.warps_per_scheduler * t.schedulers_per_sm
    f = cost.table_gather_factor(t.calibration, warps, p.issue.memory_bytes, 4 * 768 * 3072)
    assert 1.05 < f < 1.15   # BERT's L2-resident index matrix, a 512 KiB array: call35's 1.09-1.10
    _, table, _ = cost._micro_terms(p.traffic, t, p.description, p.issue)
    _, computed, _ = cost._micro_terms(p.traffic, t, replace(p.description, index="mulshift"), p.issue)
    assert table == pytest.approx(f * computed, rel=1e-12) and computed > 0
    # a DRAM-resident matrix with a DRAM-sized array costs more; no calibration, no factor
    assert cost.table_gather_factor(t.calibration, warps, 1 << 26, 4 * 10240 * 10240) > f
    assert cost.table_gather_factor({}, warps, 1 << 26, 4 * 10240 * 10240) == 1.0


def test_ptr_table_pairs_are_call39s_rows():
    """The pointer start-table pair: call39's rows by reuse (programs reading each entry), programs per SM
    launched and array bytes; every kernel checked against numpy; the table loop compiled with two buffers
    (64 KiB + the start), the computed one with four."""
    rec = GPU / "call39_micro3n" / "gpu_micro3.json"
    cases = json.loads(rec.read_text())["cases"]
    assert [c["equal_numpy"] for c in cases if c["type"] == "check"] == [True, True]
    rows = [c for c in cases if c["type"] == "ptr-table"]
    got = get_target("h200").calibration["ptr_table_per_s"]
    assert len(rows) == 24 and set(got) == {2, 32}
    for c in rows:
        pair = got[c["reuse"]]
        assert pair["step"] == 64 * 128
        value = pair["table" if c["name"] == "table" else "hash"][(c["programs_per_sm"], c["memory_bytes"])]
        assert value == pytest.approx(c["elements_per_second"], rel=1e-3)
        assert c["shared_bytes"] == (65540 if c["name"] == "table" else 131072)


def test_one_program_per_sm_exposes_the_start_table_wait():
    """256 rows of 128-row blocks: 128 programs, one per SM whatever the occupancy, two row blocks reading
    each start: the table kernel pays call39's one-program pair (2-reader rows, 2 MiB: the array of 512 KiB
    clamps there); at 4096 rows the busiest SM holds its occupancy and the wait is (nearly) hidden."""
    from cachesim.kernels import predict

    cal = get_target("h200").calibration
    clock = cal["sm_clock_ghz"] / cal["micro_clock_ghz"]
    kw = dict(dtype="bf16", block="128x64x64", num_warps=4, num_stages=4, memory=262144, analytic=True,
              tile=(32, 64), align=64)
    short = predict("roast", "256x4096x4096", "h200", index="table", **kw)
    hashed = predict("roast", "256x4096x4096", "h200", index="hash32", **kw)
    long = predict("roast", "4096x4096x4096", "h200", index="table", **kw)
    assert short.issue.programs == 128 and short.issue.programs_per_sm == 1
    assert long.issue.programs_per_sm > 1 and hashed.terms["lsu_excess"] == 0.0
    steps = 4096 * 4096 * 2 / (64 * 64)
    want = steps * (8192 / 1.590e12 - 8192 / 2.363e12) / clock * 132 / 128  # busiest SM's share
    assert short.terms["lsu_excess"] == pytest.approx(want, rel=1e-6)
    per_step_long = long.terms["lsu_excess"] / (4096 * 4096 * 32 / (64 * 64))
    assert per_step_long < 0.2 * want / steps


def test_three_buffer_pair_is_call41s_five_stage_rows():
    """call41's ``ptr_table_s5`` rows (5 stages requested: the table loop compiled with three buffers, the
    computed one with five) are the three-buffer pair, same keys as call39's."""
    rec = GPU / "call41_micro3o" / "gpu_micro3.json"
    rows = [c for c in json.loads(rec.read_text())["cases"]
            if c["type"] == "ptr-table" and c["num_stages"] == 5]
    got = get_target("h200").calibration["ptr_table_three_buffers_per_s"]
    assert len(rows) == 24 and set(got) == {2, 32}
    for c in rows:
        assert c["shared_bytes"] == (98312 if c["name"] == "table" else 163840)
        value = got[c["reuse"]]["table" if c["name"] == "table" else "hash"][(c["programs_per_sm"],
                                                                             c["memory_bytes"])]
        assert value == pytest.approx(c["elements_per_second"], rel=1e-3)


def test_pipeline_buffers_come_from_the_listing_shared_bytes():
    """B buffers of the cp.async table loops: the offline listing's shared bytes over a stage's A and B
    tiles (two at 3 and 4 stages, three at 5); None for align 1 (B staged through registers), for a
    configuration without a listing and for the other kernels."""
    import gzip
    import re

    from cachesim.kernels.issue import KernelDescription, pipeline_buffers

    text = gzip.open(GPU / "sass_offline" / "sass_offline.txt.gz", "rt").read()

    def shared(variant, config):
        m = re.search(rf"##### {re.escape(variant)} {re.escape(config)} regs=\d+ shared=(\d+)", text)
        return int(m.group(1))

    for align, cfg, want in ((64, "128x128x64-g8-w4-s5", 3), (64, "128x128x64-g8-w4-s4", 2),
                             (8, "128x128x64-g8-w4-s3", 2), (8, "128x128x64-g8-w4-s5", 3)):
        desc = KernelDescription("roast", "table", align, (64, 128))
        assert pipeline_buffers(desc, cfg) == want
        assert shared(f"roast-table-a{align}-t64x128", cfg) // (2 * 64 * (128 + 128)) == want
    assert pipeline_buffers(KernelDescription("roast", "table", 1, (64, 128)), "128x128x64-g8-w4-s5") is None
    assert pipeline_buffers(KernelDescription("roast", "table", 64, (64, 128)), "128x128x64-g8-w4-s6") is None
    assert pipeline_buffers(KernelDescription("dense", None, None), "128x128x64-g8-w4-s5") is None


def test_three_buffer_table_loop_prices_call41s_pair():
    """256 rows, 128x128x64 at 5 stages: one program per SM, the table loop compiled with three buffers:
    call41's pair, whose table loop keeps up with the computed one at one program (no excess); at 4 stages
    (two buffers) call39's pair's excess."""
    from cachesim.kernels import predict

    kw = dict(dtype="bf16", block="128x128x64", num_warps=4, memory=262144, analytic=True, tile=(64, 128),
              align=64, index="table")
    s5 = predict("roast", "256x4096x4096", "h200", num_stages=5, **kw)
    s4 = predict("roast", "256x4096x4096", "h200", num_stages=4, **kw)
    assert s5.issue.programs_per_sm == 1 == s4.issue.programs_per_sm
    assert s5.terms["lsu_excess"] == 0.0  # call41: 2.322e12 table >= 2.280e12 computed (1 program, 2 MiB)
    assert s4.terms["lsu_excess"] > 0.0


def test_dense_resident_seconds_are_call42s_rows():
    """call42's dense_resident rows: every configuration at 1, 2 and 3 programs per SM (132 r programs,
    M = 4 BM, N = 33 r BN, K = 8192), each checked against torch.matmul."""
    rec = GPU / "call42_micro3p" / "gpu_micro3.json"
    rows = [c for c in json.loads(rec.read_text())["cases"] if c["type"] == "dense-resident"]
    table = get_target("h200").calibration["dense_resident"]
    assert len(rows) == 45 and all(c["equal_numpy"] for c in rows)
    for c in rows:
        bm, bn = (int(v) for v in c["config"].split("-")[0].split("x")[:2])
        r = c["programs_per_sm"]
        assert (c["M"], c["K"], c["N"], c["programs"]) == (table["row_blocks"] * bm, table["K"],
                                                            table["columns_per_program_per_sm"] * r * bn,
                                                            132 * r)
        assert table["seconds"][c["config"]][r] == pytest.approx(c["seconds"], rel=1e-3)


def test_one_program_per_sm_floors_the_pace_at_the_resident_dense_loop():
    """256 rows of 128x64x32 blocks, 2048 columns: 64 programs, one per SM, where the compiled occupancy
    holds four: the dense loop runs at call42's one-program rate (78.5 us for 2 x 512 x 8192 x 2112 flops,
    less the model's one-wave latency), which floors the pace; at 8192 rows the launch fills the occupancy
    and the term is 0."""
    from cachesim.kernels import predict

    kw = dict(dtype="bf16", block="128x64x32", num_warps=4, num_stages=4, analytic=True, cost_model="issue")
    short = predict("dense", "256x8192x2048", "h200", **kw)
    long = predict("dense", "8192x8192x2048", "h200", **kw)
    assert short.issue.programs == 64 and short.issue.programs_per_sm == 1 and short.issue.occupancy == 4
    cal = get_target("h200").calibration
    latency = cal["launch_s"] + cal["chase_cycles"]["DRAM"] / (cal["sm_clock_ghz"] * 1e9)
    rate = 2.0 * 512 * 8192 * 2112 / (7.8475e-05 - latency)
    want = 2.0 * 256 * 8192 * 2048 / rate * 132 / 64  # the busiest SM's share of 64 programs
    assert short.terms["resident"] == pytest.approx(want, rel=1e-6)
    assert short.dominant == "resident" and short.predicted_time_s == pytest.approx(
        want + short.terms["latency"], rel=1e-6)
    assert long.terms["resident"] == 0.0
    # a ROAST kernel of the same configuration and launch is floored by the same loop
    roast = predict("roast", "256x8192x2048", "h200", index="hash32", align=64, tile=(32, 64), memory=262144,
                    **kw)
    assert roast.terms["resident"] == pytest.approx(want, rel=1e-6)
    assert roast.predicted_time_s >= short.predicted_time_s


def test_prefetch_pair_is_call46s_rows_and_prices_one_program_per_sm():
    """call46's ptr_prefetch rows (the loop compiled like the fused table-pf kernels: four B buffers, 128 KiB,
    one program resident) are the prefetch pair; the table-pf kernels pay it where the launch deals the
    busiest SM one program, and nothing with more resident."""
    from cachesim.kernels import predict

    rec = GPU / "call46_micro3r" / "gpu_micro3.json"
    cases = json.loads(rec.read_text())["cases"]
    assert all(c["equal_numpy"] for c in cases if c["type"] == "check")
    rows = [c for c in cases if c["type"] == "ptr-table"]
    got = get_target("h200").calibration["ptr_prefetch_per_s"]
    assert len(rows) == 24
    for c in rows:
        assert c["shared_bytes"] == 131072 and c["resident_per_sm"] == 1
        value = got[c["reuse"]]["table" if c["name"] == "prefetch" else "hash"][(c["programs_per_sm"],
                                                                                c["memory_bytes"])]
        assert value == pytest.approx(c["elements_per_second"], rel=1e-3)
    cal = get_target("h200").calibration
    clock = cal["sm_clock_ghz"] / cal["micro_clock_ghz"]
    kw = dict(dtype="bf16", block="128x128x64", num_warps=4, num_stages=4, memory=262144, analytic=True,
              tile=(64, 128), align=64, index="table-pf")
    short = predict("roast", "256x4096x4096", "h200", **kw)  # 64 programs: one per SM
    # 128x64x64 blocks of 32x64 tiles: 96 KiB, two programs resident at 4096 rows
    long = predict("roast", "4096x4096x4096", "h200", **(kw | dict(block="128x64x64", tile=(32, 64))))
    assert short.issue.programs_per_sm == 1 and long.issue.programs_per_sm == 2
    steps = 4096 * 4096 * 2 / (64 * 128)
    want = steps * (8192 / 2.192e12 - 8192 / 2.378e12) / clock * 132 / 64  # busiest SM's share
    assert short.terms["lsu_excess"] == pytest.approx(want, rel=1e-6)
    assert long.terms["lsu_excess"] == 0.0


def test_a_second_resident_program_hides_the_prefetched_start_wait():
    """call48: the prefetched and computed loops at 3 and 2 stages hold two and three programs per SM; where
    that many are launched per SM the prefetched loop runs within 10 % of the computed one (the basis of the
    model's one-program rule), while with one resident (4 stages) it pays 1.07-1.55x."""
    rec = GPU / "call48_micro3s" / "gpu_micro3.json"
    cases = json.loads(rec.read_text())["cases"]
    assert all(c["equal_numpy"] for c in cases if c["type"] == "check")
    resident = {(c["num_stages"], c["programs_per_sm"]): c["resident_per_sm"] for c in cases
                if c["type"] == "ptr-table"}
    ratios = {}
    for c in cases:
        if c["type"] == "ptr-table-summary":
            ratios.setdefault((c["num_stages"], c["programs_per_sm"]), []).append(c["ratio"])
    assert resident[(3, 2)] == 2 and resident[(2, 3)] == 3 and resident[(4, 1)] == 1
    assert all(r < 1.1 for r in ratios[(3, 2)] + ratios[(2, 3)])
    assert min(ratios[(4, 1)]) > 1.05
