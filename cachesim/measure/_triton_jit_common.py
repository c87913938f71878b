"""Triton device functions shared by every fused kernel module (imported only where triton is).

Program order, the dot, masked block loads and stores of row-major operands, the scalar start loads, and
the weight addresses that several kernel families compute the same way (the RzLinear ``stable`` bracket,
the authors' HashedNet hash, multiply-shift). Triton inlines every one of them into its caller.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _grouped_pid(pid, rows, cols, BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr, GROUP: tl.constexpr):
    """(row block, column block) of program ``pid`` in the grouped order: ``GROUP`` row blocks share
    their column blocks while they are in L2."""
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
def _grouped_block(pid, rows, cols, BLOCK_R: tl.constexpr, BLOCK_C: tl.constexpr, GROUP: tl.constexpr):
    """``(pid_r, pid_c, row indices, column indices)`` of program ``pid``'s output block in the grouped
    order of :func:`_grouped_pid` (the block starts at ``(pid_r BLOCK_R, pid_c BLOCK_C)``)."""
    pid_r, pid_c = _grouped_pid(pid, rows, cols, BLOCK_R, BLOCK_C, GROUP)
    return pid_r, pid_c, pid_r * BLOCK_R + tl.arange(0, BLOCK_R), pid_c * BLOCK_C + tl.arange(0, BLOCK_C)


@triton.jit
def _dot(a, b, acc, IEEE: tl.constexpr):
    """``acc + a @ b``; ``IEEE`` asks for full fp32 products (no TF32)."""
    if IEEE:
        return tl.dot(a, b, acc, input_precision="ieee")
    else:
        return tl.dot(a, b, acc)


@triton.jit
def _masked_load(ptrs, mask, EVEN: tl.constexpr):
    """``tl.load(ptrs)`` when ``EVEN`` (every block inside its matrix), else masked with zeros outside."""
    if EVEN:
        v = tl.load(ptrs)
    else:
        v = tl.load(ptrs, mask=mask, other=0.0)
    return v


@triton.jit
def _load_block(ptr, rows, cols, R, C, EVEN: tl.constexpr):
    """Block ``A[rows, cols]`` of the row-major ``R x C`` matrix at ``ptr`` (int64 row offsets); unless
    ``EVEN``, elements outside ``R x C`` read as zero."""
    ptrs = ptr + rows[:, None].to(tl.int64) * C + cols[None, :]
    return _masked_load(ptrs, (rows[:, None] < R) & (cols[None, :] < C), EVEN)


@triton.jit
def _load_xt_dy(x_ptr, dy_ptr, rm, rk, rn, M, N, K, EVEN: tl.constexpr):
    """Row block ``rm`` of ``X[:, rk]`` and of ``dY[:, rn]``: one reduction step of a weight gradient
    ``X^T dY`` (both addresses first, then both loads)."""
    x_ptrs = x_ptr + rm[:, None].to(tl.int64) * K + rk[None, :]
    g_ptrs = dy_ptr + rm[:, None].to(tl.int64) * N + rn[None, :]
    if EVEN:
        x = tl.load(x_ptrs)
        g = tl.load(g_ptrs)
    else:
        x = tl.load(x_ptrs, mask=(rm[:, None] < M) & (rk[None, :] < K), other=0.0)
        g = tl.load(g_ptrs, mask=(rm[:, None] < M) & (rn[None, :] < N), other=0.0)
    return x, g


@triton.jit
def _store_block(ptr, acc, rows, cols, R, C, EVEN: tl.constexpr):
    """Store ``acc`` (converted to the element type of ``ptr``) as block ``[rows, cols]`` of the row-major
    ``R x C`` matrix at ``ptr``; unless ``EVEN``, only the elements inside ``R x C``."""
    ptrs = ptr + rows[:, None].to(tl.int64) * C + cols[None, :]
    if EVEN:
        tl.store(ptrs, acc.to(ptr.dtype.element_ty))
    else:
        tl.store(ptrs, acc.to(ptr.dtype.element_ty), mask=(rows[:, None] < R) & (cols[None, :] < C))


@triton.jit
def _ld_i32(ptr, ASM: tl.constexpr):
    """int32 load(s); ``ASM``: a plain ``ld.global.nc`` that Triton's software pipeliner leaves in place
    (``tl.load`` under the interpreter)."""
    if ASM:
        v = tl.inline_asm_elementwise("ld.global.nc.b32 $0, [$1];", "=r,l", [ptr], dtype=tl.int32,
                                      is_pure=True, pack=1)
    else:
        v = tl.load(ptr)
    return v


@triton.jit
def _stable_bracket(kt, nt, r1, r2, r3, r4, r5, r7, prime):
    """RzLinear ``stable`` tile bracket ``((kt R3 + nt R2 + R1) mod P) P + ((kt R7 + nt R5 + R4) mod P)``
    in int64 (reduced modulo the start range by the caller)."""
    kt64 = tl.cast(kt, tl.int64)
    nt64 = tl.cast(nt, tl.int64)
    hi = (kt64 * r3 + nt64 * r2 + r1) % prime
    lo = (kt64 * r7 + nt64 * r5 + r4) % prime
    return hi * prime + lo


@triton.jit
def _hashednet_slot(rk, rn, r1, r2, r3, prime, modulus):
    """The authors' HashedNet slot ((k R1 + n R2 + R3) mod P) mod H, int64 (BLOCK_K x BLOCK_N)."""
    h = (rk[:, None].to(tl.int64) * r1 + rn[None, :].to(tl.int64) * r2 + r3) % prime
    return h % modulus


@triton.jit
def _mulshift_slot(rk, rn, r1, r2, r3, shift):
    """Multiply-shift slot: the top bits of ``(k A1 + n A2 + B) mod 2**32`` (``A1, A2, B`` passed as the
    int32 bit patterns ``r1, r2, r3``; ``shift = 32 - log2 H``), int32 (BLOCK_K x BLOCK_N)."""
    a1 = tl.cast(r1, tl.uint32, bitcast=True)
    a2 = tl.cast(r2, tl.uint32, bitcast=True)
    c = tl.cast(r3, tl.uint32, bitcast=True)
    h = rk[:, None].to(tl.uint32) * a1 + rn[None, :].to(tl.uint32) * a2 + c
    return (h >> tl.cast(shift, tl.uint32)).to(tl.int32)
