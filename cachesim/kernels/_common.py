"""Small shared definitions of the kernel traffic models: dtypes, kernel names, GEMM shapes and blocks.

The input checks themselves live in :mod:`cachesim._validate` (re-exported here for the kernel modules).
"""

from __future__ import annotations

from dataclasses import dataclass

from .._validate import check_allocation, check_choice, check_int, check_pow2, is_pow2, parse_triple
from ..errors import CacheSimError

#: Bytes per element of each supported dtype.
DTYPE_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2}

#: Other spellings accepted wherever a dtype is (torch / numpy names). ``tf32`` is fp32 data multiplied on
#: TF32 tensor cores, which is what ``fp32`` already models by default (``tf32=True``).
DTYPE_ALIASES = {"float32": "fp32", "tf32": "fp32", "float": "fp32", "float16": "fp16", "half": "fp16",
                 "bfloat16": "bf16"}

#: Largest rows x columns of one GEMM operand or result (2**36 elements: 256 GiB at fp32, more than any
#: target's memory); dimensions are at most 2**31.
MAX_MATRIX_ELEMENTS = 1 << 36
MAX_DIM = 1 << 31
#: Largest shared array of a hashed kernel in elements: its byte addresses must stay inside the 48-bit
#: address space of the simulated traces.
MAX_MEMORY = 1 << 40

#: Kernel implementations: the tiled GEMMs, the gather-then-matmul kernels, and all of them.
GEMM_KERNELS = ("dense", "roast", "hashednet")
GATHER_KERNELS = ("gather-roast", "gather-hashednet")
ALL_KERNELS = GEMM_KERNELS + GATHER_KERNELS
#: Deprecated names of the three tuples above.
GEMM_KINDS, GATHER_KINDS, ALL_KINDS = GEMM_KERNELS, GATHER_KERNELS, ALL_KERNELS

__all__ = ["ALL_KERNELS", "ALL_KINDS", "DTYPE_BYTES", "GATHER_KERNELS", "GATHER_KINDS", "GEMM_KERNELS",
           "GEMM_KINDS", "Block", "DTYPE_ALIASES", "GemmShape", "MAX_DIM", "MAX_MATRIX_ELEMENTS",
           "MAX_MEMORY",
           "canonical_dtype", "check_choice", "check_divisible", "check_int", "check_memory", "check_pow2",
           "dtype_bytes", "parse_triple"]


def check_memory(kernel: str, memory, *, low: int = 1) -> int:
    """The shared-array size ``memory`` (elements) a hashed ``kernel`` needs, as an int >= ``low``."""
    if memory is None:
        raise CacheSimError(f"memory=None: kernel {kernel!r} needs memory, the shared-array size in elements")
    return check_int("memory", memory, low=low, high=MAX_MEMORY)


def canonical_dtype(dtype) -> str:
    """``"fp32"``, ``"fp16"`` or ``"bf16"`` for any accepted spelling (:data:`DTYPE_ALIASES`, any case)."""
    if isinstance(dtype, str):
        key = dtype.strip().lower()
        key = DTYPE_ALIASES.get(key, key)
        if key in DTYPE_BYTES:
            return key
    allowed = ", ".join([*DTYPE_BYTES, *DTYPE_ALIASES])
    raise CacheSimError(f"dtype={dtype!r} is not allowed: choose one of {allowed}")


def dtype_bytes(dtype) -> int:
    """Bytes per element of ``dtype`` (``fp32``, ``fp16``, ``bf16`` or an alias such as ``float16``)."""
    return DTYPE_BYTES[canonical_dtype(dtype)]


@dataclass(frozen=True)
class GemmShape:
    """``Y = X W`` with ``X: M x K`` and ``W: K x N`` (all row-major)."""

    m: int
    k: int
    n: int

    @classmethod
    def parse(cls, shape) -> GemmShape:
        """From ``"MxKxN"``, ``(M, K, N)`` or a :class:`GemmShape`.

        Each dimension must be at most :data:`MAX_DIM` and each of ``X``, ``W``, ``Y`` at most
        :data:`MAX_MATRIX_ELEMENTS` elements (checked before anything is allocated).
        """
        if isinstance(shape, GemmShape):
            return shape
        m, k, n = parse_triple("shape", shape)
        for nm, v in (("M", m), ("K", k), ("N", n)):
            if v > MAX_DIM:
                raise CacheSimError(f"shape {nm}={v} is larger than the limit {MAX_DIM} (2**31)")
        for nm, a, b in (("X = M x K", m, k), ("W = K x N", k, n), ("Y = M x N", m, n)):
            if a * b > MAX_MATRIX_ELEMENTS:
                raise CacheSimError(
                    f"shape {m}x{k}x{n}: {nm} has {a * b} elements, more than the limit "
                    f"{MAX_MATRIX_ELEMENTS} (2**36)"
                )
        return cls(m, k, n)

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
    programs = (shape.m // block.bm) * (shape.n // block.bn)
    check_allocation(f"the program grid of shape {shape} with block {block}", programs, 64, unit="programs")
