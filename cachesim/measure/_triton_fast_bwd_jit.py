"""Triton JIT kernels (private) of :mod:`cachesim.measure.triton_fast_bwd`: table-driven ROAST-MM passes.

Imported lazily (it needs ``triton``). Every pass has one body; the constexpr ``KIND`` selects how the
weight ``W[k, n]`` (``K x N``) is addressed, and nothing else differs between kinds:

* ``KIND == 0`` ROAST: the tile ``(kb, nb) = (k // BK, n // BN)`` is the contiguous row-major block
  ``memory[s : s + BK * BN]`` with ``s = start_table[kb, nb]`` (int32, a multiple of ``ALIGN``); element
  ``(k, n)`` at ``s + (k mod BK) BN + (n mod BN)``. The whole tile lies inside ``memory``, so tile loads
  need no mask (elements outside ``K x N`` meet zero operands or are not stored);
* ``KIND == 1`` HashedNet, the authors' hash: ``((k R1 + n R2 + R3) mod P) mod H`` in int64;
* ``KIND == 2`` HashedNet, a precomputed int32 index matrix ``index[k, n]`` (``K x N`` row-major);
* ``KIND == 3`` dense ``W[k, n]`` at ``k N + n``;
* ``KIND == 4`` HashedNet, multiply-shift: the top bits of ``(k A1 + n A2 + B) mod 2**32`` (32-bit
  wrapping arithmetic, ``shift = 32 - log2 H``).

The program's weight block is ``BLOCK_K x BN``: ``BLOCK_N`` is always the tile width ``BN`` and
``BLOCK_K`` a multiple of ``BK`` (``BLOCK_K / BK`` tiles stacked along K, one start each). The ROAST
starts are ordinary loads (``PF = False``: Triton's software pipeliner stages them through shared memory
ahead of the weight loads that depend on them, with extra barriers), or (``PF = True``, forward and
``dX``) read one loop step ahead into registers with a plain ``ld.global.nc`` (inline PTX, ``ASM``; the
interpreter uses ``tl.load``) that the pipeliner leaves alone. The
shared-array gradient adds the block of ``X^T dY`` into memory: for ROAST each row of each tile is a
contiguous run ``s + (k mod BK) BN + [0, BN)`` (vector atomics, no per-element index); for HashedNet one
atomic per element at its hashed slot; dense stores the block.
"""

from __future__ import annotations

import triton
import triton.language as tl

from ._triton_jit_common import (
    _dot,
    _grouped_block,
    _grouped_pid,
    _hashednet_slot,
    _ld_i32,
    _load_block,
    _load_xt_dy,
    _masked_load,
    _mulshift_slot,
    _store_block,
)

# scalars whose value should not pick a kernel variant (hash parameters, tile counts, module scale)
_NO_SPEC = ["KB", "NB", "scale", "r1", "r2", "r3", "prime", "span", "shift"]


@triton.jit
def _roast_rows(start_ptr, kblk, nb, KB, NB, BK: tl.constexpr, BN: tl.constexpr, BLOCK_K: tl.constexpr,
                ALIGN: tl.constexpr):
    """Offset of the first element of every row of block ``kblk``: ``s(kb, nb) + (k mod BK) BN``.

    ``(BLOCK_K,)`` int32, multiples of ``ALIGN`` (the launcher passes ``min(align, BN)``). One scalar
    table load per tile; tiles past the table read start 0 (their rows meet zero operands or are not
    stored, and ``BK*BN <= memory``).
    """
    G: tl.constexpr = BLOCK_K // BK
    ko = tl.arange(0, BLOCK_K)
    if G == 1:
        sel = tl.load(start_ptr + kblk * NB + nb)
    else:
        kt = kblk * G + ko // BK
        sel = tl.load(start_ptr + kt * NB + nb, mask=kt < KB, other=0)
    rows = sel + (ko % BK) * BN
    if ALIGN > 1:
        rows = tl.multiple_of(rows, ALIGN)
    return rows


@triton.jit
def _row_start_ptrs(start_ptr, kblk, KB, NB, BK: tl.constexpr, BLOCK_K: tl.constexpr):
    """Pointers ``(BLOCK_K,)`` to the table entries ``(kt, 0)`` of every row's tile row ``kt`` (rows past
    the last tile row point at row 0: harmless, their values are not stored)."""
    kt = kblk * (BLOCK_K // BK) + tl.arange(0, BLOCK_K) // BK
    kt = tl.where(kt < KB, kt, 0)
    return start_ptr + kt * NB


@triton.jit
def _pf_block(w_ptr, sel, BK: tl.constexpr, BN: tl.constexpr, BLOCK_K: tl.constexpr, ALIGN: tl.constexpr):
    """The ROAST weight block whose rows' tile starts ``sel`` (``(BLOCK_K,)``) were prefetched."""
    rows = sel + (tl.arange(0, BLOCK_K) % BK) * BN
    if ALIGN > 1:
        rows = tl.multiple_of(rows, ALIGN)
    return tl.load(w_ptr + (rows[:, None] + tl.arange(0, BN)[None, :]))


@triton.jit
def _hashed_off(rk, rn, r1, r2, r3, prime, span, shift, KIND: tl.constexpr):
    """Slots ``(BLOCK_K, BN)`` of the HashedNet kinds 1 (authors' int64 hash) and 4 (multiply-shift)."""
    if KIND == 1:
        off = _hashednet_slot(rk, rn, r1, r2, r3, prime, span)
    else:
        off = _mulshift_slot(rk, rn, r1, r2, r3, shift)
    return off


@triton.jit
def _w_block(w_ptr, start_ptr, idx_ptr, rk, rn, kblk, nb, N, K, KB, NB, r1, r2, r3, prime, span, shift,
             KIND: tl.constexpr, BK: tl.constexpr, BN: tl.constexpr, BLOCK_K: tl.constexpr,
             ALIGN: tl.constexpr, EVEN: tl.constexpr):
    """The ``BLOCK_K x BN`` weight block ``W[rk, rn]`` (zeros outside ``K x N``, except ROAST)."""
    mask = (rk[:, None] < K) & (rn[None, :] < N)
    if KIND == 0:
        rows = _roast_rows(start_ptr, kblk, nb, KB, NB, BK, BN, BLOCK_K, ALIGN)
        w = tl.load(w_ptr + (rows[:, None] + tl.arange(0, BN)[None, :]))
    elif KIND == 1 or KIND == 4:
        off = _hashed_off(rk, rn, r1, r2, r3, prime, span, shift, KIND)
        w = _masked_load(w_ptr + off, mask, EVEN)
    elif KIND == 2:
        i_ptrs = idx_ptr + rk[:, None].to(tl.int64) * N + rn[None, :]
        if EVEN:
            w = tl.load(w_ptr + tl.load(i_ptrs))
        else:
            w = tl.load(w_ptr + tl.load(i_ptrs, mask=mask, other=0), mask=mask, other=0.0)
    else:
        w = _masked_load(w_ptr + rk[:, None].to(tl.int64) * N + rn[None, :], mask, EVEN)
    return w


@triton.jit(do_not_specialize=_NO_SPEC)
def fwd_kernel(x_ptr, w_ptr, start_ptr, idx_ptr, y_ptr, M, N, K, KB, NB, scale, r1, r2, r3, prime, span,
               shift, KIND: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_K: tl.constexpr, BK: tl.constexpr,
               BN: tl.constexpr, GROUP_M: tl.constexpr, ALIGN: tl.constexpr, IEEE: tl.constexpr,
               EVEN: tl.constexpr, PF: tl.constexpr = False, ASM: tl.constexpr = False):
    """Y[M, N] = scale * X[M, K] @ W[K, N] (reference forward; the timed fast forward is
    :mod:`cachesim.measure.triton_fast`)."""
    pid_m, pid_n, rm, rn = _grouped_block(tl.program_id(0), M, N, BLOCK_M, BN, GROUP_M)
    acc = tl.zeros((BLOCK_M, BN), dtype=tl.float32)
    n_k = tl.cdiv(K, BLOCK_K)
    if KIND == 0 and PF:
        sel_n = _ld_i32(_row_start_ptrs(start_ptr, 0, KB, NB, BK, BLOCK_K) + pid_n, ASM)
    for kblk in range(0, n_k):
        rk = kblk * BLOCK_K + tl.arange(0, BLOCK_K)
        a = _load_block(x_ptr, rm, rk, M, K, EVEN)
        if KIND == 0 and PF:
            # starts prefetched one step ahead into registers with plain loads (not pipelined)
            sel = sel_n
            nxt = tl.minimum(kblk + 1, n_k - 1)
            sel_n = _ld_i32(_row_start_ptrs(start_ptr, nxt, KB, NB, BK, BLOCK_K) + pid_n, ASM)
            w = _pf_block(w_ptr, sel, BK, BN, BLOCK_K, ALIGN)
        else:
            w = _w_block(w_ptr, start_ptr, idx_ptr, rk, rn, kblk, pid_n, N, K, KB, NB, r1, r2, r3, prime,
                         span, shift, KIND, BK, BN, BLOCK_K, ALIGN, EVEN)
        acc = _dot(a, w, acc, IEEE)
    _store_block(y_ptr, acc * scale, rm, rn, M, N, EVEN)


@triton.jit(do_not_specialize=_NO_SPEC)
def dx_kernel(dy_ptr, w_ptr, start_ptr, idx_ptr, dx_ptr, M, N, K, KB, NB, scale, r1, r2, r3, prime, span,
              shift, KIND: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_K: tl.constexpr, BK: tl.constexpr,
              BN: tl.constexpr, GROUP_M: tl.constexpr, ALIGN: tl.constexpr, IEEE: tl.constexpr,
              EVEN: tl.constexpr, PF: tl.constexpr = False, ASM: tl.constexpr = False):
    """dX[M, K] = scale * dY[M, N] @ W[K, N]^T; program (pid_m, kblk), loop over the tile columns nb."""
    pid_m, kblk, rm, rk = _grouped_block(tl.program_id(0), M, K, BLOCK_M, BLOCK_K, GROUP_M)
    acc = tl.zeros((BLOCK_M, BLOCK_K), dtype=tl.float32)
    n_n = tl.cdiv(N, BN)
    if KIND == 0 and PF:
        s_ptrs = _row_start_ptrs(start_ptr, kblk, KB, NB, BK, BLOCK_K)
        sel_n = _ld_i32(s_ptrs, ASM)
    for nb in range(0, n_n):
        rn = nb * BN + tl.arange(0, BN)
        g = _load_block(dy_ptr, rm, rn, M, N, EVEN)
        if KIND == 0 and PF:
            # starts prefetched one step ahead into registers with plain loads (not pipelined)
            sel = sel_n
            sel_n = _ld_i32(s_ptrs + tl.minimum(nb + 1, n_n - 1), ASM)
            w = _pf_block(w_ptr, sel, BK, BN, BLOCK_K, ALIGN)
        else:
            w = _w_block(w_ptr, start_ptr, idx_ptr, rk, rn, kblk, nb, N, K, KB, NB, r1, r2, r3, prime, span,
                         shift, KIND, BK, BN, BLOCK_K, ALIGN, EVEN)
        acc = _dot(g, tl.trans(w), acc, IEEE)
    _store_block(dx_ptr, acc * scale, rm, rk, M, K, EVEN)


@triton.jit(do_not_specialize=_NO_SPEC)
def dw_kernel(x_ptr, dy_ptr, start_ptr, idx_ptr, g_ptr, M, N, K, KB, NB, scale, r1, r2, r3, prime, span,
              shift, KIND: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_K: tl.constexpr, BK: tl.constexpr,
              BN: tl.constexpr, GROUP_K: tl.constexpr, SPLIT_M: tl.constexpr, ALIGN: tl.constexpr,
              IEEE: tl.constexpr, EVEN: tl.constexpr):
    """Block ``(kblk, nb)`` of ``scale * X^T dY`` (fp32) added into the gradient ``g`` (stored for dense).

    Program ``(block, split)`` sums the row blocks ``split, split + SPLIT_M, ...`` of ``M``; with
    ``SPLIT_M > 1`` the partial blocks meet in the atomics (dense needs ``SPLIT_M == 1``).
    """
    kblk, nb = _grouped_pid(tl.program_id(0), K, N, BLOCK_K, BN, GROUP_K)
    split = tl.program_id(1)
    rk = kblk * BLOCK_K + tl.arange(0, BLOCK_K)
    rn = nb * BN + tl.arange(0, BN)
    acc = tl.zeros((BLOCK_K, BN), dtype=tl.float32)
    for mb in range(split, tl.cdiv(M, BLOCK_M), SPLIT_M):
        rm = mb * BLOCK_M + tl.arange(0, BLOCK_M)
        x, d = _load_xt_dy(x_ptr, dy_ptr, rm, rk, rn, M, N, K, EVEN)
        acc = _dot(tl.trans(x), d, acc, IEEE)
    acc = acc * scale
    mask = (rk[:, None] < K) & (rn[None, :] < N)
    if KIND == 0:
        # dense block adds: row r of a tile is the contiguous run s + r*BN + [0, BN)
        rows = _roast_rows(start_ptr, kblk, nb, KB, NB, BK, BN, BLOCK_K, ALIGN)
        ptrs = g_ptr + (rows[:, None] + tl.arange(0, BN)[None, :])
        if EVEN:
            tl.atomic_add(ptrs, acc, sem="relaxed")
        else:
            tl.atomic_add(ptrs, acc, mask=mask, sem="relaxed")
    elif KIND == 1 or KIND == 4:
        off = _hashed_off(rk, rn, r1, r2, r3, prime, span, shift, KIND)
        tl.atomic_add(g_ptr + off, acc, mask=mask, sem="relaxed")
    elif KIND == 2:
        off = tl.load(idx_ptr + rk[:, None].to(tl.int64) * N + rn[None, :], mask=mask, other=0)
        tl.atomic_add(g_ptr + off, acc, mask=mask, sem="relaxed")
    else:
        tl.store(g_ptr + rk[:, None].to(tl.int64) * N + rn[None, :], acc, mask=mask)


@triton.jit(do_not_specialize=["lr"])
def sgd_kernel(w_ptr, g_ptr, n, lr, BLOCK: tl.constexpr):
    """``w <- w - lr * g`` elementwise (``g`` fp32, the update computed in fp32, stored in ``w``'s dtype)."""
    off = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = off < n
    w = tl.load(w_ptr + off, mask=mask, other=0.0).to(tl.float32)
    g = tl.load(g_ptr + off, mask=mask, other=0.0)
    tl.store(w_ptr + off, (w - lr * g).to(w_ptr.dtype.element_ty), mask=mask)
