"""Device script: L2 ceiling, tile alignment, tensor-core / issue overlap and TMA tile microbenchmarks.

Run from the repository root on the GPU machine::

    PYTHONPATH=. python3 drivers/gpu_micro3.py --out $OUT --budget-s 110

and on the CPU, as a dry run of every kernel under Triton's interpreter::

    PYTHONPATH=.:/work/triton-site TRITON_INTERPRET=1 python3 drivers/gpu_micro3.py --out /tmp/m3 --smoke

Groups (each rewrites ``gpu_micro3.json`` when it ends, so a run cut off still returns data):

* ``l2``        a clean L2 bandwidth ceiling: every program streams its own disjoint, contiguous slice of an
  int32 array (no line is read by two programs, so no L1 reuse) with 16-byte vector loads that bypass L1
  (``cache_modifier=".cg"``), ``unroll`` independent loads per thread in flight; the slice is swept
  ``reps`` times per launch (launch cost amortised); arrays of about 8 and 24 MiB (L2-resident after the
  untimed warm-up launches) and 2 GiB (DRAM). Bytes/s, best and median of the timed launches; every case
  checks its sum against ``torch.sum`` (exact integers).
* ``l2_shared`` the ``l2`` stream with ``SHARE`` consecutive programs (different SMs) streaming the same
  slice at the same time (1 to 66), 8 and 24 MiB of unique data: what the L2 delivers when the programs of a
  GEMM wave read the same tile at the same k-step. Bytes/s counts every program's reads.
* ``tile_align`` the ROAST B-tile path by alignment: a ``BK x BN`` bf16 tile loaded from a runtime random
  start that is a multiple of ``align`` elements (1, 8, 64) and fed to ``tl.dot`` with a fixed A tile
  (``gpu_micro2``'s ``tile`` kernel), tiles 32x64 and 64x128, 1/2/4 programs of four warps per SM, arrays
  of 128 KiB, 2 MiB and 64 MiB. Align 8 starts straddle 128-byte lines (16-byte vectors, but about 1.3x
  the L2 sectors of align 64); align 64 starts on a line. B elements per second.
* ``overlap``   do tensor-core work and instruction issue overlap? A k-loop over ``tl.dot`` of 128x128x64
  bf16 blocks (A loaded once, B cycling through 8 blocks of a 128 KiB array) where every B element first
  goes through ``X`` extra dependent integer operations (``X / 2`` rounds of ``h = h * c + (h >> 16)``: a
  shift and a multiply-add, on ``h`` = element index + step * seed) whose top bit is XORed into the
  element's sign bit through a runtime mask, so the chain cannot be dropped (the index, the mask and the
  XOR, a few operations, are paid at every ``X``, so every variant takes the same register path from load
  to ``tl.dot``); ``X`` in 0, 4, 16, 64; the same loop with the dot replaced by an elementwise
  fp32 sum (``alu``); 1 and 2 programs per SM with 4 and 8 warps. Seconds per iteration per SM
  (launch time / (K * programs per SM)); the ``overlap-summary`` rows set ``dot`` (X = 0, with dot),
  ``alu`` (X, without dot) and ``both`` (X, with dot) side by side: ``both ~= max(dot, alu)`` means the
  tensor cores run under the issue, ``both ~= dot + alu`` means they run one after the other
  (``overlap_fraction = (dot + alu - both) / min(dot, alu)``: 1 overlapped, 0 serial).
* ``tma_tile``  the TMA B-tile path: a 64x128 box copied by a host tensor descriptor over the shared array
  viewed as ``(memory / BN + BK) x BN`` at a random row per k-step (a ROAST tile with ``align == BN``),
  fed to ``tl.dot``; the same kernel copying consecutive boxes of a dense ``(memory / 1024) x 1024``
  matrix (``dense``); and the pointer-load tile kernel at the same starts (``ptr``, ``align == BN``);
  1 and 2 programs per SM, arrays of 2 MiB and 64 MiB. B elements per second.

* ``tma_tile_bm64`` the ``tma_tile`` group with a 64-row A tile (the dot of a 64-row block): with 128 rows
  the box path runs at the dot's own rate (ROAST and dense alike), which halves with the A tile's rows.

* ``launch`` and ``dense_ceiling`` (:mod:`_micro3_ceilings`): ``do_bench`` of an empty kernel at 1 to 16
  waves of programs (the launch cost inside the fast records' timer), and the fused dense kernel of
  ``triton_fast`` at every configuration of ``CONFIGS`` on an 8192^3 bf16 product (a shape no timing record
  holds): the sustained tensor-core rate of each compiled configuration.
* ``tma_l2`` (:mod:`_micro3_ceilings`): TMA box copies from an L2-resident array added into an fp32 register
  tile (no tensor-core work): the L2 ceiling of the TMA load path.
* ``tma_table`` (:mod:`_micro3_ceilings`): the TMA ROAST box path with each row read from an int32 start
  table inside the k-loop vs the same rows computed by the in-loop hash: what the table read costs.
* ``tma_table_kernel`` (:mod:`_micro3_ceilings`): the ``tma_table`` group with the table laid out as the
  TMA kernels lay theirs out: entry ``(k-step, tile column)`` at ``k x columns + column``, each program
  reading column ``pid mod columns``, so consecutive k-steps of a program read different 32-byte sectors
  (the ``tma_table`` layout, ``pid x K + k``, puts 8 consecutive steps in one sector); 1, 2 and 3 programs
  per SM.
* ``tma_table_abox`` (:mod:`_micro3_ceilings`): the ``tma_table_kernel`` group with A's 128x64 box copied
  by TMA at every k-step as well (from an 8 MiB ``1024 x 4096`` A, program ``pid`` reading row block
  ``pid mod 8`` and column block ``k mod 64``), as the TMA kernels' loop does: the start's wait then holds
  both boxes of the step, not only B's; 1, 2 and 3 programs per SM.
* ``tma_table_abox256``: the ``tma_table_abox`` pair with 64x256 B boxes and 8 warps (the 128x256x64 TMA
  kernels' step: one start per 16384 B elements), one program per SM, 12 tile columns.
* ``tma_table_abox_bm64``: the ``tma_table_abox`` pair with a 64-row A box (64x64 A + 64x128 B: 24 KiB per
  k-step, the step of the 64x128x64 TMA kernels, between the 16 and 32 KiB steps measured before).
* ``tma_table_abox_w8``: the ``tma_table_abox`` pair at 8 warps per program (is the start's wait set by
  programs per SM, whatever their warps?), 1 and 2 programs per SM.
* ``tile_align_bm64``: the ``tile_align`` group with a 64-row A tile (``tl.dot`` of 64 x BN x BK): the
  line-aligned rows of ``tile_align`` run at the dot's rate of a 128-row A tile, so they cannot say what
  the B-tile path costs a 64-row program.
* ``tile_align_astream`` / ``tile_align_astream_bm64``: the ``tile_align`` / ``tile_align_bm64`` groups with
  A's tile loaded every k-step as well (pointer loads of an ``8 BM x 64 BK`` A, row block ``pid mod 8``,
  column block ``k mod 64``: 8 MiB at 128 rows), as the fused pointer kernels load it: the B copies then
  share the load path with A's, which the fixed-A groups leave idle.
* ``tile_gather``: ``gpu_micro2``'s HashedNet-like tile gather (64x128 B tile gathered element by element
  with a multiply-shift index, fed to a 128-row ``tl.dot``) with A held and with A's tile loaded every
  k-step, 64 KiB to 64 MiB arrays, 1-2 programs of 4 warps and one of 8 per SM: the gather in the
  kernels' loop, where its loads share the L1 / shared-memory pipeline with A's copies, the tile's shared
  stores and the MMA's operand reads.
* ``gather_table`` (:mod:`_micro3_gather`): the HashedNet tile gather in the fused kernels' loop with its
  index computed in registers vs read from an int32 index matrix of a layer's geometry (BERT FFN's 9.4 MB,
  the 10240^2 layer's 420 MB), the same gathered addresses: what the table kernel's dependent index load
  costs its gather.
* ``ptr_table`` (:mod:`_micro3_ptrtable`): the pointer ROAST loop (line-aligned 64x128 B tiles, A streamed)
  with each step's start read from the kernels' start-table layout vs computed, at 1-3 programs per SM and 2
  or 32 programs reading each entry: the start table's wait for the cp.async kernels (``ptr_table_s5``: the
  same at ``num_stages`` 5, where Triton gives the table loop three pipeline buffers instead of two;
  ``ptr_prefetch``: the start read a k-step ahead, as the fused ``table-pf`` kernels read it; ``_s3`` and
  ``_s2``: at 3 and 2 stages, where two and three programs of that loop are resident per SM).
* ``dense_resident`` and ``launch_floor`` (:mod:`_micro3_resident`): the dense loop's rate per configuration
  when the launch deals 1-3 programs to each SM, and whether a ``do_bench`` median holds host time (idle and
  loaded host; CUDA-graph replays beside).
* ``hash_overlap`` (:mod:`_micro3_hash`): the ``overlap`` loop with B's block chosen by the ROAST in-loop
  tile-start hash (64-bit ``hash`` and int32 ``hash32``, one or two starts per k-step): how far that
  scalar chain overlaps the tensor-core work.

Wall time on an H200 (estimate, not yet measured): about 30 kernel compilations (0.1-1.5 s each on the CPU
box for sm_90), 113 timed cases of 30-100 ms, CUDA start-up: 40-70 s in all. ``--budget-s`` stops
measuring at the deadline (checked before every case compiles); the groups not reached are recorded as
``skipped``.

Every kernel stores a value computed from all it loaded, and a small case of each kernel is checked
against numpy (``check`` rows), so an optimised-away kernel is caught. Rows of compiled kernels carry
``n_regs`` / ``n_spills`` / ``shared_bytes`` (occupancy and spills explain many rates).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
import traceback

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _micro3_ceilings as ceilings  # noqa: E402
import _micro3_gather as gather_micro  # noqa: E402
import _micro3_hash as hash_micro  # noqa: E402
import _micro3_ptrtable as ptrtable_micro  # noqa: E402
import _micro3_resident as resident_micro  # noqa: E402
import gpu_micro2 as micro2  # noqa: E402

from cachesim.measure.records import write_record  # noqa: E402

NOTES = ("L2 ceiling / tile alignment / tensor-core and issue overlap / TMA tile microbenchmarks for the "
         "issue-aware cost model")
SMUL = micro2.SMUL                  # odd multiplier of the random tile start (as in gpu_micro2)
HASH_MUL = 0x2C1B3C6D               # odd multiplier of the overlap chain (a literal inside the kernel)
SIGN = 0x8000                       # the bf16 / fp16 sign bit the chain's top bit is XORed into
BudgetSpent = micro2.BudgetSpent


def _kernels():
    import triton
    import triton.language as tl

    if os.environ.get("TRITON_INTERPRET") == "1":
        micro2._interpreter_compat()

    @triton.jit(do_not_specialize=["REPS"])      # REPS varies by case: one compile per (UNROLL, warps)
    def stream(x_ptr, out_ptr, SLICE, REPS, UNROLL: tl.constexpr, VEC: tl.constexpr,
               NTHREADS: tl.constexpr):
        pid = tl.program_id(0)
        STEP: tl.constexpr = UNROLL * VEC * NTHREADS
        base = pid.to(tl.int64) * SLICE
        offs = tl.arange(0, STEP)
        acc = tl.zeros((STEP,), dtype=tl.int32)
        for _ in range(0, REPS):
            for i in range(0, SLICE, STEP):
                acc += tl.load(x_ptr + base + i + offs, cache_modifier=".cg")
        tl.store(out_ptr + pid, tl.sum(acc.to(tl.int64)))

    @triton.jit
    def overlap(a_ptr, b_ptr, out_ptr, K, seed, hmask, X: tl.constexpr, DOT: tl.constexpr,
                NBMASK: tl.constexpr, BM: tl.constexpr, BK: tl.constexpr, BN: tl.constexpr):
        pid = tl.program_id(0)
        rm = tl.arange(0, BM)
        rk = tl.arange(0, BK)
        rn = tl.arange(0, BN)
        inner = rk[:, None] * BN + rn[None, :]
        a = tl.load(a_ptr + rm[:, None] * BK + rk[None, :])
        acc = tl.zeros((BM, BN), dtype=tl.float32)
        accb = tl.zeros((BK, BN), dtype=tl.float32)
        hm = hmask.to(tl.uint32)
        for k in range(0, K):
            b = tl.load(b_ptr + (k & NBMASK) * BK * BN + inner)
            h = (inner + (pid * K + k) * seed).to(tl.uint32)
            for _ in tl.static_range(X // 2):
                h = h * 0x2C1B3C6D + (h >> 16)
            flip = ((h >> 16) & hm).to(tl.uint16)
            b = (b.to(tl.uint16, bitcast=True) ^ flip).to(b.dtype, bitcast=True)
            if DOT:
                acc = tl.dot(a, b, acc)
            else:
                accb += b.to(tl.float32)
        if DOT:
            tl.store(out_ptr + pid * BM * BN + rm[:, None] * BN + rn[None, :], acc)
        else:
            tl.store(out_ptr + pid * BM * BN + inner, accb)

    @triton.jit
    def tma_tile(a_ptr, b_desc, rows_ptr, out_ptr, K, smul, HMASK, NCB, ROAST: tl.constexpr,
                 TABLE: tl.constexpr, BM: tl.constexpr, BK: tl.constexpr, BN: tl.constexpr,
                 TCOLS: tl.constexpr = 0, ABOX: tl.constexpr = 0):
        pid = tl.program_id(0)
        rm = tl.arange(0, BM)
        rk = tl.arange(0, BK)
        rn = tl.arange(0, BN)
        if ABOX == 0:
            a = tl.load(a_ptr + rm[:, None] * BK + rk[None, :])
        acc = tl.zeros((BM, BN), dtype=tl.float32)
        col = (pid % NCB) * BN
        for k in range(0, K):
            if ABOX > 0:  # the kernels' loop: A's box of this k-step by TMA too (a_ptr is a descriptor)
                a = a_ptr.load([(pid % 8) * BM, (k % ABOX) * BK])
            if TABLE and TCOLS > 0:  # the kernels' layout: entry (k-step, column), column pid mod TCOLS
                row = tl.load(rows_ptr + k * TCOLS + pid % TCOLS)
            elif TABLE:  # the row read from an int32 start table in the k-loop (tma_table group)
                row = tl.load(rows_ptr + pid * K + k)
            elif ROAST:
                row = (((pid * K + k) * smul) & HMASK) // BN
            else:
                row = (k * BK) & HMASK
            b = b_desc.load([row, col])
            acc = tl.dot(a, b, acc)
        tl.store(out_ptr + pid * BM * BN + rm[:, None] * BN + rn[None, :], acc)

    @triton.jit(do_not_specialize=["REPS", "SHARE"])
    def stream_shared(x_ptr, out_ptr, SLICE, REPS, SHARE, UNROLL: tl.constexpr, VEC: tl.constexpr,
                      NTHREADS: tl.constexpr):
        pid = tl.program_id(0)
        STEP: tl.constexpr = UNROLL * VEC * NTHREADS
        base = (pid // SHARE).to(tl.int64) * SLICE   # SHARE consecutive programs stream the same slice
        offs = tl.arange(0, STEP)
        acc = tl.zeros((STEP,), dtype=tl.int32)
        for _ in range(0, REPS):
            for i in range(0, SLICE, STEP):
                acc += tl.load(x_ptr + base + i + offs, cache_modifier=".cg")
        tl.store(out_ptr + pid, tl.sum(acc.to(tl.int64)))

    kern = micro2._kernels()[1]
    return triton, dict(stream=stream, tile=kern["tile"], overlap=overlap, tma_tile=tma_tile,
                        tile_gather=kern["tile_gather"], stream_shared=stream_shared)


SM90 = dict(regs=65536, shared=228 * 1024, warps=64)   # per-SM limits of sm_90 (H100 / H200)


def compiled_info(handle, num_warps: int, per_sm: int) -> dict:
    """Registers, spills and shared memory of a compiled kernel (empty under the interpreter), and
    ``resident_per_sm``: how many of the ``per_sm`` programs an SM can hold at once by those numbers
    (registers allocated per warp in units of 256, 1 KiB of shared memory reserved per program)."""
    out = {}
    for key in ("n_regs", "n_spills"):
        v = getattr(handle, key, None)
        if isinstance(v, int):
            out[key] = v
    shared = getattr(getattr(handle, "metadata", None), "shared", None)
    if isinstance(shared, int):
        out["shared_bytes"] = shared
    if "n_regs" in out and "shared_bytes" in out:
        warp_regs = -(-out["n_regs"] * 32 // 256) * 256
        out["resident_per_sm"] = min(per_sm, SM90["regs"] // max(1, warp_regs * num_warps),
                                     SM90["shared"] // (shared + 1024), SM90["warps"] // num_warps)
    return out


class Timer(micro2.Bench):
    """:class:`gpu_micro2.Bench` (no L2 flush, two warm-up launches, about 30 ms of timed launches) that
    keeps every timed launch: ``best(fn)`` returns ``(min, median)`` seconds."""

    def check(self) -> None:
        """Raise :class:`BudgetSpent` once the deadline has passed (called before a case compiles)."""
        if time.monotonic() > self.deadline:
            raise BudgetSpent

    def best(self, fn) -> tuple[float, float]:
        self.check()
        if self.device == "cpu":
            t = self(fn)
            return t, t
        cuda = self.torch.cuda
        est = self(fn)                               # warms up, and sizes the timed run
        n = int(min(50, max(5, 0.03 / max(est, 1e-6))))
        ev = [(cuda.Event(enable_timing=True), cuda.Event(enable_timing=True)) for _ in range(n)]
        for a, b in ev:
            a.record()
            fn()
            b.record()
        cuda.synchronize()
        ts = [a.elapsed_time(b) * 1e-3 for a, b in ev]
        return float(min(ts)), float(np.median(ts))


# ------------------------------------------------------------------------------------------------- l2

def stream_layout(target_bytes: int, programs: int, step: int) -> tuple[int, int]:
    """``(slice, total)`` int32 elements: each program's slice a positive multiple of ``step`` elements,
    ``total = programs * slice`` as close to ``target_bytes`` as that allows."""
    slice_ = max(step, int(round(target_bytes / 4 / programs / step)) * step)
    return slice_, slice_ * programs


def stream_case(ctx, x, programs, slice_, reps, unroll, nw) -> tuple[float, float, bool, dict]:
    torch, kern = ctx["torch"], ctx["kern"]
    ctx["timer"].check()
    out = torch.zeros(programs, dtype=torch.int64, device=ctx["device"])

    def launch():
        return kern["stream"][(programs,)](x, out, slice_, reps, UNROLL=unroll, VEC=4, NTHREADS=32 * nw,
                                           num_warps=nw)
    info = compiled_info(launch(), nw, programs // ctx["sms"])
    ok = int(out.sum()) == int(x[:programs * slice_].sum(dtype=torch.int64)) * reps
    t_min, t_med = ctx["timer"].best(launch)
    return t_min, t_med, ok, info


def stream_check(ctx) -> dict:
    torch, dev = ctx["torch"], ctx["device"]
    programs, unroll, nw, reps = 3, 2, 1, 2
    slice_ = 2 * unroll * 4 * 32 * nw
    x = torch.randint(0, 16, (programs * slice_,), dtype=torch.int32, device=dev)
    out = torch.zeros(programs, dtype=torch.int64, device=dev)
    ctx["kern"]["stream"][(programs,)](x, out, slice_, reps, UNROLL=unroll, VEC=4, NTHREADS=32 * nw,
                                       num_warps=nw)
    want = x.cpu().numpy().astype(np.int64).reshape(programs, slice_).sum(axis=1) * reps
    ok = bool(np.array_equal(out.cpu().numpy(), want))
    return {"type": "check", "name": "l2-stream", "equal_numpy": ok}


def shared_stream_launch(ctx, x, out, programs, slice_, reps, share, unroll, nw):
    return ctx["kern"]["stream_shared"][(programs,)](x, out, slice_, reps, share, UNROLL=unroll, VEC=4,
                                                     NTHREADS=32 * nw, num_warps=nw)


def shared_stream_check(ctx) -> dict:
    """Programs 0-1 and 2-3 sum the same slice (SHARE = 2), 4 its own: checked against numpy."""
    torch, dev = ctx["torch"], ctx["device"]
    programs, share, unroll, nw, reps = 5, 2, 2, 1, 2
    slice_ = 2 * unroll * 4 * 32 * nw
    x = torch.randint(0, 16, (3 * slice_,), dtype=torch.int32, device=dev)
    out = torch.zeros(programs, dtype=torch.int64, device=dev)
    shared_stream_launch(ctx, x, out, programs, slice_, reps, share, unroll, nw)
    per = x.cpu().numpy().astype(np.int64).reshape(3, slice_).sum(axis=1) * reps
    ok = bool(np.array_equal(out.cpu().numpy(), per[np.arange(programs) // share]))
    return {"type": "check", "name": "l2-shared-stream", "equal_numpy": ok}


def l2_shared_group(ctx, rows, unique_bytes, configs, shares, bytes_per_launch) -> None:
    """``l2-shared`` rows: the ``l2`` stream with ``SHARE`` consecutive programs (on different SMs: the
    block scheduler deals consecutive programs to different SMs) streaming the same slice at the same
    time, as the programs of a GEMM wave that share an A or B tile read it at the same k-step. Bytes/s
    counts every program's reads (what the SMs receive over the crossbar); the array holds
    ``unique_bytes`` (L2-resident after the warm-up launches) whatever ``SHARE`` is."""
    torch, dev, sms = ctx["torch"], ctx["device"], ctx["sms"]
    for target in unique_bytes:
        x = torch.randint(0, 16, (target // 4 + (1 << 16),), dtype=torch.int32, device=dev)
        for nw, per_sm, unroll in configs:
            programs = sms * per_sm
            step = unroll * 4 * 32 * nw
            for share in shares:
                groups = -(-programs // share)
                slice_ = max(step, int(round(target / 4 / groups / step)) * step)
                if groups * slice_ > x.numel():
                    continue
                reps = max(2, int(round(bytes_per_launch / (4 * slice_ * programs))))
                out = torch.zeros(programs, dtype=torch.int64, device=dev)
                ctx["timer"].check()
                fn = functools.partial(shared_stream_launch, ctx, x, out, programs, slice_, reps, share,
                                       unroll, nw)
                info = compiled_info(fn(), nw, per_sm)
                t_min, t_med = ctx["timer"].best(fn)
                nbytes = 4 * slice_ * programs * reps
                rows.append({"type": "l2-shared", "name": "stream-shared-int32-cg", "share": share,
                             "unique_bytes": 4 * slice_ * groups, "slice_bytes": 4 * slice_, "reps": reps,
                             "num_warps": nw, "programs_per_sm": per_sm, "programs": programs,
                             "loads_per_thread": unroll, "load_bytes": 16, "seconds_best": t_min,
                             "seconds_median": t_med, "bytes_per_second": nbytes / t_min,
                             "bytes_per_second_median": nbytes / t_med, **info})
                ctx["save"]()
        del x


def l2_group(ctx, rows, sizes, configs, bytes_per_launch) -> None:
    torch, dev, sms = ctx["torch"], ctx["device"], ctx["sms"]
    for target in sizes:
        biggest = max(stream_layout(target, sms * ps, u * 4 * 32 * nw)[1] for nw, ps, u in configs)
        x = torch.randint(0, 16, (biggest,), dtype=torch.int32, device=dev)
        for nw, per_sm, unroll in configs:
            programs = sms * per_sm
            slice_, total = stream_layout(target, programs, unroll * 4 * 32 * nw)
            reps = max(2, int(round(bytes_per_launch / (4 * total))))   # 1 would compile a variant
            t_min, t_med, ok, info = stream_case(ctx, x, programs, slice_, reps, unroll, nw)
            nbytes = 4 * total * reps
            rows.append({"type": "l2-stream", "name": "stream-int32-cg", "target_bytes": target,
                         "memory_bytes": 4 * total, "slice_bytes": 4 * slice_, "reps": reps, "num_warps": nw,
                         "programs_per_sm": per_sm, "warps_per_sm": nw * per_sm, "programs": programs,
                         "loads_per_thread": unroll, "load_bytes": 16,
                         "bytes_in_flight_per_sm": 16 * unroll * 32 * nw * per_sm,
                         "seconds_best": t_min, "seconds_median": t_med, "bytes_per_second": nbytes / t_min,
                         "bytes_per_second_median": nbytes / t_med, "sum_ok": ok, **info})
            ctx["save"]()
        del x


# ------------------------------------------------------------------------------------------ tile_align

def tile_reference(a, m, programs, K, align, hmask, bk, bn, astream=0) -> np.ndarray:
    """fp64 ``acc[p] = sum_k A_k @ B_k`` with ``B_k`` the ``bk x bn`` tile at the start
    ``((p K + k) SMUL mod 2^32) & hmask`` rounded down to a multiple of ``align`` (``gpu_micro2.tile``) and
    ``A_k`` the fixed A tile, or (``astream``) the tile at row block ``p mod 8``, column block ``k mod
    astream`` of an ``8 BM x astream bk`` A."""
    a = a.astype(np.float64)
    bm = a.shape[0] // 8 if astream else a.shape[0]
    out = np.zeros((programs, bm, bn))
    for p in range(programs):
        for k in range(K):
            st = ((((p * K + k) * SMUL) & 0xFFFFFFFF) & hmask) // align * align
            ak = ceilings.a_tile(a, p, k, bm, bk, astream)
            out[p] += ak @ m[st:st + bk * bn].astype(np.float64).reshape(bk, bn)
    return out


def tile_operands(ctx, bm, bk, bn, memory, astream=0):
    torch, dev, dt = ctx["torch"], ctx["device"], ctx["tile_dtype"]
    a = ceilings.a_matrix(ctx, bm, bk, astream)
    m = torch.randn(memory + bk * bn, device=dev).to(dt)
    return a, m


def tile_align_check(ctx, align, tile, stages, bm=128, astream=0) -> dict:
    """Same constexprs, warps and stages as the timed cases (no extra compile)."""
    torch, dev = ctx["torch"], ctx["device"]
    (bk, bn), lg, programs, K = tile, 12, 2, 16
    a, m = tile_operands(ctx, bm, bk, bn, 1 << lg, astream)
    out = torch.empty(programs * bm * bn, dtype=torch.float32, device=dev)
    ctx["kern"]["tile"][(programs,)](a, m, out, K, SMUL, (1 << lg) - 1, ALIGN=align, DOT=True, BM=bm, BK=bk,
                                     BN=bn, ASTREAM=astream, num_warps=4, num_stages=stages)
    want = tile_reference(a.float().cpu().numpy(), m.float().cpu().numpy(), programs, K, align, (1 << lg) - 1,
                          bk, bn, astream)
    ok = bool(np.allclose(out.cpu().numpy().reshape(want.shape), want, rtol=2e-2, atol=5e-2))
    name = f"tile-a{align}-{bk}x{bn}" + ("" if bm == 128 else f"-bm{bm}") + ("-astream" if astream else "")
    return {"type": "check", "name": name, "equal_numpy": ok}


def tile_case(ctx, a, m, per_sm, K, align, lg, tile, stages, bm=128, astream=0) -> tuple[float, dict]:
    torch, kern, dev = ctx["torch"], ctx["kern"], ctx["device"]
    (bk, bn), programs = tile, ctx["sms"] * per_sm
    ctx["timer"].check()
    out = torch.empty(programs * bm * bn, dtype=torch.float32, device=dev)

    def launch():
        return kern["tile"][(programs,)](a, m, out, K, SMUL, (1 << lg) - 1, ALIGN=align, DOT=True, BM=bm,
                                         BK=bk, BN=bn, ASTREAM=astream, num_warps=4, num_stages=stages)
    info = compiled_info(launch(), 4, per_sm)
    return ctx["timer"](launch), info


def tile_align_group(ctx, rows, log2_sizes, tiles, aligns, per_sm_list, elements_per_sm, bm=128,
                     astream=0) -> None:
    for lg in log2_sizes:
        for bk, bn, stages in tiles:
            a, m = tile_operands(ctx, bm, bk, bn, 1 << lg, astream)
            for align in aligns:
                for per_sm in per_sm_list:
                    K = max(4, elements_per_sm // (bk * bn * per_sm))
                    secs, info = tile_case(ctx, a, m, per_sm, K, align, lg, (bk, bn), stages, bm, astream)
                    programs = ctx["sms"] * per_sm
                    rows.append({"type": "tile-align", "name": f"tile-a{align}-dot", "align": align,
                                 "tile": [bk, bn], "dtype": str(ctx["tile_dtype"]), "memory": 1 << lg,
                                 "memory_bytes": 2 << lg, "block": f"{bm}x{bn}x{bk}", "num_warps": 4,
                                 "num_stages": stages, "programs_per_sm": per_sm, "K": K,
                                 "a_stream": bool(astream),
                                 "programs": programs, "seconds": secs,
                                 "elements_per_second": programs * K * bk * bn / secs,
                                 "ns_per_iteration": secs / K * 1e9, **info})
                    ctx["save"]()
            del a, m


# --------------------------------------------------------------------------------------- tile_gather

def gather_reference(a, m, programs, K, lg, astream, bm, bk, bn) -> np.ndarray:
    """fp64 ``acc[p] = sum_k A_k @ M[idx_k]`` of ``gpu_micro2``'s ``tile_gather``: ``idx = (row a + col b)
    mod 2^32 >> (32 - lg)`` for the step's rows and the program's columns; ``A_k`` as in
    :func:`tile_reference`."""
    a = a.astype(np.float64)
    out = np.zeros((programs, bm, bn))
    for p in range(programs):
        col = (p * bn + np.arange(bn)).astype(np.uint64)
        for k in range(K):
            row = (k * bk + np.arange(bk)).astype(np.uint64)
            idx = ((row[:, None] * micro2.MUL[0] + col[None, :] * micro2.MUL[1]) & 0xFFFFFFFF) >> (32 - lg)
            out[p] += ceilings.a_tile(a, p, k, bm, bk, astream) @ m[idx.astype(np.int64)].astype(np.float64)
    return out


def tile_gather_case(ctx, a, m, lg, programs, K, nw, astream, stages, check=False):
    torch, kern, dev = ctx["torch"], ctx["kern"], ctx["device"]
    bm, bk, bn = TILE_G["BM"], TILE_G["BK"], TILE_G["BN"]
    out = torch.empty(programs * bm * bn, dtype=torch.float32, device=dev)

    def launch():
        return kern["tile_gather"][(programs,)](a, m, out, K, micro2.MUL[0], micro2.MUL[1], SHIFT=32 - lg,
                                                ASTREAM=astream, num_warps=nw, num_stages=stages, **TILE_G)
    handle = launch()
    if check:
        want = gather_reference(a.float().cpu().numpy(), m.float().cpu().numpy(), programs, K, lg, astream,
                                bm, bk, bn)
        return bool(np.allclose(out.cpu().numpy().reshape(want.shape), want, rtol=2e-2, atol=5e-2))
    return handle, launch


TILE_G = dict(BM=128, BK=64, BN=128)


def tile_gather_checks(ctx) -> list[dict]:
    torch, dev = ctx["torch"], ctx["device"]
    rows = []
    for astream in (0, 2):
        a = ceilings.a_matrix(ctx, TILE_G["BM"], TILE_G["BK"], astream)
        m = torch.randn(1 << 12, device=dev).to(ctx["tile_dtype"])
        ok = tile_gather_case(ctx, a, m, 12, 2, 4, 4, astream, 3, check=True)
        name = "tile-gather" + ("-astream" if astream else "")
        rows.append({"type": "check", "name": name, "equal_numpy": ok})
    return rows


def tile_gather_group(ctx, rows, log2_sizes, occupancy, astreams, elements_per_sm, stages=4) -> None:
    """``tile-gather`` rows: B elements/s of a HashedNet-like 64x128 B tile gathered element by element
    (``gpu_micro2``'s ``tile_gather``: multiply-shift index, scattered 2-byte loads) and fed to a 128-row
    ``tl.dot``, with A held (``astream`` 0) or A's tile loaded every k-step (64), by warps and programs per
    SM and array size."""
    torch, dev, sms = ctx["torch"], ctx["device"], ctx["sms"]
    bm, bk, bn = TILE_G["BM"], TILE_G["BK"], TILE_G["BN"]
    for astream in astreams:
        a = ceilings.a_matrix(ctx, bm, bk, astream)
        for lg in log2_sizes:
            m = torch.randn(1 << lg, device=dev).to(ctx["tile_dtype"])
            for nw, per_sm in occupancy:
                ctx["timer"].check()
                programs = sms * per_sm
                K = max(4, elements_per_sm // (bk * bn * per_sm))
                handle, launch = tile_gather_case(ctx, a, m, lg, programs, K, nw, astream, stages)
                info = compiled_info(handle, nw, per_sm)
                secs = ctx["timer"](launch)
                rows.append({"type": "tile-gather", "name": "tile-gather-dot", "a_stream": bool(astream),
                             "memory": 1 << lg, "memory_bytes": 2 << lg, "block": f"{bm}x{bn}x{bk}",
                             "num_warps": nw, "num_stages": stages, "programs_per_sm": per_sm,
                             "warps_per_sm": nw * per_sm, "K": K, "programs": programs, "seconds": secs,
                             "elements_per_second": programs * K * bk * bn / secs, **info})
                ctx["save"]()
            del m


# -------------------------------------------------------------------------------------------- overlap

OVL = dict(BM=128, BK=64, BN=128)
NB = 8                              # B blocks the overlap k-loop cycles through (128 KiB of bf16)


def overlap_reference(a, bs, programs, K, seed, hmask, x_ops, dot) -> np.ndarray:
    """fp64 reference of the ``overlap`` kernel; ``bs``: the ``NB`` B blocks as uint16 bit patterns,
    ``to_float`` turns bit patterns back into values (bf16 / fp16)."""
    bits, to_float = bs
    nb, bk, bn = bits.shape
    inner = np.arange(bk * bn, dtype=np.int64).reshape(bk, bn)
    out = []
    for p in range(programs):
        acc = np.zeros((a.shape[0], bn) if dot else (bk, bn))
        for k in range(K):
            h = (inner + (p * K + k) * seed) & 0xFFFFFFFF
            for _ in range(x_ops // 2):
                h = (h * HASH_MUL + (h >> 16)) & 0xFFFFFFFF
            b = to_float(bits[k % nb] ^ ((h >> 16) & hmask).astype(np.uint16))
            acc += a.astype(np.float64) @ b if dot else b
        out.append(acc)
    return np.stack(out)


def overlap_operands(ctx):
    torch, dev, dt = ctx["torch"], ctx["device"], ctx["tile_dtype"]
    a = torch.randn(OVL["BM"], OVL["BK"], device=dev).to(dt)
    b = torch.randn(NB, OVL["BK"], OVL["BN"], device=dev).to(dt)
    return a, b


def overlap_check(ctx, x_ops, dot) -> dict:
    torch, dev, kern = ctx["torch"], ctx["device"], ctx["kern"]
    programs, K, seed = 2, 16, 977
    a, b = overlap_operands(ctx)
    out = torch.empty(programs * OVL["BM"] * OVL["BN"], dtype=torch.float32, device=dev)
    kern["overlap"][(programs,)](a, b, out, K, seed, SIGN, X=x_ops, DOT=dot, NBMASK=NB - 1, **OVL,
                                 num_warps=4)
    dt = ctx["tile_dtype"]

    def to_float(u16):
        return torch.from_numpy(u16.astype(np.int16)).view(dt).float().numpy().astype(np.float64)
    bits = b.cpu().view(torch.int16).numpy().astype(np.uint16)
    want = overlap_reference(a.float().cpu().numpy(), (bits, to_float), programs, K, seed, SIGN, x_ops, dot)
    got = out.cpu().numpy().reshape(programs, -1)[:, :want[0].size].reshape(want.shape)
    ok = bool(np.allclose(got, want, rtol=2e-2, atol=5e-2))
    return {"type": "check", "name": f"overlap-x{x_ops}-{'dot' if dot else 'alu'}", "equal_numpy": ok}


def overlap_case(ctx, a, b, x_ops, dot, nw, per_sm, K) -> dict:
    torch, kern, dev = ctx["torch"], ctx["kern"], ctx["device"]
    programs = ctx["sms"] * per_sm
    ctx["timer"].check()
    out = torch.empty(programs * OVL["BM"] * OVL["BN"], dtype=torch.float32, device=dev)

    def launch():
        return kern["overlap"][(programs,)](a, b, out, K, 977, SIGN, X=x_ops, DOT=dot, NBMASK=NB - 1, **OVL,
                                            num_warps=nw)
    info = compiled_info(launch(), nw, per_sm)
    secs = ctx["timer"](launch)
    return {"type": "overlap", "name": f"overlap-x{x_ops}-{'dot' if dot else 'alu'}", "x_ops": x_ops,
            "dot": dot, "block": f"{OVL['BM']}x{OVL['BN']}x{OVL['BK']}", "dtype": str(ctx["tile_dtype"]),
            "num_warps": nw, "programs_per_sm": per_sm, "warps_per_sm": nw * per_sm, "K": K,
            "programs": programs, "seconds": secs, "ns_per_iteration": secs / K * 1e9,
            "seconds_per_iteration_per_sm": secs / (K * per_sm),
            "chain_ops_per_iteration_per_thread": x_ops * OVL["BK"] * OVL["BN"] // (32 * nw), **info}


def overlap_summary(rows, x_list, occupancy) -> list[dict]:
    """``dot`` (X = 0 with dot), ``alu`` (X without dot) and ``both`` (X with dot) per occupancy and X."""
    by = {(r["x_ops"], r["dot"], r["num_warps"], r["programs_per_sm"]): r["seconds_per_iteration_per_sm"]
          for r in rows if r.get("type") == "overlap"}
    out = []
    for nw, per_sm in occupancy:
        for x in x_list:
            dot, alu, both = (by.get(key) for key in ((0, True, nw, per_sm), (x, False, nw, per_sm),
                                                      (x, True, nw, per_sm)))
            if None in (dot, alu, both):
                continue
            out.append({"type": "overlap-summary", "name": f"overlap-x{x}", "x_ops": x, "num_warps": nw,
                        "programs_per_sm": per_sm, "dot_s": dot, "alu_s": alu, "both_s": both,
                        "both_over_max": both / max(dot, alu), "both_over_sum": both / (dot + alu),
                        "overlap_fraction": (dot + alu - both) / min(dot, alu)})
    return out


def overlap_group(ctx, rows, x_list, occupancy, K) -> None:
    a, b = overlap_operands(ctx)
    new: list[dict] = []
    for nw, per_sm in occupancy:
        for x in x_list:
            for dot in (True, False):
                new.append(overlap_case(ctx, a, b, x, dot, nw, per_sm, K))
                rows.append(new[-1])
                ctx["save"]()
    rows += overlap_summary(new, x_list, occupancy)


# ------------------------------------------------------------------------------------------- tma_tile

TMA_TILE = dict(BM=128, BK=64, BN=128)
DENSE_COL_BLOCKS = 8                # the dense matrix is (memory / (8 BN)) x (8 BN)


def tma_operands(ctx, memory, roast, tile, bm=TMA_TILE["BM"]):
    """``(a, m, desc, hmask)``: A tile, backing tensor, host TMA descriptor over the ROAST view
    ``(memory / BN + BK) x BN`` or the dense ``(memory / (8 BN)) x (8 BN)`` matrix, and the row mask."""
    from triton.tools.tensor_descriptor import TensorDescriptor

    bk, bn = tile
    a, m = tile_operands(ctx, bm, bk, bn, memory)
    if roast:
        desc = TensorDescriptor.from_tensor(m.view(memory // bn + bk, bn), [bk, bn])
        return a, m, desc, memory - 1
    cols = DENSE_COL_BLOCKS * bn
    rows = memory // cols
    if rows < bk or rows & (rows - 1):
        raise ValueError(f"memory={memory} must make memory / {cols} a power of two >= BK={bk}")
    desc = TensorDescriptor.from_tensor(m[:memory].view(memory // cols, cols), [bk, bn])
    return a, m, desc, memory // cols - 1


def tma_reference(a, m, programs, K, roast, hmask, tile, memory) -> np.ndarray:
    bk, bn = tile
    if roast:  # the same tiles as the pointer kernel at align == BN
        return tile_reference(a, m, programs, K, bn, hmask, bk, bn)
    cols = DENSE_COL_BLOCKS * bn
    mat = m[:memory].astype(np.float64).reshape(memory // cols, cols)
    out = np.zeros((programs, a.shape[0], bn))
    for p in range(programs):
        c0 = (p % DENSE_COL_BLOCKS) * bn
        for k in range(K):
            r0 = (k * bk) & hmask
            out[p] += a.astype(np.float64) @ mat[r0:r0 + bk, c0:c0 + bn]
    return out


def tma_launch(ctx, ops, out, programs, K, roast, tile, nw, stages=None, bm=TMA_TILE["BM"]):
    a, m, desc, hmask = ops
    bk, bn = tile
    kw = {} if stages is None else dict(num_stages=stages)
    ncb = 1 if roast else DENSE_COL_BLOCKS          # ROAST boxes always start at column 0
    return ctx["kern"]["tma_tile"][(programs,)](a, desc, out, out, K, SMUL, hmask, ncb, ROAST=roast,
                                                TABLE=False, BM=bm, BK=bk, BN=bn, num_warps=nw,
                                                **kw)


def tma_check(ctx, roast, tile, stages, bm=TMA_TILE["BM"]) -> dict:
    torch, dev = ctx["torch"], ctx["device"]
    memory, programs, K = 1 << 17, 3, 16
    ops = tma_operands(ctx, memory, roast, tile, bm)
    out = torch.empty(programs * bm * tile[1], dtype=torch.float32, device=dev)
    tma_launch(ctx, ops, out, programs, K, roast, tile, 4, stages, bm)
    want = tma_reference(ops[0].float().cpu().numpy(), ops[1].float().cpu().numpy(), programs, K, roast,
                         ops[3], tile, memory)
    ok = bool(np.allclose(out.cpu().numpy().reshape(want.shape), want, rtol=2e-2, atol=5e-2))
    return {"type": "check", "name": f"tma-{'roast' if roast else 'dense'}-{tile[0]}x{tile[1]}"
            + ("" if bm == TMA_TILE["BM"] else f"-bm{bm}"), "equal_numpy": ok}


def tma_row(ctx, path, lg, tile, per_sm, K, stages, secs, info, bm=TMA_TILE["BM"]) -> dict:
    bk, bn = tile
    programs = ctx["sms"] * per_sm
    return {"type": "tma-tile", "name": f"tile-{path}", "path": path, "tile": [bk, bn],
            "align": bn if path != "tma-dense" else None, "dtype": str(ctx["tile_dtype"]),
            "memory": 1 << lg, "memory_bytes": 2 << lg, "block": f"{bm}x{bn}x{bk}",
            "num_warps": 4, "num_stages": stages, "programs_per_sm": per_sm, "K": K, "programs": programs,
            "seconds": secs, "elements_per_second": programs * K * bk * bn / secs,
            "ns_per_iteration": secs / K * 1e9, **info}


def tma_group(ctx, rows, log2_sizes, tile, per_sm_list, elements_per_sm, stages, bm=TMA_TILE["BM"]) -> None:
    torch, dev = ctx["torch"], ctx["device"]
    bk, bn = tile
    for lg in log2_sizes:
        for path in ("tma-roast", "tma-dense", "ptr-roast"):
            ops = tma_operands(ctx, 1 << lg, path != "tma-dense", tile, bm)
            for per_sm in per_sm_list:
                K = max(4, elements_per_sm // (bk * bn * per_sm))
                programs = ctx["sms"] * per_sm
                out = torch.empty(programs * bm * bn, dtype=torch.float32, device=dev)
                if path == "ptr-roast":
                    secs, info = tile_case(ctx, ops[0], ops[1], per_sm, K, bn, lg, tile, stages, bm)
                else:
                    ctx["timer"].check()

                    def launch(ops=ops, out=out, programs=programs, K=K, roast=path == "tma-roast"):
                        return tma_launch(ctx, ops, out, programs, K, roast, tile, 4, stages, bm)
                    info = compiled_info(launch(), 4, per_sm)
                    secs = ctx["timer"](launch)
                rows.append(tma_row(ctx, path, lg, tile, per_sm, K, stages, secs, info, bm))
                ctx["save"]()
            del ops


# ----------------------------------------------------------------------------------------------- main

def plan(smoke: bool) -> dict:
    """Sizes of every group (``smoke``: tiny, for the CPU interpreter)."""
    if smoke:
        return dict(l2=dict(sizes=[1 << 14, 1 << 15], configs=[(1, 1, 2), (2, 1, 1)],
                            bytes_per_launch=1 << 16),
                    l2_shared=dict(unique_bytes=[1 << 14], configs=[(1, 1, 2)], shares=[1, 2],
                                   bytes_per_launch=1 << 16),
                    tile_align=dict(log2_sizes=[12], tiles=[(32, 64, 4), (64, 128, 3)], aligns=[1, 8, 64],
                                    per_sm_list=[1], elements_per_sm=2 * 64 * 128),
                    tile_align_bm64=dict(log2_sizes=[12], tiles=[(64, 128, 3)], aligns=[8, 64],
                                         per_sm_list=[1], elements_per_sm=2 * 64 * 128, bm=64),
                    tile_gather=dict(log2_sizes=[12], occupancy=[(4, 1)], astreams=(0, 2),
                                     elements_per_sm=4 * 64 * 128),
                    tile_align_astream=dict(log2_sizes=[12], tiles=[(64, 128, 3)], aligns=[8, 64],
                                            per_sm_list=[1], elements_per_sm=2 * 64 * 128, astream=2),
                    tile_align_astream_bm64=dict(log2_sizes=[12], tiles=[(32, 64, 4)], aligns=[1, 8],
                                                 per_sm_list=[1], elements_per_sm=2 * 64 * 128, bm=64,
                                                 astream=2),
                    overlap=dict(x_list=[0, 4], occupancy=[(4, 1)], K=2),
                    tma_tile=dict(log2_sizes=[16], tile=(64, 128), per_sm_list=[1],
                                  elements_per_sm=2 * 64 * 128, stages=3),
                    tma_tile_bm64=dict(log2_sizes=[16], tile=(64, 128), per_sm_list=[1],
                                       elements_per_sm=2 * 64 * 128, stages=3, bm=64),
                    launch=dict(programs=(1, 2)), dense_ceiling=dict(size=128, configs=_smoke_configs()),
                    tma_l2=dict(memory_bytes=(1 << 18,), per_sm_list=(1,), stages_list=(2,), k_steps=4),
                    tma_table=dict(log2_sizes=(16,), per_sm_list=(1,), elements_per_sm=2 * 64 * 128),
                    tma_table_kernel=dict(log2_sizes=(16,), per_sm_list=(1,), elements_per_sm=2 * 64 * 128,
                                          columns=3),
                    tma_table_abox=dict(log2_sizes=(16,), per_sm_list=(1,), elements_per_sm=2 * 64 * 128,
                                        columns=3, abox=2),
                    tma_table_abox256=dict(log2_sizes=(16,), per_sm_list=(1,), elements_per_sm=2 * 64 * 256,
                                           columns=3, abox=2, tile=(64, 256), num_warps=8),
                    tma_table_abox_bm64=dict(log2_sizes=(16,), per_sm_list=(1,), elements_per_sm=2 * 64 * 128,
                                             columns=3, abox=2, bm=64),
                    tma_table_abox_w8=dict(log2_sizes=(16,), per_sm_list=(1,), elements_per_sm=2 * 64 * 128,
                                           columns=3, abox=2, num_warps=8),
                    hash_overlap=dict(modes=(0, 2, 8), groups=(1, 2), occupancy=((4, 1),), K=2),
                    gather_table=dict(geometries=("bert",), log2_sizes=(12,), occupancy=((4, 1),),
                                      elements_per_sm=2 * 64 * 128),
                    ptr_table=dict(log2_sizes=(14,), per_sm_list=(1,), reuses=(1,),
                                   elements_per_sm=4 * 64 * 128),
                    ptr_table_s5=dict(log2_sizes=(14,), per_sm_list=(1,), reuses=(1,),
                                      elements_per_sm=4 * 64 * 128, stages=5),
                    ptr_prefetch=dict(log2_sizes=(14,), per_sm_list=(1,), reuses=(1,),
                                      elements_per_sm=4 * 64 * 128, mode=2),
                    ptr_prefetch_s3=dict(log2_sizes=(14,), per_sm_list=(1,), reuses=(1,),
                                         elements_per_sm=4 * 64 * 128, mode=2, stages=3),
                    ptr_prefetch_s2=dict(log2_sizes=(14,), per_sm_list=(1,), reuses=(1,),
                                         elements_per_sm=4 * 64 * 128, mode=2, stages=2),
                    dense_resident=dict(per_sm_list=(1,), K=64, configs=_smoke_configs()),
                    launch_floor=dict(shape=(64, 64, 64), configs=("64x64x32-g8-w4-s2",), load_procs=1))
    return dict(l2_shared=dict(unique_bytes=[8 << 20, 24 << 20], configs=[(4, 4, 8), (8, 2, 8)],
                               shares=[1, 2, 4, 8, 16, 32, 66], bytes_per_launch=1 << 30),
                l2=dict(sizes=[8 << 20, 24 << 20, 2 << 30],
                        configs=[(4, 4, 8), (8, 2, 8), (8, 4, 4), (8, 4, 8), (4, 8, 4)],
                        bytes_per_launch=1 << 30),
                tile_align=dict(log2_sizes=[16, 20, 25], tiles=[(32, 64, 4), (64, 128, 3)], aligns=[1, 8, 64],
                                per_sm_list=[1, 2, 4], elements_per_sm=1 << 23),
                tile_align_bm64=dict(log2_sizes=[16, 20, 25], tiles=[(32, 64, 4), (64, 128, 3)],
                                     aligns=[1, 8, 64], per_sm_list=[1, 2, 4], elements_per_sm=1 << 23,
                                     bm=64),
                tile_gather=dict(log2_sizes=[15, 18, 20, 25], occupancy=[(4, 1), (4, 2), (8, 1)],
                                 astreams=(0, 64), elements_per_sm=1 << 22),
                tile_align_astream=dict(log2_sizes=[16, 20, 25], tiles=[(32, 64, 4), (64, 128, 3)],
                                        aligns=[1, 8, 64], per_sm_list=[1, 2, 4], elements_per_sm=1 << 23,
                                        astream=64),
                tile_align_astream_bm64=dict(log2_sizes=[16, 20, 25], tiles=[(32, 64, 4), (64, 128, 3)],
                                             aligns=[1, 8, 64], per_sm_list=[1, 2, 4],
                                             elements_per_sm=1 << 23, bm=64, astream=64),
                overlap=dict(x_list=[0, 4, 16, 64], occupancy=[(4, 1), (4, 2), (8, 1), (8, 2)], K=256),
                tma_tile=dict(log2_sizes=[20, 25], tile=(64, 128), per_sm_list=[1, 2],
                              elements_per_sm=1 << 23, stages=3),
                tma_tile_bm64=dict(log2_sizes=[20, 25], tile=(64, 128), per_sm_list=[1, 2, 3],
                                   elements_per_sm=1 << 23, stages=3, bm=64),
                launch=dict(programs=(1, 132, 528, 2112)), dense_ceiling=dict(size=8192, configs=None),
                tma_l2=dict(memory_bytes=(8 << 20, 24 << 20)), tma_table=dict(),
                tma_table_kernel=dict(per_sm_list=(1, 2, 3), columns=24),
                tma_table_abox=dict(per_sm_list=(1, 2, 3), columns=24, abox=64),
                tma_table_abox256=dict(per_sm_list=(1,), columns=12, abox=64, tile=(64, 256), num_warps=8),
                tma_table_abox_w8=dict(per_sm_list=(1, 2), columns=24, abox=64, num_warps=8),
                tma_table_abox_bm64=dict(per_sm_list=(1, 2, 3), columns=24, abox=64, bm=64),
                hash_overlap=dict(modes=(0, 2, 8), groups=(1, 2), occupancy=((4, 1), (4, 2), (8, 1), (8, 2)),
                                  K=256),
                gather_table=dict(), ptr_table=dict(), ptr_table_s5=dict(stages=5),
                dense_resident=dict(), launch_floor=dict(), ptr_prefetch=dict(mode=2),
                ptr_prefetch_s3=dict(mode=2, stages=3), ptr_prefetch_s2=dict(mode=2, stages=2))


def _smoke_configs():
    from cachesim.measure.triton_fast import FastConfig

    return (FastConfig(64, 64, 32, 8, 4, 2),)


def _tile_checks(ctx, group) -> list[dict]:
    p = ctx["plan"][group]
    return [tile_align_check(ctx, al, (bk, bn), st, bm=p.get("bm", 128), astream=p.get("astream", 0))
            for bk, bn, st in p["tiles"] for al in p["aligns"]]


def _tma_checks(ctx, group="tma_tile") -> list[dict]:
    p = ctx["plan"][group]
    bm = p.get("bm", TMA_TILE["BM"])
    return [tma_check(ctx, roast, p["tile"], p["stages"], bm) for roast in (True, False)]


CHECKS = {
    "l2": lambda ctx: [stream_check(ctx)],
    "l2_shared": lambda ctx: [shared_stream_check(ctx)],
    "tile_align": lambda ctx: _tile_checks(ctx, "tile_align"),
    "overlap": lambda ctx: [overlap_check(ctx, x, d) for x in (0, 4) for d in (True, False)],
    "tma_tile": _tma_checks,
    "tma_tile_bm64": lambda ctx: _tma_checks(ctx, "tma_tile_bm64"),
    "launch": lambda ctx: [],          # each launch row checks its own output
    "dense_ceiling": lambda ctx: [],   # each configuration is checked against torch.matmul
    "tma_l2": lambda ctx: [],          # the first case of each size is checked against numpy
    "tma_table": lambda ctx: [],       # the table path's first case of each size is checked against numpy
    "tma_table_kernel": lambda ctx: [],  # likewise
    "tma_table_abox": lambda ctx: [],  # likewise
    "tma_table_abox256": lambda ctx: [],  # likewise
    "tma_table_abox_w8": lambda ctx: [],  # likewise
    "tma_table_abox_bm64": lambda ctx: [],  # likewise
    "tile_align_bm64": lambda ctx: _tile_checks(ctx, "tile_align_bm64"),
    "tile_gather": tile_gather_checks,
    "tile_align_astream": lambda ctx: _tile_checks(ctx, "tile_align_astream"),
    "tile_align_astream_bm64": lambda ctx: _tile_checks(ctx, "tile_align_astream_bm64"),
    "hash_overlap": hash_micro.checks,
    "gather_table": gather_micro.checks,
    "ptr_table": ptrtable_micro.checks,
    "ptr_table_s5": lambda ctx: [],  # the same kernels as ptr_table's checks, at 5 stages
    "ptr_prefetch": ptrtable_micro.checks,
    "ptr_prefetch_s3": lambda ctx: [],  # ptr_prefetch's checks: the same kernels at fewer stages
    "ptr_prefetch_s2": lambda ctx: [],  # likewise
    "dense_resident": lambda ctx: [],  # each configuration is checked against torch.matmul
    "launch_floor": lambda ctx: [],  # likewise
}
GROUPS = {"l2": l2_group, "l2_shared": l2_shared_group,
          "tile_align": tile_align_group, "overlap": overlap_group, "tma_tile": tma_group,
          "tma_tile_bm64": tma_group,
          "launch": ceilings.launch_group, "dense_ceiling": ceilings.dense_ceiling_group,
          "tma_l2": ceilings.tma_l2_group, "tma_table": ceilings.tma_table_group,
          "tma_table_kernel": ceilings.tma_table_group, "tma_table_abox": ceilings.tma_table_group,
          "tma_table_abox256": ceilings.tma_table_group, "tma_table_abox_w8": ceilings.tma_table_group,
          "tma_table_abox_bm64": ceilings.tma_table_group,
          "tile_align_bm64": tile_align_group, "tile_align_astream": tile_align_group,
          "tile_gather": tile_gather_group,
          "tile_align_astream_bm64": tile_align_group,
          "hash_overlap": hash_micro.hash_overlap_group,
          "gather_table": gather_micro.gather_table_group,
          "ptr_table": ptrtable_micro.ptr_table_group,
          "ptr_table_s5": ptrtable_micro.ptr_table_group,
          "ptr_prefetch": ptrtable_micro.ptr_table_group,
          "ptr_prefetch_s3": ptrtable_micro.ptr_table_group,
          "ptr_prefetch_s2": ptrtable_micro.ptr_table_group,
          "dense_resident": resident_micro.dense_resident_group,
          "launch_floor": resident_micro.launch_floor_group}


def run_groups(ctx, names, cases, budget_s, save) -> None:
    t0 = time.monotonic()
    for i, g in enumerate(names):
        if time.monotonic() - t0 > budget_s:
            cases += [{"type": "skipped", "name": n, "reason": "budget"} for n in names[i:]]
            break
        g0 = time.monotonic()
        try:
            cases += CHECKS[g](ctx)
            GROUPS[g](ctx, cases, **ctx["plan"][g])
        except BudgetSpent:
            cases.append({"type": "skipped", "name": g, "reason": "budget spent inside the group"})
        except Exception as exc:  # one device run: keep the other groups' numbers
            traceback.print_exc()
            cases.append({"type": "error", "name": g, "error": f"{type(exc).__name__}: {exc}"[:2000]})
        cases.append({"type": "group-time", "name": g, "seconds": time.monotonic() - g0})
        save()
        print(f"[{time.monotonic() - t0:.1f}s] {g} done", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--budget-s", type=float, default=110.0)
    ap.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    ap.add_argument("--smoke", action="store_true",
                    help="tiny sizes (a CPU dry run under TRITON_INTERPRET=1)")
    ap.add_argument("--groups", default=",".join(GROUPS))
    args = ap.parse_args(argv)
    names = [g.strip() for g in args.groups.split(",") if g.strip()]
    unknown = [g for g in names if g not in GROUPS]
    if unknown:
        print(f"unknown group(s) {unknown} (choose from {', '.join(GROUPS)})", file=sys.stderr)
        return 2
    import torch

    triton, kern = _kernels()
    dev = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    sms = torch.cuda.get_device_properties(0).multi_processor_count if dev == "cuda" else 2
    path = os.path.join(args.out, "gpu_micro3.json")
    command = [sys.executable, *sys.argv]
    cases: list[dict] = [{"type": "device", "device": dev, "sms": sms,
                          "name": torch.cuda.get_device_name(0) if dev == "cuda" else "cpu-interpreter"}]

    def save():
        write_record(path, "gpu-micro3", cases, notes=NOTES, command=command)
    # bf16 as in the fused kernels; fp16 (same 2-byte loads) under the CPU interpreter, whose bf16 tl.dot
    # returns garbage (Triton 3.6.0)
    ctx = dict(torch=torch, kern=kern, device=dev, sms=sms, plan=plan(args.smoke), save=save,
               timer=Timer(triton, torch, dev, time.monotonic() + args.budget_s),
               tile_dtype=torch.bfloat16 if dev == "cuda" else torch.float16)
    run_groups(ctx, names, cases, args.budget_s, save)
    save()
    bad = [c["name"] for c in cases
           if c.get("equal_numpy") is False or c.get("sum_ok") is False or c["type"] == "error"]
    return micro2.report(cases, bad, "CHECK FAILED or ERROR")


if __name__ == "__main__":
    sys.exit(main())
