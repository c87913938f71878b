"""torch classes of :mod:`cachesim.measure.roast_linear` (private; importing this module needs torch)."""

from __future__ import annotations

import numbers

import numpy as np
import torch
from torch import nn

from ..errors import CacheSimError
from ..trace import plain
from . import triton_fast_bwd as fb
from ._roast_linear_common import (
    _check_layout,
    _check_table,
    _fast_forward,
    _int,
    _table_weight,
    _tma_config,
    _tma_grad_config,
    _tma_prep,
    start_table,
)


class RoastMatmul(torch.autograd.Function):
    """``Y = lambda X W`` with ``W`` read tile-wise from the shared array (fused kernels both ways).

    The layer checked its operands once (construction, ``forward``); the passes launch without
    re-checking (``triton_fast_bwd``'s internal launchers).
    """

    @staticmethod
    def forward(ctx, x2, memory, layer):
        if layer.forward_kernel == "tma":
            return _TmaPasses.forward(ctx, x2, memory, layer)
        y = _fast_forward(layer, x2)
        if y is None:
            y = fb._run_forward(torch, x2, memory, layer._addr(memory), layer.out_features, layer.tile,
                                layer.scale, layer.config, layer.ieee, None)
        ctx.save_for_backward(x2, memory)
        ctx.layer = layer
        return y

    @staticmethod
    def backward(ctx, dy):
        x2, memory = ctx.saved_tensors
        layer = ctx.layer
        dy = dy.contiguous()
        if layer.forward_kernel == "tma":
            return _TmaPasses.backward(ctx, x2, memory, layer, dy)
        addr = layer._addr(memory)
        dx = None
        if ctx.needs_input_grad[0]:
            dx = fb._run_dx(torch, dy, memory, addr, layer.in_features, layer.tile, layer.scale, layer.config,
                            layer.ieee, None)
        dmem = None
        if ctx.needs_input_grad[1]:
            g = torch.zeros(memory.shape[0], dtype=torch.float32, device=memory.device)
            fb._run_grad(torch, x2, dy, g, addr, layer.tile, layer.scale, layer.dw_config, layer.ieee)
            dmem = g if memory.dtype == torch.float32 else g.to(memory.dtype)
        return dx, dmem, None


class _TmaPasses:
    """Forward, dX and the gradient into the memory on the TMA kernels of :mod:`.triton_tma`."""

    @staticmethod
    def forward(ctx, x2, memory, layer):
        from . import triton_tma as tt

        prep = _tma_prep(layer, x2.device)
        y = tt.tma_matmul(x2, memory, prep, _tma_config(layer, "forward", x2.shape[0]), scale=layer.scale)
        ctx.save_for_backward(x2, memory)
        ctx.layer = layer
        return y

    @staticmethod
    def backward(ctx, x2, memory, layer, dy):
        from . import triton_tma as tt

        prep = _tma_prep(layer, dy.device)
        dx = dmem = None
        if ctx.needs_input_grad[0]:
            dx = tt.tma_matmul(dy, memory, prep, _tma_config(layer, "dx", dy.shape[0]), scale=layer.scale,
                               transpose=True)
        if ctx.needs_input_grad[1]:
            g = torch.zeros(memory.shape[0], dtype=torch.float32, device=memory.device)
            tt.tma_grad(x2, dy, g, prep, scale=layer.scale, **_tma_grad_config(layer, x2.shape[0]))
            dmem = g if memory.dtype == torch.float32 else g.to(memory.dtype)
        return dx, dmem, None


class RoastLinear(nn.Module):
    """Linear layer on the fused table-driven ROAST-MM kernels.

    Parameters
    ----------
    in_features, out_features : int
        ``K`` and ``N``; ``y = lambda * x @ W + bias`` with ``W`` ``(K, N)``.
    memory : int or roast_theory.torch_layers.SharedMemory
        Size of a new shared array of this layer (values ``N(0, 0.04^2)`` from ``seed``), or an
        existing :class:`~roast_theory.torch_layers.SharedMemory` (global sharing between layers).
        Needs ``memory > BK*BN`` elements, ``align`` dividing ``memory - BK*BN``, ``< 2**31``.
    tile : (int, int)
        ROAST tile ``(BK, BN)``, powers of two >= 16 (RzLinear: ``(32, 64)``).
    align : {1, 8, 64, 128, 256}
        Tile-start alignment in elements (``forward_kernel="tma"``: ``tile[1]``).
    seed : int
        Seed of the tile-start hash (and of a new memory's values).
    scale : float or None
        Module scale ``lambda``; None gives :func:`roast_theory.torch_layers.module_scale` of
        ``in_features``.
    bias : bool
        Add a dense bias (zeros at init).
    dtype : torch.dtype or str
        float32, bfloat16 or float16 (a new memory's dtype; an existing one must have one of these).
    device
        Of a new memory.
    config : triton_fast_bwd.BwdConfig or None
        Launch configuration of the reference forward and ``dX`` (and of the gradient pass unless
        ``dw_config`` is given).
    dw_config : triton_fast_bwd.BwdConfig or None
        Launch configuration of the gradient pass.
    fwd_configs : sequence of triton_fast.FastConfig or None
        Candidates of the fast forward (None: all that cover the tile).
    forward_kernel : {"auto", "reference", "tma"}
        ``auto`` uses the fast forward when a configuration covers the shape; ``tma`` runs the forward,
        ``dX`` and the gradient into the memory on the TMA kernels of :mod:`cachesim.measure.triton_tma`
        (Hopper GPUs or Triton's interpreter; needs ``align == tile[1]``).
    tma_configs : dict or None
        ``forward_kernel="tma"``: ``{"forward": TmaConfig, "dx": TmaConfig, "grad": {tma_grad keyword
        arguments}}``, each optional (default: the largest blocks that cover the shape).
    ieee : bool
        fp32: exact fp32 products instead of TF32.
    """

    def __init__(self, in_features: int, out_features: int, memory, *, tile=(32, 64), align: int = 8,
                 seed: int = 0, scale: float | None = None, bias: bool = False, dtype="float32",
                 device=None, config=None, dw_config=None, fwd_configs=None,
                 forward_kernel: str = "auto", ieee: bool = False, tma_configs=None):
        super().__init__()
        from roast_theory import torch_layers as tlayers

        if forward_kernel not in ("auto", "reference", "tma"):
            raise CacheSimError(f"forward_kernel={forward_kernel!r} must be 'auto', 'reference' or 'tma'")
        if forward_kernel == "tma" and align != (tile[1] if isinstance(tile, tuple | list) and len(tile) == 2
                                                 else None):
            raise CacheSimError(f"forward_kernel='tma' needs align == tile[1] (a whole tile row); got "
                                f"align={plain(align)!r}, tile={plain(tile)!r}")
        if tma_configs is not None and (not isinstance(tma_configs, dict)
                                        or set(tma_configs) - {"forward", "dx", "grad"}):
            raise CacheSimError(f"tma_configs={plain(tma_configs)!r} must be a dict with keys among "
                                "'forward', 'dx', 'grad'")
        if isinstance(memory, numbers.Integral) and not isinstance(memory, bool):
            size = int(memory)
            _check_layout(in_features, out_features, size, tile, align)
            dt = getattr(torch, dtype) if isinstance(dtype, str) and hasattr(torch, dtype) else dtype
            if dt not in (torch.float32, torch.bfloat16, torch.float16):
                raise CacheSimError(f"dtype={plain(dtype)!r} must be float32, bfloat16 or float16")
            memory = tlayers.SharedMemory(size, seed=_int("seed", seed, 0), dtype=dt, device=device)
        elif not isinstance(memory, tlayers.SharedMemory):
            raise CacheSimError(f"memory has type {type(memory).__name__}: must be an int (a new array's "
                                "size) or a roast_theory.torch_layers.SharedMemory")
        param = memory.weight
        if param.dtype not in (torch.float32, torch.bfloat16, torch.float16):
            raise CacheSimError(f"memory has dtype {param.dtype}: must be float32, bfloat16 or float16")
        k, n, self.tile, self.align, _ = _check_layout(in_features, out_features, param.numel(), tile,
                                                       align)
        self.in_features, self.out_features = k, n
        self.seed = _int("seed", seed, 0)
        self.memory = memory
        self.scale = float(tlayers.module_scale(k, memory.init_std) if scale is None else
                           fb._check_real("scale", scale))
        self.config = fb._check_config(fb.BwdConfig() if config is None else config)
        self.dw_config = self.config if dw_config is None else fb._check_config(dw_config)
        self.fwd_configs = None if fwd_configs is None else tuple(fwd_configs)
        self.forward_kernel = forward_kernel
        self.ieee = bool(ieee)
        table = start_table(k, n, self.tile, param.numel(), align=self.align, seed=self.seed)
        self.register_buffer("start_table", torch.as_tensor(table).to(param.device))
        self._prep = {}
        self._fast_choices = {}
        self._tma_choices = {}
        self.tma_configs = tma_configs
        self.bias = nn.Parameter(torch.zeros(n, dtype=param.dtype, device=param.device)) if bias else None

    @property
    def memory_param(self):
        return self.memory.weight

    def _fast_prep(self, tf, device):
        key = str(device)
        if key not in self._prep:
            try:
                prep = _table_weight(self).prepare(self.in_features, self.out_features, device)
            except CacheSimError:  # the fast kernel does not cover this layout (e.g. partial tiles)
                prep = None
            self._prep[key] = prep if prep is None else _check_table(prep, self, "triton_fast")
        return self._prep[key]

    def _addr(self, memory):
        """The kernels' addressing of this layer (built per call: the table follows ``.to(device)``)."""
        return fb._Addr("roast", start_table=self.start_table, align=self.align, span=memory.shape[0])

    def slot_index(self) -> np.ndarray:
        """``(K, N)`` int64 slot of every weight (``roast_theory.hashes.tile_slot_index``)."""
        from roast_theory import hashes

        return hashes.tile_slot_index(self.start_table.cpu().numpy(), self.in_features,
                                      self.out_features, self.tile)

    def gathered_weight(self):
        """The dense weight ``lambda * memory[slot_index]`` (differentiable; for checks)."""
        idx = torch.as_tensor(self.slot_index(), device=self.memory_param.device)
        return self.scale * self.memory_param[idx]

    def forward(self, x):
        param = self.memory_param
        if not isinstance(x, torch.Tensor):
            raise CacheSimError(f"x has type {type(x).__name__}: must be a torch.Tensor")
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise CacheSimError(f"x has shape {tuple(x.shape)}: its last dimension must be "
                                f"in_features={self.in_features}")
        if x.dtype != param.dtype or x.device != param.device:
            raise CacheSimError(f"x is {x.dtype} on {x.device}: must be {param.dtype} on {param.device} "
                                "like the memory")
        x2 = x.reshape(-1, self.in_features).contiguous()
        y = RoastMatmul.apply(x2, param, self).reshape(*x.shape[:-1], self.out_features)
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"memory={self.memory_param.numel()}, tile={self.tile}, align={self.align}, "
                f"seed={self.seed}, scale={self.scale:.6g}")
