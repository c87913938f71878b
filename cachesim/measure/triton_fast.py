"""Fast fused forward GEMMs: dense, ROAST-MM and HashedNet weights on ONE kernel template.

Every variant runs :func:`cachesim.measure._triton_fast_jit.fwd_kernel` with the same tiling, software
pipelining and epilogue; only the address of the B (weight) block differs (the ablations of a time
model). A variant is a :class:`FastWeight` (``scheme`` x ``index``):

=============  ==============  =====================================================================
scheme         index           B address of weight ``(k, n)``
=============  ==============  =====================================================================
``dense``      ``dense``       ``k N + n`` in a dense ``K x N`` matrix
``roast``      ``table``       ``s(k // BK, n // BN) + (k mod BK) BN + (n mod BN)``, ``s`` read from an
                               int32 start table (``roast_theory.hashes`` ``"rz-aligned"``)
``roast``      ``table-pf``    the same table, each start read ``prefetch`` k-steps ahead into registers
                               (keeps the dense pipeline depth; ``block_k`` spans at most two tile rows)
``roast``      ``hash``        the same ``s`` computed in the k-loop (int64 modulos, as RzLinear)
``roast``      ``hash32``      the same ``s`` computed in the k-loop in int32, ``P`` a constant (one
                               runtime modulo, ``mod n_starts``)
``hashednet``  ``hash``        ``((k R1 + n R2 + R3) mod P) mod H`` (``"hashednet-triton"``), int64
``hashednet``  ``mulshift``    top ``log2 H`` bits of ``(k A1 + n A2 + B) mod 2**32``
                               (``"hashednet-mulshift"``)
``hashednet``  ``table``       ``idx[k, n]`` from a precomputed int32 ``K x N`` matrix (authors' hash)
``hashednet``  ``arith-only``  dense ``k N + n`` (coalesced), while the authors' hash is computed for
                               every element and kept live (added to the output times ``zscale = 0``)
=============  ==============  =====================================================================

The ROAST tile ``(BK, BN)`` is part of the model (``(32, 64)`` is RzLinear's default); the kernel block
must cover whole tiles: ``block_n == BN`` and ``block_k`` a multiple of ``BK``. ``gather_matmul`` is the
other implementation: materialise ``W = M[idx]`` with torch indexing, then ``torch.matmul`` (cuBLAS).

Importing this module needs neither torch nor triton; the kernels compile on first use.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..errors import CacheSimError
from ..trace import plain
from ._triton_host import LaunchConfig, check_operand, import_kernels, int_in, kernels_available, pow2_in
from ._triton_host import use_asm as _asm

__all__ = [
    "CONFIGS",
    "FastConfig",
    "FastWeight",
    "PreparedWeight",
    "VARIANTS",
    "fast_matmul",
    "gather_index",
    "gather_matmul",
    "kernel_index",
    "triton_available",
    "warmup",
]

#: ``(scheme, index)`` -> the kernel's constexpr ``B_MODE``.
VARIANTS = {("dense", "dense"): 0, ("roast", "table"): 1, ("roast", "hash"): 2, ("hashednet", "hash"): 3,
            ("hashednet", "mulshift"): 4, ("hashednet", "table"): 5, ("hashednet", "arith-only"): 6,
            ("roast", "table-pf"): 7, ("roast", "hash32"): 8}
_MAX32 = 2**31 - 1


@functools.cache
def _jit():
    return import_kernels("_triton_fast_jit")


def triton_available() -> bool:
    """True when both torch and triton import."""
    return kernels_available(_jit)


def _int(name: str, value, low: int = 1, high: int = _MAX32) -> int:
    """An integer in ``[low, high]``; ``high`` defaults to the int32 limit of the kernels' offsets."""
    return int_in(name, value, low, high)


@dataclass(frozen=True)
class FastConfig(LaunchConfig):
    """Launch configuration (the same list for every variant).

    Parameters
    ----------
    block_m, block_n, block_k : int
        Program block (powers of two >= 16).
    group_m : int
        Grouped program order (``group_m`` row blocks share a column band).
    num_warps, num_stages : int
        Warps per program; software-pipeline depth.

    Defaults ``128 x 128 x 64``, ``group_m = 8``, 4 warps, 4 stages; blocks at most 1024, ``group_m`` at
    most 64, at most 32 warps and 8 stages.
    """

    block_n: int = 128
    block_k: int = 64

    LIMITS = (1024, 64, 32, 8)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("block_m", "block_n", "block_k", "group_m", "num_warps",
                                               "num_stages")}


#: Autotuning candidates. A ROAST variant uses those with ``block_n == BN`` and ``BK | block_k``
#: (tile (32, 64): the first four; (64, 128): those with block 128x128x64 or 64x128x64; (64, 256):
#: 128x256x64 and 64x256x64); dense may use all of them. Stage-3 configs of 4 warps fit two programs
#: per SM (96 KB of shared memory each).
CONFIGS = (
    FastConfig(128, 64, 32, 8, 4, 4), FastConfig(128, 64, 64, 8, 4, 4), FastConfig(128, 64, 64, 8, 4, 5),
    FastConfig(256, 64, 64, 8, 8, 4),
    FastConfig(128, 128, 64, 8, 4, 4), FastConfig(128, 128, 64, 8, 8, 4), FastConfig(128, 128, 64, 8, 4, 5),
    FastConfig(256, 128, 64, 8, 8, 3),
    FastConfig(128, 256, 64, 8, 8, 3), FastConfig(128, 256, 64, 8, 8, 4),
    FastConfig(64, 128, 64, 8, 4, 4), FastConfig(64, 256, 64, 8, 4, 4),
    FastConfig(128, 128, 64, 8, 4, 3), FastConfig(64, 128, 64, 8, 4, 3), FastConfig(64, 256, 64, 8, 4, 3),
)


@dataclass(frozen=True)
class FastWeight:
    """How the kernel reads the weight: scheme, index path, shared-array size, ROAST tile and alignment.

    Parameters
    ----------
    scheme : {"dense", "roast", "hashednet"}
    index : {"dense", "table", "table-pf", "hash", "hash32", "mulshift", "arith-only"}
        See the module table; ``dense`` only with scheme ``dense``.
    memory : int
        Shared-array size in elements (ignored for dense). ROAST: ``memory > BK*BN`` and ``align``
        divides ``memory - BK*BN``; mulshift: a power of two ``>= 2``.
    tile : (int, int)
        ROAST tile ``(BK, BN)``.
    align : int
        ROAST start alignment (1 = RzLinear ``stable`` exactly; 8, 64).
    seed : int
        Seed of the hash family (``roast_theory.hashes.make_family(name, seed)``).
    prefetch : int
        ``table-pf``: how many k-steps ahead each start is loaded (1-3). Compiled for sm_90 with Triton
        3.6, 2 and 3 defeat the software pipeliner (one shared-memory buffer, plain loads); use 1.
    """

    scheme: str
    index: str = "hash"
    memory: int = 0
    tile: tuple = (32, 64)
    align: int = 1
    seed: int = 0
    prefetch: int = 1

    def __post_init__(self):
        if (self.scheme, self.index) not in VARIANTS:
            raise CacheSimError(f"scheme={self.scheme!r}, index={self.index!r} is not a variant: choose "
                                f"one of {sorted(VARIANTS)}")
        _int("seed", self.seed, 0, 2**63 - 1)
        if isinstance(self.tile, int | np.integer) or len(tuple(self.tile)) != 2:
            raise CacheSimError(f"tile={plain(self.tile)!r} must be a (BK, BN) pair")
        bk, bn = (pow2_in(f"tile[{i}]", t, 1, 1024) for i, t in enumerate(self.tile))
        object.__setattr__(self, "tile", (bk, bn))
        align = pow2_in("align", self.align, 1, 1024)
        _int("prefetch", self.prefetch, 1, 3)
        if self.scheme == "dense":
            return
        mem = _int("memory", self.memory, 1)
        if self.scheme == "roast":
            if self.index == "hash32" and (bk * bn > mem or mem >= 2**31):
                raise CacheSimError(f"memory={mem} must be in ({bk * bn}, 2**31) for hash32")
            if mem <= bk * bn:
                raise CacheSimError(f"memory={mem} must exceed the tile size BK*BN={bk * bn}")
            if align > bn:
                raise CacheSimError(f"align={align} must be <= BN={bn}")
            if (mem - bk * bn) % align:
                raise CacheSimError(f"align={align} does not divide the span memory - BK*BN = "
                                    f"{mem - bk * bn}")
        elif self.index == "mulshift":
            pow2_in("memory", mem, 2, 1 << 30)

    @property
    def mode(self) -> int:
        return VARIANTS[(self.scheme, self.index)]

    @property
    def name(self) -> str:
        """Short label, e.g. ``roast-table-a8-t32x64``."""
        if self.scheme == "dense":
            return "dense"
        if self.scheme == "roast":
            pf = self.index == "table-pf" and self.prefetch > 1
            index = self.index + (str(self.prefetch) if pf else "")
            return f"roast-{index}-a{self.align}-t{self.tile[0]}x{self.tile[1]}"
        return f"hashednet-{self.index}"

    def family(self):
        """The ``roast_theory.hashes`` family whose index the kernel reads (None for dense)."""
        from roast_theory.hashes import make_family

        if self.scheme == "roast":
            return make_family("rz-aligned", self.seed, align=self.align)
        if self.scheme == "hashednet":
            return make_family("hashednet-mulshift" if self.index == "mulshift" else "hashednet-triton",
                               self.seed)
        return None

    def slot_index(self, in_features: int, out_features: int) -> np.ndarray:
        """``(K, N)`` int64 slot of every weight from the family (the reference for the kernels)."""
        from roast_theory.hashes import tile_slot_index, tile_start_table

        k, n = _int("in_features", in_features), _int("out_features", out_features)
        if self.scheme == "dense":
            return np.arange(k * n, dtype=np.int64).reshape(k, n)
        fam = self.family()
        if self.scheme == "roast":
            starts = tile_start_table(fam, k, n, self.tile, self.memory)
            return tile_slot_index(starts, k, n, self.tile)
        return fam.element_slots(np.arange(k)[:, None], np.arange(n)[None, :], self.memory)

    def configs(self, candidates=CONFIGS) -> tuple:
        """The candidates this variant can run (ROAST: ``block_n == BN``, ``BK`` divides ``block_k``)."""
        if self.scheme != "roast":
            return tuple(candidates)
        bk, bn = self.tile
        most = 2 if self.index == "table-pf" else 1 << 30
        return tuple(c for c in candidates if c.block_n == bn and c.block_k % bk == 0
                     and c.block_k // bk <= most)

    def prepare(self, in_features: int, out_features: int, device="cpu") -> PreparedWeight:
        """Per-layer precomputation (start table / index matrix on ``device``) and the scalar arguments."""
        import torch

        k, n = _int("in_features", in_features), _int("out_features", out_features)
        if k * n > _MAX32:
            raise CacheSimError(f"in_features*out_features={k * n} must be < 2**31 (int32 offsets)")
        bk, bn = self.tile
        nt = -(-n // bn)
        aux = None
        args = (0, 0, 0, 0, 0, 0, 1, 1, 0)  # r1 r2 r3 r4 r5 r7 prime modulus shift
        fam = self.family()
        if self.scheme == "roast":
            if k % bk or n % bn:
                raise CacheSimError(f"weight ({k}, {n}) is not covered by whole tiles {self.tile}")
            if self.index == "hash32" and max(k // bk, n // bn) >= 1 << 14:
                raise CacheSimError(f"weight ({k}, {n}) has more than 2**14 tiles along one side: hash32's "
                                    f"int32 arithmetic needs fewer (use index 'table')")
            r1, r2, r3, r4, r5, _r6, r7 = fam.r
            args = (r1, r2, r3, r4, r5, r7, fam.P, fam.n_starts(self.memory - bk * bn), 0)
            if self.index in ("table", "table-pf"):
                from roast_theory.hashes import tile_start_table

                table = tile_start_table(fam, k, n, self.tile, self.memory, np.int32)
                aux = torch.as_tensor(table).to(device)
        elif self.index == "mulshift":
            signed = tuple(v - (1 << 32) if v >= 1 << 31 else v for v in fam.r)
            args = (*signed, 0, 0, 0, 1, 1, 32 - (self.memory.bit_length() - 1))
        elif self.scheme == "hashednet":
            args = (*fam.r, 0, 0, 0, fam.P, self.memory, 0)
            if self.index == "table":
                idx = self.slot_index(k, n).astype(np.int32)
                aux = torch.as_tensor(idx).to(device)
        return PreparedWeight(self, k, n, nt, aux, tuple(int(a) for a in args))


@dataclass(frozen=True)
class PreparedWeight:
    """A :class:`FastWeight` prepared for one layer shape: tables on the device and scalar arguments."""

    weight: FastWeight
    in_features: int
    out_features: int
    n_tile_cols: int
    aux: object
    args: tuple

    def to_dict(self) -> dict:
        w = self.weight
        return {"variant": w.name, "scheme": w.scheme, "index": w.index, "memory": w.memory,
                "tile": list(w.tile), "align": w.align, "seed": w.seed, "in_features": self.in_features,
                "out_features": self.out_features, "prefetch": w.prefetch}


def _check_cover(prep: PreparedWeight, config: FastConfig, m: int):
    if not isinstance(config, FastConfig):
        raise CacheSimError(f"config has type {type(config).__name__}: must be a FastConfig")
    w = prep.weight
    if w.scheme == "roast" and config not in w.configs((config,)):
        raise CacheSimError(f"config {config.label()} does not cover whole ROAST tiles {w.tile}: needs "
                            f"block_n == {w.tile[1]} and block_k a multiple of {w.tile[0]} (table-pf: at "
                            f"most 2 tile rows)")
    for name, size, block in (("M", m, config.block_m), ("N", prep.out_features, config.block_n),
                              ("K", prep.in_features, config.block_k)):
        if size % block:
            raise CacheSimError(f"{name}={size} is not a multiple of the block {block} ({config.label()})")


def fast_matmul(x, b, prep: PreparedWeight, config: FastConfig, *, scale: float = 1.0, zscale: float = 0.0,
                ieee: bool = False, out=None, return_kernel: bool = False):
    """Forward ``Y = scale * X @ W`` with ``W`` read from ``b`` as ``prep.weight`` says.

    Parameters
    ----------
    x : torch.Tensor, (M, K)
    b : torch.Tensor
        Dense ``(K, N)`` weight (schemes ``dense`` and index ``arith-only``) or the shared array
        ``(memory,)``; same dtype and device as ``x``.
    prep : PreparedWeight
        From :meth:`FastWeight.prepare` with ``(K, N)``.
    config : FastConfig
        Must cover the shape (``M, N, K`` multiples of the block) and, for ROAST, whole tiles.
    scale : float
        Module scale multiplied into the fp32 accumulator.
    zscale : float
        ``arith-only``: factor of the kept-live hash sum added to every output (0 in measurements).
    ieee : bool
        fp32 operands: exact fp32 products (True) or TF32.
    out : torch.Tensor, (M, N), optional
    return_kernel : bool
        Also return Triton's compiled kernel (``.asm["sass"]`` etc.).

    Notes
    -----
    :math:`Y_{mn} = \\lambda \\sum_k X_{mk} M[h(k, n)]` with :math:`h` the variant's index.
    """
    import torch

    if not isinstance(prep, PreparedWeight):
        raise CacheSimError(f"prep has type {type(prep).__name__}: must be a PreparedWeight")
    w = prep.weight
    check_operand(torch, "x", x, 2)
    dense_b = w.scheme == "dense" or w.index == "arith-only"
    check_operand(torch, "b", b, 2 if dense_b else 1, x.dtype, x.device)
    m, k = x.shape
    n = prep.out_features
    if k != prep.in_features:
        raise CacheSimError(f"x has shape {tuple(x.shape)}: must have K={prep.in_features} columns")
    want = (k, n) if dense_b else (w.memory,)
    if tuple(b.shape) != want:
        raise CacheSimError(f"b has shape {tuple(b.shape)}: must be {want}")
    if m * max(k, n) > _MAX32:
        raise CacheSimError(f"M={m}: M*max(K, N) must be < 2**31 (int32 offsets)")
    _check_cover(prep, config, m)
    if out is None:
        out = torch.empty((m, n), dtype=x.dtype, device=x.device)
    check_operand(torch, "out", out, 2, x.dtype, x.device)
    if tuple(out.shape) != (m, n):
        raise CacheSimError(f"out has shape {tuple(out.shape)}: must be (M, N) = {(m, n)}")
    aux = prep.aux if prep.aux is not None else out
    grid = (m // config.block_m * (n // config.block_n),)
    kern = _jit().fwd_kernel[grid](
        x, b, out, aux, m, n, k, prep.n_tile_cols, float(scale), float(zscale), *prep.args,
        B_MODE=w.mode, TBK=w.tile[0], TBN=w.tile[1], ALIGN=w.align, BLOCK_M=config.block_m,
        BLOCK_N=config.block_n, BLOCK_K=config.block_k, GROUP_M=config.group_m, IEEE=bool(ieee),
        ASM=_asm(), PF=w.prefetch, num_warps=config.num_warps, num_stages=config.num_stages)
    return (out, kern) if return_kernel else out


def warmup(weight: FastWeight, config: FastConfig, dtype: str = "bfloat16", *, ieee: bool = False):
    """Compile ``fast_matmul``'s kernel for ``weight`` and ``config`` without launching it (Triton cache).

    Specialisation matches launches whose ``M, N, K`` are multiples of 16 and whose tensors are 16-byte
    aligned (every measured shape); needs the target device (``triton.runtime.driver``).
    """
    import torch

    if not isinstance(weight, FastWeight) or not isinstance(config, FastConfig):
        raise CacheSimError("warmup needs a FastWeight and a FastConfig")
    dt = getattr(torch, dtype, None)
    if not isinstance(dt, torch.dtype):
        raise CacheSimError(f"dtype={dtype!r} is not a torch dtype name")
    aux = torch.int32 if weight.index in ("table", "table-pf") else dt
    return _jit().fwd_kernel.warmup(
        dt, dt, dt, aux, 4096, 4096, 4096, 3, 1.0, 0.0, 3, 5, 7, 9, 11, 13, 45007, 1001, 7,
        B_MODE=weight.mode, TBK=weight.tile[0], TBN=weight.tile[1], ALIGN=weight.align,
        BLOCK_M=config.block_m, BLOCK_N=config.block_n, BLOCK_K=config.block_k, GROUP_M=config.group_m,
        IEEE=bool(ieee), ASM=_asm(), PF=weight.prefetch, num_warps=config.num_warps,
        num_stages=config.num_stages, grid=(1,))


def kernel_index(prep: PreparedWeight, config: FastConfig, device="cpu") -> np.ndarray:
    """The ``(K, N)`` int64 B offsets exactly as :func:`fast_matmul` computes them (runs a kernel)."""
    import torch

    w = prep.weight
    _check_cover(prep, config, config.block_m)
    k, n = prep.in_features, prep.out_features
    out = torch.full((k, n), -1, dtype=torch.int64, device=device)
    aux = prep.aux if prep.aux is not None else out
    grid = (k // config.block_k, n // config.block_n)
    _jit().index_kernel[grid](out, aux, n, k, prep.n_tile_cols, *prep.args, B_MODE=w.mode, TBK=w.tile[0],
                           TBN=w.tile[1], ALIGN=w.align, BLOCK_N=config.block_n, BLOCK_K=config.block_k)
    return out.cpu().numpy()


def gather_index(weight: FastWeight, in_features: int, out_features: int, device="cpu"):
    """int64 ``(K, N)`` torch index of :meth:`FastWeight.slot_index` on ``device`` (for gather_matmul)."""
    import torch

    return torch.as_tensor(weight.slot_index(in_features, out_features)).to(device)


def gather_matmul(x, b, index, *, scale: float = 1.0):
    """Gather-then-cuBLAS: ``W = b[index]`` (torch indexing), then ``scale * (x @ W)`` via torch.matmul."""
    w = b[index]
    y = x @ w
    return y if scale == 1.0 else y * scale
