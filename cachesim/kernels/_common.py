"""Small shared definitions of the kernel traffic models: dtypes, kernel names, GEMM shapes and blocks.

The input checks themselves live in :mod:`cachesim._validate` (re-exported here for the kernel modules).
"""

from __future__ import annotations

from dataclasses import dataclass

from .._validate import check_choice, check_int, check_pow2, parse_triple
from ..errors import CacheSimError

#: Bytes per element of each supported dtype.
DTYPE_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2}

GEMM_KINDS = ("dense", "roast", "hashednet")
GATHER_KINDS = ("gather-roast", "gather-hashednet")
ALL_KINDS = GEMM_KINDS + GATHER_KINDS

__all__ = ["ALL_KINDS", "DTYPE_BYTES", "GATHER_KINDS", "GEMM_KINDS", "Block", "GemmShape", "check_choice",
           "check_divisible", "check_int", "check_pow2", "dtype_bytes", "parse_triple"]


def dtype_bytes(dtype) -> int:
    """Bytes per element of ``dtype`` (``fp32``, ``fp16`` or ``bf16``)."""
    return DTYPE_BYTES[check_choice("dtype", dtype, DTYPE_BYTES)]


@dataclass(frozen=True)
class GemmShape:
    """``Y = X W`` with ``X: M x K`` and ``W: K x N`` (all row-major)."""

    m: int
    k: int
    n: int

    @classmethod
    def parse(cls, shape) -> GemmShape:
        if isinstance(shape, GemmShape):
            return shape
        m, k, n = parse_triple("shape", shape)
        return cls(m, k, n)

    @property
    def flops(self) -> int:
        """Multiply-adds counted as two FLOPs: ``2 M K N``."""
        return 2 * self.m * self.k * self.n


@dataclass(frozen=True)
class Block:
    """Triton block sizes ``BLOCK_M x BLOCK_N x BLOCK_K`` (the order of the ``--block`` option)."""

    bm: int
    bn: int
    bk: int

    @classmethod
    def parse(cls, block) -> Block:
        if isinstance(block, Block):
            return block
        bm, bn, bk = parse_triple("block", block)
        for nm, v in (("BLOCK_M", bm), ("BLOCK_N", bn), ("BLOCK_K", bk)):
            if v & (v - 1) or v < 8:
                raise CacheSimError(f"block {nm}={v} must be a power of two >= 8 (got block={block!r})")
        return cls(bm, bn, bk)


def check_divisible(shape: GemmShape, block: Block) -> None:
    """Edge tiles (masked loads) are not modelled: each dimension must be a multiple of its block."""
    for nm, dim, b, bnm in (("M", shape.m, block.bm, "BLOCK_M"), ("K", shape.k, block.bk, "BLOCK_K"),
                            ("N", shape.n, block.bn, "BLOCK_N")):
        if dim % b:
            raise CacheSimError(
                f"shape {nm}={dim} must be a multiple of {bnm}={b} (masked edge tiles are not modelled)"
            )
