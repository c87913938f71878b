"""Fused Triton GEMMs for dense, ROAST-MM and HashedNet weights (validating API; triton imported lazily).

All three methods run the same kernel bodies (:mod:`cachesim.measure._triton_jit`) with the same tiling
(``BLOCK_M/N/K``, ``GROUP_M`` grouped program order, ``num_warps``, ``num_stages``); only the address of
the B (weight) tile differs. The kernel's ``BLOCK_K x BLOCK_N`` B block *is* the ROAST tile, as in the
authors' RzLinear.

Importing this module needs neither torch nor triton; the kernels are compiled on first use.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..errors import CacheSimError
from ._triton_host import LaunchConfig, check_operand, import_kernels, int_in, kernels_available

__all__ = [
    "HASHEDNET_PRIME",
    "ROAST_PRIME",
    "KernelHash",
    "TileConfig",
    "hashednet_index_reference",
    "kernel_index",
    "matmul",
    "matmul_db",
    "matmul_dx",
    "roast_index_reference",
    "triton_available",
]

#: Prime of RzLinear's ``stable`` ROAST tile hash.
ROAST_PRIME = 45007
#: Prime of RzLinear's ``v1_combined`` HashedNet element hash.
HASHEDNET_PRIME = 2038074743

_METHODS = ("dense", "roast", "hashednet", "roast_aligned", "roast_vec")
_MODE = {"dense": 0, "roast": 1, "hashednet": 2, "roast_aligned": 3, "roast_vec": 4}
_ROAST_LIKE = ("roast", "roast_aligned", "roast_vec")
#: Alignment (elements) of the diagnostic ``roast_aligned`` tile starts.
ALIGNED_START = 16


def triton_available() -> bool:
    """True when both torch and triton import."""
    return kernels_available(_jit)


@functools.cache
def _jit():
    return import_kernels("_triton_jit")


@dataclass(frozen=True)
class TileConfig(LaunchConfig):
    """Launch configuration shared by every method.

    Parameters
    ----------
    block_m, block_n, block_k : int
        Program tile (powers of two, ``block_k >= 16``, ``block_m, block_n >= 16``). ``block_k x block_n``
        is the ROAST tile.
    group_m : int
        Grouped program order: ``group_m`` row blocks share a column band (L2 reuse).
    num_warps, num_stages : int
        Warps per program and software-pipeline depth (``num_stages > 1`` loads through ``cp.async``).

    Defaults ``128 x 64 x 32``, ``group_m = 8``, 4 warps, 4 stages (the fields and checks of
    :class:`~cachesim.measure._triton_host.LaunchConfig`, unbounded above).
    """

    @property
    def tile_size(self) -> int:
        """ROAST tile size ``T = block_k * block_n``."""
        return self.block_k * self.block_n


@dataclass(frozen=True)
class KernelHash:
    """Which B addressing a kernel uses and its integer parameters.

    Parameters
    ----------
    method : {"dense", "roast", "hashednet", "roast_aligned", "roast_vec"}
        ``roast_vec`` is ROAST with the same hash, its B tile loaded as one aligned contiguous run with
        16-byte vector loads and shifted in registers.
        ``roast_aligned`` is a diagnostic: the ROAST start rounded down to a multiple of 16 elements,
        not the authors' hash.
    params : tuple of int
        ROAST: ``(R1, ..., R7)`` of RzLinear ``stable`` (``R6`` unused), each in ``[0, P)``.
        HashedNet: ``(R1, R2, R3)``. Dense: ``()``.
    m_slots : int
        Size ``H`` of the shared array (ROAST needs ``H > BK * BN``). Ignored for dense.
    prime : int
        ``P`` (45007 for ROAST, 2038074743 for HashedNet by default).

    Notes
    -----
    ROAST: :math:`s(k_b, n_b) = [((k_b R_3 + n_b R_2 + R_1) \\bmod P) P + ((k_b R_7 + n_b R_5 + R_4)
    \\bmod P)] \\bmod (H - B_K B_N)`, element :math:`(k, n)` at
    :math:`s + (k \\bmod B_K) B_N + (n \\bmod B_N)`.
    HashedNet: :math:`h(k, n) = ((k R_1 + n R_2 + R_3) \\bmod P) \\bmod H`.
    """

    method: str
    params: tuple = ()
    m_slots: int = 0
    prime: int = 0

    def __post_init__(self):
        if self.method not in _METHODS:
            raise CacheSimError(f"method={self.method!r} must be one of {_METHODS}")
        if self.method == "dense":
            return
        roast_like = self.method in _ROAST_LIKE
        need = 7 if roast_like else 3
        params = tuple(self.params)
        if len(params) != need:
            raise CacheSimError(f"params has {len(params)} values: method={self.method!r} needs {need}")
        prime = self.prime or (ROAST_PRIME if roast_like else HASHEDNET_PRIME)
        int_in("prime", prime, 2)
        for i, r in enumerate(params):
            v = int_in(f"params[{i}] (R{i + 1})", r, 0)
            if v >= prime:
                raise CacheSimError(f"params[{i}] (R{i + 1})={v} must be in [0, {prime - 1}] (P={prime})")
        int_in("m_slots", self.m_slots, 1)
        object.__setattr__(self, "params", tuple(int(p) for p in params))
        object.__setattr__(self, "prime", int(prime))
        object.__setattr__(self, "m_slots", int(self.m_slots))

    @classmethod
    def dense(cls) -> KernelHash:
        return cls("dense")

    @classmethod
    def random(cls, method: str, m_slots: int, seed: int) -> KernelHash:
        """Parameters drawn as ``numpy.random.default_rng(seed).integers(0, P, size=k)`` read as R1..Rk.

        The same draw as ``roast_theory.hashes.make_family("rz-stable" | "hashednet-triton", seed).r``.
        """
        if method == "dense":
            return cls(method)
        if method not in _METHODS:
            raise CacheSimError(f"method={method!r} must be one of {_METHODS}")
        prime, k = (ROAST_PRIME, 7) if method in _ROAST_LIKE else (HASHEDNET_PRIME, 3)
        r = np.random.default_rng(seed).integers(0, prime, size=k, dtype=np.int64)
        return cls(method, tuple(int(v) for v in r), m_slots, prime)

    @classmethod
    def from_family(cls, family, m_slots: int) -> KernelHash:
        """From a ``roast_theory.hashes`` family: ``rz-stable`` (ROAST) or ``hashednet-triton``."""
        name = getattr(family, "name", None)
        method = {"rz-stable": "roast", "hashednet-triton": "hashednet"}.get(name)
        if method is None:
            raise CacheSimError(f"family {name!r} has no Triton kernel here: use 'rz-stable' or "
                                f"'hashednet-triton'")
        return cls(method, tuple(int(v) for v in family.r), m_slots, int(family.P))

    def span(self, tile: TileConfig) -> int:
        """Range of the hashed start: ``H - BK*BN`` (ROAST), ``H`` (HashedNet), 0 (dense)."""
        if self.method in _ROAST_LIKE:
            span = self.m_slots - tile.tile_size
            if span < 1:
                raise CacheSimError(f"m_slots={self.m_slots} must exceed the tile size "
                                    f"block_k*block_n={tile.tile_size} for ROAST")
            return span
        if self.method == "hashednet":
            return self.m_slots
        return 0

    def scalar_args(self, tile: TileConfig) -> tuple:
        """``(r1, r2, r3, r4, r5, r7, prime, span)`` as the kernels take them."""
        if self.method in _ROAST_LIKE:
            r1, r2, r3, r4, r5, _r6, r7 = self.params
            return (r1, r2, r3, r4, r5, r7, self.prime, self.span(tile))
        if self.method == "hashednet":
            r1, r2, r3 = self.params
            return (r1, r2, r3, 0, 0, 0, self.prime, self.span(tile))
        return (0, 0, 0, 0, 0, 0, 1, 1)


def roast_index_reference(in_features: int, out_features: int, block_k: int, block_n: int, params,
                          m_slots: int, prime: int = ROAST_PRIME, align: int = 1) -> np.ndarray:
    """ROAST slot of every weight ``(k, n)`` in numpy int64 (Python-int arithmetic per tile).

    ``align > 1`` rounds every tile start down to a multiple of ``align`` (the diagnostic
    ``roast_aligned`` method).
    """
    r1, r2, r3, r4, r5, _r6, r7 = (int(v) for v in params)
    span = m_slots - block_k * block_n
    if span < 1:
        raise CacheSimError(f"m_slots={m_slots} must exceed block_k*block_n={block_k * block_n}")
    k = np.arange(in_features)
    n = np.arange(out_features)
    kb_n = -(-in_features // block_k)
    nb_n = -(-out_features // block_n)
    starts = np.empty((kb_n, nb_n), dtype=np.int64)
    for kb in range(kb_n):
        for nb in range(nb_n):
            hi = (kb * r3 + nb * r2 + r1) % prime
            lo = (kb * r7 + nb * r5 + r4) % prime
            s = (hi * prime + lo) % span
            starts[kb, nb] = s - s % align
    return (starts[k // block_k][:, n // block_n] + ((k % block_k) * block_n)[:, None]
            + (n % block_n)[None, :])


def hashednet_index_reference(in_features: int, out_features: int, params, m_slots: int,
                              prime: int = HASHEDNET_PRIME) -> np.ndarray:
    """HashedNet slot ``((k R1 + n R2 + R3) mod P) mod H`` of every weight (exact integer arithmetic)."""
    r1, r2, r3 = (int(v) for v in params)
    exact = (in_features - 1) * r1 + (out_features - 1) * r2 + r3 < 2**63
    dt = np.int64 if exact else object
    k = np.arange(in_features, dtype=np.int64).astype(dt)[:, None]
    n = np.arange(out_features, dtype=np.int64).astype(dt)[None, :]
    return (((k * r1 + n * r2 + r3) % prime) % m_slots).astype(np.int64)


def _launch_args(khash: KernelHash, tile: TileConfig, shape_mkn, b):
    if not isinstance(khash, KernelHash):
        raise CacheSimError(f"khash has type {type(khash).__name__}: must be a KernelHash")
    if not isinstance(tile, TileConfig):
        raise CacheSimError(f"tile has type {type(tile).__name__}: must be a TileConfig")
    m, n, k = shape_mkn
    if khash.method == "dense":
        if tuple(b.shape) != (k, n):
            raise CacheSimError(f"weight has shape {tuple(b.shape)}: dense needs (K, N) = {(k, n)}")
        wide = k * n >= 2**31
    else:
        if b.ndim != 1 or b.shape[0] != khash.m_slots:
            raise CacheSimError(f"shared array has shape {tuple(b.shape)}: must be ({khash.m_slots},)")
        wide = khash.m_slots >= 2**31 - 1
    even = m % tile.block_m == 0 and n % tile.block_n == 0 and k % tile.block_k == 0
    return dict(MODE=_MODE[khash.method], BLOCK_M=tile.block_m, BLOCK_N=tile.block_n,
                BLOCK_K=tile.block_k, GROUP_M=tile.group_m, EVEN=even, WIDE=wide,
                num_warps=tile.num_warps, num_stages=tile.num_stages)


def matmul(x, b, khash: KernelHash, tile: TileConfig = TileConfig(), *, scale: float = 1.0,
           ieee: bool = False, out=None):
    """Forward ``Y = scale * X @ W`` with ``W`` dense ``(K, N)`` or read through ``khash`` from ``b``.

    Parameters
    ----------
    x : torch.Tensor, (M, K)
    b : torch.Tensor
        Dense weight ``(K, N)`` or the shared array ``(m_slots,)``; same dtype as ``x``.
    khash : KernelHash
        Addressing; for hashed methods ``N`` is taken from ``out`` or must be given by ``n_out`` via
        ``out``. Use :func:`matmul_hashed` style wrappers in :mod:`cachesim.measure.gpu`.
    tile : TileConfig
    scale : float
        Module scale ``lambda`` multiplied into the fp32 accumulator.
    ieee : bool
        fp32 operands: exact fp32 products (True) or TF32 (False, Triton's default).
    out : torch.Tensor, (M, N)
        Output buffer (required for hashed methods: it fixes ``N``).

    Notes
    -----
    :math:`Y_{mn} = \\lambda \\sum_k X_{mk} M[h(k, n)]`.
    """
    jit = _jit()
    import torch

    check_operand(torch, "x", x, 2)
    check_operand(torch, "b", b, 2 if khash.method == "dense" else 1, x.dtype, x.device)
    m, k = x.shape
    if out is None:
        if khash.method != "dense":
            raise CacheSimError("out=None: hashed methods need the (M, N) output buffer to fix N")
        out = torch.empty((m, b.shape[1]), dtype=x.dtype, device=x.device)
    check_operand(torch, "out", out, 2, x.dtype, x.device)
    if out.shape[0] != m:
        raise CacheSimError(f"out has shape {tuple(out.shape)}: must have {m} rows like x")
    n = out.shape[1]
    kw = _launch_args(khash, tile, (m, n, k), b)
    grid = (-(-m // tile.block_m) * -(-n // tile.block_n),)
    jit.fwd_kernel[grid](x, b, out, m, n, k, float(scale), *khash.scalar_args(tile), IEEE=ieee,
                         VEC=16 // x.element_size(), **kw)
    return out


def matmul_dx(dy, b, khash: KernelHash, in_features: int, tile: TileConfig = TileConfig(), *,
              scale: float = 1.0, ieee: bool = False, out=None):
    """Input gradient ``dX = scale * dY @ W^T`` (``W`` read with the forward's tile addresses)."""
    jit = _jit()
    import torch

    check_operand(torch, "dy", dy, 2)
    check_operand(torch, "b", b, 2 if khash.method == "dense" else 1, dy.dtype, dy.device)
    k = int_in("in_features", in_features)
    m, n = dy.shape
    if out is None:
        out = torch.empty((m, k), dtype=dy.dtype, device=dy.device)
    check_operand(torch, "out", out, 2, dy.dtype, dy.device)
    if tuple(out.shape) != (m, k):
        raise CacheSimError(f"out has shape {tuple(out.shape)}: must be (M, K) = {(m, k)}")
    kw = _launch_args(khash, tile, (m, n, k), b)
    grid = (-(-m // tile.block_m) * -(-k // tile.block_k),)
    jit.dx_kernel[grid](dy, b, out, m, n, k, float(scale), *khash.scalar_args(tile), IEEE=ieee,
                        VEC=16 // dy.element_size(), **kw)
    return out


def matmul_db(x, dy, khash: KernelHash, grad, tile: TileConfig = TileConfig(), *, scale: float = 1.0,
              ieee: bool = False):
    """Weight gradient into ``grad`` (float32): dense stores ``scale * X^T dY``; hashed methods ADD it.

    ROAST adds every ``BK x BN`` tile with one tile-wise atomic into its contiguous block; HashedNet
    scatters per-element atomics. ``grad`` is ``(K, N)`` for dense, ``(m_slots,)`` otherwise.

    Notes
    -----
    :math:`\\partial L/\\partial M_b \\mathrel{+}= \\lambda \\sum_{(k,n): h(k,n)=b} (X^T dY)_{kn}`.
    """
    jit = _jit()
    import torch

    check_operand(torch, "x", x, 2)
    check_operand(torch, "dy", dy, 2, x.dtype, x.device)
    if not isinstance(grad, torch.Tensor) or grad.dtype != torch.float32 or not grad.is_contiguous():
        raise CacheSimError("grad must be a contiguous float32 torch.Tensor (atomics accumulate in fp32)")
    m, k = x.shape
    if dy.shape[0] != m:
        raise CacheSimError(f"dy has shape {tuple(dy.shape)}: must have {m} rows like x")
    n = dy.shape[1]
    kw = _launch_args(khash, tile, (m, n, k), grad)
    grid = (-(-k // tile.block_k) * -(-n // tile.block_n),)
    jit.db_kernel[grid](x, dy, grad, m, n, k, float(scale), *khash.scalar_args(tile), IEEE=ieee, **kw)
    return grad


def kernel_index(khash: KernelHash, in_features: int, out_features: int, tile: TileConfig = TileConfig(),
                 device="cpu") -> np.ndarray:
    """The ``(K, N)`` int64 array of B offsets exactly as the GEMM kernels compute them (runs a kernel)."""
    jit = _jit()
    import torch

    k = int_in("in_features", in_features)
    n = int_in("out_features", out_features)
    out = torch.full((k, n), -1, dtype=torch.int64, device=device)
    wide = khash.method != "dense" and khash.m_slots >= 2**31 - 1 or k * n >= 2**31
    grid = (-(-k // tile.block_k), -(-n // tile.block_n))
    jit.index_kernel[grid](out, n, k, *khash.scalar_args(tile), MODE=_MODE[khash.method],
                           BLOCK_N=tile.block_n, BLOCK_K=tile.block_k, WIDE=wide)
    return out.cpu().numpy()
