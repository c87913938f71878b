"""Input checks and small shared definitions for the kernel traffic models.

Every check raises :class:`cachesim.CacheSimError` whose message names the argument, shows its value
and says what is allowed.
"""

from __future__ import annotations

import numbers
import re
from dataclasses import dataclass

from ..errors import CacheSimError
from ..trace import plain

#: Bytes per element of each supported dtype.
DTYPE_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2}

GEMM_KINDS = ("dense", "roast", "hashednet")
GATHER_KINDS = ("gather-roast", "gather-hashednet")
ALL_KINDS = GEMM_KINDS + GATHER_KINDS


def check_int(name: str, value, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int in ``[low, high]`` (bools are rejected)."""
    rng = ""
    if low is not None and high is not None:
        rng = f" in [{low}, {high}]"
    elif low is not None:
        rng = f" >= {low}"
    elif high is not None:
        rng = f" <= {high}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise CacheSimError(f"{name}={plain(value)!r} must be an integer{rng}")
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        raise CacheSimError(f"{name}={v} must be an integer{rng}")
    return v


def check_pow2(name: str, value, *, low: int = 1) -> int:
    """Return ``value`` if it is a power of two >= ``low``."""
    v = check_int(name, value, low=low)
    if v & (v - 1):
        raise CacheSimError(f"{name}={v} must be a power of two >= {low}")
    return v


def check_choice(name: str, value, choices) -> str:
    """Return ``value`` if it is one of ``choices``."""
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise CacheSimError(f"{name}={plain(value)!r} is not allowed: choose one of {', '.join(choices)}")
    return value


def dtype_bytes(dtype) -> int:
    """Bytes per element of ``dtype`` (``fp32``, ``fp16`` or ``bf16``)."""
    return DTYPE_BYTES[check_choice("dtype", dtype, DTYPE_BYTES)]


_TRIPLE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*[xX]\s*(\d+)\s*$")


def parse_triple(name: str, text) -> tuple[int, int, int]:
    """Parse ``"AxBxC"`` into three positive ints (``name`` is used in error messages)."""
    if isinstance(text, tuple | list):
        if len(text) != 3:
            raise CacheSimError(f"{name}={text!r} must have three entries AxBxC")
        return tuple(check_int(f"{name}[{i}]", v, low=1) for i, v in enumerate(text))  # type: ignore[return-value]
    if not isinstance(text, str):
        raise CacheSimError(f"{name}={text!r} must be a string like 64x64x64")
    m = _TRIPLE.match(text)
    if m is None:
        raise CacheSimError(
            f"{name}={text!r} must look like AxBxC with positive integers, e.g. 4096x768x3072"
        )
    vals = tuple(int(g) for g in m.groups())
    if min(vals) < 1:
        raise CacheSimError(f"{name}={text!r}: every entry must be >= 1")
    return vals  # type: ignore[return-value]


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
