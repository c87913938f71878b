"""The ``ptr_table`` group of ``drivers/gpu_micro3.py``: what reading the ROAST tile start from the start
table costs the pointer (cp.async) kernels' loop, by programs per SM and by how many programs read each entry.

The fused ROAST ``table`` kernels (``B_MODE`` 1 of :mod:`cachesim.measure._triton_fast_jit`) read, at every
k-step, the start of the step's B tile from an int32 table laid out entry ``(k-step, tile column)`` at ``k x
columns + column``, and copy the line-aligned tile from there (``cp.async``). The ``tma_table*`` groups
measured that wait for the TMA kernels; this one measures it for the pointer kernels, and adds what those
did not vary: how many programs read each table entry (a layer's row blocks, ``M / BM``: 2 at 256 rows of
128-row blocks, 32 at 4096), which decides whether the entry comes from L2 or from DRAM.

Kernel: ``gpu_micro2``'s ``tile`` loop (A's 128x64 tile loaded every k-step, a 64x128 bf16 B tile at a
line-aligned start, fed to ``tl.dot``) with the start of step ``k`` of program ``p`` either computed
(``TABLE`` 0: ``((k x columns + c) x SMUL mod 2^32) & mask``, rounded down to the tile width, ``c = p mod
columns``) or read from an int32 table holding exactly those values (``TABLE`` 1). ``columns = programs /
reuse``, so each entry is read by ``reuse`` programs. Rows (``ptr-table``): B elements/s of both at 1, 2 and
3 programs of 4 warps per SM, reuse 2 and 32, arrays of 2 MiB and 64 MiB; ``ptr_table_over_computed`` rows
give the time ratio. ``TABLE`` 2 (group ``ptr_prefetch``) is the fused ``table-pf`` kernels' source: the
start of step ``k + 1`` read during step ``k`` with a plain ``ld.global.nc`` (inline assembly, which Triton's
pipeliner leaves in place), rows ``prefetch`` and ``ptr_prefetch_over_computed``. A small case of each
source is checked against numpy.
"""

from __future__ import annotations

import functools

import numpy as np

TILE = dict(BM=128, BK=64, BN=128)
ASTREAM = 64
ALIGN = 128


def _kernel():
    import triton
    import triton.language as tl

    @triton.jit
    def ptr_table(a_ptr, m_ptr, t_ptr, out_ptr, K, smul, HMASK, COLS, TABLE: tl.constexpr,
                  ALIGN: tl.constexpr, BM: tl.constexpr, BK: tl.constexpr, BN: tl.constexpr,
                  ASTREAM: tl.constexpr, ASM: tl.constexpr = True):
        pid = tl.program_id(0)
        rm = tl.arange(0, BM)
        rk = tl.arange(0, BK)
        rn = tl.arange(0, BN)
        acc = tl.zeros((BM, BN), dtype=tl.float32)
        col = pid % COLS
        tp = t_ptr + col
        nxt = tl.load(tp)
        for k in range(0, K):
            a = tl.load(a_ptr + ((pid % 8) * BM + rm)[:, None] * (ASTREAM * BK)
                        + ((k % ASTREAM) * BK + rk)[None, :])
            if TABLE == 2:  # the fused kernels' table-pf: read a k-step ahead with a plain ld.global.nc
                rows = tl.multiple_of(rk * BN + nxt, ALIGN)  # as the fused kernel's _rows_from_starts
                ptr = tp + tl.minimum(k + 1, K - 1) * COLS
                if ASM:  # as cachesim.measure._triton_jit_common._ld_i32: left in place by the pipeliner
                    nxt = tl.inline_asm_elementwise("ld.global.nc.b32 $0, [$1];", "=r,l", [ptr],
                                                    dtype=tl.int32, is_pure=True, pack=1)
                else:
                    nxt = tl.load(ptr)
                b = tl.load(m_ptr + rows[:, None] + rn[None, :])
            else:
                if TABLE:
                    start = tl.load(t_ptr + k * COLS + col)
                else:
                    start = ((((k * COLS + col) * smul) & HMASK) // ALIGN) * ALIGN
                start = tl.multiple_of(start, ALIGN)
                b = tl.load(m_ptr + start + rk[:, None] * BN + rn[None, :])
            acc = tl.dot(a, b, acc)
        tl.store(out_ptr + pid * BM * BN + rm[:, None] * BN + rn[None, :], acc)

    return ptr_table


def _smul() -> int:
    from gpu_micro2 import SMUL  # the odd multiplier of gpu_micro2's tile starts

    return SMUL


def starts(K: int, cols: int, hmask: int) -> np.ndarray:
    """The ``K x cols`` int32 start table: ``((k cols + c) SMUL mod 2^32) & hmask`` rounded down to ALIGN."""
    ids = np.arange(K * cols, dtype=np.uint64)
    return ((((ids * _smul()) & 0xFFFFFFFF) & hmask) // ALIGN * ALIGN).astype(np.int32)


def reference(a, m, table, programs, K, cols) -> np.ndarray:
    bm, bk, bn = TILE["BM"], TILE["BK"], TILE["BN"]
    a = a.astype(np.float64)
    out = np.zeros((programs, bm, bn))
    for p in range(programs):
        for k in range(K):
            st = int(table[k * cols + p % cols])
            at = a[(p % 8) * bm:(p % 8 + 1) * bm, (k % ASTREAM) * bk:(k % ASTREAM + 1) * bk]
            out[p] += at @ m[st:st + bk * bn].astype(np.float64).reshape(bk, bn)
    return out


def _operands(ctx, memory, K, cols):
    torch, dev = ctx["torch"], ctx["device"]
    a = torch.randn(8 * TILE["BM"], ASTREAM * TILE["BK"], device=dev).to(ctx["tile_dtype"])
    m = torch.randn(memory + TILE["BK"] * TILE["BN"], device=dev).to(ctx["tile_dtype"])
    t = torch.as_tensor(starts(K, cols, memory - 1)).to(dev)
    return a, m, t


def _launch(ctx, kern, ops, out, programs, K, cols, memory, table_mode, stages):
    a, m, t = ops
    return kern[(programs,)](a, m, t, out, K, _smul(), memory - 1, cols, TABLE=table_mode, ALIGN=ALIGN,
                             ASTREAM=ASTREAM, ASM=ctx["device"] == "cuda", num_warps=4, num_stages=stages,
                             **TILE)


def checks(ctx) -> list[dict]:
    """Both start sources on a small case (3 programs, 2 columns, 6 steps) against numpy."""
    torch, dev = ctx["torch"], ctx["device"]
    kern = _kernel()
    memory, programs, K, cols = 1 << 14, 3, 6, 2
    ops = _operands(ctx, memory, K, cols)
    want = reference(ops[0].float().cpu().numpy(), ops[1].float().cpu().numpy(), ops[2].cpu().numpy(),
                     programs, K, cols)
    rows = []
    for table_mode in (0, 1, 2):
        out = torch.empty(programs * TILE["BM"] * TILE["BN"], dtype=torch.float32, device=dev)
        _launch(ctx, kern, ops, out, programs, K, cols, memory, table_mode, 3)
        ok = bool(np.allclose(out.cpu().numpy().reshape(want.shape), want, rtol=2e-2, atol=5e-2))
        rows.append({"type": "check", "name": f"ptr-{_MODES[table_mode]}", "equal_numpy": ok})
    return rows


#: Start source of each ``TABLE`` mode: computed, read in the step (``table``), read a step ahead.
_MODES = {0: "computed", 1: "table", 2: "prefetch"}


def ptr_table_group(ctx, rows, log2_sizes=(20, 25), per_sm_list=(1, 2, 3), reuses=(2, 32),
                    elements_per_sm=1 << 23, stages=4, mode=1) -> None:
    """``ptr-table`` rows (module notes), then a ``ptr_<mode>_over_computed`` row per point (``mode`` 1:
    the start read in its k-step, ``ptr_table_over_computed``; 2: read a k-step ahead,
    ``ptr_prefetch_over_computed``)."""
    from gpu_micro3 import compiled_info

    torch, dev, sms = ctx["torch"], ctx["device"], ctx["sms"]
    kern = _kernel()
    bk, bn = TILE["BK"], TILE["BN"]
    for lg in log2_sizes:
        memory = 1 << lg
        for reuse in reuses:
            for per_sm in per_sm_list:
                programs = sms * per_sm
                cols = max(1, programs // reuse)
                K = max(4, elements_per_sm // (bk * bn * per_sm))
                ops = _operands(ctx, memory, K, cols)
                out = torch.empty(programs * TILE["BM"] * bn, dtype=torch.float32, device=dev)
                secs = {}
                for table_mode in (0, mode):
                    ctx["timer"].check()
                    launch = functools.partial(_launch, ctx, kern, ops, out, programs, K, cols, memory,
                                               table_mode, stages)
                    info = compiled_info(launch(), 4, per_sm)
                    secs[table_mode] = ctx["timer"](launch)
                    rows.append({"type": "ptr-table", "name": _MODES[table_mode],
                                 "reuse": reuse, "columns": cols, "memory": memory,
                                 "memory_bytes": 2 * memory, "block": f"{TILE['BM']}x{bn}x{bk}",
                                 "align": ALIGN, "num_warps": 4, "num_stages": stages,
                                 "programs_per_sm": per_sm, "K": K, "programs": programs,
                                 "seconds": secs[table_mode],
                                 "elements_per_second": programs * K * bk * bn / secs[table_mode], **info})
                rows.append({"type": "ptr-table-summary", "name": f"ptr_{_MODES[mode]}_over_computed",
                             "reuse": reuse, "memory_bytes": 2 * memory, "programs_per_sm": per_sm,
                             "num_stages": stages, "ratio": secs[mode] / secs[0]})
                ctx["save"]()
                del ops
