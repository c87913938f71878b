"""The analytic traffic model against brute force, Monte Carlo, hand formulas and the simulation."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cachesim.kernels import gemm_sector_trace, plan_gemm, simulate_gemm_gpu
from cachesim.kernels.analytic import analytic_gemm, expected_distinct, expected_window_sectors
from roast_theory.hashes import make_family


@settings(max_examples=60, deadline=None)
@given(width=st.integers(1, 600), align_pow=st.integers(0, 5))
def test_window_sectors_brute_force(width, align_pow):
    align = 1 << align_pow
    counts = [len({(o + b) // 32 for b in range(width)}) for o in range(0, 32, align)]
    assert expected_window_sectors(width, align) == pytest.approx(sum(counts) / len(counts))


@pytest.mark.parametrize("width,align", [(128, 4), (64, 2), (256, 4), (512, 16)])
def test_window_sectors_closed_form(width, align):
    # W a multiple of S: W/S sectors when aligned, one more otherwise: W/S + 1 - a/S
    assert expected_window_sectors(width, align) == pytest.approx(width / 32 + 1 - align / 32)


def test_expected_distinct_monte_carlo():
    rng = np.random.default_rng(7)
    n_bins, n_draws, trials = 50, 32, 20000
    draws = rng.integers(0, n_bins, (trials, n_draws))
    distinct = np.array([len(set(r)) for r in draws.tolist()])
    z = (distinct.mean() - expected_distinct(n_draws, n_bins)) / (distinct.std(ddof=1) / math.sqrt(trials))
    assert abs(z) < 5


@pytest.mark.parametrize("shape,dtype", [("256x512x512", "fp32"), ("512x256x1024", "fp16"),
                                         ("128x1024x256", "bf16")])
@pytest.mark.parametrize("backward", [False, True])
def test_dense_exact_in_one_wave(shape, dtype, backward):
    kw = dict(kernel="dense", shape=shape, block="64x64x32", dtype=dtype, backward=backward)
    a, s = analytic_gemm(**kw), simulate_gemm_gpu(**kw)
    assert a.load_instructions == s.load_instructions
    assert a.l1_sector_requests == s.l1_sector_requests
    assert a.l1_sector_misses == s.l1_sector_misses
    assert a.l2_sector_misses == s.l2_sector_misses
    assert a.write_sector_requests == s.write_sector_requests
    assert a.dram_bytes == s.dram_bytes


def test_roast_requests_hand_count_and_expectation():
    """ROAST B sectors: a hand count from the kernel's own starts, and the expectation 4 + 7/8 (fp32)."""
    shape, block, mem, seed = "512x1024x1024", "64x64x32", 1 << 18, 3
    sim = simulate_gemm_gpu(kernel="roast", shape=shape, block=block, memory=mem, family="rz-stable",
                            seed=seed)
    kb, nb = np.meshgrid(np.arange(1024 // 32), np.arange(1024 // 64), indexing="ij")
    starts = make_family("rz-stable", seed).tile_starts(kb, nb, mem - 32 * 64)
    # per tile: 32*64 floats / 32 lanes = 64 instructions of 128 contiguous bytes: 4 sectors when the start
    # is a multiple of 8 floats, else 5; each tile is loaded by the 512/64 = 8 row programs
    per_tile = 64 * np.where(starts % 8 == 0, 4, 5)
    assert sim.operand("B").l1_sector_requests == 8 * int(per_tile.sum())
    # expectation with starts uniform mod 8: 64 * (4 + 7/8) per tile; z from the Bernoulli(7/8) variance
    n_tiles = starts.size
    ana = analytic_gemm(kernel="roast", shape=shape, block=block, memory=mem)
    expected = ana.operand("B").l1_sector_requests
    assert expected == pytest.approx(8 * n_tiles * 64 * (4 + 7 / 8))
    sd = 8 * 64 * math.sqrt(n_tiles * (7 / 8) * (1 / 8))
    assert abs(sim.operand("B").l1_sector_requests - expected) / sd < 5


def test_hashednet_requests_vs_expected_distinct():
    # M = BLOCK_M: each B tile is loaded once, so instructions are independent under ideal hashing
    mem = 4096  # 4096 floats = 512 sectors
    plan = plan_gemm("hashednet", "64x512x2048", block="64x64x32", memory=mem, family="ideal", seed=1)
    counts = np.concatenate([rows.requests_per_row()[rows.op == 1] for rows in gemm_sector_trace(plan, 132)])
    e = expected_distinct(32, 512)
    z = (counts.mean() - e) / (counts.std(ddof=1) / math.sqrt(counts.size))
    assert abs(z) < 5
    a = analytic_gemm(plan)
    assert a.operand("B").l1_sector_requests == pytest.approx(counts.size * e)


CASES = [("512x768x3072", 4096, "fp32"), ("512x768x3072", 1 << 16, "fp32"), ("512x768x3072", 1 << 20, "fp32"),
         ("256x1024x1024", 1 << 24, "fp32"),
         # bf16 arrays that fit in L1 but have more sectors than L1 has lines (the sectored-capacity regime)
         ("512x768x3072", 1 << 15, "bf16"), ("512x768x768", 73728, "bf16"), ("512x768x3072", 1 << 17, "bf16")]


@pytest.mark.slow
@pytest.mark.parametrize("shape,mem,dtype", CASES)
@pytest.mark.parametrize("kernel", ["roast", "hashednet"])
def test_approximate_terms_within_bound(shape, mem, dtype, kernel):
    """Stated bound: L1 misses, L2 misses and DRAM bytes within 20% of the simulation; requests within 1%."""
    kw = dict(kernel=kernel, shape=shape, block="128x64x32", memory=mem, family="ideal", dtype=dtype)
    a, s = analytic_gemm(**kw), simulate_gemm_gpu(**kw)
    assert a.l1_sector_requests == pytest.approx(s.l1_sector_requests, rel=0.01)
    assert a.l1_sector_misses == pytest.approx(s.l1_sector_misses, rel=0.20)
    assert a.l2_sector_misses == pytest.approx(s.l2_sector_misses, rel=0.20)
    assert a.dram_bytes == pytest.approx(s.dram_bytes, rel=0.20)


def test_authors_tiling_ratio_hashednet_over_roast():
    """BLOCK 128x64x32 fp32, large H: per program-step A = 128*32*4/32 = 512 sectors; ROAST B = 64
    instructions x 4.875 = 312; HashedNet B ~ 64 x 32 = 2048 -> ratio ~ 2560 / 824 = 3.107."""
    kw = dict(shape="128x768x3072", block="128x64x32", memory=1 << 22, family="ideal")
    hn, ro = simulate_gemm_gpu(kernel="hashednet", **kw), simulate_gemm_gpu(kernel="roast", **kw)
    assert hn.ratio(ro) == pytest.approx(2560 / 824, rel=0.01)
    ahn, aro = analytic_gemm(kernel="hashednet", **kw), analytic_gemm(kernel="roast", **kw)
    assert ahn.ratio(aro) == pytest.approx(hn.ratio(ro), rel=0.01)
