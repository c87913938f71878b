"""The GEMM cases the GPU harness checks and times, and the implementations it can time."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..._validate import check_int
from ...errors import CacheSimError
from .. import triton_kernels as tk

__all__ = ["IMPLS", "SEED_OFFSET", "TOLERANCE", "GemmCase"]

IMPLS = ("cublas_dense", "triton_dense", "triton_roast", "triton_hashednet", "gather_roast",
         "gather_hashednet", "triton_roast_aligned", "triton_roast_vec")

#: Pass thresholds on ||out - ref|| / ||ref|| (METHOD.md: fp32 far under 1e-3, tf32 near 3e-4,
#: bf16 between 1e-3 and 1e-2).

#: Pass thresholds on ||out - ref|| / ||ref||: fp32 products stay far under 1e-3, TF32 products (10-bit
#: mantissa) near 3e-4, bf16 operands (8-bit mantissa) between 1e-3 and 1e-2.
TOLERANCE = {"fp32": 1e-4, "tf32": 2e-3, "bf16": 1.5e-2}
#: Seed offset of each kernel's hash draw: ``GemmCase.seed + SEED_OFFSET[method]`` (the records' seed is 0).
SEED_OFFSET = {"dense": 0, "roast": 1, "hashednet": 2, "roast_aligned": 1, "roast_vec": 1}


@dataclass(frozen=True)
class GemmCase:
    """One GEMM ``Y[M, N] = X[M, K] W[K, N]`` with a compressed weight of ``m_slots`` stored values.

    Parameters
    ----------
    batch, in_features, out_features : int
        ``M``, ``K``, ``N``.
    m_slots : int
        Size of the shared array (ROAST) / the layer's array (HashedNet).
    precision : {"fp32", "tf32", "bf16"}
        fp32 operands with exact products, fp32 operands with TF32 products, or bf16 operands (fp32
        accumulation in every case).
    tile : TileConfig
    seed : int
    """

    batch: int
    in_features: int
    out_features: int
    m_slots: int
    precision: str = "bf16"
    tile: tk.TileConfig = tk.TileConfig()
    seed: int = 0

    def __post_init__(self):
        for name in ("batch", "in_features", "out_features", "m_slots"):
            check_int(name, getattr(self, name), low=1)
        if self.precision not in TOLERANCE:
            raise CacheSimError(f"precision={self.precision!r} must be one of {tuple(TOLERANCE)}")

    @property
    def compression(self) -> float:
        return self.in_features * self.out_features / self.m_slots

    @property
    def scale(self) -> float:
        """Module scale ``lambda = (1/sqrt(K)) / 0.04``."""
        return (1.0 / math.sqrt(self.in_features)) / 0.04

    def khash(self, method: str) -> tk.KernelHash:
        """Kernel parameters drawn from ``seed + {dense: 0, roast: 1, hashednet: 2}``."""
        return tk.KernelHash.random(method, self.m_slots, self.seed + SEED_OFFSET[method])

    def describe(self) -> dict:
        t = self.tile
        return {"M": self.batch, "K": self.in_features, "N": self.out_features, "m_slots": self.m_slots,
                "compression": self.compression, "precision": self.precision, "scale": self.scale,
                "block_m": t.block_m, "block_n": t.block_n, "block_k": t.block_k, "group_m": t.group_m,
                "num_warps": t.num_warps, "num_stages": t.num_stages, "seed": self.seed}



def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover
        raise CacheSimError("the GPU harness needs torch") from exc
    return torch


def _dtype(torch, precision):
    return torch.bfloat16 if precision == "bf16" else torch.float32


def _inputs(torch, case: GemmCase, device, gen_seed: int):
    g = torch.Generator(device="cpu").manual_seed(gen_seed)
    dt = _dtype(torch, case.precision)
    x = torch.randn(case.batch, case.in_features, generator=g).to(device=device, dtype=dt)
    dy = torch.randn(case.batch, case.out_features, generator=g).to(device=device, dtype=dt)
    return x, dy

