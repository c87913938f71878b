"""GPU GEMM sector counts worked out by hand (independently of the code) for a 64x64x64 fp32 case.

Setup common to every test: M = K = N = 64, BLOCK 32x32x32, fp32 (4 B), GROUP_M = 1, one SM, one
pipeline stage. Programs (pid_m, pid_n) run in the order (0,0), (0,1), (1,0), (1,1); each runs two
k-steps. Every tile is 32 x 32 = 1024 elements = 4 KiB = 128 sectors of 32 B.

* Strided tiles (X rows of 64 floats = 256 B, 16-byte aligned): 4 floats per thread, 32 threads = 128
  floats = 4 rows of 32 floats per instruction; each row piece is 128 B starting at a multiple of 128 B,
  i.e. 4 sectors: 16 sectors per instruction, 8 instructions per tile.
* ROAST tile: 1024 contiguous floats at start s, one float per thread (only element alignment is
  provable), so 32 instructions each reading 32 consecutive floats = 128 B: 4 sectors when s is a
  multiple of 8 floats (32 B), else 5.
* Loads per kernel: 4 programs x 2 steps = 8 A tiles and 8 B tiles.
"""

import dataclasses

import numpy as np
import pytest

from cachesim.kernels import simulate_gemm_gpu
from cachesim.kernels.targets import gpu_target

# the H200 launched with the smallest carve-out that holds the kernel's 8 KiB of shared memory (not the
# 228 KiB Triton's launches get): an L1 of 248 KiB that holds this whole problem, as the counts assume
LARGE_L1 = dataclasses.replace(gpu_target("h200"), launch_carveout_bytes=0)
COMMON = dict(shape="64x64x64", block="32x32x32", dtype="fp32", group_m=1, num_stages=1, target=LARGE_L1,
              num_sms=1)


class TableStarts:
    """ROAST tile starts from a fixed 2x2 table: tiles (kb, nb) start at 0, 3 / 5, 7."""

    table = np.array([[0, 3], [5, 7]])

    def tile_starts(self, kb, nb, span):
        return self.table[kb, nb] % span


class StrideEightSlots:
    """HashedNet slots (8 n + k) mod m: with m = 256 the 32 consecutive n of one instruction fall in 32
    different sectors (stride 8 floats = 32 B)."""

    def element_slots(self, k, n, m):
        return (8 * n + k) % m


def test_dense_forward_ld():
    r = simulate_gemm_gpu(kernel="dense", load_path="ld", **COMMON)
    # 16 tiles x 8 instructions; 16 tiles x 128 sectors
    assert r.load_instructions == 128
    assert r.l1_sector_requests == 2048
    # a single large L1: each distinct sector misses once: X 64*64*4/32 = 512, W 512
    assert r.l1_sector_misses == 1024
    assert r.l2_sector_requests == 1024
    assert r.l2_sector_misses == 1024
    assert r.dram_read_bytes == 1024 * 32
    # Y: 4 tiles x 8 store instructions, 512 sectors, whole sectors written: no read, 512 written back
    assert r.write_instructions == 32
    assert r.write_sector_requests == 512
    assert r.dram_write_bytes == 512 * 32


def test_dense_forward_ldgsts_bypasses_l1():
    r = simulate_gemm_gpu(kernel="dense", load_path="ldgsts", **COMMON)
    # 16-byte cp.async.cg: every requested sector goes to L2; L2 misses only the 1024 distinct ones
    assert r.l1_sector_requests == 2048
    assert r.l1_sector_misses == 2048
    assert r.l2_sector_requests == 2048
    assert r.l2_sector_misses == 1024


def test_roast_forward_ld():
    r = simulate_gemm_gpu(kernel="roast", memory=1024 + 8, family=TableStarts(), load_path="ld", **COMMON)
    # A: 8 tiles x 8 instructions; B: 8 tiles x 32 instructions
    assert r.load_instructions == 8 * 8 + 8 * 32
    # B sectors per tile: s=0 -> 32*4 = 128; s=3,5,7 -> 32*5 = 160; each tile is read by pid_m = 0 and 1
    b_sectors = 2 * (128 + 160 + 160 + 160)
    assert r.operand("B").l1_sector_requests == b_sectors == 1216
    assert r.l1_sector_requests == 8 * 128 + 1216
    # distinct sectors: X 512; shared array elements [0, 7 + 1024) = bytes [0, 4124) -> 129 sectors
    # (the array starts 16 KiB in, a multiple of 32 B)
    assert r.operand("B").l1_sector_misses == 129
    assert r.l1_sector_misses == 512 + 129
    assert r.l2_sector_misses == 641


def test_roast_forward_ldgsts():
    r = simulate_gemm_gpu(kernel="roast", memory=1032, family=TableStarts(), load_path="ldgsts", **COMMON)
    # A is 16-byte cp.async.cg (bypass: 1024 misses); ROAST B is 4-byte cp.async.ca (cached: 129 misses)
    assert r.l1_sector_misses == 1024 + 129
    assert r.l2_sector_misses == 512 + 129


def test_hashednet_forward_one_sector_per_element():
    r = simulate_gemm_gpu(kernel="hashednet", memory=256, family=StrideEightSlots(), load_path="ld", **COMMON)
    # 8 B tiles x 32 instructions x 32 distinct sectors
    assert r.operand("B").l1_sector_requests == 8 * 32 * 32 == 8192
    assert r.load_instructions == 8 * 8 + 8 * 32
    # the 256-float array is 32 sectors, all touched
    assert r.operand("B").l1_sector_misses == 32
    assert r.l1_sector_misses == 512 + 32


def test_hashednet_over_roast_ratio_by_hand():
    hn = simulate_gemm_gpu(kernel="hashednet", memory=256, family=StrideEightSlots(), load_path="ld",
                           **COMMON)
    ro = simulate_gemm_gpu(kernel="roast", memory=1032, family=TableStarts(), load_path="ld", **COMMON)
    assert hn.ratio(ro) == pytest.approx((1024 + 8192) / (1024 + 1216))


def test_backward_weight_counts():
    # dW = X^T dY: programs over (pid_k, pid_n), 2 m-steps each; loads X (32x32) and dY (32x32)
    d = simulate_gemm_gpu(kernel="dense", backward=True, load_path="ld", **COMMON)
    assert d.l1_sector_requests == 4 * 2 * (128 + 128)
    assert d.l1_sector_misses == 512 + 512
    assert d.write_sector_requests == 512          # dense dW tile stores, whole sectors
    assert d.dram_write_bytes == 512 * 32
    r = simulate_gemm_gpu(kernel="roast", backward=True, memory=1032, family=TableStarts(), load_path="ld",
                          **COMMON)
    # element atomics into the 4 contiguous blocks: 128 + 160 + 160 + 160 sector requests
    assert r.write_sector_requests == 608
    assert r.write_instructions == 4 * 32
    # atomics read-modify-write: 129 sectors fetched, 129 dirty sectors written back at the end
    assert r.dram_read_bytes == (512 + 512 + 129) * 32
    assert r.dram_write_bytes == 129 * 32
    h = simulate_gemm_gpu(kernel="hashednet", backward=True, memory=256, family=StrideEightSlots(),
                          load_path="ld", **COMMON)
    assert h.write_sector_requests == 4 * 32 * 32
