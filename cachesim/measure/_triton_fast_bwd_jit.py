"""Triton JIT kernels (private) of :mod:`cachesim.measure.triton_fast_bwd`: table-driven ROAST-MM passes.

Imported lazily (it needs ``triton``). Every pass has one body; the constexpr ``KIND`` selects how the
weight ``W[k, n]`` (``K x N``) is addressed, and nothing else differs between kinds:

* ``KIND == 0`` ROAST: the tile ``(kb, nb) = (k // BK, n // BN)`` is the contiguous row-major block
  ``memory[s : s + BK * BN]`` with ``s = start_table[kb, nb]`` (int32, a multiple of ``ALIGN``); element
  ``(k, n)`` at ``s + (k mod BK) BN + (n mod BN)``. The whole tile lies inside ``memory``, so tile loads
  need no mask (elements outside ``K x N`` meet zero operands or are not stored);
* ``KIND == 1`` HashedNet, the authors' hash: ``((k R1 + n R2 + R3) mod P) mod H`` in int64;
* ``KIND == 2`` HashedNet, a precomputed int32 index matrix ``index[k, n]`` (``K x N`` row-major);
* ``KIND == 3`` dense ``W[k, n]`` at ``k N + n``.

The program's B block is always one ROAST tile: ``BLOCK_K = BK``, ``BLOCK_N = BN``.
The shared-array gradient adds each ``BK x BN`` tile of ``X^T dY`` into its block: for ROAST with one
vector atomic over the contiguous run ``s + [0, BK BN)``; for HashedNet one atomic per element at its
hashed slot; dense stores the tile.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _grouped_pid(pid, rows, cols, BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr, GROUP: tl.constexpr):
    num_r = tl.cdiv(rows, BLOCK_R)
    num_c = tl.cdiv(cols, BLOCK_C)
    in_group = GROUP * num_c
    group_id = pid // in_group
    first_r = group_id * GROUP
    size_r = min(num_r - first_r, GROUP)
    pid_r = first_r + ((pid % in_group) % size_r)
    pid_c = (pid % in_group) // size_r
    return pid_r, pid_c


@triton.jit
def _dot(a, b, acc, IEEE: tl.constexpr):
    if IEEE:
        return tl.dot(a, b, acc, input_precision="ieee")
    else:
        return tl.dot(a, b, acc)


@triton.jit
def _tile_start(start_ptr, kb, nb, NB, ALIGN: tl.constexpr):
    s = tl.load(start_ptr + kb * NB + nb)
    if ALIGN > 1:
        s = tl.multiple_of(s, ALIGN)
    return s


@triton.jit
def _w_tile(w_ptr, start_ptr, idx_ptr, rk, rn, kb, nb, N, K, NB, r1, r2, r3, prime, span,
            KIND: tl.constexpr, BK: tl.constexpr, BN: tl.constexpr, ALIGN: tl.constexpr,
            EVEN: tl.constexpr):
    """The ``BK x BN`` block ``W[rk, rn]`` of tile ``(kb, nb)`` (zeros outside ``K x N``, except ROAST)."""
    mask = (rk[:, None] < K) & (rn[None, :] < N)
    if KIND == 0:
        s = _tile_start(start_ptr, kb, nb, NB, ALIGN)
        off = s + (tl.arange(0, BK)[:, None] * BN + tl.arange(0, BN)[None, :])
        w = tl.load(w_ptr + off)
    elif KIND == 1:
        h = (rk[:, None].to(tl.int64) * r1 + rn[None, :].to(tl.int64) * r2 + r3) % prime
        off = h % span
        if EVEN:
            w = tl.load(w_ptr + off)
        else:
            w = tl.load(w_ptr + off, mask=mask, other=0.0)
    elif KIND == 2:
        i_ptrs = idx_ptr + rk[:, None].to(tl.int64) * N + rn[None, :]
        if EVEN:
            w = tl.load(w_ptr + tl.load(i_ptrs))
        else:
            w = tl.load(w_ptr + tl.load(i_ptrs, mask=mask, other=0), mask=mask, other=0.0)
    else:
        w_ptrs = w_ptr + rk[:, None].to(tl.int64) * N + rn[None, :]
        if EVEN:
            w = tl.load(w_ptrs)
        else:
            w = tl.load(w_ptrs, mask=mask, other=0.0)
    return w


@triton.jit
def fwd_kernel(x_ptr, w_ptr, start_ptr, idx_ptr, y_ptr, M, N, K, NB, scale, r1, r2, r3, prime, span,
               KIND: tl.constexpr, BLOCK_M: tl.constexpr, BK: tl.constexpr, BN: tl.constexpr,
               GROUP_M: tl.constexpr, ALIGN: tl.constexpr, IEEE: tl.constexpr, EVEN: tl.constexpr):
    """Y[M, N] = scale * X[M, K] @ W[K, N] (reference forward with the same addressing; the timed forward
    is the lead kernel of :mod:`cachesim.measure.triton_fast` where it exists)."""
    pid_m, pid_n = _grouped_pid(tl.program_id(0), M, N, BLOCK_M, BN, GROUP_M)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BN + tl.arange(0, BN)
    acc = tl.zeros((BLOCK_M, BN), dtype=tl.float32)
    for kb in range(0, tl.cdiv(K, BK)):
        rk = kb * BK + tl.arange(0, BK)
        a_ptrs = x_ptr + rm[:, None].to(tl.int64) * K + rk[None, :]
        if EVEN:
            a = tl.load(a_ptrs)
        else:
            a = tl.load(a_ptrs, mask=(rm[:, None] < M) & (rk[None, :] < K), other=0.0)
        w = _w_tile(w_ptr, start_ptr, idx_ptr, rk, rn, kb, pid_n, N, K, NB, r1, r2, r3, prime, span,
                    KIND, BK, BN, ALIGN, EVEN)
        acc = _dot(a, w, acc, IEEE)
    acc = acc * scale
    y_ptrs = y_ptr + rm[:, None].to(tl.int64) * N + rn[None, :]
    if EVEN:
        tl.store(y_ptrs, acc.to(y_ptr.dtype.element_ty))
    else:
        tl.store(y_ptrs, acc.to(y_ptr.dtype.element_ty), mask=(rm[:, None] < M) & (rn[None, :] < N))


@triton.jit
def dx_kernel(dy_ptr, w_ptr, start_ptr, idx_ptr, dx_ptr, M, N, K, NB, scale, r1, r2, r3, prime, span,
              KIND: tl.constexpr, BLOCK_M: tl.constexpr, BK: tl.constexpr, BN: tl.constexpr,
              GROUP_M: tl.constexpr, ALIGN: tl.constexpr, IEEE: tl.constexpr, EVEN: tl.constexpr):
    """dX[M, K] = scale * dY[M, N] @ W[K, N]^T; program (pid_m, kb), loop over the tile columns nb."""
    pid_m, kb = _grouped_pid(tl.program_id(0), M, K, BLOCK_M, BK, GROUP_M)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rk = kb * BK + tl.arange(0, BK)
    acc = tl.zeros((BLOCK_M, BK), dtype=tl.float32)
    for nb in range(0, tl.cdiv(N, BN)):
        rn = nb * BN + tl.arange(0, BN)
        g_ptrs = dy_ptr + rm[:, None].to(tl.int64) * N + rn[None, :]
        if EVEN:
            g = tl.load(g_ptrs)
        else:
            g = tl.load(g_ptrs, mask=(rm[:, None] < M) & (rn[None, :] < N), other=0.0)
        w = _w_tile(w_ptr, start_ptr, idx_ptr, rk, rn, kb, nb, N, K, NB, r1, r2, r3, prime, span,
                    KIND, BK, BN, ALIGN, EVEN)
        acc = _dot(g, tl.trans(w), acc, IEEE)
    acc = acc * scale
    dx_ptrs = dx_ptr + rm[:, None].to(tl.int64) * K + rk[None, :]
    if EVEN:
        tl.store(dx_ptrs, acc.to(dx_ptr.dtype.element_ty))
    else:
        tl.store(dx_ptrs, acc.to(dx_ptr.dtype.element_ty), mask=(rm[:, None] < M) & (rk[None, :] < K))


@triton.jit
def dw_kernel(x_ptr, dy_ptr, start_ptr, idx_ptr, g_ptr, M, N, K, NB, scale, r1, r2, r3, prime, span,
              KIND: tl.constexpr, BLOCK_M: tl.constexpr, BK: tl.constexpr, BN: tl.constexpr,
              GROUP_K: tl.constexpr, SPLIT_M: tl.constexpr, ALIGN: tl.constexpr, IEEE: tl.constexpr,
              EVEN: tl.constexpr):
    """Tile ``(kb, nb)`` of ``scale * X^T dY`` (fp32) added into the gradient ``g`` (stored for dense).

    Program ``(tile, split)`` sums the row blocks ``split, split + SPLIT_M, ...`` of ``M``; with
    ``SPLIT_M > 1`` the partial tiles meet in the atomics (dense needs ``SPLIT_M == 1``).
    """
    kb, nb = _grouped_pid(tl.program_id(0), K, N, BK, BN, GROUP_K)
    split = tl.program_id(1)
    rk = kb * BK + tl.arange(0, BK)
    rn = nb * BN + tl.arange(0, BN)
    acc = tl.zeros((BK, BN), dtype=tl.float32)
    for mb in range(split, tl.cdiv(M, BLOCK_M), SPLIT_M):
        rm = mb * BLOCK_M + tl.arange(0, BLOCK_M)
        x_ptrs = x_ptr + rm[:, None].to(tl.int64) * K + rk[None, :]
        d_ptrs = dy_ptr + rm[:, None].to(tl.int64) * N + rn[None, :]
        if EVEN:
            x = tl.load(x_ptrs)
            d = tl.load(d_ptrs)
        else:
            x = tl.load(x_ptrs, mask=(rm[:, None] < M) & (rk[None, :] < K), other=0.0)
            d = tl.load(d_ptrs, mask=(rm[:, None] < M) & (rn[None, :] < N), other=0.0)
        acc = _dot(tl.trans(x), d, acc, IEEE)
    acc = acc * scale
    if KIND == 0:
        # one dense block add: the tile's BK*BN values go to the contiguous run s + [0, BK*BN)
        s = _tile_start(start_ptr, kb, nb, NB, ALIGN)
        j = tl.arange(0, BK * BN)
        vals = tl.reshape(acc, (BK * BN,))
        if EVEN:
            tl.atomic_add(g_ptr + s + j, vals, sem="relaxed")
        else:
            inside = (kb * BK + j // BN < K) & (nb * BN + j % BN < N)
            tl.atomic_add(g_ptr + s + j, vals, mask=inside, sem="relaxed")
    else:
        mask = (rk[:, None] < K) & (rn[None, :] < N)
        if KIND == 1:
            off = ((rk[:, None].to(tl.int64) * r1 + rn[None, :].to(tl.int64) * r2 + r3) % prime) % span
            tl.atomic_add(g_ptr + off, acc, mask=mask, sem="relaxed")
        elif KIND == 2:
            off = tl.load(idx_ptr + rk[:, None].to(tl.int64) * N + rn[None, :], mask=mask, other=0)
            tl.atomic_add(g_ptr + off, acc, mask=mask, sem="relaxed")
        else:
            tl.store(g_ptr + rk[:, None].to(tl.int64) * N + rn[None, :], acc, mask=mask)


@triton.jit
def sgd_kernel(w_ptr, g_ptr, n, lr, BLOCK: tl.constexpr):
    """``w <- w - lr * g`` elementwise (``g`` fp32, the update computed in fp32, stored in ``w``'s dtype)."""
    off = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = off < n
    w = tl.load(w_ptr + off, mask=mask, other=0.0).to(tl.float32)
    g = tl.load(g_ptr + off, mask=mask, other=0.0)
    tl.store(w_ptr + off, (w - lr * g).to(w_ptr.dtype.element_ty), mask=mask)
