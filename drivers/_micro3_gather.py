"""The ``gather_table`` group of ``drivers/gpu_micro3.py``: what reading HashedNet's index from a table costs
the gather, in the fused kernels' loop.

The HashedNet ``table`` kernel (``B_MODE`` 5 of :mod:`cachesim.measure._triton_fast_jit`) loads, at every
k-step, a ``BK x BN`` int32 tile of its precomputed ``K x N`` index matrix (coalesced), then gathers B
element by element at those indices: each gathered load waits on the index load before it. The ``mulshift``
kernel computes the same kind of index in registers. The cost model prices both gathers with the gather
microbenchmark (indices computed in registers); this group measures the difference directly.

Kernel: ``gpu_micro2``'s ``tile_gather`` loop (64 x 128 bf16 B tile gathered element by element, fed to a
128-row ``tl.dot``; A's tile loaded every k-step as the fused kernels load it) with the index of element
``(r, c)`` of the step's tile either computed (``TABLE`` 0: ``(r a + c b) mod 2^32 >> (32 - lg)``) or read
from an int32 table holding exactly those values (``TABLE`` 1): the gathered addresses are the same, only
their source differs. Program ``p`` reads tile column ``p mod NCB`` and tile row ``k mod TK`` of a ``TK BK x
NCB BN`` index matrix, the geometry of a layer's index matrix shared by its row blocks:

* ``bert``  NCB 24, TK 12: BERT-base FFN's 768 x 3072 matrix (9.4 MB, L2-resident);
* ``large`` NCB 80, TK 160: the 10240 x 10240 matrix of the 512x10240x10240 shape (420 MB, from DRAM).

Rows (``gather-table``): B elements/s of both index sources at every (geometry, array size, warps and
programs per SM); ``table_over_computed`` rows give the time ratio at each point (the factor the table
kernel's gather pays). A small case of each source is checked against numpy.
"""

from __future__ import annotations

import functools

import numpy as np

TILE = dict(BM=128, BK=64, BN=128)
GEOMETRIES = {"bert": (24, 12), "large": (80, 160)}      # (tile columns NCB, tile rows TK)
ASTREAM = 64                                              # A's column blocks cycled through (as gpu_micro3)


def _kernel():
    import triton
    import triton.language as tl

    @triton.jit
    def gather_index(a_ptr, m_ptr, t_ptr, out_ptr, K, a, b, NCB, TK, SHIFT: tl.constexpr,
                     TABLE: tl.constexpr, BM: tl.constexpr, BK: tl.constexpr, BN: tl.constexpr,
                     ASTREAM: tl.constexpr):
        pid = tl.program_id(0)
        rm = tl.arange(0, BM)
        rk = tl.arange(0, BK)
        rn = tl.arange(0, BN)
        au = a.to(tl.uint32)
        bu = b.to(tl.uint32)
        acc = tl.zeros((BM, BN), dtype=tl.float32)
        col = (pid % NCB) * BN + rn
        width = NCB * BN
        for k in range(0, K):
            at = tl.load(a_ptr + ((pid % 8) * BM + rm)[:, None] * (ASTREAM * BK)
                         + ((k % ASTREAM) * BK + rk)[None, :])
            row = (k % TK) * BK + rk
            if TABLE:
                idx = tl.load(t_ptr + row[:, None] * width + col[None, :])
            else:
                idx = (row.to(tl.uint32)[:, None] * au + col.to(tl.uint32)[None, :] * bu) >> SHIFT
            acc = tl.dot(at, tl.load(m_ptr + idx), acc)
        tl.store(out_ptr + pid * BM * BN + rm[:, None] * BN + rn[None, :], acc)

    return gather_index


def index_table(ncb: int, tk: int, lg: int, mul) -> np.ndarray:
    """The ``TK BK x NCB BN`` int32 index matrix: ``(r a + c b) mod 2^32 >> (32 - lg)``."""
    r = np.arange(tk * TILE["BK"], dtype=np.uint64)
    c = np.arange(ncb * TILE["BN"], dtype=np.uint64)
    return (((r[:, None] * mul[0] + c[None, :] * mul[1]) & 0xFFFFFFFF) >> (32 - lg)).astype(np.int32)


def reference(a, m, table, programs, K, ncb, tk) -> np.ndarray:
    """fp64 ``acc[p] = sum_k A_k @ M[table tile (k mod TK, p mod NCB)]``."""
    bm, bk, bn = TILE["BM"], TILE["BK"], TILE["BN"]
    a = a.astype(np.float64)
    out = np.zeros((programs, bm, bn))
    for p in range(programs):
        c0 = (p % ncb) * bn
        for k in range(K):
            r0 = (k % tk) * bk
            at = a[(p % 8) * bm:(p % 8 + 1) * bm, (k % ASTREAM) * bk:(k % ASTREAM + 1) * bk]
            out[p] += at @ m[table[r0:r0 + bk, c0:c0 + bn].astype(np.int64)].astype(np.float64)
    return out


def _mul() -> tuple:
    from gpu_micro2 import MUL  # the odd multipliers of gpu_micro2's gathers

    return MUL


def _launch(ctx, kern, ops, out, programs, K, lg, table_mode, geometry, nw, stages):
    a, m, t = ops
    ncb, tk = GEOMETRIES[geometry] if isinstance(geometry, str) else geometry
    return kern[(programs,)](a, m, t, out, K, _mul()[0], _mul()[1], ncb, tk, SHIFT=32 - lg,
                             TABLE=table_mode, ASTREAM=ASTREAM, num_warps=nw, num_stages=stages, **TILE)


def _operands(ctx, lg, geometry):
    torch, dev = ctx["torch"], ctx["device"]
    ncb, tk = GEOMETRIES[geometry] if isinstance(geometry, str) else geometry
    a = torch.randn(8 * TILE["BM"], ASTREAM * TILE["BK"], device=dev).to(ctx["tile_dtype"])
    m = torch.randn(1 << lg, device=dev).to(ctx["tile_dtype"])
    t = torch.as_tensor(index_table(ncb, tk, lg, _mul())).to(dev)
    return a, m, t


def checks(ctx) -> list[dict]:
    """Both index sources on a small case (3 tile columns, 2 tile rows, 4 programs, 5 steps) vs numpy."""
    torch, dev = ctx["torch"], ctx["device"]
    kern = _kernel()
    lg, programs, K, geometry = 12, 4, 5, (3, 2)
    ops = _operands(ctx, lg, geometry)
    want = reference(ops[0].float().cpu().numpy(), ops[1].float().cpu().numpy(), ops[2].cpu().numpy(),
                     programs, K, *geometry)
    rows = []
    for table_mode in (0, 1):
        out = torch.empty(programs * TILE["BM"] * TILE["BN"], dtype=torch.float32, device=dev)
        _launch(ctx, kern, ops, out, programs, K, lg, table_mode, geometry, 4, 3)
        ok = bool(np.allclose(out.cpu().numpy().reshape(want.shape), want, rtol=2e-2, atol=5e-2))
        rows.append({"type": "check", "name": f"gather-{'table' if table_mode else 'computed'}",
                     "equal_numpy": ok})
    return rows


def gather_table_group(ctx, rows, geometries=("bert", "large"), log2_sizes=(15, 18, 20, 25),
                       occupancy=((4, 1), (4, 2), (4, 4), (8, 1), (8, 2)), elements_per_sm=1 << 22,
                       stages=3) -> None:
    """``gather-table`` rows (module notes), then a ``table_over_computed`` row per point."""
    from gpu_micro3 import compiled_info

    torch, dev, sms = ctx["torch"], ctx["device"], ctx["sms"]
    kern = _kernel()
    bk, bn = TILE["BK"], TILE["BN"]
    for geometry in geometries:
        ncb, tk = GEOMETRIES[geometry]
        for lg in log2_sizes:
            ops = _operands(ctx, lg, geometry)
            for nw, per_sm in occupancy:
                programs = sms * per_sm
                K = max(4, elements_per_sm // (bk * bn * per_sm))
                out = torch.empty(programs * TILE["BM"] * bn, dtype=torch.float32, device=dev)
                secs = {}
                for table_mode in (0, 1):
                    ctx["timer"].check()
                    launch = functools.partial(_launch, ctx, kern, ops, out, programs, K, lg, table_mode,
                                               geometry, nw, stages)
                    info = compiled_info(launch(), nw, per_sm)
                    secs[table_mode] = ctx["timer"](launch)
                    rows.append({"type": "gather-table", "name": "table" if table_mode else "computed",
                                 "geometry": geometry, "tile_columns": ncb, "tile_rows": tk,
                                 "table_bytes": 4 * tk * bk * ncb * bn, "memory": 1 << lg,
                                 "memory_bytes": 2 << lg, "block": f"{TILE['BM']}x{bn}x{bk}",
                                 "num_warps": nw, "num_stages": stages, "programs_per_sm": per_sm,
                                 "warps_per_sm": nw * per_sm, "K": K, "programs": programs,
                                 "seconds": secs[table_mode],
                                 "elements_per_second": programs * K * bk * bn / secs[table_mode], **info})
                rows.append({"type": "gather-table-summary", "name": "table_over_computed",
                             "geometry": geometry, "table_bytes": 4 * tk * bk * ncb * bn,
                             "memory_bytes": 2 << lg, "num_warps": nw, "programs_per_sm": per_sm,
                             "warps_per_sm": nw * per_sm, "ratio": secs[1] / secs[0]})
                ctx["save"]()
            del ops
