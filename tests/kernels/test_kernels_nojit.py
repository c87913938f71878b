"""Small cases of the GPU replay kernel (``kernels/_replay_kernel.py``) against its independent reference.

Marked ``nojit``: CI also runs them with ``NUMBA_DISABLE_JIT=1`` so that the kernel's lines are measured
as plain Python; each case is a few thousand sector requests.
"""

from __future__ import annotations

import numpy as np
import pytest

from cachesim.kernels import gemm_sector_trace, plan_gemm, simulate_gemm_gpu
from cachesim.kernels._replay_kernel import BYPASS0, FULL, WRITE, ChainState, ReferenceChain, _set_of

pytestmark = pytest.mark.nojit


def _reference(levels, n_inst, n_ops, addr, inst, op, flags):
    ref = ReferenceChain(levels, n_inst, n_ops)
    for a, i, o, f in zip(addr.tolist(), inst.tolist(), op.tolist(), flags.tolist()):
        ref.access(a, i, o, f)
    return ref


def _same(fast, ref):
    assert fast.req.tolist() == ref.req.tolist()
    assert fast.miss.tolist() == ref.miss.tolist()
    assert fast.dram_read.tolist() == ref.dram_read.tolist()
    assert int(fast.dram_write[0]) == ref.dram_write
    assert fast.flush_dirty() == ref.flush_dirty()


@pytest.mark.parametrize("l1_sets,l2_sets", [(4, 16), (3, 12)])  # powers of two and not
def test_flat_entry_matches_reference(l1_sets, l2_sets):
    rng = np.random.default_rng(l1_sets)
    levels = [(2 * 128 * l1_sets, 2, 128, 32), (4 * 128 * l2_sets, 4, 128, 32)]
    n = 1500
    addr = rng.integers(0, 1 << 14, n)
    inst, op = rng.integers(0, 2, n), rng.integers(0, 3, n)
    flags = rng.choice([0, WRITE, BYPASS0, WRITE | BYPASS0, WRITE | BYPASS0 | FULL], n)
    fast = ChainState(levels, 2, 3)
    fast.feed(addr[:700], inst[:700], op[:700], flags[:700])
    fast.feed(addr[700:], inst[700:], op[700:], flags[700:])
    _same(fast, _reference(levels, 2, 3, addr, inst, op, flags))


def test_rows_entry_matches_reference():
    # warp rows of 32 lanes (repeated sectors in a row are one request); the same rows, expanded,
    # through the reference
    plan = plan_gemm("hashednet", "64x64x64", block="32x32x32", memory=3000, family="ideal")
    levels = [(12 * 128 * 4, 12, 128, 32), (16 * 128 * 64, 16, 128, 32)]
    fast = ChainState(levels, 2, 3)
    ref = ReferenceChain(levels, 2, 3)
    for rows in gemm_sector_trace(plan, 2):
        fast.feed_rows(rows.lanes, rows.sm, rows.op, rows.flags)
        for a, i, o, f in zip(*(x.tolist() for x in rows.expand())):
            ref.access(a, i, o, f)
    _same(fast, ref)
    assert fast.issued.sum() == fast.req[0].sum() + (fast.issued - fast.req[0]).sum()


def test_set_of_without_division():
    lines = np.array([0, 1, 11, 12, 13, 2**40 + 5, 2**51 - 1], dtype=np.int64)
    for n_sets in (1, 3, 12, 16, 1000):
        assert [int(_set_of(x, n_sets)) for x in lines] == [int(x) % n_sets for x in lines]


def test_simulated_gemm_by_hand():
    # dense 32x32x32 fp32 with one 32x32x32 block on 1 SM, plain loads: A and B are 32 rows of 128 B,
    # read by 8 instructions of 4 rows each (16 B per thread): 4 sectors per row -> 128 sectors each,
    # all first touches (misses at L1 and L2); the epilogue writes 128 whole sectors.
    r = simulate_gemm_gpu(kernel="dense", shape="32x32x32", block="32x32x32", load_path="ld", num_stages=1,
                          num_sms=1)
    assert (r.load_instructions, r.l1_sector_requests, r.l1_sector_misses) == (16, 256, 256)
    assert r.l2_sector_misses == 256 and r.write_sector_requests == 128
    assert r.dram_bytes == 32 * (256 + 128)
