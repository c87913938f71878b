"""Backward passes and training steps of the table-driven ROAST-MM, with HashedNet and dense twins.

Validating API; torch and triton are imported on first use (importing this module needs neither).

Addressing (the forward's conventions). The weight ``W`` is ``K x N`` (``in_features x out_features``,
``Y = lambda X W``), cut into ROAST tiles ``(BK, BN)``. Tile ``(kb, nb)`` is the contiguous row-major block
``memory[s : s + BK*BN]`` of the shared array, ``s = start_table[kb, nb]``: an int32 table of shape
``(ceil(K / BK), ceil(N / BN))``, computed once per layer, every start a multiple of ``align`` and at most
``memory - BK*BN`` (tiles may overlap in ``memory``). Element ``(k, n)`` is read from

    idx(k, n) = s(k // BK, n // BN) + (k mod BK) * BN + (n mod BN).

With ``align >= 8`` (16 bytes of bf16) the start is declared a multiple of ``align`` to the compiler, so
the tile's rows are loaded and atomically added with vector instructions. HashedNet uses the same program
tiling and differs only in the address of each weight: the authors' element hash
``((k R1 + n R2 + R3) mod P) mod H`` (``P = 2038074743``, int64 arithmetic, ``H = memory``) or a
precomputed int32 index matrix.

Passes (every one multiplies by the module scale ``lambda`` in fp32, as the forward does):

* forward ``Y = lambda X W``;
* input gradient ``dX = lambda dY W^T``: program block ``(block_m, block_k)``, loop over the tile columns;
* shared-array gradient: per tile, ``G_tile = lambda X[:, kb]^T dY[:, nb]`` (``BK x BN``, fp32
  accumulator) ADDED into ``grad_memory`` (fp32). ROAST adds the whole tile as one dense block: the
  addresses are ``s + [0, BK*BN)``, contiguous, so with ``align >= 4`` (fp32: 16 bytes) the atomics are
  16-byte vector atomics (``atom.add.v4.f32`` on Hopper), no per-element index; HashedNet scatters one
  scalar atomic per element. ``split_m > 1`` splits the sum over the rows of ``X`` between programs
  (their partial tiles meet in the atomics).

Notes
-----
.. math:: \\frac{\\partial L}{\\partial \\mathrm{memory}_b} = \\lambda \\sum_{(k, n):\\, idx(k, n) = b}
          (X^T\\, dY)_{kn}
"""

from __future__ import annotations

import functools
import numbers
from dataclasses import dataclass

import numpy as np

from ..errors import CacheSimError
from ..trace import plain
from ._triton_host import check_tensor, import_kernels, import_torch, int_in, pow2_in
from ._triton_host import use_asm as _asm

__all__ = [
    "ALIGNS",
    "BWD_CONFIGS",
    "SMEM_LIMIT",
    "HASHEDNET_PRIME",
    "BwdConfig",
    "bwd_configs",
    "check_start_table",
    "compile_offline",
    "cublas_train_step",
    "dense_train_step",
    "fast_forward",
    "hashednet_dx",
    "hashednet_forward",
    "hashednet_grad_memory",
    "hashednet_train_step",
    "roast_dx",
    "roast_forward",
    "roast_grad_memory",
    "roast_train_step",
    "sgd_update",
    "warmup",
]

#: Tile-start alignments (elements) the kernels are built for: scalar, 16 B and 128 B of bf16, and a whole
#: row of a 128- or 256-wide tile (the TMA kernels of ``triton_tma`` copy such tiles in one piece).
ALIGNS = (1, 8, 64, 128, 256)
#: Prime of the authors' HashedNet element hash (RzLinear ``v1_combined``).
HASHEDNET_PRIME = 2038074743
_KIND = {"roast": 0, "hashednet-hash": 1, "hashednet-index": 2, "dense": 3, "hashednet-mulshift": 4}
_INT32_MAX = 2**31 - 1


@functools.cache
def _jit():
    return import_kernels("_triton_fast_bwd_jit")


def _torch():
    return import_torch()


# ------------------------------------------------------------------------------------------ validation
def _check_tile(tile) -> tuple[int, int]:
    if not isinstance(tile, tuple | list) or len(tile) != 2:
        raise CacheSimError(f"tile={plain(tile)!r} must be a (BK, BN) pair of powers of two >= 16")
    return pow2_in("tile[0] (BK)", tile[0], 16), pow2_in("tile[1] (BN)", tile[1], 16)


def _check_align(align) -> int:
    if isinstance(align, bool) or not isinstance(align, numbers.Integral) or int(align) not in ALIGNS:
        raise CacheSimError(f"align={plain(align)!r} must be one of {ALIGNS}")
    return int(align)


def _check_real(name, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(float(value)):
        raise CacheSimError(f"{name}={plain(value)!r} must be a finite real number")
    return float(value)


def _check_tensor(torch, name, t, ndim, like=None, dtypes=None):
    check_tensor(torch, name, t, ndim)
    dtypes = dtypes or (torch.float32, torch.bfloat16, torch.float16)
    if t.dtype not in dtypes:
        names = ", ".join(str(d).replace("torch.", "") for d in dtypes)
        raise CacheSimError(f"{name} has dtype {str(t.dtype).replace('torch.', '')}: must be one of {names}")
    if like is not None:
        lname, lt = like
        if t.dtype != lt.dtype:
            raise CacheSimError(f"{name} has dtype {t.dtype} but {lname} has {lt.dtype}: must match")
        if t.device != lt.device:
            raise CacheSimError(f"{name} is on {t.device} but {lname} is on {lt.device}: must match")
    return t


def _check_memory(torch, memory, low, like) -> int:
    """Size of the shared array; ``low`` is the tile size BK*BN (ROAST) or 1 (HashedNet)."""
    _check_tensor(torch, "memory", memory, 1, like)
    size = memory.shape[0]
    if size < low or size > _INT32_MAX:
        what = f"the tile size BK*BN={low}" if low > 1 else "1"
        raise CacheSimError(f"memory has {size} elements: must be in [{low}, {_INT32_MAX}] "
                            f"(at least {what}, int32 offsets)")
    return size


def _check_grad(torch, grad_memory, size, like):
    _check_tensor(torch, "grad_memory", grad_memory, 1, None, (torch.float32,))
    if grad_memory.shape[0] != size:
        raise CacheSimError(f"grad_memory has {grad_memory.shape[0]} elements: must be {size} like memory")
    if grad_memory.device != like.device:
        raise CacheSimError(f"grad_memory is on {grad_memory.device}: must be on {like.device}")


def _n_tiles(extent: int, block: int) -> int:
    return -(-extent // block)


def _check_table_shape(torch, start_table, in_features, out_features, tile, device):
    _check_tensor(torch, "start_table", start_table, 2, None, (torch.int32,))
    shape = (_n_tiles(in_features, tile[0]), _n_tiles(out_features, tile[1]))
    if tuple(start_table.shape) != shape:
        raise CacheSimError(f"start_table has shape {tuple(start_table.shape)}: must be (ceil(K/BK), "
                            f"ceil(N/BN)) = {shape} for K={in_features}, N={out_features}, tile={tile}")
    if start_table.device != device:
        raise CacheSimError(f"start_table is on {start_table.device}: must be on {device}")


def check_start_table(start_table, memory: int, in_features: int, out_features: int, tile,
                      align: int = 1):
    """Raise :class:`CacheSimError` unless ``start_table`` is a valid ROAST start table (reads its values).

    Parameters
    ----------
    start_table : torch.Tensor, int32, (ceil(K / BK), ceil(N / BN))
    memory : int
        Size of the shared array (elements).
    in_features, out_features : int
        ``K`` and ``N``.
    tile : (int, int)
        ``(BK, BN)``, powers of two >= 16.
    align : {1, 8, 64}
        Every start must be a multiple of ``align``.

    Notes
    -----
    Valid starts: :math:`0 \\le s \\le m - B_K B_N`, :math:`s \\equiv 0 \\pmod{align}`. The check syncs
    the device (it reads the table); the pass functions check only shapes and dtypes.
    """
    torch = _torch()
    tile = _check_tile(tile)
    align = _check_align(align)
    t_size = tile[0] * tile[1]
    memory = int_in("memory", memory, t_size, _INT32_MAX)
    k = int_in("in_features", in_features)
    n = int_in("out_features", out_features)
    _check_table_shape(torch, start_table, k, n, tile, start_table.device)
    s = start_table.to(torch.int64)
    lo, hi = int(s.min()), int(s.max())
    if lo < 0 or hi > memory - t_size:
        bad = lo if lo < 0 else hi
        raise CacheSimError(f"start_table holds the start {bad}: starts must be in [0, {memory - t_size}] "
                            f"(memory={memory} minus the tile size BK*BN={t_size})")
    rem = s % align
    if align > 1 and bool((rem != 0).any()):
        bad = int(s.flatten()[int(torch.nonzero(rem.flatten())[0])])
        raise CacheSimError(f"start_table holds the start {bad}: starts must be multiples of align={align}")


@dataclass(frozen=True)
class BwdConfig:
    """Launch configuration of the passes (the tile ``(BK, BN)`` belongs to the mapping, not here).

    Parameters
    ----------
    block_m : int
        Rows of ``X`` / ``dY`` per program step (power of two >= 16).
    block_k : int or None
        Rows of ``W`` per program block: a multiple of the tile's ``BK`` (``block_k / BK`` tiles stacked
        along K, each with its own start); None means ``BK``. The block's width is always ``BN``.
    group_m : int
        Grouped program order: ``group_m`` row blocks (forward, dX) or tile rows (gradient) share a band.
    split_m : int
        Programs that share one tile's gradient sum over the rows (>= 1; their partial tiles are added by
        the atomics). Dense needs 1.
    num_warps, num_stages : int
        Warps per program and software-pipeline depth.
    prefetch : bool
        ROAST forward and ``dX``: read the tile starts one loop step ahead into registers with plain
        loads instead of letting the pipeliner stage them through shared memory.
    """

    block_m: int = 128
    block_k: int | None = None
    group_m: int = 8
    split_m: int = 1
    num_warps: int = 4
    num_stages: int = 3
    prefetch: bool = False

    def __post_init__(self):
        pow2_in("block_m", self.block_m, 16)
        if self.block_k is not None:
            pow2_in("block_k", self.block_k, 16)
        int_in("group_m", self.group_m)
        int_in("split_m", self.split_m)
        pow2_in("num_warps", self.num_warps, 1)
        int_in("num_stages", self.num_stages)
        if not isinstance(self.prefetch, bool):
            raise CacheSimError(f"prefetch={plain(self.prefetch)!r} must be True or False")

    def bk(self, tile) -> int:
        """The program's ``block_k`` for ``tile`` (checked: a multiple of ``BK``)."""
        if self.block_k is None:
            return tile[0]
        if self.block_k % tile[0]:
            raise CacheSimError(f"config.block_k={self.block_k} must be a multiple of the tile's "
                                f"BK={tile[0]}")
        return self.block_k

    def to_dict(self) -> dict:
        return {"block_m": self.block_m, "block_k": self.block_k, "group_m": self.group_m,
                "split_m": self.split_m, "num_warps": self.num_warps, "num_stages": self.num_stages,
                "prefetch": self.prefetch}


#: Candidates for the device sweep; :func:`bwd_configs` keeps those that fit a tile and a pass. dX favours
#: wide output blocks (``block_k`` 64-128) and may gain from ``prefetch``; the gradient pass favours
#: ``block_m`` 64-128 as its reduction step and ``split_m > 1`` where the weight has few tiles
#: (``prefetch`` does not affect it).
BWD_CONFIGS = (
    BwdConfig(128, 64, 8, 1, 4, 3), BwdConfig(128, 64, 8, 1, 4, 3, prefetch=True),
    BwdConfig(128, 128, 8, 1, 8, 3), BwdConfig(128, 128, 8, 1, 8, 3, prefetch=True),
    BwdConfig(256, 64, 8, 1, 8, 3, prefetch=True), BwdConfig(64, 64, 8, 1, 4, 4),
    BwdConfig(128, 64, 8, 2, 4, 3), BwdConfig(64, 128, 8, 4, 4, 4),
    BwdConfig(64, 64, 8, 1, 8, 3), BwdConfig(64, 64, 8, 1, 8, 3, prefetch=True),
    BwdConfig(128, 64, 8, 1, 8, 2), BwdConfig(64, 128, 8, 2, 8, 3),
)
#: Shared memory per block on the H100/H200 (227 KiB).
SMEM_LIMIT = 232448


def bwd_configs(pass_: str, tile, *, dtype_bytes: int = 2, configs=BWD_CONFIGS,
                smem_limit: int = SMEM_LIMIT, max_acc_per_thread: int = 128) -> tuple:
    """The candidates of ``configs`` that can run pass ``pass_`` ("dx" or "dw") for ``tile``.

    Kept: ``block_k`` a multiple of ``BK``; pipeline buffers within ``smem_limit``; the fp32 accumulator
    at most ``max_acc_per_thread`` values per thread (beyond that registers spill). ``prefetch`` is
    dropped as a duplicate for "dw" (it does not change that pass).

    Notes
    -----
    Buffers per stage (elements): dX ``block_m BN + block_k BN`` (dY and W blocks); gradient
    ``block_m block_k + block_m BN`` (X and dY blocks); times ``num_stages`` and ``dtype_bytes``. The
    accumulator is ``block_m block_k`` (dX) or ``block_k BN`` (gradient) over ``32 num_warps`` threads.
    These match Triton 3.6's sm_90 allocation for every candidate (checked with :func:`compile_offline`).
    """
    if pass_ not in ("dx", "dw"):
        raise CacheSimError(f"pass_={pass_!r} must be 'dx' or 'dw'")
    bk, bn = _check_tile(tile)
    out = []
    for c in configs:
        c = _check_config(c)
        blk = c.bk((bk, bn)) if c.block_k is None or c.block_k % bk == 0 else None
        if blk is None or (pass_ == "dw" and c.prefetch):
            continue
        if pass_ == "dx":
            stage, acc = c.block_m * bn + blk * bn, c.block_m * blk
        else:
            stage, acc = c.block_m * blk + c.block_m * bn, blk * bn
        if stage * c.num_stages * dtype_bytes <= smem_limit and acc <= max_acc_per_thread * 32 * c.num_warps:
            out.append(c)
    return tuple(out)


def _check_config(config) -> BwdConfig:
    if not isinstance(config, BwdConfig):
        raise CacheSimError(f"config has type {type(config).__name__}: must be a BwdConfig")
    return config


# ------------------------------------------------------------------------------------------ addressing
@dataclass(frozen=True)
class _Addr:
    """How the weight is addressed: kernel kind, table operands and scalar hash parameters."""

    kind: str
    start_table: object = None
    index: object = None
    params: tuple = (0, 0, 0)
    prime: int = 1
    span: int = 1
    shift: int = 0
    align: int = 1

    def tensors(self, dummy):
        st = self.start_table if self.start_table is not None else dummy
        ix = self.index if self.index is not None else dummy
        return st, ix


def _roast_addr(torch, start_table, memory_size, k, n, tile, align, device) -> _Addr:
    align = _check_align(align)
    _check_table_shape(torch, start_table, k, n, tile, device)
    return _Addr("roast", start_table=start_table, align=align, span=memory_size)


def _hashednet_addr(torch, params, mulshift, index, prime, memory_size, k, n, device) -> _Addr:
    given = [name for name, v in (("params", params), ("mulshift", mulshift), ("index", index))
             if v is not None]
    if len(given) != 1:
        raise CacheSimError(f"got {given or 'none'}: give exactly one of params=(R1, R2, R3) (the authors' "
                            "hash), mulshift=(A1, A2, B) or index= (an int32 (K, N) index matrix)")
    if index is not None:
        _check_tensor(torch, "index", index, 2, None, (torch.int32,))
        if tuple(index.shape) != (k, n):
            raise CacheSimError(f"index has shape {tuple(index.shape)}: must be (K, N) = {(k, n)}")
        if index.device != device:
            raise CacheSimError(f"index is on {index.device}: must be on {device}")
        return _Addr("hashednet-index", index=index, span=memory_size)
    name = "params" if params is not None else "mulshift"
    vals = params if params is not None else mulshift
    if not isinstance(vals, tuple | list) or len(vals) != 3:
        raise CacheSimError(f"{name}={plain(vals)!r} must be a tuple of 3 integers")
    if mulshift is not None:
        if memory_size < 2 or memory_size & (memory_size - 1):
            raise CacheSimError(f"memory has {memory_size} elements: mulshift needs a power of two >= 2")
        a1, a2, c = (int_in(f"mulshift[{i}]", v, 0, 2**32 - 1) for i, v in enumerate(vals))
        signed = tuple(v - 2**32 if v >= 2**31 else v for v in (a1, a2, c))
        return _Addr("hashednet-mulshift", params=signed, span=memory_size,
                     shift=32 - (memory_size.bit_length() - 1))
    prime = int_in("prime", prime, 2, _INT32_MAX)
    p = tuple(int_in(f"params[{i}] (R{i + 1})", r, 0, prime - 1) for i, r in enumerate(vals))
    return _Addr("hashednet-hash", params=p, prime=prime, span=memory_size)


def _dims(torch, a, name_a, b, name_b):
    if a.shape[0] != b.shape[0]:
        raise CacheSimError(f"{name_b} has shape {tuple(b.shape)}: must have {a.shape[0]} rows like {name_a}")


def _common(addr: _Addr, tile, config, m, n, k, ieee):
    bk = config.bk(tile)
    even = m % config.block_m == 0 and n % tile[1] == 0 and k % bk == 0
    # every tile ROW starts at s + (k mod BK) BN: a multiple of min(align, BN) (both powers of two)
    return dict(KIND=_KIND[addr.kind], BLOCK_M=config.block_m, BLOCK_K=bk, BK=tile[0], BN=tile[1],
                ALIGN=min(addr.align, tile[1]), IEEE=bool(ieee), EVEN=even, num_warps=config.num_warps,
                num_stages=config.num_stages)


def _pf(addr: _Addr, config) -> dict:
    """``PF`` / ``ASM`` constexprs of the forward and ``dX`` kernels."""
    return {"PF": bool(config.prefetch and addr.kind == "roast"), "ASM": _asm()}


def _scalars(addr: _Addr, k, n, tile, scale):
    """``KB, NB, scale, r1, r2, r3, prime, span, shift`` as the kernels take them."""
    r1, r2, r3 = addr.params
    return (_n_tiles(k, tile[0]), _n_tiles(n, tile[1]), float(scale), r1, r2, r3, addr.prime, addr.span,
            addr.shift)


# ------------------------------------------------------------------------------------------ launchers
def _run_forward(torch, x, w, addr: _Addr, n, tile, scale, config, ieee, out):
    return _run_ab("fwd", torch, x, w, addr, n, tile, scale, config, ieee, out)


def _run_dx(torch, dy, w, addr: _Addr, k, tile, scale, config, ieee, out):
    return _run_ab("dx", torch, dy, w, addr, k, tile, scale, config, ieee, out)


def _run_ab(pass_, torch, a, w, addr: _Addr, extent, tile, scale, config, ieee, out):
    """Launch the forward (``pass_ = "fwd"``: ``a = X``, ``extent = N``, ``Y = scale X W``) or the input
    gradient (``"dx"``: ``a = dY``, ``extent = K``, ``dX = scale dY W^T``) into ``out`` ``(M, extent)``."""
    m, inner = a.shape
    if pass_ == "fwd":
        name, n, k, dims, block = "x", extent, inner, "M, N", tile[1]
    else:
        name, n, k, dims, block = "dy", inner, extent, "M, K", config.bk(tile)
    if out is None:
        out = torch.empty((m, extent), dtype=a.dtype, device=a.device)
    _check_tensor(torch, "out", out, 2, (name, a))
    if tuple(out.shape) != (m, extent):
        raise CacheSimError(f"out has shape {tuple(out.shape)}: must be ({dims}) = {(m, extent)}")
    st, ix = addr.tensors(w)
    grid = (_n_tiles(m, config.block_m) * _n_tiles(extent, block),)
    kernel = _jit().fwd_kernel if pass_ == "fwd" else _jit().dx_kernel
    kernel[grid](a, w, st, ix, out, m, n, k, *_scalars(addr, k, n, tile, scale), GROUP_M=config.group_m,
                 **_pf(addr, config), **_common(addr, tile, config, m, n, k, ieee))
    return out


def _run_grad(torch, x, dy, grad, addr: _Addr, tile, scale, config, ieee):
    m, k = x.shape
    n = dy.shape[1]
    if addr.kind == "dense" and config.split_m != 1:
        raise CacheSimError(f"config.split_m={config.split_m}: the dense gradient is stored, it needs 1")
    st, ix = addr.tensors(x)
    grid = (_n_tiles(k, config.bk(tile)) * _n_tiles(n, tile[1]), config.split_m)
    _jit().dw_kernel[grid](x, dy, st, ix, grad, m, n, k, *_scalars(addr, k, n, tile, scale),
                           GROUP_K=config.group_m, SPLIT_M=config.split_m,
                           **_common(addr, tile, config, m, n, k, ieee))
    return grad


def _scale_config(scale, config) -> tuple:
    return _check_real("scale", scale), _check_config(config)


def _pass_operands(name, a, memory, tile, *, roast: bool):
    """``(torch, tile, memory size)`` of a forward or ``dX`` pass: the tile, the 2-D operand ``a`` and the
    shared array (at least one tile ``BK*BN`` for ROAST, one element for HashedNet) checked."""
    torch = _torch()
    tile = _check_tile(tile)
    _check_tensor(torch, name, a, 2)
    size = _check_memory(torch, memory, tile[0] * tile[1] if roast else 1, (name, a))
    return torch, tile, size


def _grad_operands(x, dy, grad_memory, tile, *, roast: bool):
    """``(torch, tile, memory size)`` of a shared-array gradient pass, every operand checked."""
    torch = _torch()
    tile = _check_tile(tile)
    _step_operands(torch, x, dy)
    size = grad_memory.shape[0] if isinstance(grad_memory, torch.Tensor) else 0
    _check_grad(torch, grad_memory, size, x)
    low = tile[0] * tile[1] if roast else 1
    if size < low or size > _INT32_MAX:
        why = " (one tile BK*BN up to int32 offsets)" if roast else ""
        raise CacheSimError(f"grad_memory has {size} elements: must be in [{low}, {_INT32_MAX}]{why}")
    return torch, tile, size


# ------------------------------------------------------------------------------------------ ROAST
def roast_forward(x, memory, start_table, out_features: int, tile, *, align: int = 1, scale: float = 1.0,
                  config: BwdConfig = BwdConfig(), ieee: bool = False, out=None):
    """``Y = scale * X @ W`` with ``W`` read tile-wise through ``start_table`` (the reference forward).

    Parameters
    ----------
    x : torch.Tensor, (M, K)
        Same dtype (float32, bfloat16 or float16) and device as ``memory``.
    memory : torch.Tensor, (memory,)
        The shared array.
    start_table : torch.Tensor, int32, (ceil(K / BK), ceil(N / BN))
        Tile starts (see :func:`check_start_table`; values are not re-read here).
    out_features : int
        ``N``.
    tile : (int, int)
        ``(BK, BN)``.
    align : {1, 8, 64}
        Declared alignment of every start (a wrong declaration gives wrong loads on the GPU).
    scale : float
        Module scale ``lambda``, applied to the fp32 accumulator.
    config : BwdConfig
    ieee : bool
        fp32 operands: exact fp32 products (True) or TF32 (False).
    out : torch.Tensor, (M, N), optional

    Returns
    -------
    torch.Tensor, (M, N)

    Notes
    -----
    :math:`Y_{mn} = \\lambda \\sum_k X_{mk}\\, \\mathrm{memory}[idx(k, n)]`.
    """
    torch, tile, size = _pass_operands("x", x, memory, tile, roast=True)
    n = int_in("out_features", out_features)
    addr = _roast_addr(torch, start_table, size, x.shape[1], n, tile, align, x.device)
    return _run_forward(torch, x, memory, addr, n, tile, *_scale_config(scale, config), ieee, out)


def roast_dx(dy, memory, start_table, in_features: int, tile, *, align: int = 1, scale: float = 1.0,
             config: BwdConfig = BwdConfig(), ieee: bool = False, out=None):
    """Input gradient ``dX = scale * dY @ W^T``, ``W`` read tile-wise from ``memory`` (contiguous blocks).

    Parameters are those of :func:`roast_forward`, with ``dy`` ``(M, N)`` in place of ``x`` and
    ``in_features`` (``K``) in place of ``out_features``. Returns ``dX`` ``(M, K)`` in ``dy``'s dtype.

    Notes
    -----
    :math:`dX_{mk} = \\lambda \\sum_n dY_{mn}\\, \\mathrm{memory}[idx(k, n)]`. Program block
    ``(block_m, BK)``; each loop step loads one whole tile ``memory[s : s + BK*BN]`` without a mask.
    """
    torch, tile, size = _pass_operands("dy", dy, memory, tile, roast=True)
    k = int_in("in_features", in_features)
    addr = _roast_addr(torch, start_table, size, k, dy.shape[1], tile, align, dy.device)
    return _run_dx(torch, dy, memory, addr, k, tile, *_scale_config(scale, config), ieee, out)


def roast_grad_memory(x, dy, start_table, grad_memory, tile, *, align: int = 1, scale: float = 1.0,
                      config: BwdConfig = BwdConfig(), ieee: bool = False):
    """ADD the shared-array gradient of ``Y = scale * X @ W`` into ``grad_memory`` (float32, in place).

    Parameters
    ----------
    x : torch.Tensor, (M, K)
    dy : torch.Tensor, (M, N)
        Same dtype and device as ``x``.
    start_table : torch.Tensor, int32, (ceil(K / BK), ceil(N / BN))
    grad_memory : torch.Tensor, float32, (memory,)
        Accumulated into (not overwritten): zero it first for a plain gradient.
    tile, align, scale, config, ieee
        As in :func:`roast_forward`.

    Returns
    -------
    torch.Tensor
        ``grad_memory``.

    Notes
    -----
    Per tile :math:`G = \\lambda X_{:, kb}^T dY_{:, nb}` (``BK x BN``, fp32), then one dense block add
    of the whole tile (contiguous addresses, vector atomics when aligned):
    :math:`\\mathrm{grad}[s + j] \\mathrel{+}= G_{j // BN,\\, j \\bmod BN}`,
    ``j < BK*BN`` (positions outside ``K x N`` masked). Overlapping tiles simply add.
    """
    torch, tile, size = _grad_operands(x, dy, grad_memory, tile, roast=True)
    addr = _roast_addr(torch, start_table, size, x.shape[1], dy.shape[1], tile, align, x.device)
    return _run_grad(torch, x, dy, grad_memory, addr, tile, *_scale_config(scale, config), ieee)


# ------------------------------------------------------------------------------------------ HashedNet
def hashednet_forward(x, memory, out_features: int, tile, *, params=None, mulshift=None, index=None,
                      prime: int = HASHEDNET_PRIME, scale: float = 1.0, config: BwdConfig = BwdConfig(),
                      ieee: bool = False, out=None):
    """``Y = scale * X @ W`` with every ``W[k, n]`` read from its own hashed slot (same tiling as ROAST).

    Parameters
    ----------
    x, memory, out_features, tile, scale, config, ieee, out
        As in :func:`roast_forward`.
    params : (R1, R2, R3), optional
        The authors' hash ``((k R1 + n R2 + R3) mod prime) mod memory``, computed per element in int64
        (``roast_theory.hashes`` family ``"hashednet-triton"``).
    mulshift : (A1, A2, B), optional
        Multiply-shift: the top ``log2(memory)`` bits of ``(k A1 + n A2 + B) mod 2**32`` (family
        ``"hashednet-mulshift"``; ``memory`` a power of two).
    index : torch.Tensor, int32, (K, N), optional
        A precomputed index matrix. Exactly one of ``params`` / ``mulshift`` / ``index``.
    prime : int
        ``P`` of the hash (default 2038074743).
    """
    torch, tile, size = _pass_operands("x", x, memory, tile, roast=False)
    n = int_in("out_features", out_features)
    addr = _hashednet_addr(torch, params, mulshift, index, prime, size, x.shape[1], n, x.device)
    return _run_forward(torch, x, memory, addr, n, tile, *_scale_config(scale, config), ieee, out)


def hashednet_dx(dy, memory, in_features: int, tile, *, params=None, mulshift=None, index=None,
                 prime: int = HASHEDNET_PRIME, scale: float = 1.0, config: BwdConfig = BwdConfig(),
                 ieee: bool = False, out=None):
    """HashedNet input gradient ``dX = scale * dY @ W^T`` (per-element hashed reads, ROAST's tiling)."""
    torch, tile, size = _pass_operands("dy", dy, memory, tile, roast=False)
    k = int_in("in_features", in_features)
    addr = _hashednet_addr(torch, params, mulshift, index, prime, size, k, dy.shape[1], dy.device)
    return _run_dx(torch, dy, memory, addr, k, tile, *_scale_config(scale, config), ieee, out)


def hashednet_grad_memory(x, dy, grad_memory, tile, *, params=None, mulshift=None, index=None,
                          prime: int = HASHEDNET_PRIME, scale: float = 1.0,
                          config: BwdConfig = BwdConfig(), ieee: bool = False):
    """ADD the HashedNet gradient into ``grad_memory`` (float32): one atomic per weight element.

    Notes
    -----
    :math:`\\mathrm{grad}[h(k, n)] \\mathrel{+}= \\lambda (X^T dY)_{kn}` for every ``(k, n)``, the tile
    ``(BK, BN)`` of ``X^T dY`` computed per program as for ROAST.
    """
    torch, tile, size = _grad_operands(x, dy, grad_memory, tile, roast=False)
    addr = _hashednet_addr(torch, params, mulshift, index, prime, size, x.shape[1], dy.shape[1], x.device)
    return _run_grad(torch, x, dy, grad_memory, addr, tile, *_scale_config(scale, config), ieee)


# ------------------------------------------------------------------------------------------ SGD
def sgd_update(memory, grad_memory, lr: float, *, block: int = 1024):
    """``memory <- memory - lr * grad_memory`` in place (fp32 arithmetic, stored in ``memory``'s dtype)."""
    torch = _torch()
    lr = _check_real("lr", lr)
    block = pow2_in("block", block, 16)
    _check_tensor(torch, "memory", memory, 1)
    _check_grad(torch, grad_memory, memory.shape[0], memory)
    return _sgd(memory, grad_memory, lr, block)


def _sgd(memory, grad_memory, lr: float, block: int = 1024):
    """Launch the SGD kernel on checked operands."""
    grid = (_n_tiles(memory.shape[0], block),)
    _jit().sgd_kernel[grid](memory, grad_memory, memory.shape[0], lr, BLOCK=block)
    return memory


# ------------------------------------------------------------------------------------------ train steps
def _step_args(x, dy, tile, scale, lr, config, dw_config):
    """``torch`` and the checked ``(tile, scale, lr, config, dw_config)`` of a train step (``dw_config``
    None: ``config``), after checking the operands ``x`` and ``dy``."""
    torch = _torch()
    config = _check_config(config)
    args = (_check_tile(tile), _check_real("scale", scale), _check_real("lr", lr), config,
            config if dw_config is None else _check_config(dw_config))
    _step_operands(torch, x, dy)
    return torch, args


def _launch_step(torch, x, dy, stored, flat, grad, addr, args, ieee, forward, dx_pass=None):
    """Launches 2-5 of a train step (the gradient buffer ``grad`` is already zeroed): forward (or the
    ``forward`` hook), ``dX`` (or the ``dx_pass`` hook), the gradient pass, SGD on ``flat`` (the 1-D view
    of ``stored``)."""
    tile, scale, lr, config, dw_config = args
    k, n = x.shape[1], dy.shape[1]
    if forward is None:
        y = _run_forward(torch, x, stored, addr, n, tile, scale, config, ieee, None)
    else:
        y = forward(x, stored, scale=scale)
    if dx_pass is None:
        dx = _run_dx(torch, dy, stored, addr, k, tile, scale, config, ieee, None)
    else:
        dx = dx_pass(dy, stored, scale=scale)
    _run_grad(torch, x, dy, grad, addr, tile, scale, dw_config, ieee)
    _sgd(flat, grad, lr)
    return y, dx


def _step_operands(torch, x, dy):
    _check_tensor(torch, "x", x, 2)
    _check_tensor(torch, "dy", dy, 2, ("x", x))
    _dims(torch, x, "x", dy, "dy")


def _grad_buffer(torch, grad_memory, memory):
    if grad_memory is None:
        return torch.zeros(memory.shape[0], dtype=torch.float32, device=memory.device)
    _check_grad(torch, grad_memory, memory.shape[0], memory)
    return grad_memory.zero_()


def roast_train_step(x, memory, start_table, dy, lr: float, tile, *, align: int = 1, scale: float = 1.0,
                     grad_memory=None, config: BwdConfig = BwdConfig(), ieee: bool = False, forward=None,
                     dw_config: BwdConfig | None = None, dx_pass=None):
    """One ROAST-MM SGD step with given output gradient ``dy``; updates ``memory`` in place.

    Contains exactly, in this order (five device launches, no host sync):

    1. zero the fp32 gradient buffer (``grad_memory.zero_()``, or ``torch.zeros`` when it is None);
    2. forward ``Y = scale * X @ W`` (:func:`roast_forward`, or ``forward(x, memory, scale=scale)`` when
       given, e.g. :func:`fast_forward`: the fast kernel of :mod:`cachesim.measure.triton_fast`);
    3. input gradient ``dX = scale * dY @ W^T`` (:func:`roast_dx`, reads ``memory`` before the update);
    4. shared-array gradient added tile-wise into the buffer (:func:`roast_grad_memory`);
    5. SGD ``memory <- memory - lr * grad`` (:func:`sgd_update`).

    No loss is computed: ``dy`` stands for ``dL/dY`` (as ``Y.backward(dy)`` in :func:`cublas_train_step`).
    No bias, no momentum, no weight decay.

    Parameters
    ----------
    x : torch.Tensor, (M, K)
    memory : torch.Tensor, (memory,)
        The shared array, updated in place.
    start_table : torch.Tensor, int32, (ceil(K / BK), ceil(N / BN))
    dy : torch.Tensor, (M, N)
    lr : float
    tile, align, scale, config, ieee
        As in :func:`roast_forward`.
    grad_memory : torch.Tensor, float32, (memory,), optional
        Reused buffer; holds this step's gradient afterwards.
    forward : callable, optional
        Replacement forward pass ``forward(x, memory, *, scale) -> Y`` reading the same table
        (:func:`fast_forward` with ``start_table=prep.aux``).
    dw_config : BwdConfig, optional
        Configuration of the gradient pass (default ``config``, which also runs ``dX``).
    dx_pass : callable, optional
        Replacement input-gradient pass ``dx_pass(dy, memory, *, scale) -> dX`` reading the same table
        (e.g. :func:`cachesim.measure.triton_tma.tma_matmul` with ``transpose=True``).

    Returns
    -------
    (Y, dX, grad_memory) : tuple of torch.Tensor
    """
    torch, args = _step_args(x, dy, tile, scale, lr, config, dw_config)
    tile = args[0]
    size = _check_memory(torch, memory, tile[0] * tile[1], ("x", x))
    addr = _roast_addr(torch, start_table, size, x.shape[1], dy.shape[1], tile, align, x.device)
    grad = _grad_buffer(torch, grad_memory, memory)
    y, dx = _launch_step(torch, x, dy, memory, memory, grad, addr, args, ieee, forward, dx_pass)
    return y, dx, grad


def hashednet_train_step(x, memory, dy, lr: float, tile, *, params=None, mulshift=None, index=None,
                         prime: int = HASHEDNET_PRIME, scale: float = 1.0, grad_memory=None,
                         config: BwdConfig = BwdConfig(), ieee: bool = False, forward=None,
                         dw_config: BwdConfig | None = None):
    """One HashedNet SGD step, the same five launches as :func:`roast_train_step` with hashed addresses.

    1. zero the fp32 gradient buffer; 2. forward (:func:`hashednet_forward`, or
    ``forward(x, memory, scale=scale)``, e.g. :func:`fast_forward` of the same index); 3. ``dX``
    (:func:`hashednet_dx`); 4. per-element scatter-add of ``scale * X^T dY`` into the buffer
    (:func:`hashednet_grad_memory`); 5. SGD on ``memory`` (:func:`sgd_update`). Same program tiling as
    ROAST: only the address of each weight differs (the authors' hash ``params``, ``mulshift`` or an int32
    ``index``, as in :func:`hashednet_forward`).

    Returns
    -------
    (Y, dX, grad_memory) : tuple of torch.Tensor
    """
    torch, args = _step_args(x, dy, tile, scale, lr, config, dw_config)
    size = _check_memory(torch, memory, 1, ("x", x))
    addr = _hashednet_addr(torch, params, mulshift, index, prime, size, x.shape[1], dy.shape[1], x.device)
    grad = _grad_buffer(torch, grad_memory, memory)
    y, dx = _launch_step(torch, x, dy, memory, memory, grad, addr, args, ieee, forward)
    return y, dx, grad


def dense_train_step(x, weight, dy, lr: float, tile, *, scale: float = 1.0, grad_weight=None,
                     config: BwdConfig = BwdConfig(), ieee: bool = False, forward=None,
                     dw_config: BwdConfig | None = None, dx_pass=None):
    """The same five launches with a dense ``(K, N)`` weight and the same Triton tiling (no cuBLAS).

    1. zero the fp32 ``(K, N)`` gradient buffer; 2. forward (or ``forward(x, weight, scale=scale)``);
    3. ``dX``; 4. per tile ``scale * X^T dY``
    STORED (no atomics; ``config.split_m`` must be 1); 5. SGD on ``weight``. Separates "Triton vs cuBLAS"
    from "ROAST vs dense" in the step timings. ``forward`` / ``dx_pass``: hooks as in
    :func:`roast_train_step`.

    Returns
    -------
    (Y, dX, grad_weight) : tuple of torch.Tensor
    """
    torch, args = _step_args(x, dy, tile, scale, lr, config, dw_config)
    _check_tensor(torch, "weight", weight, 2, ("x", x))
    k, n = x.shape[1], dy.shape[1]
    if tuple(weight.shape) != (k, n):
        raise CacheSimError(f"weight has shape {tuple(weight.shape)}: must be (K, N) = {(k, n)}")
    flat = weight.view(-1)
    grad = _grad_buffer(torch, None if grad_weight is None else grad_weight.view(-1), flat)
    y, dx = _launch_step(torch, x, dy, weight, flat, grad, _Addr("dense"), args, ieee, forward, dx_pass)
    return y, dx, grad.view(k, n)


def cublas_train_step(x, weight, dy, lr: float):
    """The dense reference step through torch autograd (cuBLAS on the GPU); updates ``weight`` in place.

    Contains exactly: ``weight.grad = None``; forward ``Y = torch.nn.functional.linear(x, weight)``
    (``weight`` ``(N, K)`` as ``nn.Linear`` stores it, no bias) with ``x`` a leaf that requires grad;
    ``Y.backward(dy)`` (``dX = dY W`` and ``dW = dY^T X``, both by cuBLAS, gradients in the parameters'
    dtype); SGD ``weight.add_(weight.grad, alpha=-lr)`` under ``no_grad``. No loss computation, no optimizer
    object (its Python overhead is not timed), no momentum, no weight decay.

    Parameters
    ----------
    x : torch.Tensor, (M, K)
    weight : torch.Tensor, (N, K)
        A leaf that requires grad (``nn.Parameter``).
    dy : torch.Tensor, (M, N)
    lr : float

    Returns
    -------
    (Y, dX, dW) : tuple of torch.Tensor
    """
    torch = _torch()
    lr = _check_real("lr", lr)
    floats = (torch.float64, torch.float32, torch.bfloat16, torch.float16)
    _check_tensor(torch, "x", x, 2, None, floats)
    _check_tensor(torch, "weight", weight, 2, ("x", x), floats)
    _check_tensor(torch, "dy", dy, 2, ("x", x), floats)
    if not weight.requires_grad or not weight.is_leaf:
        raise CacheSimError("weight must be a leaf tensor that requires grad (an nn.Parameter)")
    if weight.shape[1] != x.shape[1] or tuple(dy.shape) != (x.shape[0], weight.shape[0]):
        raise CacheSimError(f"shapes x {tuple(x.shape)}, weight {tuple(weight.shape)}, dy {tuple(dy.shape)}:"
                            " need x (M, K), weight (N, K), dy (M, N)")
    weight.grad = None
    xl = x.detach().requires_grad_(True)
    y = torch.nn.functional.linear(xl, weight)
    y.backward(dy)
    with torch.no_grad():
        weight.add_(weight.grad, alpha=-lr)
    return y.detach(), xl.grad, weight.grad


def fast_forward(prep, config, *, ieee: bool = False):
    """``forward=`` hook of the train steps: the fast fused forward :func:`triton_fast.fast_matmul`.

    Parameters
    ----------
    prep : triton_fast.PreparedWeight
        From ``triton_fast.FastWeight(scheme, index, memory, tile, align, seed).prepare(K, N, device)``.
        Give the ROAST step ``start_table=prep.aux`` (and the HashedNet step ``index=prep.aux`` or the
        family's parameters) so that forward and backward read the same slots.
    config : triton_fast.FastConfig
        Must cover the shape (``M, K, N`` multiples of its blocks).
    ieee : bool
        fp32: exact fp32 products instead of TF32.

    Returns
    -------
    callable
        ``forward(x, memory, *, scale) -> Y``.
    """
    from . import triton_fast as tf

    def forward(x, memory, *, scale):
        return tf.fast_matmul(x, memory, prep, config, scale=scale, ieee=ieee)

    return forward


def warmup(kind: str, tile, config: BwdConfig, *, align: int = 8, dtype: str = "bfloat16",
           ieee: bool = False, passes=("fwd", "dx", "dw", "sgd")):
    """Compile the passes of ``kind`` for ``tile`` and ``config`` without launching them (Triton cache).

    Parameters
    ----------
    kind : {"roast", "hashednet-hash", "hashednet-mulshift", "hashednet-index", "dense"}
    tile, config, align, ieee
        As for the passes (``config`` as ``config`` or ``dw_config`` of a step).
    dtype : str
        Operand dtype name (the gradient buffer is float32).
    passes : sequence of {"fwd", "dx", "dw", "sgd"}

    Notes
    -----
    Matches launches whose ``M, N, K`` are multiples of 16 and of the blocks (``EVEN``), with 16-byte
    aligned tensors (every measured shape). Needs the target device (``triton.runtime.driver``).
    """
    jit = _jit()
    torch = _torch()
    if kind not in _KIND:
        raise CacheSimError(f"kind={kind!r} must be one of {tuple(_KIND)}")
    tile = _check_tile(tile)
    config = _check_config(config)
    dt = getattr(torch, dtype, None)
    if dt not in (torch.float32, torch.bfloat16, torch.float16):
        raise CacheSimError(f"dtype={dtype!r} must be 'bfloat16', 'float32' or 'float16'")
    align = _check_align(align) if kind == "roast" else 1
    addr = _Addr(kind, align=align)
    common = _common(addr, tile, config, 4096, 4096, 4096, ieee)
    common["EVEN"] = True
    scal = (4096, 4096, 4096, 129, 67, 1.5, 12345, 23456, 34567, 2038074743, 999983, 12)
    # the launchers pass the operand itself for the table pointers a kind does not read
    st = torch.int32 if kind == "roast" else dt
    ix = torch.int32 if kind == "hashednet-index" else dt
    out = []
    if "fwd" in passes:
        out.append(jit.fwd_kernel.warmup(dt, dt, st, ix, dt, *scal, GROUP_M=config.group_m, grid=(1,),
                                         **_pf(addr, config), **common))
    if "dx" in passes:
        out.append(jit.dx_kernel.warmup(dt, dt, st, ix, dt, *scal, GROUP_M=config.group_m, grid=(1,),
                                        **_pf(addr, config), **common))
    if "dw" in passes:
        out.append(jit.dw_kernel.warmup(dt, dt, st, ix, torch.float32, *scal, GROUP_K=config.group_m,
                                        SPLIT_M=config.split_m, grid=(1,), **common))
    if "sgd" in passes:
        out.append(jit.sgd_kernel.warmup(dt, torch.float32, 4096, 0.001, BLOCK=1024, grid=(1,)))
    return out


_PTR_ARGS = {"fwd": ("x_ptr", "w_ptr", "start_ptr", "idx_ptr", "y_ptr"),
             "dx": ("dy_ptr", "w_ptr", "start_ptr", "idx_ptr", "dx_ptr"),
             "dw": ("x_ptr", "dy_ptr", "start_ptr", "idx_ptr", "g_ptr")}
_TT_DTYPE = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}


def compile_offline(pass_: str, kind: str, tile, config: BwdConfig, *, align: int = 8,
                    dtype: str = "bfloat16", arch: int = 90, ieee: bool = False):
    """Compile one pass for a GPU architecture WITHOUT a device (PTX, cubin, SASS for inspection).

    Parameters
    ----------
    pass_ : {"fwd", "dx", "dw"}
    kind : {"roast", "hashednet-hash", "hashednet-mulshift", "hashednet-index", "dense"}
    tile, config, align, dtype, ieee
        As in :func:`warmup` (the launch specialisation of shapes that are multiples of 16 and of the
        blocks, 16-byte aligned tensors).
    arch : int
        Compute capability as an integer (90 = Hopper, the H200).

    Returns
    -------
    triton.compiler.CompiledKernel
        ``.asm["ptx"]``, ``.asm["cubin"]``; ``triton.tools.disasm.get_sass(.asm["cubin"])`` gives SASS.

    Notes
    -----
    Needs ``TRITON_INTERPRET`` unset when the kernels were first imported (it compiles the real kernels).
    """
    jit = _jit()
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    if pass_ not in _PTR_ARGS:
        raise CacheSimError(f"pass_={pass_!r} must be one of {tuple(_PTR_ARGS)}")
    if kind not in _KIND:
        raise CacheSimError(f"kind={kind!r} must be one of {tuple(_KIND)}")
    if dtype not in _TT_DTYPE:
        raise CacheSimError(f"dtype={dtype!r} must be one of {tuple(_TT_DTYPE)}")
    fn = getattr(jit, f"{pass_}_kernel")
    if not isinstance(fn, triton.runtime.JITFunction):
        raise CacheSimError("compile_offline needs the compiled kernels: TRITON_INTERPRET is set")
    tile, config = _check_tile(tile), _check_config(config)
    addr = _Addr(kind, align=_check_align(align) if kind == "roast" else 1)
    consts = _common(addr, tile, config, 4096, 4096, 4096, ieee)
    opts = {"num_warps": consts.pop("num_warps"), "num_stages": consts.pop("num_stages")}
    consts["EVEN"] = True
    consts.update({"GROUP_K": config.group_m, "SPLIT_M": config.split_m} if pass_ == "dw" else
                  {"GROUP_M": config.group_m, **_pf(addr, config)})
    tt = _TT_DTYPE[dtype]
    ptrs = _PTR_ARGS[pass_]
    sig = {}
    for name in fn.arg_names:
        if name in consts:
            sig[name] = "constexpr"
        elif name in ptrs:
            table = ((name == "start_ptr" and kind == "roast")
                     or (name == "idx_ptr" and kind == "hashednet-index"))
            sig[name] = "*i32" if table else "*fp32" if name == "g_ptr" else f"*{tt}"
        else:
            sig[name] = "fp32" if name == "scale" else "i32"
    div16 = [*ptrs, "M", "N", "K"]
    attrs = {(fn.arg_names.index(n),): [["tt.divisibility", 16]] for n in div16}
    src = ASTSource(fn, sig, constexprs=consts, attrs=attrs)
    return triton.compile(src, target=GPUTarget("cuda", int(arch), 32), options=opts)
