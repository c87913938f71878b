"""What the resident programs of a launch change in the issue-aware model: the carve-out that sizes the L1,
the L1 pipe's rate on scattered sectors, and the busiest SM of the last wave. Expected values by hand."""

import math

import pytest

from cachesim.kernels import predict
from cachesim.kernels.cost import busiest_sm_share
from cachesim.kernels.targets import get_target

KiB = 1024
_KW = dict(dtype="bf16", block="128x64x32", num_warps=4, num_stages=4, analytic=True, index="mulshift")


def test_carveout_holds_every_resident_program():
    t = get_target("h200")
    # one program: the smallest carve-out >= its shared memory (unchanged)
    assert t.l1_bytes_for(36 * KiB) == (256 - 64) * KiB
    # four programs of 36 KiB (+1 KiB reserved each) = 148 KiB -> the 164 KiB carve-out: 92 KiB of L1
    assert t.l1_bytes_for(36 * KiB, programs=4) == (256 - 164) * KiB
    # four of exactly 48 KiB (not above Triton's 48 KiB launch rule) = 196 KiB -> 60 KiB of L1
    assert t.l1_bytes_for(48 * KiB, programs=4) == (256 - 196) * KiB
    # above 48 KiB per program: Triton's launcher asks for the largest carve-out (call29): 28 KiB of L1
    assert t.l1_bytes_for(48 * KiB + 4, programs=1) == 28 * KiB
    # more than the pool holds: the largest carve-out
    assert t.l1_bytes_for(100 * KiB, programs=8) == 28 * KiB


def test_hashednet_l1_is_sized_by_its_compiled_occupancy():
    """The compiled 128x64x32 listings: mulshift 36 KiB / 127 registers, table 48 KiB / 128 registers; four
    programs of 4 warps per SM each (registers: 65536 // (128 x 128) = 4)."""
    mul = predict("hashednet", "4096x3072x768", "h200", memory=32768, **_KW)
    tab = predict("hashednet", "4096x3072x768", "h200", memory=32768, **{**_KW, "index": "table"})
    if mul.issue.mix_config != "128x64x32-g8-w4-s4":
        pytest.skip("the offline listings are not in this checkout")
    assert (mul.issue.programs_per_sm, tab.issue.programs_per_sm) == (4, 4)
    assert (mul.issue.l1_bytes, tab.issue.l1_bytes) == (92 * KiB, 60 * KiB)
    # a 64 KiB shared array fits the first L1 and not the second: the table kernel's gather misses more
    assert tab.traffic.l1_sector_misses > 2 * mul.traffic.l1_sector_misses


def test_scattered_sectors_use_the_gather_microbenchmarks_l1_ceiling():
    """L1 = coalesced wavefronts at one per clock per SM + scattered B sectors at the best L1-level rate of
    call14's gather microbenchmark (7.689e11 /s at 1980 MHz), times the busiest SM's share."""
    p = predict("hashednet", "4096x3072x768", "h200", memory=32768, **_KW)
    t = get_target("h200")
    cal = t.calibration
    clock = cal["sm_clock_ghz"] / cal["micro_clock_ghz"]
    a, b = p.traffic.operand("A"), p.traffic.operand("B")
    coalesced = max(float(a.instructions), a.l1_sector_requests / 4.0)
    want = coalesced / (132 * 1.0 * cal["sm_clock_ghz"] * 1e9) + b.l1_sector_requests / (7.689e11 * clock)
    programs = (4096 // 128) * (768 // 64)  # 384 on 132 SMs: the busiest runs 3
    assert p.terms["L1"] == pytest.approx(want * 3 * 132 / programs, rel=1e-9)


def test_busiest_sm_share_by_hand():
    assert busiest_sm_share(132, 132) == 1.0
    assert busiest_sm_share(133, 132) == pytest.approx(2 * 132 / 133)
    assert busiest_sm_share(1, 132) == 132.0
    assert busiest_sm_share(0, 132) == 1.0
    for p in range(1, 600, 7):
        assert busiest_sm_share(p, 132) >= 1.0 and busiest_sm_share(p, 132) * p / 132 == pytest.approx(
            math.ceil(p / 132))


def test_compute_term_carries_the_tail_of_the_launch():
    """96 programs (256x128 blocks of 4096 x 768): one per busy SM, 36 SMs idle; the dense loop's rate was
    measured on 8192^3 (2048 programs: 16 on the busiest SM, 16 x 132 / 2048 = 1.03125)."""
    p = predict("dense", "4096x3072x768", "h200", dtype="bf16", block="256x128x64", num_warps=8, num_stages=3,
                analytic=True, cost_model="issue")
    cal = get_target("h200").calibration
    rate = cal["dense_tflops_by_config"]["256x128x64-g8-w8-s3"] * 1.03125 * 1e12
    assert p.terms["compute"] == pytest.approx(2 * 4096 * 3072 * 768 / rate * 132 / 96, rel=1e-9)
