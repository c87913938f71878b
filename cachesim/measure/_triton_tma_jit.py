"""Triton JIT kernel of :mod:`cachesim.measure.triton_tma` (private; importing it needs ``triton``).

One template ``C[M, P] = scale * A[M, R] @ op(B)`` whose A and B blocks are copied by the Tensor Memory
Accelerator (``tl.make_tensor_descriptor``-style host descriptors: one bulk copy per block, no per-thread
address arithmetic or load instructions), for the forward pass (``op(B) = W``, ``R = K``, ``P = N``) and
the input gradient (``op(B) = W^T``, ``R = N``, ``P = K``; ``TRANS_B``). The constexpr ``B_MODE`` says how
the B block is found:

* 0 dense: ``W`` is a dense ``K x N`` matrix; the B descriptor covers it;
* 1 ROAST, start table; 8 ROAST, int32 in-loop hash (as ``_triton_fast_jit``): tile ``(kt, nt)`` of
  shape ``TBK x TBN`` starts at ``s = start(kt, nt)``, a multiple of ``TBN`` (``align == TBN``), so the
  shared array seen as a ``(memory / TBN) x TBN`` matrix holds the tile as the ``TBK`` rows from row
  ``s / TBN``: one descriptor over that view copies a whole tile. For ``dX`` an output block may be one
  tile (``BLOCK_P = TBK``) or two tiles (``2 TBK``: two accumulators, the A block read once) wide.

``PERSISTENT``: the programs walk the output blocks ``pid, pid + programs, ...`` (the grid is
at most the number of SMs) instead of one program per block; ``FLATTEN`` / ``WARP_SPEC`` hand the
outer loop to Triton's loop flattening / automatic warp specialisation.
"""

from __future__ import annotations

import triton
import triton.language as tl

from ._triton_fast_jit import _tile_start
from ._triton_jit_common import _grouped_pid

_NO_SPEC = ["NT", "scale", "r1", "r2", "r3", "r4", "r5", "r7", "prime", "modulus"]


@triton.jit
def _b_block(b_desc, rb, pb, aux_ptr, NT, r1, r2, r3, r4, r5, r7, prime, modulus,
             B_MODE: tl.constexpr, TRANS_B: tl.constexpr, TBK: tl.constexpr, TBN: tl.constexpr,
             BLOCK_R: tl.constexpr, BLOCK_P: tl.constexpr):
    """The ``BLOCK_R x BLOCK_P`` block ``op(B)[rb, pb]`` (reduction block ``rb``, output block ``pb``)."""
    if B_MODE == 0:
        if TRANS_B:
            b = tl.trans(b_desc.load([pb * BLOCK_P, rb * BLOCK_R]))
        else:
            b = b_desc.load([rb * BLOCK_R, pb * BLOCK_P])
    else:
        if TRANS_B:
            kt = pb
            nt = rb
        else:
            kt = rb
            nt = pb
        s = _tile_start(kt, nt, aux_ptr, NT, r1, r2, r3, r4, r5, r7, prime, modulus, B_MODE, TBN)
        row = s // TBN
        if TRANS_B:
            b = tl.trans(b_desc.load([row, 0]))
        else:
            b = b_desc.load([row, 0])
    return b


@triton.jit
def _block_product(a_desc, b_desc, pid_m, pid_p, R, aux_ptr, NT, r1, r2, r3, r4, r5, r7, prime, modulus,
                   B_MODE: tl.constexpr, TRANS_B: tl.constexpr, TBK: tl.constexpr, TBN: tl.constexpr,
                   BLOCK_M: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_R: tl.constexpr):
    """fp32 ``A[pid_m block, :] @ op(B)[:, pid_p block]``."""
    acc = tl.zeros((BLOCK_M, BLOCK_P), dtype=tl.float32)
    for rb in range(0, tl.cdiv(R, BLOCK_R)):
        a = a_desc.load([pid_m * BLOCK_M, rb * BLOCK_R])
        b = _b_block(b_desc, rb, pid_p, aux_ptr, NT, r1, r2, r3, r4, r5, r7, prime, modulus,
                     B_MODE, TRANS_B, TBK, TBN, BLOCK_R, BLOCK_P)
        acc = tl.dot(a, b, acc)
    return acc


@triton.jit
def _block_product_pair(a_desc, b_desc, pid_m, pid_p, R, aux_ptr, NT, r1, r2, r3, r4, r5, r7, prime, modulus,
                        B_MODE: tl.constexpr, TBK: tl.constexpr, TBN: tl.constexpr, BLOCK_M: tl.constexpr,
                        BLOCK_R: tl.constexpr):
    """ROAST ``dX`` block two tiles wide (``BLOCK_P = 2 TBK``): the A block is read once per step and
    multiplied by the transposed tiles ``(2 pid_p, rb)`` and ``(2 pid_p + 1, rb)`` into two accumulators."""
    acc0 = tl.zeros((BLOCK_M, TBK), dtype=tl.float32)
    acc1 = tl.zeros((BLOCK_M, TBK), dtype=tl.float32)
    for rb in range(0, tl.cdiv(R, BLOCK_R)):
        a = a_desc.load([pid_m * BLOCK_M, rb * BLOCK_R])
        b0 = _b_block(b_desc, rb, 2 * pid_p, aux_ptr, NT, r1, r2, r3, r4, r5, r7, prime, modulus,
                      B_MODE, True, TBK, TBN, BLOCK_R, TBK)
        b1 = _b_block(b_desc, rb, 2 * pid_p + 1, aux_ptr, NT, r1, r2, r3, r4, r5, r7, prime, modulus,
                      B_MODE, True, TBK, TBN, BLOCK_R, TBK)
        acc0 = tl.dot(a, b0, acc0)
        acc1 = tl.dot(a, b1, acc1)
    return acc0, acc1


@triton.jit
def _one_block(a_desc, b_desc, c_desc, blk, M, P, R, aux_ptr, NT, scale, r1, r2, r3, r4, r5, r7, prime,
               modulus,
               B_MODE: tl.constexpr, TRANS_B: tl.constexpr, TBK: tl.constexpr, TBN: tl.constexpr,
               BLOCK_M: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_R: tl.constexpr, GROUP_M: tl.constexpr):
    """Compute and store output block ``blk`` (grouped order)."""
    pid_m, pid_p = _grouped_pid(blk, M, P, BLOCK_M, BLOCK_P, GROUP_M)
    if B_MODE != 0 and TRANS_B and BLOCK_P == 2 * TBK:
        acc0, acc1 = _block_product_pair(a_desc, b_desc, pid_m, pid_p, R, aux_ptr, NT, r1, r2, r3, r4, r5, r7,
                                         prime, modulus, B_MODE, TBK, TBN, BLOCK_M, BLOCK_R)
        c_desc.store([pid_m * BLOCK_M, pid_p * BLOCK_P], (acc0 * scale).to(c_desc.dtype))
        c_desc.store([pid_m * BLOCK_M, pid_p * BLOCK_P + TBK], (acc1 * scale).to(c_desc.dtype))
    else:
        acc = _block_product(a_desc, b_desc, pid_m, pid_p, R, aux_ptr, NT, r1, r2, r3, r4, r5, r7, prime,
                             modulus, B_MODE, TRANS_B, TBK, TBN, BLOCK_M, BLOCK_P, BLOCK_R)
        c_desc.store([pid_m * BLOCK_M, pid_p * BLOCK_P], (acc * scale).to(c_desc.dtype))


@triton.jit(do_not_specialize=_NO_SPEC)
def tma_kernel(a_desc, b_desc, c_desc, aux_ptr, M, P, R, NT, scale, r1, r2, r3, r4, r5, r7, prime, modulus,
               B_MODE: tl.constexpr, TRANS_B: tl.constexpr, TBK: tl.constexpr, TBN: tl.constexpr,
               BLOCK_M: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_R: tl.constexpr, GROUP_M: tl.constexpr,
               PERSISTENT: tl.constexpr, FLATTEN: tl.constexpr,
               WARP_SPEC: tl.constexpr):
    """``C = scale * A @ op(B)``; every dimension a multiple of its block (checked by the caller)."""
    if PERSISTENT:
        n_blocks = tl.cdiv(M, BLOCK_M) * tl.cdiv(P, BLOCK_P)
        for blk in tl.range(tl.program_id(0), n_blocks, tl.num_programs(0), flatten=FLATTEN,
                            warp_specialize=WARP_SPEC):
            _one_block(a_desc, b_desc, c_desc, blk, M, P, R, aux_ptr, NT, scale, r1, r2, r3, r4, r5, r7,
                       prime, modulus, B_MODE, TRANS_B, TBK, TBN, BLOCK_M, BLOCK_P, BLOCK_R, GROUP_M)
    else:
        _one_block(a_desc, b_desc, c_desc, tl.program_id(0), M, P, R, aux_ptr, NT, scale, r1, r2, r3, r4, r5,
                   r7, prime, modulus, B_MODE, TRANS_B, TBK, TBN, BLOCK_M, BLOCK_P, BLOCK_R, GROUP_M)


@triton.jit(do_not_specialize=_NO_SPEC)
def tma_grad_kernel(x_desc, dy_desc, g_ptr, aux_ptr, M, K, N, NT, scale, r1, r2, r3, r4, r5, r7, prime,
                    modulus,
                    B_MODE: tl.constexpr, TBK: tl.constexpr, TBN: tl.constexpr, BLOCK_R: tl.constexpr,
                    SPLIT_M: tl.constexpr, GROUP_M: tl.constexpr):
    """Gradient of the stored weight: tile ``(kt, nt)`` of ``scale * X^T dY`` (``X`` and ``dY`` blocks copied
    by TMA, the reduction over ``M`` split ``SPLIT_M`` ways) added into the fp32 buffer ``g`` with relaxed
    vector atomics at the tile's ``TBK`` contiguous rows (ROAST: from its start; dense: the ``K x N``
    matrix), so colliding tiles and the split partial sums meet in the atomics."""
    n_tiles = tl.cdiv(K, TBK) * tl.cdiv(N, TBN)
    pid = tl.program_id(0)
    tile = pid % n_tiles
    part = pid // n_tiles
    kt, nt = _grouped_pid(tile, K, N, TBK, TBN, GROUP_M)
    rows = M // SPLIT_M
    acc = tl.zeros((TBK, TBN), dtype=tl.float32)
    for mb in range(part * rows, (part + 1) * rows, BLOCK_R):
        xa = x_desc.load([mb, kt * TBK])
        g = dy_desc.load([mb, nt * TBN])
        acc = tl.dot(tl.trans(xa), g, acc)
    rk = tl.arange(0, TBK)
    rn = tl.arange(0, TBN)
    if B_MODE == 0:
        off = (kt * TBK + rk)[:, None].to(tl.int64) * N + (nt * TBN + rn)[None, :]
    else:
        s = _tile_start(kt, nt, aux_ptr, NT, r1, r2, r3, r4, r5, r7, prime, modulus, B_MODE, TBN)
        off = s + rk[:, None] * TBN + rn[None, :]
    tl.atomic_add(g_ptr + off, acc * scale, sem="relaxed")
