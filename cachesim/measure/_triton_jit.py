"""Triton JIT kernels (private): dense, ROAST-MM and HashedNet GEMMs with identical tiling.

Imported only by :mod:`cachesim.measure.triton_kernels`, lazily, because importing this module needs
``triton``. One kernel body per pass (forward ``Y = s X B``, input gradient ``dX = s dY B^T``, weight
gradient ``dB = s X^T dY``); the constexpr ``MODE`` selects how the B tile is addressed, so the three
methods share the grid, the grouped program order, the block shapes, warps and stages, and differ only in
the B addresses:

* ``MODE == 0`` dense: ``B[k, n]`` at ``k * N + n``;
* ``MODE == 1`` ROAST-MM (RzLinear ``stable``): tile ``(kb, nb)`` is the contiguous block at
  ``s(kb, nb) = [((kb R3 + nb R2 + R1) mod P) P + ((kb R7 + nb R5 + R4) mod P)] mod span`` with
  ``P = 45007`` and ``span = H - BK BN``; element ``(k, n)`` at ``s + (k mod BK) BN + (n mod BN)``;
* ``MODE == 3`` diagnostic "aligned ROAST": the ROAST start rounded down to a multiple of 16 elements
  (so loads can be vectorised); NOT the authors' hash, used only to measure the cost of unaligned starts;
* ``MODE == 4`` ROAST-MM with the same exact hash as MODE 1, B tile loaded as an aligned contiguous run
  with 16-byte vector loads and shifted in registers (``tl.gather``);
* ``MODE == 2`` HashedNet (RzLinear ``v1_combined`` baseline): element ``(k, n)`` at
  ``((k R1 + n R2 + R3) mod P) mod H`` with ``P = 2038074743``, int64 arithmetic.

The weight-gradient kernel stores ``dB`` for dense, adds the whole ``BK x BN`` tile with one tile-wise
``atomic_add`` into the contiguous block for ROAST, and scatters per-element atomics for HashedNet.
"""

from __future__ import annotations

import triton
import triton.language as tl

from ._triton_jit_common import (
    _dot,
    _grouped_block,
    _hashednet_slot,
    _load_block,
    _load_xt_dy,
    _masked_load,
    _stable_bracket,
    _store_block,
)


@triton.jit
def _roast_start(kb, nb, r1, r2, r3, r4, r5, r7, prime, span):
    return _stable_bracket(kb, nb, r1, r2, r3, r4, r5, r7, prime) % span


@triton.jit
def _b_offsets(rk, rn, kb, nb, N, r1, r2, r3, r4, r5, r7, prime, span,
               MODE: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK_N: tl.constexpr, WIDE: tl.constexpr):
    """Offsets (BLOCK_K x BLOCK_N) of the B tile (kb, nb) whose absolute indices are rk, rn."""
    if MODE == 0:
        if WIDE:
            off = rk[:, None].to(tl.int64) * N + rn[None, :]
        else:
            off = rk[:, None] * N + rn[None, :]
    elif MODE == 1 or MODE == 4:
        s = _roast_start(kb, nb, r1, r2, r3, r4, r5, r7, prime, span)
        ko = tl.arange(0, BLOCK_K)
        no = tl.arange(0, BLOCK_N)
        if WIDE:
            off = s + (ko[:, None] * BLOCK_N + no[None, :])
        else:
            off = s.to(tl.int32) + (ko[:, None] * BLOCK_N + no[None, :])
    elif MODE == 3:
        # diagnostic only (not the authors' hash): ROAST start rounded down to a multiple of 16 elements
        s = (_roast_start(kb, nb, r1, r2, r3, r4, r5, r7, prime, span) // 16) * 16
        ko = tl.arange(0, BLOCK_K)
        no = tl.arange(0, BLOCK_N)
        if WIDE:
            off = tl.multiple_of(s, 16) + (ko[:, None] * BLOCK_N + no[None, :])
        else:
            off = tl.multiple_of(s.to(tl.int32), 16) + (ko[:, None] * BLOCK_N + no[None, :])
    else:
        off = _hashednet_slot(rk, rn, r1, r2, r3, prime, span)
    return off


@triton.jit
def _roast_tile_gather(b_ptr, kb, nb, r1, r2, r3, r4, r5, r7, prime, span,
                       BLOCK_K: tl.constexpr, BLOCK_N: tl.constexpr, VEC: tl.constexpr):
    """The ROAST tile (kb, nb) -- the same exact hash as MODE 1 -- loaded with aligned vector loads.

    The tile is the contiguous run M[s : s + T] (T = BLOCK_K * BLOCK_N). Load the aligned run
    M[a : a + T] (a = s - s mod VEC, VEC elements = 16 bytes) and the VEC elements after it, then shift
    by r = s - a in registers (``tl.gather``) and reshape to (BLOCK_K, BLOCK_N).
    """
    T: tl.constexpr = BLOCK_K * BLOCK_N
    s = _roast_start(kb, nb, r1, r2, r3, r4, r5, r7, prime, span)
    r = (s % VEC).to(tl.int32)
    a = tl.multiple_of(s - r, VEC)
    j = tl.arange(0, T)
    x0 = tl.load(b_ptr + a + j)
    x1 = tl.load(b_ptr + a + T + (j % VEC), mask=(j < VEC) & (a + T + j < span + T), other=0.0)
    idx = j + r
    g0 = tl.gather(x0, tl.minimum(idx, T - 1), axis=0)
    g1 = tl.gather(x1, tl.maximum(idx - T, 0) % VEC, axis=0)
    return tl.reshape(tl.where(idx < T, g0, g1), (BLOCK_K, BLOCK_N))


@triton.jit
def _b_block(b_ptr, rk, rn, kb, nb, N, K, r1, r2, r3, r4, r5, r7, prime, span,
             MODE: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK_N: tl.constexpr, WIDE: tl.constexpr,
             EVEN: tl.constexpr, VEC: tl.constexpr):
    """The B block (kb, nb) (BLOCK_K x BLOCK_N) whose absolute indices are rk, rn.

    MODE 4: the whole tile lies inside the shared array (rows k >= K and columns n >= N meet zero
    operands or are not stored); the other modes load zeros outside ``K x N`` unless ``EVEN``.
    """
    if MODE == 4:
        b = _roast_tile_gather(b_ptr, kb, nb, r1, r2, r3, r4, r5, r7, prime, span, BLOCK_K, BLOCK_N, VEC)
    else:
        b_ptrs = b_ptr + _b_offsets(rk, rn, kb, nb, N, r1, r2, r3, r4, r5, r7, prime, span,
                                    MODE, BLOCK_K, BLOCK_N, WIDE)
        b = _masked_load(b_ptrs, (rk[:, None] < K) & (rn[None, :] < N), EVEN)
    return b


@triton.jit
def fwd_kernel(x_ptr, b_ptr, y_ptr, M, N, K, scale,
               r1, r2, r3, r4, r5, r7, prime, span,
               MODE: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
               GROUP_M: tl.constexpr, IEEE: tl.constexpr, EVEN: tl.constexpr, WIDE: tl.constexpr,
               VEC: tl.constexpr = 8):
    """Y[M, N] = scale * X[M, K] @ B[K, N]."""
    pid_m, pid_n, rm, rn = _grouped_block(tl.program_id(0), M, N, BLOCK_M, BLOCK_N, GROUP_M)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for kb in range(0, tl.cdiv(K, BLOCK_K)):
        rk = kb * BLOCK_K + tl.arange(0, BLOCK_K)
        a = _load_block(x_ptr, rm, rk, M, K, EVEN)
        b = _b_block(b_ptr, rk, rn, kb, pid_n, N, K, r1, r2, r3, r4, r5, r7, prime, span,
                     MODE, BLOCK_K, BLOCK_N, WIDE, EVEN, VEC)
        acc = _dot(a, b, acc, IEEE)
    _store_block(y_ptr, acc * scale, rm, rn, M, N, EVEN)


@triton.jit
def dx_kernel(dy_ptr, b_ptr, dx_ptr, M, N, K, scale,
              r1, r2, r3, r4, r5, r7, prime, span,
              MODE: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
              GROUP_M: tl.constexpr, IEEE: tl.constexpr, EVEN: tl.constexpr, WIDE: tl.constexpr,
               VEC: tl.constexpr = 8):
    """dX[M, K] = scale * dY[M, N] @ B[K, N]^T, reading the same B tiles as the forward pass."""
    pid_m, pid_k, rm, rk = _grouped_block(tl.program_id(0), M, K, BLOCK_M, BLOCK_K, GROUP_M)
    acc = tl.zeros((BLOCK_M, BLOCK_K), dtype=tl.float32)
    for nb in range(0, tl.cdiv(N, BLOCK_N)):
        rn = nb * BLOCK_N + tl.arange(0, BLOCK_N)
        g = _load_block(dy_ptr, rm, rn, M, N, EVEN)
        b = _b_block(b_ptr, rk, rn, pid_k, nb, N, K, r1, r2, r3, r4, r5, r7, prime, span,
                     MODE, BLOCK_K, BLOCK_N, WIDE, EVEN, VEC)
        acc = _dot(g, tl.trans(b), acc, IEEE)
    _store_block(dx_ptr, acc * scale, rm, rk, M, K, EVEN)


@triton.jit
def db_kernel(x_ptr, dy_ptr, gb_ptr, M, N, K, scale,
              r1, r2, r3, r4, r5, r7, prime, span,
              MODE: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
              GROUP_M: tl.constexpr, IEEE: tl.constexpr, EVEN: tl.constexpr, WIDE: tl.constexpr,
               VEC: tl.constexpr = 8):
    """Gradient of the stored B: per tile dB_tile = scale * X[:, kb]^T dY[:, nb] (BK x BN), fp32.

    Dense stores the tile; ROAST adds it with one tile-wise atomic into its contiguous block;
    HashedNet scatters one atomic per element.
    """
    pid_k, pid_n, rk, rn = _grouped_block(tl.program_id(0), K, N, BLOCK_K, BLOCK_N, GROUP_M)
    acc = tl.zeros((BLOCK_K, BLOCK_N), dtype=tl.float32)
    for mb in range(0, tl.cdiv(M, BLOCK_M)):
        rm = mb * BLOCK_M + tl.arange(0, BLOCK_M)
        x, g = _load_xt_dy(x_ptr, dy_ptr, rm, rk, rn, M, N, K, EVEN)
        acc = _dot(tl.trans(x), g, acc, IEEE)
    acc = acc * scale
    off = _b_offsets(rk, rn, pid_k, pid_n, N, r1, r2, r3, r4, r5, r7, prime, span,
                     MODE, BLOCK_K, BLOCK_N, WIDE)
    mask = (rk[:, None] < K) & (rn[None, :] < N)
    if MODE == 0:
        tl.store(gb_ptr + off, acc, mask=mask)
    else:
        tl.atomic_add(gb_ptr + off, acc, mask=mask, sem="relaxed")


@triton.jit
def index_kernel(out_ptr, N, K, r1, r2, r3, r4, r5, r7, prime, span,
                 MODE: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, WIDE: tl.constexpr):
    """Write the B offset of every (k, n) as the GEMM kernels compute it (int64, K x N row-major)."""
    pid_k = tl.program_id(0)
    pid_n = tl.program_id(1)
    rk = pid_k * BLOCK_K + tl.arange(0, BLOCK_K)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    off = _b_offsets(rk, rn, pid_k, pid_n, N, r1, r2, r3, r4, r5, r7, prime, span,
                     MODE, BLOCK_K, BLOCK_N, WIDE)
    mask = (rk[:, None] < K) & (rn[None, :] < N)
    tl.store(out_ptr + rk[:, None].to(tl.int64) * N + rn[None, :], off.to(tl.int64), mask=mask)
