"""Issue-aware cost model: SASS loop mixes, kernel descriptions, occupancy, terms, waterfall, CLI flags."""

import json
import math
import time
from pathlib import Path

import pytest

from cachesim import CacheSimError
from cachesim.kernels import Block, GemmShape, get_target, predict
from cachesim.kernels.issue import LOOP_LOADS, LOOP_MIXES, describe, estimate_issue
from cachesim.kernels.loop_table import offline_loops
from cachesim.kernels.sass import loop_mix, parse_load_profiles, parse_sass_listings
from cachesim.kernels.waterfall import STEPS, waterfall
from roast_toolkit.cli.cachesim_cmd import main

_CAL = get_target("h200").calibration
#: the microbenchmarks ran at 1980 MHz; the model converts SM-bound rates to its loaded clock
CLOCK = _CAL["sm_clock_ghz"] / _CAL["micro_clock_ghz"]

SASS = Path(__file__).resolve().parents[2] / "measurements" / "gpu" / "call7_time" / "sass_fast.txt"

# A hand-written listing: a prologue, a 4-instruction loop with one CALL to a 3-instruction subroutine.
TOY = """##### toy 64x64x32-g8-w4-s3 regs=40 shared=1024
Function:fwd_kernel
--:-:-:-:1\tMOV R1, 0x0;
LBB0:
--:-:-:Y:4\tIMAD R2, R3, R4, RZ;
--:-:-:-:2\tLDG.E.U16 R5, desc[UR4][R6.64];
--:-:-:-:5\tCALL.REL.NOINC 0x60;
--:-:-:-:6\t@P0 BRA LBB0;
--:-:-:-:5\tEXIT;
--:-:-:-:3\tIADD3 R7, R7, 0x1, RZ;
--:-:-:-:2\tLDL R8, [R1+0x4];
--:-:-:-:1\tRET.REL.NODEC R2 0x0;
"""


def test_loop_mix_of_a_hand_listing():
    m = loop_mix(TOY, kernel="toy 64x64x32-g8-w4-s3 regs=40 shared=1024")
    # loop: IMAD, LDG, CALL, BRA (4) + subroutine at 0x60 = instruction 6: IADD3, LDL, RET (3)
    assert m.instructions == 7
    assert m.stall_cycles == 4 + 2 + 5 + 6 + 3 + 2 + 1
    assert m.calls == 1 and m.local_loads == 1
    assert m.by_class["global"] == 1 and m.by_class["local"] == 1 and m.by_class["control"] == 3
    assert (m.registers, m.shared_bytes) == (40, 1024)
    assert loop_mix("--:-:-:-:1\tMOV R1, 0x0;\n") is None


@pytest.mark.skipif(not SASS.exists(), reason="GPU record not present")
def test_loop_mix_table_is_recounted_from_the_recorded_sass():
    mixes = parse_sass_listings(SASS.read_text())
    by = {tuple(h.split()[:2]): m for h, m in mixes.items()}
    for key, (n, stall, ldl, gld, regs, shared) in LOOP_MIXES.items():
        m = by[key]
        assert (m.instructions, m.stall_cycles, m.local_loads, m.by_class["global"], m.registers,
                m.shared_bytes) == (n, stall, ldl, gld, regs, shared), key
    assert by[("hashednet-hash", "128x128x64-g8-w4-s4")] is None  # the recorded listing is cut


@pytest.mark.skipif(not SASS.exists(), reason="GPU record not present")
def test_loop_loads_table_is_recounted_from_the_recorded_sass():
    profiles = {tuple(h.split()[:2]): p for h, p in parse_load_profiles(SASS.read_text()).items()}
    for key, (chain, lsu, spill) in LOOP_LOADS.items():
        p = profiles[key]
        assert (p.load_chain, p.lsu_instructions, p.spill_bytes) == (chain, lsu, spill), key
    assert set(LOOP_LOADS) == set(LOOP_MIXES)


def test_arith_only_count_matches_nsight_compute():
    """Warp instructions of the launch from the SASS mix vs smsp__inst_executed (call8_focus: 258.8 M)."""
    n = LOOP_MIXES[("hashednet-arith-only", "128x128x64-g8-w4-s4")][0]
    programs, warps, iters = (4096 // 128) * (3072 // 128), 4, 768 // 64
    assert abs(n * programs * warps * iters / 258_797_568 - 1) < 0.03


@pytest.mark.parametrize("kernel, index, align, msg", [
    ("hashednet", "hash", 8, "align=8: HashedNet has no tile starts"),
    ("hashednet", "bogus", None, "index='bogus' is not an index path"),
    ("roast", "mulshift", None, "index='mulshift' is not an index path"),
    ("roast", "table", 3, "align=3 must be one of 1, 8, 64"),
    ("dense", "hash", None, "the dense kernel has no index path"),
    ("gather-roast", "hash", None, "covers the fused GEMMs"),
])
def test_bad_descriptions(kernel, index, align, msg):
    with pytest.raises(CacheSimError, match=msg):
        describe(kernel, index, align)


def test_issue_estimate_by_hand():
    t = get_target("h200")
    e = estimate_issue(describe("hashednet", "arith-only"), GemmShape.parse("4096x768x3072"),
                       Block.parse("128x128x64"), t, num_warps=4, num_stages=4)
    # 255 registers x 128 threads -> 2 programs by registers; 128 KiB + 1 KiB shared -> 1 program by shared
    assert e.programs_per_sm == 1 and e.warps_per_scheduler == 1.0
    l1_cycles = 33  # preset L1 hit latency
    cycles = max(1 * 6901, 19518 + 292 * l1_cycles)
    assert e.cycles_per_iteration == pytest.approx(cycles)
    assert (e.waves, e.iterations) == (math.ceil(768 / 132), 12)
    assert e.issue_seconds == pytest.approx(6 * 12 * cycles / 1.605e9)


def test_index_paths_order_the_hashednet_kernels():
    kw = dict(dtype="bf16", block="128x128x64", num_warps=4, num_stages=4, memory=262144, analytic=True)
    p = {i: predict("hashednet", "4096x768x3072", "h200", index=i, **kw) for i in
         ("hash", "mulshift", "table", "arith-only")}
    # the hash kernel's own compiled loop (offline listing; the device's was cut): 255 registers and
    # 80 KiB of shared memory fit two programs of 4 warps per SM; its issue term no longer dominates the
    # serial index + gather (until the offline listings it borrowed the arith-only loop, whose 128 KiB of
    # shared memory fit one program: W = 1 and issue dominant)
    hash_mix = offline_loops().mixes.get(("hashednet-hash", "128x128x64-g8-w4-s4"))
    if hash_mix is not None:
        assert p["hash"].issue.instructions_per_iteration == hash_mix[0] and hash_mix[4:] == (255, 81920)
        # the serial index + gather dominates the loop's issue, whose 99 waits on spill reloads (170 LDL)
        # mostly go to L2 with the 28 KiB L1 of Triton's launches (call29)
        assert p["hash"].dominant == "index+gather"
        assert p["hash"].issue.latency.spill_cycles > 0.5 * p["hash"].issue.stall_cycles_per_iteration
    assert p["table"].dominant in ("L1", "gather")
    assert p["hash"].terms["issue"] > 10 * p["mulshift"].terms["issue"]
    # arith-only reads B coalesced: far fewer L1 wavefronts than the scattered gather
    assert p["arith-only"].terms["L1"] < p["table"].terms["L1"] / 10
    d = p["table"].to_dict()
    assert d["index"] == "table" and d["cost_model"] == "issue" and set(d["terms"]) == {
        "compute", "resident", "issue", "L1", "L2", "index", "gather", "DRAM", "lsu", "lsu_excess",
        "latency"}
    t = d["terms"]
    # the hash at one warp per scheduler (255 registers: one program of 4 warps per SM) issues one
    # instruction per S/n cycles of the compiled hash loop instead of one per cycle at the
    # microbenchmark's 16 warps per scheduler
    n, stall = LOOP_MIXES[("hashednet-arith-only", "128x128x64-g8-w4-s4")][:2]
    w = p["hash"].issue.warps_per_scheduler
    assert w == (1.0 if hash_mix is None else 2.0)
    # 32 x 24 = 768 programs on 132 SMs: the busiest SM runs 6 of them, 6 x 132 / 768 = 1.03125 the even share
    assert t["index"] == 0.0 and p["hash"].terms["index"] == pytest.approx(
        768 * 3072 * 32 / (2.21968e11 * CLOCK) * (stall / n) / w * 1.03125)
    pace = max(t["compute"], t["issue"], t["L1"], t["L2"], t["index"] + t["gather"], t["DRAM"])
    assert d["predicted_time_s"] == pytest.approx(t["latency"] + pace)


def test_roast_alignment_and_index_path():
    kw = dict(dtype="bf16", block="128x64x32", num_warps=4, num_stages=4, memory=262144, analytic=True)
    a1 = predict("roast", "4096x768x3072", "h200", index="table", align=1, **kw)
    a8 = predict("roast", "4096x768x3072", "h200", index="table", align=8, **kw)
    h1 = predict("roast", "4096x768x3072", "h200", index="hash", align=1, **kw)
    assert a1.terms["issue"] > a8.terms["issue"]  # scalar loads: more load instructions per iteration
    # the in-loop 64-bit remainder costs more than the table, but the table loop waits on two dependent
    # loads (tile start, then B) where the hash loop waits on one: measured hash/table is 1.1-1.3
    assert a1.terms["issue"] < h1.terms["issue"] < 2 * a1.terms["issue"]


def test_default_output_unchanged_and_bad_combinations():
    base = predict("roast", "512x512x512", "h200", memory=4096, analytic=True)
    again = predict("roast", "512x512x512", "h200", memory=4096, analytic=True, cost_model="roofline")
    assert base.to_dict() == again.to_dict() and base.description is None
    with pytest.raises(CacheSimError, match="has no calibration"):
        predict("roast", "512x512x512", "h100", memory=4096, analytic=True, index="table")
    with pytest.raises(CacheSimError, match="GPU kernels"):
        predict("roast", "64x64x64", "zen4", memory=4096, index="table")
    with pytest.raises(CacheSimError, match="forward kernels only"):
        predict("roast", "512x512x512", "h200", memory=4096, analytic=True, index="table", backward=True)
    with pytest.raises(CacheSimError, match="need cost_model='issue'"):
        predict("roast", "512x512x512", "h200", memory=4096, index="table", cost_model="roofline")


def test_waterfall_ends_at_the_prediction():
    kw = dict(block="128x128x64", num_warps=4, num_stages=4)
    w = waterfall("hashednet", "4096x768x3072", index="hash", memory=262144,
                  measured={"dense": 4e-5, "hashednet-arith-only": 2e-3, "hashednet-hash": 1.5e-3}, **kw)
    dense = predict("dense", "4096x768x3072", "h200", dtype="bf16", analytic=True, cost_model="issue", **kw)
    full = predict("hashednet", "4096x768x3072", "h200", dtype="bf16", analytic=True, index="hash",
                   memory=262144, **kw)
    assert [s.label for s in w.steps] == [label for label, _ in STEPS]
    assert w.steps[0].predicted_s == pytest.approx(dense.predicted_time_s)
    assert w.total_s == pytest.approx(full.predicted_time_s)
    assert sum(s.delta_s for s in w.steps) == pytest.approx(w.total_s - w.steps[0].predicted_s)
    abl = {dict(a)["ablation"]: dict(a) for a in w.ablations}
    assert abl["index arithmetic"]["measured_delta_s"] == pytest.approx(2e-3 - 4e-5)
    assert abl["scatter (table index)"]["measured_delta_s"] is None  # no table time given
    for index in ("table", "mulshift"):  # gather-bound: the waterfall still ends at the prediction
        w = waterfall("hashednet", "4096x768x3072", index=index, memory=262144, block="128x64x32",
                      num_stages=4)
        p = predict("hashednet", "4096x768x3072", "h200", dtype="bf16", analytic=True, index=index,
                    memory=262144, block="128x64x32", num_stages=4)
        assert w.total_s == pytest.approx(p.predicted_time_s)


def test_waterfall_swaps_every_term_of_the_overlap_rule():
    """Every term the overlap rule reads is swapped in by some step, so the last step is the hashed
    kernel's own time even where only one term differs (here ``resident``: the hashed kernel's occupancy
    holds more programs than its launch deals an SM, dense's does not)."""
    from cachesim.kernels.cost import issue_pace
    from cachesim.kernels.waterfall import _steps

    names = ("compute", "resident", "issue", "L1", "L2", "index", "gather", "DRAM", "lsu", "lsu_excess",
             "latency")
    assert {n for _, group in STEPS for n in group} == set(names)
    dense = dict.fromkeys(names, 1e-6) | {"resident": 0.0}
    hashed = dict(dense) | {"resident": 5e-5}
    steps = _steps(dense, hashed, 0.53)
    assert steps[-1].predicted_s == pytest.approx(hashed["latency"] + issue_pace(hashed, 0.53))
    assert steps[-1].predicted_s > steps[0].predicted_s


def test_cli_kernel_index_json_and_speed(capsys):
    t0 = time.perf_counter()
    assert main(["kernel", "--kernel", "roast", "--shape", "4096x768x3072", "--memory", "262144", "--dtype",
                 "bf16", "--analytic", "--index", "table", "--align", "64", "--json"]) == 0
    assert time.perf_counter() - t0 < 1.0
    d = json.loads(capsys.readouterr().out)
    assert d["align"] == 64 and d["dominant"] in d["terms"] and d["predicted_time_s"] > 0


@pytest.mark.parametrize("argv, msg", [
    (["--kernel", "hashednet", "--index", "hash", "--align", "8"], "HashedNet has no tile starts"),
    (["--kernel", "roast", "--index", "nope"], "index='nope'"),
    (["--kernel", "roast", "--index", "table", "--target", "h100"], "no calibration"),
    (["--kernel", "roast", "--align", "x"], "align='x' must be an integer"),
])
def test_cli_kernel_bad_index_exits_2(argv, msg, capsys):
    base = ["kernel", "--shape", "512x512x512", "--memory", "4096", "--analytic"]
    assert main(base + argv) == 2
    assert msg in capsys.readouterr().err


def test_cli_explain_waterfall(capsys, tmp_path):
    argv = ["explain", "--shape", "4096x768x3072", "--memory", "262144", "--block", "128x128x64",
            "--num-stages", "4", "--waterfall", "--records", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "+ index arithmetic" in out and "hashednet (index hash)" in out
    assert "roast (index table, align 64)" in out
    assert main([*argv, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert [s["label"] for s in d["hashednet"]["steps"]][-1] == "+ DRAM"


def test_gather_rate_interpolates_the_microbenchmark():
    from cachesim.kernels.cost import gather_rate

    cal = get_target("h200").calibration
    assert gather_rate(cal, 131072) == pytest.approx(7.87721e11)
    assert gather_rate(cal, 1024) == pytest.approx(8.51536e11)  # clamped below the smallest array
    mid = gather_rate(cal, math.sqrt(131072 * 2097152))  # geometric midpoint: geometric mean of the rates
    assert mid == pytest.approx(math.sqrt(7.87721e11 * 1.69198e11))


@pytest.mark.parametrize("kernel, tile, msg", [
    ("hashednet", "32x64", "only ROAST has tiles"),
    ("roast", "32", "must look like BKxBN"),
    ("roast", (0, 64), "pair of positive integers"),
])
def test_bad_tiles(kernel, tile, msg):
    with pytest.raises(CacheSimError, match=msg):
        describe(kernel, "table" if kernel == "roast" else "hash", tile=tile)


def test_roast_hash_is_charged_per_tile_not_per_element():
    """Same tile, twice the BK per program: the table loop doubles, the in-loop hash's extra doubles (two
    tiles per iteration); with a tile as large as the program's B block the extra stays one tile's.

    Scaling applies only to a configuration no listing has: 3 stages (never timed, so not compiled
    offline); at 4 stages the offline listing's own count is used."""
    t = get_target("h200")
    d32 = describe("roast", "hash", 1, tile=(32, 64))
    one = estimate_issue(d32, GemmShape.parse("4096x768x3072"), Block.parse("128x64x32"), t, num_stages=4)
    two = estimate_issue(d32, GemmShape.parse("4096x768x3072"), Block.parse("128x64x64"), t, num_stages=3)
    listed = offline_loops().mixes.get(("roast-hash-a1-t32x64", "128x64x64-g8-w4-s4"))
    if listed is not None:
        four = estimate_issue(d32, GemmShape.parse("4096x768x3072"), Block.parse("128x64x64"), t,
                              num_stages=4)
        assert (four.instructions_per_iteration, four.mix_config) == (listed[0], "128x64x64-g8-w4-s4")
    n_hash, n_table = (LOOP_MIXES[(f"roast-{i}-a1-t32x64", "128x64x32-g8-w4-s4")][0]
                       for i in ("hash", "table"))
    assert one.instructions_per_iteration == pytest.approx(n_hash)
    assert two.instructions_per_iteration == pytest.approx(2 * n_table + 2 * (n_hash - n_table))
    big = estimate_issue(describe("roast", "hash", 1, tile=(64, 64)), GemmShape.parse("4096x768x3072"),
                         Block.parse("128x64x64"), t, num_stages=3)
    assert big.instructions_per_iteration == pytest.approx(2 * n_table + (n_hash - n_table))


def test_hashednet_hash_elsewhere_takes_the_mulshift_loop_and_the_microbenchmark():
    """A configuration no listing has (3 stages: never timed, so not compiled offline either)."""
    t = get_target("h200")
    e = estimate_issue(describe("hashednet", "hash"), GemmShape.parse("4096x768x3072"),
                       Block.parse("128x64x32"), t, num_stages=3)
    n_mul = LOOP_MIXES[("hashednet-mulshift", "128x128x64-g8-w4-s4")][0]
    assert e.instructions_per_iteration == pytest.approx(n_mul * (64 * 32) / (128 * 64))
    p = predict("hashednet", "4096x768x3072", "h200", dtype="bf16", block="128x64x32", num_stages=3,
                memory=262144, analytic=True, index="hash")
    n, stall = LOOP_MIXES[("hashednet-arith-only", "128x128x64-g8-w4-s4")][:2]
    w = p.issue.warps_per_scheduler  # 2 programs of 4 warps per SM: 2 per scheduler
    assert w == 2.0
    # 32 x 48 = 1536 programs on 132 SMs: the busiest runs 12, 12 x 132 / 1536 = 1.03125 the even share
    assert p.terms["index"] == pytest.approx(768 * 3072 * 32 / (2.21968e11 * CLOCK) * max(1.0, stall / n / w)
                                             * 1.03125)
