"""L2 re-reads of strided operands by programs of the same wave (closed form vs the trace simulation).

A small target (16 SMs, 2 MiB L2) puts these shapes past L2 in a fraction of a second; the trace
simulation is the reference.
"""

import dataclasses

import pytest

from cachesim.kernels import simulate_gemm_gpu
from cachesim.kernels.analytic import analytic_gemm
from cachesim.kernels.targets import gpu_target

MIB = 1 << 20


@pytest.fixture(scope="module")
def small_l2():
    return dataclasses.replace(gpu_target("h200"), num_sms=16, l2_bytes=2 * MIB)


@pytest.mark.parametrize("shape", ["512x2048x2048", "256x2048x2048", "1024x1024x2048"])
@pytest.mark.parametrize("backward", [False, True])
def test_dense_dram_bytes_equal_the_simulation(small_l2, shape, backward):
    kw = dict(kernel="dense", shape=shape, dtype="bf16", backward=backward, target=small_l2)
    sim = simulate_gemm_gpu(**kw)
    assert analytic_gemm(**kw).dram_bytes == pytest.approx(sim.dram_bytes, rel=1e-6)


def test_dense_by_hand(small_l2):
    # 512x2048x2048 bf16, 128x64 blocks: 4 x 32 programs, 8 waves of 4 rows x 4 columns. The 4 programs
    # sharing a W column run in one wave (W read once, 8 MiB); each wave reads all of X (2 MiB) plus
    # 1 MiB of W > L2, so X is read again by every wave: 8 x 2 MiB; Y written once (2 MiB).
    a = analytic_gemm(kernel="dense", shape="512x2048x2048", dtype="bf16", block="128x64x32",
                      target=small_l2)
    assert a.dram_bytes == pytest.approx((8 * 2 + 8 + 2) * MIB, rel=1e-9)


@pytest.mark.parametrize("kernel", ["roast", "hashednet"])
@pytest.mark.parametrize("backward", [False, True])
def test_hashed_dram_bytes_near_the_simulation(small_l2, kernel, backward):
    kw = dict(kernel=kernel, shape="512x2048x2048", dtype="bf16", memory=1 << 16, backward=backward,
              target=small_l2)
    sim = simulate_gemm_gpu(**kw)
    assert analytic_gemm(**kw).dram_bytes == pytest.approx(sim.dram_bytes, rel=0.03)


@pytest.mark.parametrize("kernel", ["roast", "hashednet"])
def test_shared_array_l2_reuse_near_the_simulation(small_l2, kernel):
    """A 512 KiB shared array beside 2 MiB of streamed X on a 2 MiB L2: the characteristic-time rule keeps
    the array's re-reads in L2 as LRU does, within 5 % of the simulated DRAM bytes (the whole-footprint
    independent reference model sent 5.8x them for HashedNet, 1.13x for ROAST)."""
    kw = dict(kernel=kernel, shape="512x2048x2048", dtype="bf16", memory=1 << 18, target=small_l2)
    sim = simulate_gemm_gpu(**kw)
    assert analytic_gemm(**kw).dram_bytes == pytest.approx(sim.dram_bytes, rel=0.05)
