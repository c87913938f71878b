"""Device script: latency, memory-warp-parallelism and load-pipe microbenchmarks for the issue-aware model.

Run from the repository root on the GPU machine::

    PYTHONPATH=. python3 drivers/gpu_micro2.py --out $OUT --budget-s 220

and on the CPU, as a dry run of every kernel under Triton's interpreter::

    PYTHONPATH=.:/work/triton-site TRITON_INTERPRET=1 python3 drivers/gpu_micro2.py --out /tmp/m2 --smoke

Groups (each rewrites ``gpu_micro2.json`` when it ends, so a run cut off still returns data):

* ``chase``    dependent-load latency: one warp follows a random cyclic chain of int32 indices, one per
  128-byte line, over arrays sized for L1, L2 and DRAM; ``latency_ns = (t(2S) - t(S)) / S`` (two step
  counts cancel the launch). The start is drawn afresh for every launch so that a DRAM-sized chain does
  not replay the lines the previous launch left in L2.
* ``gather``   scattered 2-byte loads vs resident warps per SM (1 ... 32, via ``num_warps`` and programs
  per SM) and independent loads per thread per iteration ``E`` (1 or 8), for arrays in L1, L2 and DRAM:
  the memory-warp-parallelism curve (MWP-CWP, Hong & Kim, ISCA 2009: time per iteration is the latency
  divided by the requests in flight until the rate saturates).
* ``tile``     a ROAST-like B tile (BK x BN = 32 x 64 of bf16) loaded from a runtime start that is a
  multiple of ``align`` elements (1: 2-byte scalar loads; 8: 16-byte vectors), either fed to ``tl.dot``
  (stored to shared memory on the way, as in the fused kernels) or only summed in registers; B elements
  per second vs programs per SM: the LSU / shared-memory pipe rate of scalar vs vector loads.
* ``tile_gather`` a HashedNet-like B tile (64 x 128) gathered element by element (scattered 2-byte loads)
  and fed to ``tl.dot`` (stored to shared memory on the way), vs programs per SM and array size.
* ``private``  per-thread private coalesced fp32 loads (the layout of local memory, i.e. of spill
  reloads) cycling through ``slots`` words per thread, so that the per-SM footprint runs from well inside
  L1 to far outside it: the rate of reloads that hit L1 vs those that go to L2.

Every kernel stores a value computed from all it loaded, and a small case of each kernel is checked
against numpy (``check`` rows), so an optimised-away kernel is caught.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cachesim.measure.records import write_record  # noqa: E402

MUL = (0x1E3779B1, 0x05EBCA77)   # odd multipliers of the scattered index (as in gpu_micro.py)
LINE_INTS = 32                   # int32 words per 128-byte line
NOTES = "latency / memory-warp-parallelism / load-pipe microbenchmarks for the issue-aware cost model"


def _interpreter_compat() -> None:
    """Under ``TRITON_INTERPRET=1`` with NumPy >= 2.3, a runtime loop bound (a one-element array) cannot be
    converted by ``int()``; make the interpreter's ``tensor.__index__`` take the element instead."""
    from triton.runtime import interpreter

    orig = interpreter._patch_lang_tensor
    if getattr(orig, "_micro2", False):
        return

    def patched(tensor, scope):
        orig(tensor, scope)
        scope.set_attr(tensor, "__index__", lambda self: int(np.asarray(self.handle.data).reshape(-1)[0]))
    patched._micro2 = True
    interpreter._patch_lang_tensor = patched


def _kernels():
    import triton
    import triton.language as tl

    if os.environ.get("TRITON_INTERPRET") == "1":
        _interpreter_compat()

    @triton.jit
    def chase(chain_ptr, out_ptr, start, STEPS):
        p = start + 0
        for _ in range(STEPS):
            p = tl.load(chain_ptr + p)
        tl.store(out_ptr, p)

    @triton.jit
    def gather(m_ptr, out_ptr, K, a, b, SHIFT: tl.constexpr, BLOCK: tl.constexpr):
        pid = tl.program_id(0)
        n = (pid * BLOCK + tl.arange(0, BLOCK)).to(tl.uint32)
        au = a.to(tl.uint32)
        bu = b.to(tl.uint32)
        acc = tl.zeros((BLOCK,), dtype=tl.float32)
        for k in range(0, K):
            idx = ((pid * 0 + k).to(tl.uint32) * au + n * bu) >> SHIFT
            acc += tl.load(m_ptr + idx).to(tl.float32)
        tl.store(out_ptr + pid * BLOCK + tl.arange(0, BLOCK), acc)

    @triton.jit
    def tile(a_ptr, m_ptr, out_ptr, K, smul, HMASK, ALIGN: tl.constexpr, DOT: tl.constexpr,
             BM: tl.constexpr, BK: tl.constexpr, BN: tl.constexpr, ASTREAM: tl.constexpr = 0):
        pid = tl.program_id(0)
        rm = tl.arange(0, BM)
        rk = tl.arange(0, BK)
        rn = tl.arange(0, BN)
        if ASTREAM == 0:
            a = tl.load(a_ptr + rm[:, None] * BK + rk[None, :])
        acc = tl.zeros((BM, BN), dtype=tl.float32)
        accb = tl.zeros((BK, BN), dtype=tl.float32)
        for k in range(0, K):
            if ASTREAM > 0:  # A's tile of this k-step too, as the fused kernels load it (gpu_micro3)
                a = tl.load(a_ptr + ((pid % 8) * BM + rm)[:, None] * (ASTREAM * BK)
                            + ((k % ASTREAM) * BK + rk)[None, :])
            start = ((pid * K + k) * smul) & HMASK
            start = (start // ALIGN) * ALIGN
            if ALIGN > 1:
                start = tl.multiple_of(start, ALIGN)
            b = tl.load(m_ptr + start + rk[:, None] * BN + rn[None, :])
            if DOT:
                acc = tl.dot(a, b, acc)
            else:
                accb += b.to(tl.float32)
        if DOT:
            tl.store(out_ptr + pid * BM * BN + rm[:, None] * BN + rn[None, :], acc)
        else:
            tl.store(out_ptr + pid * BM * BN + rk[:, None] * BN + rn[None, :], accb)

    @triton.jit
    def tile_gather(a_ptr, m_ptr, out_ptr, K, a, b, SHIFT: tl.constexpr, BM: tl.constexpr, BK: tl.constexpr,
                    BN: tl.constexpr, ASTREAM: tl.constexpr = 0):
        pid = tl.program_id(0)
        rm = tl.arange(0, BM)
        rk = tl.arange(0, BK)
        rn = tl.arange(0, BN)
        au = a.to(tl.uint32)
        bu = b.to(tl.uint32)
        if ASTREAM == 0:
            at = tl.load(a_ptr + rm[:, None] * BK + rk[None, :])
        acc = tl.zeros((BM, BN), dtype=tl.float32)
        col = (pid * BN + rn).to(tl.uint32)
        for k in range(0, K):
            if ASTREAM > 0:  # A's tile of this k-step too, as the fused kernels load it (gpu_micro3)
                at = tl.load(a_ptr + ((pid % 8) * BM + rm)[:, None] * (ASTREAM * BK)
                             + ((k % ASTREAM) * BK + rk)[None, :])
            row = (k * BK + rk).to(tl.uint32)
            idx = (row[:, None] * au + col[None, :] * bu) >> SHIFT
            acc = tl.dot(at, tl.load(m_ptr + idx), acc)
        tl.store(out_ptr + pid * BM * BN + rm[:, None] * BN + rn[None, :], acc)

    @triton.jit
    def private(buf_ptr, out_ptr, K, SMASK, TOTAL, E: tl.constexpr, BLOCK: tl.constexpr):
        pid = tl.program_id(0)
        tid = pid * BLOCK + tl.arange(0, BLOCK)
        re = tl.arange(0, E)
        acc = tl.zeros((E, BLOCK), dtype=tl.float32)
        for k in range(0, K):
            s = (k * E + re) & SMASK
            acc += tl.load(buf_ptr + s[:, None] * TOTAL + tid[None, :])
        tl.store(out_ptr + tid, tl.sum(acc, axis=0))

    return triton, dict(chase=chase, gather=gather, tile=tile, tile_gather=tile_gather, private=private)


class BudgetSpent(Exception):
    """Raised by :class:`Bench` once the run's time budget is spent (the record so far is kept)."""


class Bench:
    """Times one launch: the median over launches bracketed by CUDA events after two warm-up launches
    (about 30 ms of launches, 3 to 50 of them). The L2 is NOT flushed between launches (unlike
    ``triton.testing.do_bench``): the arrays are the working set whose residency is measured. Under the
    CPU interpreter: one wall-clock call."""

    def __init__(self, triton, torch, device, deadline):
        self.triton, self.torch, self.device, self.deadline = triton, torch, device, deadline

    def __call__(self, fn) -> float:
        if time.monotonic() > self.deadline:
            raise BudgetSpent
        if self.device == "cpu":
            t0 = time.perf_counter()
            fn()
            return time.perf_counter() - t0
        cuda = self.torch.cuda
        fn()
        fn()
        cuda.synchronize()
        ev = [(cuda.Event(enable_timing=True), cuda.Event(enable_timing=True)) for _ in range(50)]
        ev[0][0].record()
        fn()
        ev[0][1].record()
        cuda.synchronize()
        est_ms = max(1e-3, ev[0][0].elapsed_time(ev[0][1]))
        n = int(min(50, max(3, 30.0 / est_ms)))
        for a, b in ev[:n]:
            a.record()
            fn()
            b.record()
        cuda.synchronize()
        return float(np.median([a.elapsed_time(b) for a, b in ev[:n]])) * 1e-3


# ---------------------------------------------------------------------------------------------- chase

def make_chain(n_lines: int, rng) -> np.ndarray:
    """A random single cycle over ``n_lines`` lines: ``chain[line*32] = next_line*32`` (int32 words)."""
    perm = rng.permutation(n_lines).astype(np.int64)
    chain = np.zeros(n_lines * LINE_INTS, dtype=np.int32)
    chain[perm * LINE_INTS] = (np.roll(perm, -1) * LINE_INTS).astype(np.int32)
    return chain


def follow(chain: np.ndarray, start: int, steps: int) -> int:
    p = start
    for _ in range(steps):
        p = int(chain[p])
    return p


def chase_group(ctx, rows, sizes, steps) -> None:
    torch, kern, dev, rng = ctx["torch"], ctx["kern"], ctx["device"], ctx["rng"]
    out = torch.zeros(1, dtype=torch.int32, device=dev)
    for nbytes in sizes:
        n_lines = max(2, nbytes // (4 * LINE_INTS))
        chain_np = make_chain(n_lines, rng)
        chain = torch.from_numpy(chain_np).to(dev)
        int(chain.sum())                                    # touch it once (L2-resident where it fits)
        kern["chase"][(1,)](chain, out, 0, steps, num_warps=1)
        ok = int(out.cpu()[0]) == follow(chain_np, 0, steps)

        def launch(s, chain=chain, n_lines=n_lines):
            start = int(rng.integers(n_lines)) * LINE_INTS
            kern["chase"][(1,)](chain, out, start, s, num_warps=1)
        t1 = ctx["bench"](lambda: launch(steps))
        t2 = ctx["bench"](lambda: launch(2 * steps))
        rows.append({"type": "chase", "name": "chase-int32", "memory_bytes": n_lines * 128, "lines": n_lines,
                     "steps": steps, "seconds_s": t1, "seconds_2s": t2,
                     "latency_ns": max(0.0, (t2 - t1) / steps * 1e9), "equal_numpy": ok})
        ctx["save"]()
        del chain


# --------------------------------------------------------------------------------------------- gather

def gather_reference(m: np.ndarray, programs, block, K, shift) -> np.ndarray:
    n = np.arange(programs * block, dtype=np.uint64)
    acc = np.zeros(programs * block, dtype=np.float64)
    for k in range(K):
        idx = ((k * MUL[0] + n * MUL[1]) & 0xFFFFFFFF) >> shift
        acc += m[idx.astype(np.int64)]
    return acc


def gather_check(ctx) -> dict:
    torch, kern, dev = ctx["torch"], ctx["kern"], ctx["device"]
    lg, programs, block, K = 12, 3, 64, 5
    m = torch.randn(1 << lg, dtype=torch.bfloat16, device=dev)
    out = torch.empty(programs * block, dtype=torch.float32, device=dev)
    kern["gather"][(programs,)](m, out, K, MUL[0], MUL[1], SHIFT=32 - lg, BLOCK=block, num_warps=2)
    want = gather_reference(m.float().cpu().numpy(), programs, block, K, 32 - lg)
    return {"type": "check", "name": "gather", "equal_numpy": bool(np.allclose(out.cpu().numpy(), want,
                                                                              rtol=1e-5, atol=1e-4))}


def gather_group(ctx, rows, log2_sizes, occupancy, loads_per_thread, elements_target) -> None:
    torch, kern, dev, sms = ctx["torch"], ctx["kern"], ctx["device"], ctx["sms"]
    for lg in log2_sizes:
        m = torch.randn(1 << lg, dtype=torch.bfloat16, device=dev)
        for nw, per_sm in occupancy:
            for e in loads_per_thread:
                block, programs = 32 * nw * e, sms * per_sm
                K = int(min(8192, max(32, elements_target // (block * per_sm))))
                out = torch.empty(programs * block, dtype=torch.float32, device=dev)
                secs = ctx["bench"](lambda m=m, out=out, block=block, programs=programs, K=K, nw=nw, lg=lg:
                                    kern["gather"][(programs,)](m, out, K, MUL[0], MUL[1], SHIFT=32 - lg,
                                                                BLOCK=block, num_warps=nw))
                loads = programs * block * K
                rows.append({"type": "gather-mwp", "name": "gather-bf16", "memory": 1 << lg,
                             "memory_bytes": 2 << lg, "num_warps": nw, "programs_per_sm": per_sm,
                             "warps_per_sm": nw * per_sm, "loads_per_thread": e, "K": K, "programs": programs,
                             "seconds": secs, "elements_per_second": loads / secs,
                             "ns_per_iteration": secs / K * 1e9})
                ctx["save"]()
        del m


# ----------------------------------------------------------------------------------------------- tile

TILE = dict(BM=128, BK=32, BN=64)
SMUL = 40503                     # odd multiplier of the tile start


def tile_check(ctx, align, dot) -> dict:
    torch, kern, dev = ctx["torch"], ctx["kern"], ctx["device"]
    bm, bk, bn = TILE["BM"], TILE["BK"], TILE["BN"]
    lg, programs, K = 12, 2, 3
    a = torch.randn(bm, bk, device=dev).to(ctx["tile_dtype"])
    m = torch.randn((1 << lg) + bk * bn, device=dev).to(ctx["tile_dtype"])
    out = torch.empty(programs * bm * bn, dtype=torch.float32, device=dev)
    kern["tile"][(programs,)](a, m, out, K, SMUL, (1 << lg) - 1, ALIGN=align, DOT=dot, **TILE, num_warps=4)
    a_np, m_np = a.float().cpu().numpy(), m.float().cpu().numpy()
    ok = True
    for p in range(programs):
        acc = np.zeros((bm, bn) if dot else (bk, bn))
        for k in range(K):
            st = (((p * K + k) * SMUL) & ((1 << lg) - 1)) // align * align
            b = m_np[st:st + bk * bn].reshape(bk, bn)
            acc += a_np @ b if dot else b
        got = out.cpu().numpy()[p * bm * bn:p * bm * bn + acc.size].reshape(acc.shape)
        ok = ok and bool(np.allclose(got, acc, rtol=2e-2, atol=5e-2))
    return {"type": "check", "name": f"tile-a{align}-{'dot' if dot else 'sum'}", "equal_numpy": ok}


TILE_G = dict(BM=128, BK=64, BN=128)


def tile_gather_check(ctx) -> dict:
    torch, kern, dev = ctx["torch"], ctx["kern"], ctx["device"]
    bm, bk, bn = TILE_G["BM"], TILE_G["BK"], TILE_G["BN"]
    lg, programs, K = 12, 2, 2
    a = torch.randn(bm, bk, device=dev).to(ctx["tile_dtype"])
    m = torch.randn(1 << lg, device=dev).to(ctx["tile_dtype"])
    out = torch.empty(programs * bm * bn, dtype=torch.float32, device=dev)
    kern["tile_gather"][(programs,)](a, m, out, K, MUL[0], MUL[1], SHIFT=32 - lg, **TILE_G, num_warps=4)
    a_np, m_np = a.float().cpu().numpy().astype(np.float64), m.float().cpu().numpy().astype(np.float64)
    ok = True
    for p in range(programs):
        col = (p * bn + np.arange(bn)).astype(np.uint64)
        acc = np.zeros((bm, bn))
        for k in range(K):
            row = (k * bk + np.arange(bk)).astype(np.uint64)
            idx = ((row[:, None] * MUL[0] + col[None, :] * MUL[1]) & 0xFFFFFFFF) >> (32 - lg)
            acc += a_np @ m_np[idx.astype(np.int64)]
        got = out.cpu().numpy()[p * bm * bn:(p + 1) * bm * bn].reshape(bm, bn)
        ok = ok and bool(np.allclose(got, acc, rtol=2e-2, atol=5e-2))
    return {"type": "check", "name": "tile-gather-dot", "equal_numpy": ok}


def tile_gather_group(ctx, rows, log2_sizes, per_sm_list, K) -> None:
    torch, kern, dev, sms = ctx["torch"], ctx["kern"], ctx["device"], ctx["sms"]
    bm, bk, bn = TILE_G["BM"], TILE_G["BK"], TILE_G["BN"]
    a = torch.randn(bm, bk, device=dev).to(ctx["tile_dtype"])
    for lg in log2_sizes:
        m = torch.randn(1 << lg, device=dev).to(ctx["tile_dtype"])
        for per_sm in per_sm_list:
            programs = sms * per_sm
            out = torch.empty(programs * bm * bn, dtype=torch.float32, device=dev)
            secs = ctx["bench"](lambda m=m, out=out, programs=programs, lg=lg:
                                kern["tile_gather"][(programs,)](a, m, out, K, MUL[0], MUL[1], SHIFT=32 - lg,
                                                                 **TILE_G, num_warps=4, num_stages=4))
            elements = programs * K * bk * bn
            rows.append({"type": "tile-gather", "name": "tile-gather-dot", "memory": 1 << lg,
                         "memory_bytes": 2 << lg, "block": f"{bm}x{bn}x{bk}", "num_warps": 4, "num_stages": 4,
                         "programs_per_sm": per_sm, "K": K, "programs": programs, "seconds": secs,
                         "elements_per_second": elements / secs, "ns_per_iteration": secs / K * 1e9})
            ctx["save"]()
        del m


def tile_group(ctx, rows, log2_sizes, per_sm_list, K) -> None:
    torch, kern, dev, sms = ctx["torch"], ctx["kern"], ctx["device"], ctx["sms"]
    bm, bk, bn = TILE["BM"], TILE["BK"], TILE["BN"]
    a = torch.randn(bm, bk, device=dev).to(ctx["tile_dtype"])
    for lg in log2_sizes:
        m = torch.randn((1 << lg) + bk * bn, device=dev).to(ctx["tile_dtype"])
        for align in (1, 8):
            for dot in (True, False):
                for per_sm in per_sm_list:
                    programs = sms * per_sm
                    out = torch.empty(programs * bm * bn, dtype=torch.float32, device=dev)
                    secs = ctx["bench"](lambda m=m, out=out, programs=programs, align=align, dot=dot, lg=lg:
                                        kern["tile"][(programs,)](a, m, out, K, SMUL, (1 << lg) - 1,
                                                                  ALIGN=align, DOT=dot, **TILE, num_warps=4,
                                                                  num_stages=4))
                    elements = programs * K * bk * bn
                    rows.append({"type": "tile-load", "name": f"tile-a{align}-{'dot' if dot else 'sum'}",
                                 "align": align, "dot": dot, "dtype": str(ctx["tile_dtype"]),
                                 "memory": 1 << lg, "memory_bytes": 2 << lg,
                                 "block": f"{bm}x{bn}x{bk}", "num_warps": 4, "num_stages": 4,
                                 "programs_per_sm": per_sm, "K": K, "programs": programs, "seconds": secs,
                                 "elements_per_second": elements / secs, "ns_per_iteration": secs / K * 1e9})
        del m


# -------------------------------------------------------------------------------------------- private

def private_check(ctx) -> dict:
    torch, kern, dev = ctx["torch"], ctx["kern"], ctx["device"]
    programs, block, slots, K, e = 2, 64, 8, 7, 4
    total = programs * block
    buf = torch.randn(slots * total, device=dev)
    out = torch.empty(total, dtype=torch.float32, device=dev)
    kern["private"][(programs,)](buf, out, K, slots - 1, total, E=e, BLOCK=block, num_warps=2)
    b = buf.cpu().numpy().reshape(slots, total)
    s = (np.arange(K)[:, None] * e + np.arange(e)[None, :]) % slots
    want = b[s.reshape(-1)].sum(axis=0)
    return {"type": "check", "name": "private", "equal_numpy": bool(np.allclose(out.cpu().numpy(), want,
                                                                               rtol=1e-4, atol=1e-3))}


def private_group(ctx, rows, footprints_kib, nw, per_sm, e, K) -> None:
    torch, kern, dev, sms = ctx["torch"], ctx["kern"], ctx["device"], ctx["sms"]
    block = 32 * nw
    programs = sms * per_sm
    total = programs * block
    for kib in footprints_kib:
        slots = 1 << max(e.bit_length() - 1, (kib * 1024 // (4 * block * per_sm)).bit_length() - 1)
        buf = torch.randn(slots * total, device=dev)
        out = torch.empty(total, dtype=torch.float32, device=dev)
        secs = ctx["bench"](lambda buf=buf, out=out, slots=slots:
                            kern["private"][(programs,)](buf, out, K, slots - 1, total, E=e, BLOCK=block,
                                                         num_warps=nw))
        loads = programs * block * K * e
        rows.append({"type": "private-load", "name": "private-fp32",
                     "footprint_per_sm_bytes": 4 * slots * block * per_sm, "slots": slots, "num_warps": nw,
                     "programs_per_sm": per_sm,
                     "warps_per_sm": nw * per_sm, "loads_per_thread": e, "K": K, "seconds": secs,
                     "thread_loads_per_second": loads / secs, "warp_loads_per_second": loads / 32 / secs})
        ctx["save"]()
        del buf


# ----------------------------------------------------------------------------------------------- main

def plan(smoke: bool) -> dict:
    """Sizes of every group (``smoke``: tiny, for the CPU interpreter)."""
    if smoke:
        return dict(chase=dict(sizes=[4096, 16384], steps=8),
                    gather=dict(log2_sizes=[10], occupancy=[(1, 1), (2, 1)], loads_per_thread=[1, 2],
                                elements_target=256),
                    tile=dict(log2_sizes=[12], per_sm_list=[1], K=2),
                    tile_gather=dict(log2_sizes=[12], per_sm_list=[1], K=2),
                    private=dict(footprints_kib=[1, 4], nw=1, per_sm=1, e=2, K=4))
    return dict(chase=dict(sizes=[16 << 10, 64 << 10, 1 << 20, 8 << 20, 24 << 20, 256 << 20], steps=4096),
                gather=dict(log2_sizes=[15, 22, 27],
                            occupancy=[(1, 1), (1, 2), (4, 1), (4, 2), (4, 4), (4, 8)],
                            loads_per_thread=[1, 8, 32], elements_target=1 << 22),
                tile=dict(log2_sizes=[16, 20], per_sm_list=[1, 2, 4], K=2048),
                tile_gather=dict(log2_sizes=[15, 18, 20], per_sm_list=[1, 2], K=256),
                private=dict(footprints_kib=[32, 64, 128, 256, 512, 2048], nw=4, per_sm=2, e=8, K=8192))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--budget-s", type=float, default=220.0)
    ap.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    ap.add_argument("--smoke", action="store_true",
                    help="tiny sizes (a CPU dry run under TRITON_INTERPRET=1)")
    ap.add_argument("--groups", default="chase,gather,tile,tile_gather,private")
    args = ap.parse_args(argv)
    import torch

    triton, kern = _kernels()
    dev = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    sms = torch.cuda.get_device_properties(0).multi_processor_count if dev == "cuda" else 2
    ctx = dict(torch=torch, kern=kern, device=dev, sms=sms, rng=np.random.default_rng(20261129),
               bench=Bench(triton, torch, dev, time.monotonic() + args.budget_s),
               # bf16 as in the fused kernels; fp16 (same 2-byte loads) under the CPU interpreter, whose
               # bf16 tl.dot returns garbage (Triton 3.6.0)
               save=lambda: write_record(path, "gpu-micro2", cases, notes=NOTES, command=command),
               tile_dtype=torch.bfloat16 if dev == "cuda" else torch.float16)
    t0 = time.monotonic()
    path = os.path.join(args.out, "gpu_micro2.json")
    command = [sys.executable, *sys.argv]
    sizes = plan(args.smoke)
    cases: list[dict] = [{"type": "device", "device": dev, "sms": sms,
                          "name": torch.cuda.get_device_name(0) if dev == "cuda" else "cpu-interpreter"}]
    checks = {"chase": lambda: [], "gather": lambda: [gather_check(ctx)],
              "tile": lambda: [tile_check(ctx, al, d) for al in (1, 8) for d in (True, False)],
              "tile_gather": lambda: [tile_gather_check(ctx)], "private": lambda: [private_check(ctx)]}
    groups = {"chase": chase_group, "gather": gather_group, "tile": tile_group,
              "tile_gather": tile_gather_group, "private": private_group}
    for g in [g.strip() for g in args.groups.split(",") if g.strip()]:
        if g not in groups:
            print(f"unknown group {g!r} (choose from {', '.join(groups)})", file=sys.stderr)
            return 2
        if time.monotonic() - t0 > args.budget_s:
            cases.append({"type": "skipped", "name": g, "reason": "budget"})
            break
        g0 = time.monotonic()
        cases += checks[g]()
        try:
            groups[g](ctx, cases, **sizes[g])
        except BudgetSpent:
            cases.append({"type": "skipped", "name": g, "reason": "budget spent inside the group"})
        cases.append({"type": "group-time", "name": g, "seconds": time.monotonic() - g0})
        write_record(path, "gpu-micro2", cases, notes=NOTES, command=command)
        print(f"[{time.monotonic() - t0:.1f}s] {g} done", flush=True)
    write_record(path, "gpu-micro2", cases, notes=NOTES, command=command)
    return report(cases, [c["name"] for c in cases if c.get("equal_numpy") is False])


def report(cases, bad, label: str = "CHECK FAILED") -> int:
    """Print every case (floats to 4 digits) and the names in ``bad``; the exit status (1 if any)."""
    for c in cases:
        print({k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in c.items()})
    if bad:
        print(f"{label}: {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
