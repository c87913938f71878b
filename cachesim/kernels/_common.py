"""Small shared definitions of the kernel traffic models: dtypes, kernel names, GEMM shapes and blocks.

The input checks themselves live in :mod:`cachesim._validate` (re-exported here for the kernel modules).
"""

from __future__ import annotations

from dataclasses import dataclass

from .._validate import check_choice, check_int, check_pow2, is_pow2, parse_triple
from ..errors import CacheSimError

#: Bytes per element of each supported dtype.
DTYPE_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2}

#: Kernel implementations: the tiled GEMMs, the gather-then-matmul kernels, and all of them.
GEMM_KERNELS = ("dense", "roast", "hashednet")
GATHER_KERNELS = ("gather-roast", "gather-hashednet")
ALL_KERNELS = GEMM_KERNELS + GATHER_KERNELS
#: Deprecated names of the three tuples above.
GEMM_KINDS, GATHER_KINDS, ALL_KINDS = GEMM_KERNELS, GATHER_KERNELS, ALL_KERNELS

__all__ = ["ALL_KERNELS", "ALL_KINDS", "DTYPE_BYTES", "GATHER_KERNELS", "GATHER_KINDS", "GEMM_KERNELS",
           "GEMM_KINDS", "Block", "GemmShape", "check_choice",
           "check_divisible", "check_int", "check_memory", "check_pow2", "dtype_bytes", "parse_triple"]


def check_memory(kernel: str, memory, *, low: int = 1) -> int:
    """The shared-array size ``memory`` (elements) a hashed ``kernel`` needs, as an int >= ``low``."""
    if memory is None:
        raise CacheSimError(f"memory=None: kernel {kernel!r} needs memory, the shared-array size in elements")
    return check_int("memory", memory, low=low)


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
        """From ``"MxKxN"``, ``(M, K, N)`` or a :class:`GemmShape`."""
        return shape if isinstance(shape, GemmShape) else cls(*parse_triple("shape", shape))

    def __str__(self) -> str:
        return f"{self.m}x{self.k}x{self.n}"

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
        """From ``"BMxBNxBK"``, ``(BM, BN, BK)`` or a :class:`Block`; each a power of two >= 8."""
        if isinstance(block, Block):
            return block
        b = cls(*parse_triple("block", block))
        for nm, v in zip(("BLOCK_M", "BLOCK_N", "BLOCK_K"), (b.bm, b.bn, b.bk)):
            if not is_pow2(v) or v < 8:
                raise CacheSimError(f"block {nm}={v} must be a power of two >= 8 (got block={block!r})")
        return b

    def __str__(self) -> str:
        return f"{self.bm}x{self.bn}x{self.bk}"


def check_divisible(shape: GemmShape, block: Block) -> None:
    """Edge tiles (masked loads) are not modelled: each dimension must be a multiple of its block."""
    for nm, dim, b, bnm in (("M", shape.m, block.bm, "BLOCK_M"), ("K", shape.k, block.bk, "BLOCK_K"),
                            ("N", shape.n, block.bn, "BLOCK_N")):
        if dim % b:
            raise CacheSimError(
                f"shape {nm}={dim} must be a multiple of {bnm}={b} (masked edge tiles are not modelled)"
            )
