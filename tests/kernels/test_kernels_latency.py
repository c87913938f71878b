"""Exposed memory latency terms: the SASS load chain, the per-level latency rule, spills, the overlap."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from cachesim.kernels import get_target, predict
from cachesim.kernels.latency import load_latency
from cachesim.kernels.sass import load_profile

# A hand listing: an index load feeds the address of a 2-byte load whose value is stored to shared memory
# in the same iteration (chain 2); a cp.async copy and a register prefetch consumed only next iteration
# (neither exposed); one spill reload and one 8-byte spill store.
TOY = """##### toy 64x64x32-g8-w4-s3 regs=40 shared=1024
Function:fwd_kernel
--:-:-:-:1\tMOV R1, 0x0;
LBB0:
--:-:-:-:2\tLDG.E R4, desc[UR4][R2.64];
--:-:-:-:4\tIMAD.WIDE R6, R4, 0x2, R8;
--:-:-:-:2\tLDG.E.U16 R10, desc[UR4][R6.64];
--:-:-:-:2\tSTS.U16 [R12], R10;
--:-:-:-:2\tLDGSTS.E.BYPASS.128 [R13], desc[UR4][R14.64];
--:-:-:-:1\tLDG.E.CONSTANT R20, desc[UR4][R16.64];
--:-:-:-:2\tLDL R21, [R1+0x8];
--:-:-:-:2\tSTL.64 [R1+0x10], R22;
--:-:-:-:6\t@P0 BRA LBB0;
--:-:-:-:5\tEXIT;
"""


def test_load_profile_of_a_hand_listing():
    p = load_profile(TOY)
    assert p.load_chain == 2
    assert p.lsu_instructions == 7  # LDG, LDG.U16, STS, LDGSTS, LDG.CONSTANT, LDL, STL
    assert p.spill_bytes == 4 + 8
    # the same loop without the index load: the 2-byte load's address comes from registers only
    one = TOY.replace("--:-:-:-:2\tLDG.E R4, desc[UR4][R2.64];\n", "")
    assert load_profile(one).load_chain == 1
    # a value staged through shared memory keeps its depth: LDS after STS of a loaded index
    staged = TOY.replace("--:-:-:-:4\tIMAD.WIDE R6, R4, 0x2, R8;",
                         "--:-:-:-:2\tSTS [R30], R4;\n--:-:-:-:2\tLDS R5, [R30];\n"
                         "--:-:-:-:4\tIMAD.WIDE R6, R5, 0x2, R8;")
    assert load_profile(staged).load_chain == 2
    assert load_profile("--:-:-:-:1\tMOV R1, 0x0;\n") is None


class _Target:
    """Only what load_latency reads: latencies (calibration) and sector size."""

    sector_bytes = 32
    calibration = {"chase_cycles": {"L1": 30.0, "L2": 300.0, "DRAM": 1000.0}}
    sources: dict = {}


def _traffic(req, l1_miss, l2_miss, l2_requests, dram_bytes):
    op = SimpleNamespace(l1_sector_requests=req, l1_sector_misses=l1_miss, l2_sector_misses=l2_miss)
    return SimpleNamespace(operand=lambda name: op, l2_sector_requests=l2_requests, dram_bytes=dram_bytes)


def test_load_latency_by_hand():
    # B: 1000 sectors over 500 warp-iterations = 2 per warp-iteration, half hit L1, none miss L2:
    # lat_B = 30 + (1 - 0.5**2) * (300 - 30) = 232.5; one index level before it: + 300
    tr = _traffic(1000, 500, 0, 1000, 0.0)
    lat = load_latency(tr, _Target(), load_chain=2, local_loads=10, spill_bytes=100,
                       warp_iterations=500, threads_per_sm=1024, l1_bytes=51200)
    assert lat.sync_cycles == pytest.approx(232.5 + 300.0)
    assert lat.async_cycles == pytest.approx(300.0)  # no DRAM bytes: L2 latency
    # spill footprint 100 B x 1024 threads = 102400 B vs 51200 B of L1: half the reloads hit L1
    assert lat.spill_l1_hit == pytest.approx(0.5)
    assert lat.spill_cycles == pytest.approx(10 * (0.5 * 30 + 0.5 * 300))
    # the listing waits 4 times on its 10 reloads: 4 exposed latencies (never more waits than reloads)
    for waits, exposed in ((4, 4), (25, 10)):
        lat = load_latency(tr, _Target(), load_chain=2, local_loads=10, spill_bytes=100,
                           spill_waits=waits, warp_iterations=500, threads_per_sm=1024, l1_bytes=51200)
        assert lat.spill_cycles == pytest.approx(exposed * (0.5 * 30 + 0.5 * 300))
    # every sector misses L2 (DRAM share 1): the async latency is DRAM's; chain 0 exposes nothing
    tr = _traffic(1000, 1000, 1000, 1000, 32000.0)
    lat = load_latency(tr, _Target(), load_chain=0, local_loads=0, spill_bytes=0,
                       warp_iterations=500, threads_per_sm=1024, l1_bytes=10 ** 6)
    assert (lat.sync_cycles, lat.spill_cycles) == (0.0, 0.0)
    assert lat.async_cycles == pytest.approx(1000.0)


def test_issue_cycles_follow_the_overlap_rule():
    """cycles = max(W n, S + L, (S + L + lat_async) / num_stages), L = sync chain + spills."""
    kw = dict(dtype="bf16", block="128x64x32", num_warps=4, num_stages=4, memory=262144, analytic=True)
    for index, align in (("table", 1), ("hash", 1), ("table", 64)):
        p = predict("roast", "4096x768x3072", "h200", index=index, align=align, **kw)
        e = p.issue
        lat = e.latency
        L = lat.sync_cycles + lat.spill_cycles
        assert e.exposed_latency_cycles == pytest.approx(L)
        want = max(e.warps_per_scheduler * e.instructions_per_iteration, e.stall_cycles_per_iteration + L,
                   (e.stall_cycles_per_iteration + L + lat.async_cycles) / 4)
        assert e.cycles_per_iteration == pytest.approx(want)
        assert lat.load_chain == {"table": 2, "hash": 1}.get(index if align == 1 else "", 0)


MICRO2 = Path(__file__).resolve().parents[2] / "measurements" / "gpu" / "call14_micro2" / "gpu_micro2.json"


@pytest.mark.skipif(not MICRO2.exists(), reason="GPU record not present")
def test_calibration_is_recounted_from_the_micro2_record():
    cases = json.loads(MICRO2.read_text())["cases"]
    cal = get_target("h200").calibration
    chase = {c["memory_bytes"]: c["latency_ns"] for c in cases if c["type"] == "chase"}
    assert all(c["equal_numpy"] for c in cases if "equal_numpy" in c)
    assert cal["chase_cycles"]["L1"] == pytest.approx(chase[16384] * 1.98, rel=1e-3)
    assert cal["chase_cycles"]["L2"] == pytest.approx((chase[1 << 20] + chase[8 << 20]) / 2 * 1.98, rel=1e-3)
    assert cal["chase_cycles"]["DRAM"] == pytest.approx(chase[256 << 20] * cal["sm_clock_ghz"], rel=1e-3)
    level = {65536: "L1", 8 << 20: "L2", 256 << 20: "DRAM"}
    for c in cases:
        if c["type"] == "gather-mwp" and c["loads_per_thread"] == 8:
            got = dict(cal["gather_mwp_per_s"][level[c["memory_bytes"]]])[c["warps_per_sm"]]
            assert got == pytest.approx(c["elements_per_second"], rel=1e-3)
        if c["type"] == "tile-load" and c["dot"]:
            got = cal["tile_load_per_s"][c["align"]][(4 * c["programs_per_sm"], c["memory_bytes"])]
            assert got == pytest.approx(c["elements_per_second"], rel=1e-3)


@pytest.mark.skipif(not MICRO2.exists(), reason="GPU record not present")
def test_memory_warp_parallelism_bound_predicts_the_private_loads():
    """Little's law per SM: bytes in flight / latency. 8 warps x 8 coalesced 128-byte loads in flight per
    SM; footprints past L1 but inside L2 (256 KiB per SM) run at the L2 latency's bound, past L2 (2 MiB per
    SM) at DRAM's: within 15 %, from the chase latencies alone."""
    cases = json.loads(MICRO2.read_text())["cases"]
    chase = {c["memory_bytes"]: c["latency_ns"] for c in cases if c["type"] == "chase"}
    priv = {c["footprint_per_sm_bytes"]: c for c in cases if c["type"] == "private-load"}
    sms = next(c["sms"] for c in cases if c["type"] == "device")
    l2_ns, dram_ns = (chase[1 << 20] + chase[8 << 20]) / 2, chase[256 << 20]
    for footprint, lat_ns in ((256 << 10, l2_ns), (2048 << 10, dram_ns)):
        c = priv[footprint]
        in_flight = c["warps_per_sm"] * c["loads_per_thread"] * 128  # bytes per SM
        bound = sms * in_flight / (lat_ns * 1e-9)
        measured = c["thread_loads_per_second"] * 4
        assert measured == pytest.approx(bound, rel=0.15)


def test_lsu_term_is_the_tile_load_rate_at_the_kernels_occupancy():
    """ROAST align 1 at 128x64x32, 4 warps: 4 programs per SM (125 registers) = 16 warps per SM; a
    65536-element shared array = 131072 bytes, a measured point of call21_micro3's tile path (align 1,
    tile width 64): lsu = B elements / 1.437e12; align 64 at the same point: 3.165e12 (both measured at
    1980 MHz and converted to the model's loaded clock)."""
    p = predict("roast", "4096x768x3072", "h200", index="table", align=1, dtype="bf16", block="128x64x32",
                num_warps=4, num_stages=4, memory=65536, analytic=True)
    assert p.issue.programs_per_sm == 4
    elements = 768 * 3072 * (4096 // 128)
    cal = get_target("h200").calibration
    clock = cal["sm_clock_ghz"] / cal["micro_clock_ghz"]
    # x 1.03125: 1536 programs on 132 SMs, the busiest runs 12 (12 x 132 / 1536)
    assert p.terms["lsu"] == pytest.approx(elements / (1.437e12 * clock) * 1.03125, rel=1e-3)
    a64 = predict("roast", "4096x768x3072", "h200", index="table", align=64, dtype="bf16", block="128x64x32",
                  num_warps=4, num_stages=4, memory=65536, analytic=True)
    # line-aligned copies
    assert a64.terms["lsu"] == pytest.approx(elements / (3.165e12 * clock) * 1.03125, rel=1e-3)


def test_lsu_count_of_the_sass_matches_nsight_compute():
    """LSU-pipe warp instructions of roast-table-a1 at 128x64x64-w4 (4096x768x3072): the recorded loop
    (128x64x32, 16 B elements per thread) scaled to 32 elements per thread, x 4 warps x 12 iterations
    (K = 768) x 1536 programs (M/128 x N/64), vs smsp__inst_executed_pipe_lsu.sum = 6,721,536 (call8_focus,
    ncu_bert-ffn1.csv)."""
    from cachesim.kernels.issue import LOOP_LOADS

    lsu = LOOP_LOADS[("roast-table-a1-t32x64", "128x64x32-g8-w4-s4")][1]
    total = lsu * 2 * 4 * (768 // 64) * ((4096 // 128) * (3072 // 64))
    assert total == pytest.approx(6721536, rel=0.05)


def test_tile_excess_adds_the_unhidden_part_of_the_tile_path():
    """Align 1 at the measured point of the lsu test: the excess is the align-1 tile path minus the
    line-aligned one, both from the fixed-A rows (call21: 16 warps per SM, 128 KiB; the A-streamed align-1
    microbenchmark compiles to another B path: test_kernels_tile_micro_listings), added to the
    tensor-core / issue pace; align 64 has no tile excess. Both pay the start-table wait, nearly hidden at
    three programs per SM."""
    from cachesim.kernels.cost import issue_pace, overlap

    kw = dict(dtype="bf16", block="128x64x32", num_warps=4, num_stages=4, memory=65536, analytic=True)
    a1 = predict("roast", "4096x768x3072", "h200", index="table", align=1, **kw)
    a64 = predict("roast", "4096x768x3072", "h200", index="table", align=64, **kw)
    cal = get_target("h200").calibration
    clock = cal["sm_clock_ghz"] / cal["micro_clock_ghz"]
    elements = 768 * 3072 * (4096 // 128)
    want = (elements / (1.437e12 * clock) - elements / (3.165e12 * clock)) * 1.03125  # busiest SM: 12 of 1536
    # plus the start-table wait of call39's pair at three or more programs per SM (32 row blocks: the
    # 32-reader pair; a 128 KiB array: clamped at the 2 MiB rows), per k-step of 32 x 64 elements
    assert a1.issue.programs_per_sm >= 3
    wait = elements / (32 * 64) * (8192 / 2.524e12 - 8192 / 2.550e12) / clock * 1.03125
    assert a1.terms["lsu_excess"] == pytest.approx(want + wait, rel=1e-3)
    assert a64.terms["lsu_excess"] == pytest.approx(wait, rel=1e-3)
    t = a1.terms
    core = overlap(t["compute"], t["issue"], cal["overlap_fraction"]) + t["lsu_excess"]
    assert issue_pace(t, cal["overlap_fraction"]) == max(core, t["L1"], t["L2"], t["DRAM"], t["lsu"],
                                                         t["index"] + t["gather"])
    assert a1.predicted_time_s == pytest.approx(t["latency"] + issue_pace(t, cal["overlap_fraction"]))
