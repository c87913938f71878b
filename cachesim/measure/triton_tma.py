"""ROAST-MM and dense GEMMs whose operand blocks are copied by the Hopper Tensor Memory Accelerator (TMA).

:func:`tma_matmul` computes the forward ``Y = scale * X @ W`` or the input gradient
``dX = scale * dY @ W^T`` with :func:`cachesim.measure._triton_tma_jit.tma_kernel`: each A and B block is
one bulk tensor copy (a host ``TensorDescriptor``), so the k-loop issues no per-thread address arithmetic
and no load instructions; only the block coordinates differ between dense and ROAST.

A ROAST tile can be copied in one piece only when its start is a whole row of the shared array seen as a
``(memory / BN) x BN`` matrix, i.e. ``align == BN`` (the tile ``(BK, BN)`` is then the ``BK`` rows from
row ``start / BN``). The starts are those of ``roast_theory.hashes`` ``"rz-aligned"`` with that alignment
(:class:`~.triton_fast.FastWeight` with ``align = tile[1]``), read from the start table (index
``table``) or hashed in int32 in the loop (index ``hash32``), so the forward, ``dX`` and the
gradient pass of :mod:`~.triton_fast_bwd` read the same slots.

Configurations (:class:`TmaConfig`) add a persistent schedule (``persistent``: one program per SM walks
the output blocks), with Triton's loop flattening and automatic warp specialisation as options.

Importing this module needs neither torch nor triton; the kernel compiles on first use.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from ..errors import CacheSimError
from ._triton_host import LaunchConfig, check_operand, import_kernels, kernels_available
from .triton_fast import PreparedWeight

__all__ = ["TMA_CONFIGS", "TmaConfig", "tma_available", "tma_configs", "tma_grad", "tma_launch", "tma_matmul"]

_MODES = {("dense", "dense"): 0, ("roast", "table"): 1, ("roast", "hash32"): 8}


@functools.cache
def _jit():
    return import_kernels("_triton_tma_jit")


def tma_available() -> bool:
    """True when torch and triton import (the kernel itself needs an sm_90 GPU or the interpreter)."""
    return kernels_available(_jit)


@dataclass(frozen=True)
class TmaConfig(LaunchConfig):
    """Launch configuration of :func:`tma_matmul`.

    Parameters
    ----------
    block_m, block_n, block_k : int
        Output rows, output columns (``N`` forward, ``K`` for ``dX``) and reduction step (``K`` forward,
        ``N`` for ``dX``) of one program; powers of two in [16, 256] (a TMA box side is at most 256).
    group_m, num_warps, num_stages : int
        As :class:`~.triton_fast.FastConfig`.
    persistent : bool
        One program per SM (at most) walking the output blocks in the grouped order.
    flatten, warp_specialize : bool
        Persistent only: Triton's loop flattening / automatic warp specialisation of the block loop.
    """

    block_n: int = 128
    block_k: int = 64
    persistent: bool = False
    flatten: bool = False
    warp_specialize: bool = False

    LIMITS = (256, 64, 32, 8)

    def __post_init__(self):
        super().__post_init__()
        for name in ("persistent", "flatten", "warp_specialize"):
            if not isinstance(getattr(self, name), bool):
                raise CacheSimError(f"{name}={getattr(self, name)!r} must be True or False")
        if (self.flatten or self.warp_specialize) and not self.persistent:
            raise CacheSimError("flatten and warp_specialize need persistent=True")

    def label(self) -> str:
        tail = "-p" * self.persistent + "f" * self.flatten + "w" * self.warp_specialize
        return super().label() + tail

    def to_dict(self) -> dict:
        return {
            k: getattr(self, k)
            for k in (
                "block_m",
                "block_n",
                "block_k",
                "group_m",
                "num_warps",
                "num_stages",
                "persistent",
                "flatten",
                "warp_specialize",
            )
        }


@functools.cache
def _sm_count(device_index: int) -> int:
    """SMs of a CUDA device (asked once per device, not on every launch)."""
    import torch

    return torch.cuda.get_device_properties(device_index).multi_processor_count


def _grid(m, bn_m, p, bn_p, persistent, num_sms):
    blocks = (m // bn_m) * (p // bn_p)
    return min(blocks, num_sms) if persistent else blocks


#: Candidates timed by the device driver (block_n / block_k fixed by the ROAST tile for ROAST).
TMA_CONFIGS = tuple(
    TmaConfig(bm, bn, bk, 8, w, s, p, f, ws)
    for (bm, bn, bk) in (
        (128, 128, 64),
        (128, 256, 64),
        (64, 128, 64),
        (128, 64, 128),
        (64, 64, 128),
        (256, 128, 64),
        (128, 128, 128),
    )
    for (w, s) in ((4, 4), (8, 3), (4, 3))
    for (p, f, ws) in ((False, False, False), (True, False, False), (True, True, False), (True, False, True))
)


def _tile_blocks(w, transpose: bool) -> tuple:
    """``(block_n, block_k)`` pairs that copy whole ROAST tiles: forward ``(BN, BK)``; dX one or two tiles
    wide, ``(BK, BN)`` or ``(2 BK, BN)``."""
    bk, bn = w.tile
    return ((bk, bn), (2 * bk, bn)) if transpose else ((bn, bk),)


def _unwritten_pair(w, config, transpose: bool) -> bool:
    """The dX block two tiles wide under warp specialisation, which left its output unwritten on the H200."""
    return transpose and config.block_n == 2 * w.tile[0] and config.warp_specialize


def tma_configs(prep: PreparedWeight, *, transpose: bool = False, candidates=TMA_CONFIGS) -> tuple:
    """The candidates whose blocks copy whole ROAST tiles (forward: ``block_k == BK, block_n == BN``;
    ``dX``: ``block_k == BN`` and ``block_n`` one or two tiles, ``BK`` or ``2 BK``); every candidate for
    dense."""
    w = prep.weight
    if w.scheme == "dense":
        return tuple(candidates)
    want = _tile_blocks(w, transpose)
    return tuple(c for c in candidates
                 if (c.block_n, c.block_k) in want and not _unwritten_pair(w, c, transpose))


def _check(prep, config, m, transpose):
    if not isinstance(prep, PreparedWeight):
        raise CacheSimError(f"prep has type {type(prep).__name__}: must be a PreparedWeight")
    if not isinstance(config, TmaConfig):
        raise CacheSimError(f"config has type {type(config).__name__}: must be a TmaConfig")
    w = prep.weight
    if (w.scheme, w.index) not in _MODES:
        raise CacheSimError(
            f"scheme={w.scheme!r}, index={w.index!r}: the TMA kernel runs dense and ROAST "
            f"with index 'table' or 'hash32'"
        )
    k, n = prep.in_features, prep.out_features
    p, r = (k, n) if transpose else (n, k)
    if w.scheme == "roast":
        bk, bn = w.tile
        if w.align != bn:
            raise CacheSimError(
                f"align={w.align} must equal BN={bn}: a TMA copy needs each tile to start "
                f"on a row of the (memory / BN) x BN view of the shared array"
            )
        want = _tile_blocks(w, transpose)
        if _unwritten_pair(w, config, transpose):
            raise CacheSimError(f"config {config.label()}: warp_specialize with a dX block two tiles wide "
                                f"left the output unwritten on the H200 (measurements/gpu/call18_headline); "
                                f"use warp_specialize=False or block_n={bk}")
        if (config.block_n, config.block_k) not in want:
            raise CacheSimError(
                f"config {config.label()} must have (block_n, block_k) in {list(want)} to "
                f"copy whole tiles {w.tile}{' (dX)' if transpose else ''}"
            )
    for name, size, block in (("M", m, config.block_m), ("P", p, config.block_n), ("R", r, config.block_k)):
        if size % block:
            raise CacheSimError(f"{name}={size} is not a multiple of the block {block} ({config.label()})")


def _descriptors(torch, x, b, out, prep, config, transpose):
    from triton.tools.tensor_descriptor import TensorDescriptor

    w = prep.weight
    a_desc = TensorDescriptor.from_tensor(x, [config.block_m, config.block_k])
    pair = w.scheme == "roast" and transpose and config.block_n == 2 * w.tile[0]
    c_desc = TensorDescriptor.from_tensor(
        out, [config.block_m, config.block_n // 2 if pair else config.block_n]
    )
    if w.scheme == "dense":
        box = [config.block_n, config.block_k] if transpose else [config.block_k, config.block_n]
        b_desc = TensorDescriptor.from_tensor(b, box)
    else:
        bk, bn = w.tile
        b_desc = TensorDescriptor.from_tensor(b.view(w.memory // bn, bn), [bk, bn])
    return a_desc, b_desc, c_desc


def _operands(torch, x, b, prep, config, transpose, out):
    """Check the operands of :func:`tma_launch`; ``(M, P, R, out)`` with ``out`` allocated if None."""
    if not isinstance(prep, PreparedWeight):
        raise CacheSimError(f"prep has type {type(prep).__name__}: must be a PreparedWeight")
    w = prep.weight
    check_operand(torch, "x", x, 2)
    dense_b = w.scheme == "dense"
    check_operand(torch, "b", b, 2 if dense_b else 1, x.dtype, x.device)
    m = x.shape[0]
    _check(prep, config, m, transpose)
    k, n = prep.in_features, prep.out_features
    r, p = (n, k) if transpose else (k, n)
    if x.shape[1] != r:
        raise CacheSimError(f"x has shape {tuple(x.shape)}: must have {r} columns")
    want = (k, n) if dense_b else (w.memory,)
    if tuple(b.shape) != want:
        raise CacheSimError(f"b has shape {tuple(b.shape)}: must be {want}")
    if out is None:
        out = torch.empty((m, p), dtype=x.dtype, device=x.device)
    check_operand(torch, "out", out, 2, x.dtype, x.device)
    if tuple(out.shape) != (m, p):
        raise CacheSimError(f"out has shape {tuple(out.shape)}: must be {(m, p)}")
    return m, p, r, out


def tma_launch(x, b, prep: PreparedWeight, config: TmaConfig, *, scale: float = 1.0, transpose: bool = False,
               out=None, num_sms: int | None = None):
    """Check the operands once; return ``run() -> out`` launching ``scale * X @ W`` (or ``scale * dY @ W^T``
    with ``transpose``) with TMA-copied blocks (the descriptors are built once, so a timer measures the
    launch, not the checks).

    Parameters
    ----------
    x : torch.Tensor
        ``(M, K)`` input, or ``(M, N)`` output gradient when ``transpose``.
    b : torch.Tensor
        Dense ``(K, N)`` weight or the ``(memory,)`` shared array; same dtype and device as ``x``.
    prep : PreparedWeight
        ``FastWeight("dense")`` or ``FastWeight("roast", "table" | "hash32", align=tile[1])`` prepared for
        ``(K, N)``.
    config : TmaConfig
        Blocks dividing the shape; ROAST: whole tiles (see :func:`tma_configs`).
    scale : float
    transpose : bool
        Compute the input gradient ``(M, K)`` instead of the forward ``(M, N)``.
    out : torch.Tensor, optional
    num_sms : int, optional
        Programs of a persistent launch (default: the device's SM count).

    Notes
    -----
    Forward :math:`Y_{mn} = \\lambda \\sum_k X_{mk} M[s(k / BK, n / BN) + (k \\bmod BK) BN + n \\bmod BN]`;
    ``dX`` is the same sum over ``n``. With ``align = BN`` the tile is rows
    :math:`[s / BN, s / BN + BK)` of ``M`` viewed as a :math:`(|M| / BN) \\times BN` matrix.
    """
    import torch

    m, p, r, out = _operands(torch, x, b, prep, config, transpose, out)
    w = prep.weight
    if num_sms is None:
        num_sms = _sm_count(x.device.index or 0) if x.device.type == "cuda" else 4
    descs = _descriptors(torch, x, b, out, prep, config, transpose)
    aux = prep.aux if prep.aux is not None else out
    grid = (_grid(m, config.block_m, p, config.block_n, config.persistent, int(num_sms)),)
    args = prep.args[:8]  # r1 r2 r3 r4 r5 r7 prime modulus
    kernel = _jit().tma_kernel[grid]
    const = dict(
        B_MODE=_MODES[(w.scheme, w.index)],
        TRANS_B=bool(transpose),
        TBK=w.tile[0],
        TBN=w.tile[1],
        BLOCK_M=config.block_m,
        BLOCK_P=config.block_n,
        BLOCK_R=config.block_k,
        GROUP_M=config.group_m,
        PERSISTENT=config.persistent,
        FLATTEN=config.flatten,
        WARP_SPEC=config.warp_specialize,
        num_warps=config.num_warps,
        num_stages=config.num_stages,
    )
    call = (*descs, aux, m, p, r, prep.n_tile_cols, float(scale), *args)

    def run():
        run.compiled = kernel(*call, **const)  # Triton's compiled kernel (``.asm["sass"]``), for listings
        return out

    run.compiled = None
    return run


def tma_matmul(x, b, prep: PreparedWeight, config: TmaConfig, *, scale: float = 1.0, transpose: bool = False,
               out=None, num_sms: int | None = None):
    """``scale * X @ W`` (or ``scale * dY @ W^T`` with ``transpose``) with TMA-copied blocks; the
    arguments as in :func:`tma_launch`. Returns ``out`` (a new ``(M, N)`` or ``(M, K)`` tensor if None)."""
    return tma_launch(x, b, prep, config, scale=scale, transpose=transpose, out=out, num_sms=num_sms)()


def _grad_operands(torch, x, dy, grad, prep, block_m, split_m):
    """Check the operands of :func:`tma_grad`; ``(block_m, split_m, (M, K, N), tile)``."""
    from ._triton_host import int_in, pow2_in

    if not isinstance(prep, PreparedWeight):
        raise CacheSimError(f"prep has type {type(prep).__name__}: must be a PreparedWeight")
    w = prep.weight
    if (w.scheme, w.index) not in _MODES or (w.scheme == "roast" and w.align != w.tile[1]):
        raise CacheSimError(f"weight {w.name}: tma_grad runs dense and ROAST (table or hash32, align == BN)")
    check_operand(torch, "x", x, 2)
    check_operand(torch, "dy", dy, 2, x.dtype, x.device)
    k, n = prep.in_features, prep.out_features
    m = x.shape[0]
    if tuple(x.shape) != (m, k) or tuple(dy.shape) != (m, n):
        raise CacheSimError(f"x {tuple(x.shape)} and dy {tuple(dy.shape)} must be (M, {k}) and (M, {n})")
    want = (k, n) if w.scheme == "dense" else (w.memory,)
    if not isinstance(grad, torch.Tensor) or grad.dtype != torch.float32 or tuple(grad.shape) != want:
        raise CacheSimError(f"grad must be a float32 tensor of shape {want}")
    block_m = pow2_in("block_m", block_m, 16, 256)
    split_m = int_in("split_m", split_m, 1, 64)
    bk, bn = w.tile
    if k % bk or n % bn or m % (block_m * split_m):
        raise CacheSimError(
            f"shape (M, K, N) = {(m, k, n)} must be multiples of (block_m * split_m, BK, BN) = "
            f"{(block_m * split_m, bk, bn)}"
        )
    return block_m, split_m, (m, k, n), (bk, bn)


def tma_grad(
    x,
    dy,
    grad,
    prep: PreparedWeight,
    *,
    scale: float = 1.0,
    block_m: int = 64,
    split_m: int = 1,
    group_m: int = 8,
    num_warps: int = 4,
    num_stages: int = 4,
):
    r"""Add ``scale * X^T dY`` into ``grad`` tile by tile (``grad``: fp32, ``(memory,)`` for ROAST or
    ``(K, N)`` for dense), with TMA-copied ``X`` and ``dY`` blocks; returns ``grad``.

    Parameters
    ----------
    x : torch.Tensor, (M, K)
    dy : torch.Tensor, (M, N)
    grad : torch.Tensor, float32
        Accumulated into (zero it first for one step's gradient).
    prep : PreparedWeight
        As :func:`tma_matmul` (the tile is the output block; dense uses ``prep.weight.tile`` as its block).
    block_m : int
        Reduction step over ``M`` (a power of two in [16, 256]).
    split_m : int
        Programs per tile, each reducing ``M / split_m`` rows (partial sums meet in the atomics).

    Notes
    -----
    :math:`g[s(k_t, n_t) + i BN + j] \mathrel{+}= \lambda \sum_m X_{m, k_t BK + i} dY_{m, n_t BN + j}`.
    """
    import torch
    from triton.tools.tensor_descriptor import TensorDescriptor

    block_m, split_m, (m, k, n), (bk, bn) = _grad_operands(torch, x, dy, grad, prep, block_m, split_m)
    w = prep.weight
    x_desc = TensorDescriptor.from_tensor(x, [block_m, bk])
    dy_desc = TensorDescriptor.from_tensor(dy, [block_m, bn])
    aux = prep.aux if prep.aux is not None else grad
    grid = ((k // bk) * (n // bn) * split_m,)
    _jit().tma_grad_kernel[grid](
        x_desc,
        dy_desc,
        grad,
        aux,
        m,
        k,
        n,
        prep.n_tile_cols,
        float(scale),
        *prep.args[:8],
        B_MODE=_MODES[(w.scheme, w.index)],
        TBK=bk,
        TBN=bn,
        BLOCK_R=block_m,
        SPLIT_M=split_m,
        GROUP_M=group_m,
        num_warps=num_warps,
        num_stages=num_stages,
    )
    return grad
