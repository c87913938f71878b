"""Triton JIT kernels of :mod:`cachesim.measure.triton_fast` (private; importing it needs ``triton``).

One forward template ``Y = scale * X @ W``: every variant shares the grouped program order, the block
shapes, warps, stages, the A loads, the dot and the epilogue; the constexpr ``B_MODE`` selects only how
the B (weight) block is addressed:

* 0 dense: ``B[k, n]`` at ``k N + n``;
* 1 ROAST, start table: tile ``(kt, nt)`` (shape ``TBK x TBN``) starts at ``table[kt, nt]`` (int32,
  computed once per layer from ``roast_theory.hashes`` ``"rz-aligned"``), element at
  ``start + (k mod TBK) TBN + (n mod TBN)``; the start is declared a multiple of ``ALIGN`` so the loads
  vectorise (``ALIGN = 8``: 16-byte bf16 vectors). The start is an ordinary ``tl.load`` in the k-loop:
  Triton's software pipeliner copies it asynchronously to shared memory one stage ahead of the B loads
  that depend on it, which costs B buffers and barriers;
* 7 ROAST, start table prefetched: the same starts, read ``PF`` (1-3) k-steps ahead into loop-carried
  registers with a plain ``ld.global.nc`` (inline assembly, so the pipeliner leaves it alone;
  ``ASM=False`` uses ``tl.load``, for the interpreter); the B loads keep the dense kernel's pipeline
  depth. ``BLOCK_K`` may span one or two tile rows;
* 2 ROAST, in-loop hash: the same start computed in the k-loop in int64,
  ``ALIGN ((hi P + lo) mod n_starts)`` with ``hi, lo`` the ``stable`` linear hashes mod ``P = 45007``;
* 8 ROAST, in-loop hash in int32: the same start with 32-bit arithmetic (every intermediate is below
  ``2**31`` for ``P = 45007`` and tile coordinates below ``2**14``) and ``P`` a compile-time constant, so
  only ``mod n_starts`` divides by a runtime value;
* 3 HashedNet, the authors' hash: ``((k R1 + n R2 + R3) mod P) mod H`` in int64 (``P = 2038074743``);
* 4 HashedNet, multiply-shift: the top ``log2 H`` bits of ``(k A1 + n A2 + B) mod 2**32`` (uint32);
* 5 HashedNet, index table: ``idx[k, n]`` read from a precomputed int32 ``K x N`` matrix, then ``M[idx]``;
* 6 arith-only: B read coalesced from a dense ``K x N`` matrix (as mode 0) while the authors' hash of
  mode 3 is computed for every element and folded into an int32 accumulator that is added to the output
  times a runtime ``zscale`` (0 in measurements), so the compiler cannot drop it.

The kernel block must cover whole ROAST tiles: ``BLOCK_N == TBN`` and ``BLOCK_K`` a multiple of ``TBK``
(one start per tile-row group of ``TBK`` rows); the wrapper checks every shape is a multiple of the block.
"""

from __future__ import annotations

import triton
import triton.language as tl

from ._triton_jit_common import (
    _dot,
    _grouped_block,
    _hashednet_slot,
    _ld_i32,
    _mulshift_slot,
    _stable_bracket,
)

_NO_SPEC = ["NT", "scale", "zscale", "r1", "r2", "r3", "r4", "r5", "r7", "prime", "modulus", "shift"]


@triton.jit
def _tile_start(kt, nt, aux_ptr, NT, r1, r2, r3, r4, r5, r7, prime, modulus,
                B_MODE: tl.constexpr, ALIGN: tl.constexpr):
    """int32 start of ROAST tile (kt, nt): table read (modes 1, 7) or in-loop int64 hash (mode 2)."""
    if B_MODE == 1 or B_MODE == 7:
        s = tl.load(aux_ptr + kt * NT + nt)
    elif B_MODE == 8:
        # int32 throughout (every intermediate < 2**31 for P = 45007 and kt, nt < 2**14); P a constant
        hi = (kt * r3 + nt * r2 + r1) % 45007
        lo = (kt * r7 + nt * r5 + r4) % 45007
        s = ((hi * 45007 + lo) % modulus) * ALIGN
    else:
        s = ((_stable_bracket(kt, nt, r1, r2, r3, r4, r5, r7, prime) % modulus) * ALIGN).to(tl.int32)
    return s


@triton.jit
def _ld_pair(t_ptr, kb, NT, n_kb, G: tl.constexpr, ASM: tl.constexpr):
    """Starts of the (one or two) tile rows of k-step ``min(kb, n_kb - 1)`` in the table column."""
    kt = tl.minimum(kb, n_kb - 1) * G
    s0 = _ld_i32(t_ptr + kt * NT, ASM)
    s1 = s0
    if G == 2:
        s1 = _ld_i32(t_ptr + (kt + 1) * NT, ASM)
    return s0, s1


@triton.jit
def _rows_from_starts(s0, s1, TBK: tl.constexpr, TBN: tl.constexpr, ALIGN: tl.constexpr,
                      BLOCK_K: tl.constexpr):
    """Row offsets (BLOCK_K,) of a block covering one (G = 1) or two (G = 2) tile rows of starts s0, s1."""
    ko = tl.arange(0, BLOCK_K)
    if BLOCK_K // TBK == 1:
        rows = (ko % TBK) * TBN + s0
    else:
        rows = (ko % TBK) * TBN + tl.where(ko < TBK, s0, s1)
    return tl.multiple_of(rows, ALIGN)


@triton.jit
def _b_offsets(kb, pid_n, rk, rn, aux_ptr, N, NT, r1, r2, r3, r4, r5, r7, prime, modulus, shift,
               B_MODE: tl.constexpr, TBK: tl.constexpr, TBN: tl.constexpr, ALIGN: tl.constexpr,
               BLOCK_K: tl.constexpr, BLOCK_N: tl.constexpr):
    """Offsets (BLOCK_K x BLOCK_N) into the B array of the block at k-step ``kb``, column block ``pid_n``."""
    if B_MODE == 0 or B_MODE == 6:
        off = rk[:, None] * N + rn[None, :]
    elif B_MODE == 1 or B_MODE == 2 or B_MODE == 7 or B_MODE == 8:
        G: tl.constexpr = BLOCK_K // TBK
        ko = tl.arange(0, BLOCK_K)
        kt0 = kb * G
        if G == 1:
            rows = (ko % TBK) * TBN + _tile_start(kt0, pid_n, aux_ptr, NT, r1, r2, r3, r4, r5, r7, prime,
                                                  modulus, B_MODE, ALIGN)
        else:
            sel = tl.zeros([BLOCK_K], dtype=tl.int32)
            for g in tl.static_range(G):
                s_g = _tile_start(kt0 + g, pid_n, aux_ptr, NT, r1, r2, r3, r4, r5, r7, prime, modulus,
                                  B_MODE, ALIGN)
                sel = tl.where(ko // TBK == g, s_g, sel)
            rows = (ko % TBK) * TBN + sel
        rows = tl.multiple_of(rows, ALIGN)
        off = rows[:, None] + tl.arange(0, BLOCK_N)[None, :]
    elif B_MODE == 3:
        off = _hashednet_slot(rk, rn, r1, r2, r3, prime, modulus)
    elif B_MODE == 4:
        off = _mulshift_slot(rk, rn, r1, r2, r3, shift)
    else:
        off = tl.load(aux_ptr + rk[:, None] * N + rn[None, :])
    return off


@triton.jit(do_not_specialize=_NO_SPEC)
def fwd_kernel(x_ptr, b_ptr, y_ptr, aux_ptr, M, N, K, NT, scale, zscale,
               r1, r2, r3, r4, r5, r7, prime, modulus, shift,
               B_MODE: tl.constexpr, TBK: tl.constexpr, TBN: tl.constexpr, ALIGN: tl.constexpr,
               BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
               GROUP_M: tl.constexpr, IEEE: tl.constexpr, ASM: tl.constexpr = True, PF: tl.constexpr = 1):
    """Y[M, N] = scale * X[M, K] @ W[K, N]; every dimension a multiple of its block (checked by caller)."""
    pid_m, pid_n, rm, rn = _grouped_block(tl.program_id(0), M, N, BLOCK_M, BLOCK_N, GROUP_M)
    rn = tl.max_contiguous(tl.multiple_of(rn, BLOCK_N), BLOCK_N)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    if B_MODE == 6:
        hacc = tl.zeros((BLOCK_K, BLOCK_N), dtype=tl.int32)
    G: tl.constexpr = BLOCK_K // TBK
    n_kb = tl.cdiv(K, BLOCK_K)
    if B_MODE == 7:
        # table starts prefetched PF k-steps ahead into loop-carried registers (a ring of up to 3 pairs),
        # read with plain loads: the load issued in step kb is used in step kb + PF
        t_ptr = aux_ptr + pid_n
        a0, a1 = _ld_pair(t_ptr, 0, NT, n_kb, G, ASM)
        b0, b1 = a0, a1
        c0, c1 = a0, a1
        if PF >= 2:
            b0, b1 = _ld_pair(t_ptr, 1, NT, n_kb, G, ASM)
        if PF >= 3:
            c0, c1 = _ld_pair(t_ptr, 2, NT, n_kb, G, ASM)
    for kb in range(0, n_kb):
        rk = kb * BLOCK_K + tl.arange(0, BLOCK_K)
        a = tl.load(x_ptr + rm[:, None] * K + rk[None, :])
        if B_MODE == 7:
            rows = _rows_from_starts(a0, a1, TBK, TBN, ALIGN, BLOCK_K)
            if PF == 1:
                a0, a1 = _ld_pair(t_ptr, kb + 1, NT, n_kb, G, ASM)
            elif PF == 2:
                a0, a1 = b0, b1
                b0, b1 = _ld_pair(t_ptr, kb + 2, NT, n_kb, G, ASM)
            else:
                a0, a1 = b0, b1
                b0, b1 = c0, c1
                c0, c1 = _ld_pair(t_ptr, kb + 3, NT, n_kb, G, ASM)
            off = rows[:, None] + tl.arange(0, BLOCK_N)[None, :]
        else:
            off = _b_offsets(kb, pid_n, rk, rn, aux_ptr, N, NT, r1, r2, r3, r4, r5, r7, prime, modulus,
                             shift, B_MODE, TBK, TBN, ALIGN, BLOCK_K, BLOCK_N)
        b = tl.load(b_ptr + off)
        if B_MODE == 6:
            hacc += _hashednet_slot(rk, rn, r1, r2, r3, prime, modulus).to(tl.int32)
        acc = _dot(a, b, acc, IEEE)
    acc = acc * scale
    if B_MODE == 6:
        acc += tl.sum(tl.sum(hacc, axis=1), axis=0).to(tl.float32) * zscale
    tl.store(y_ptr + rm[:, None] * N + rn[None, :], acc.to(y_ptr.dtype.element_ty))


@triton.jit(do_not_specialize=["NT", "r1", "r2", "r3", "r4", "r5", "r7", "prime", "modulus", "shift"])
def index_kernel(out_ptr, aux_ptr, N, K, NT, r1, r2, r3, r4, r5, r7, prime, modulus, shift,
                 B_MODE: tl.constexpr, TBK: tl.constexpr, TBN: tl.constexpr, ALIGN: tl.constexpr,
                 BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    """Write the B offset of every (k, n) exactly as ``fwd_kernel`` computes it (int64, K x N)."""
    kb = tl.program_id(0)
    pid_n = tl.program_id(1)
    rk = kb * BLOCK_K + tl.arange(0, BLOCK_K)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    off = _b_offsets(kb, pid_n, rk, rn, aux_ptr, N, NT, r1, r2, r3, r4, r5, r7, prime, modulus, shift,
                     B_MODE, TBK, TBN, ALIGN, BLOCK_K, BLOCK_N)
    tl.store(out_ptr + rk[:, None].to(tl.int64) * N + rn[None, :], off.to(tl.int64))
