"""The GPU replay: numba kernel vs a naive reference vs the cachesim engine, and model invariants."""

import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cachesim import Cache, LevelConfig
from cachesim.kernels import gemm_sector_trace, get_target, plan_gemm, simulate_gemm_gpu
from cachesim.kernels._replay_kernel import BYPASS0, ChainState, ReferenceChain


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_inst=st.integers(1, 4),
    l1_ways=st.sampled_from([1, 2, 4, 12]),
    l2_ways=st.sampled_from([1, 4, 16]),
    span_bits=st.integers(8, 17),
)
def test_kernel_matches_reference(seed, n_inst, l1_ways, l2_ways, span_bits):
    rng = np.random.default_rng(seed)
    levels = [(l1_ways * 128 * 3, l1_ways, 128, 32), (l2_ways * 128 * 16, l2_ways, 128, 32)]
    n = 3000
    addr = rng.integers(0, 1 << span_bits, n)
    inst = rng.integers(0, n_inst, n)
    op = rng.integers(0, 3, n)
    flags = rng.integers(0, 8, n)
    fast = ChainState(levels, n_inst, 3)
    fast.feed(addr[: n // 2], inst[: n // 2], op[: n // 2], flags[: n // 2])
    fast.feed(addr[n // 2:], inst[n // 2:], op[n // 2:], flags[n // 2:])
    ref = ReferenceChain(levels, n_inst, 3)
    for a, i, o, f in zip(addr.tolist(), inst.tolist(), op.tolist(), flags.tolist()):
        ref.access(a, i, o, f)
    assert fast.req.tolist() == ref.req.tolist()
    assert fast.miss.tolist() == ref.miss.tolist()
    assert fast.dram_read.tolist() == ref.dram_read.tolist()
    assert int(fast.dram_write[0]) == ref.dram_write
    assert fast.flush_dirty() == ref.flush_dirty()


def test_rows_entry_equals_flat_entry():
    plan = plan_gemm("hashednet", "128x64x128", block="32x64x32", memory=5000, family="ideal")
    a = ChainState([(12288, 12, 128, 32), (1 << 20, 16, 128, 32)], 4, 3)
    b = ChainState([(12288, 12, 128, 32), (1 << 20, 16, 128, 32)], 4, 3)
    for rows in gemm_sector_trace(plan, 4):
        a.feed_rows(rows.lanes, rows.sm, rows.op, rows.flags)
        b.feed(*rows.expand())
    assert a.req.tolist() == b.req.tolist() and a.miss.tolist() == b.miss.tolist()
    assert a.issued.sum() == a.req[0].sum() + (a.issued - a.req[0]).sum()


@pytest.mark.slow
def test_kernel_runs_without_jit():
    code = (
        "import numpy as np\n"
        "from cachesim.kernels._replay_kernel import ChainState\n"
        "rng = np.random.default_rng(3); a = rng.integers(0, 1 << 14, 500)\n"
        "c = ChainState([(1536, 4, 128, 32), (8192, 4, 128, 32)], 2, 1)\n"
        "c.feed(a, a % 2, np.zeros(500, np.int64), (a // 7) % 8)\n"
        "print(c.req.tolist(), c.miss.tolist(), c.dram_read.tolist(), int(c.dram_write[0]))\n"
    )
    outs = []
    for jit_off in ("1", "0"):
        env = dict(os.environ, NUMBA_DISABLE_JIT=jit_off)
        res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                             check=True)
        outs.append(res.stdout)
    assert outs[0] == outs[1]


@pytest.mark.parametrize("kernel", ["dense", "roast", "hashednet"])
def test_replay_agrees_with_engine(kernel):
    """Per-SM engine Caches + one shared engine L2 on the same sector stream give the same load counts."""
    n_sms, l1_bytes = 3, 12 * 128 * 8  # 8 sets x 12 ways (power-of-two sets, as the engine requires)
    target = replace(get_target("h200"), num_sms=n_sms, l2_bytes=64 * 128 * 16, l2_ways=16)
    plan = plan_gemm(kernel, "128x128x256", block="32x64x32", memory=20000, family="ideal",
                     load_path="ldgsts", num_stages=1)
    sim = simulate_gemm_gpu(plan, target=target, l1_bytes=l1_bytes)
    l1s = [Cache(LevelConfig("L1", l1_bytes, 128, 12, sector=32, write_policy="write-through"))
           for _ in range(n_sms)]
    l2 = Cache(LevelConfig("L2", 64 * 128 * 16, 128, 16, sector=32))
    l1_req = l1_miss = l2_miss = 0
    for rows in gemm_sector_trace(plan, n_sms):
        addr, sm, op, flags = rows.expand()
        load = op < 2
        through_l1 = load & ((flags & BYPASS0) == 0)
        to_l2 = ~through_l1
        for s in range(n_sms):
            sel = np.flatnonzero(through_l1 & (sm == s))
            if sel.size:
                hit = l1s[s].access(addr[sel])
                to_l2[sel[~hit]] = True
        l1_req += int(load.sum())
        l1_miss += int((load & to_l2).sum())
        idx = np.flatnonzero(to_l2)
        hit2 = l2.access(addr[idx], write=~load[idx])
        l2_miss += int((~hit2 & load[idx]).sum())
    assert sim.l1_sector_requests == l1_req
    assert sim.l1_sector_misses == l1_miss
    assert sim.l2_sector_misses == l2_miss


def test_invariants_and_ordering():
    common = dict(shape="256x256x512", block="64x64x32", memory=1 << 16, family="ideal")
    res = {k: simulate_gemm_gpu(kernel=k, **common) for k in ("dense", "roast", "hashednet")}
    for r in res.values():
        assert r.l2_sector_requests == r.l1_sector_misses <= r.l1_sector_requests
        assert r.l2_sector_misses <= r.l2_sector_requests
        assert r.operand("A").l1_sector_requests == res["dense"].operand("A").l1_sector_requests
    assert res["dense"].l1_sector_requests < res["roast"].l1_sector_requests
    assert res["roast"].l1_sector_requests < res["hashednet"].l1_sector_requests


@settings(max_examples=20, deadline=None)
@given(
    kernel=st.sampled_from(["dense", "roast", "hashednet"]),
    dtype=st.sampled_from(["fp32", "fp16", "bf16"]),
    bm=st.sampled_from([16, 32, 64]), bn=st.sampled_from([16, 32, 64]), bk=st.sampled_from([16, 32]),
    grid=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
    backward=st.booleans(), load_path=st.sampled_from(["ld", "ldgsts"]), seed=st.integers(0, 100),
)
def test_property_invariants(kernel, dtype, bm, bn, bk, grid, backward, load_path, seed):
    """Conservation and bounds hold for every configuration; B-operand sectors per ROAST instruction
    lie between ceil(W/32) and ceil(W/32) + 1 for a window of W bytes."""
    shape = f"{bm * grid[0]}x{bk * grid[1]}x{bn * grid[2]}"
    plan = plan_gemm(kernel, shape, block=f"{bm}x{bn}x{bk}", dtype=dtype, memory=bk * bn * 3 + 7,
                     family="ideal", seed=seed, backward=backward, load_path=load_path)
    r = simulate_gemm_gpu(plan, num_sms=4)
    assert r.l2_sector_requests == r.l1_sector_misses <= r.l1_sector_requests
    assert r.l2_sector_misses <= r.l2_sector_requests
    assert r.load_instructions <= r.l1_sector_requests
    assert r.dram_read_bytes <= 32 * (r.l2_sector_misses + r.write_sector_requests)
    if kernel == "roast" and not backward:
        b = r.operand("B")
        width = 32 * plan.loads[1].vec * plan.elem_bytes
        lo = -(-width // 32)
        assert lo * b.instructions <= b.l1_sector_requests <= (lo + 1) * b.instructions


@settings(max_examples=200, deadline=None)
@given(line=st.integers(0, (1 << 48) - 1), n_sets=st.integers(1, 1 << 20))
def test_set_index_equals_modulo(line, n_sets):
    from cachesim.kernels._replay_kernel import _set_of

    assert _set_of(line, n_sets) == line % n_sets
