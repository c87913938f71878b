"""The torch modules of :mod:`roast_theory.torch_layers` (this module imports torch; that one does not).

See :mod:`roast_theory.torch_layers` for the gather-then-matmul form and global / local sharing.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ._deprecation import renamed_attribute, renamed_kwargs
from ._layer_defaults import MEMORY_INIT_STD
from ._validate import (
    DTYPES,
    check_dtype,
    check_index,
    check_int,
    check_real,
    check_seed,
    check_sign,
    check_tensor_input,
    check_weight_shape,
)
from .errors import RoastTheoryError

__all__ = ["DenseLinear", "HashedLinear", "HashedNetLinear", "RoastLinear", "SharedMemory"]


def _standard_normal(shape: tuple[int, ...], seed) -> torch.Tensor:
    """float64 standard normal values from a fresh generator seeded ``seed`` (None: torch's global one)."""
    seed = check_seed(seed)
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


class SharedMemory(nn.Module):
    """The shared array ``M``: one ``nn.Parameter`` vector of ``memory`` values.

    Parameters
    ----------
    memory : int
        Number of stored values ``m``.
    init_std : float
        Values start as independent :math:`N(0, \\text{init\\_std}^2)`.
    seed : int or None
        Seed of the initial values (None: torch's global generator).
    dtype, device
        Of the parameter.

    Notes
    -----
    Layers gather :math:`W_i = \\lambda g_i M_{h(i)}`; the gradient of a loss :math:`L` with respect
    to slot :math:`b` is
    :math:`\\sum_l \\lambda_l \\sum_{i: h_l(i) = b} g_i\\, \\partial L/\\partial W_i`,
    summed over every layer that reads this memory.
    """

    m_slots = renamed_attribute("m_slots", "memory")

    @renamed_kwargs(m_slots="memory")
    def __init__(self, memory: int, *, init_std: float = MEMORY_INIT_STD, seed: int | None = None,
                 dtype="float32", device=None):
        super().__init__()
        self.memory = check_int("memory", memory, low=1)
        self.init_std = check_real("init_std", init_std, low=0.0)
        values = _standard_normal((self.memory,), seed) * self.init_std
        self.weight = nn.Parameter(values.to(dtype=check_dtype(torch, dtype), device=device))

    @classmethod
    def from_tensor(cls, values, *, init_std: float = MEMORY_INIT_STD):
        """Wrap an existing 1-D floating tensor (on any device) as the memory, without copying it.

        ``init_std`` is only recorded (it is what :func:`module_scale` divides by).
        """
        if not isinstance(values, torch.Tensor):
            raise RoastTheoryError(f"values has type {type(values).__name__}: must be a torch.Tensor")
        if values.ndim != 1 or values.numel() < 1:
            raise RoastTheoryError(f"values has shape {tuple(values.shape)}: must be 1-dimensional, "
                                   f"non-empty")
        if values.dtype not in tuple(getattr(torch, d) for d in DTYPES):
            raise RoastTheoryError(f"values has dtype {values.dtype}: choose one of {', '.join(DTYPES)}")
        mem = cls(1, init_std=init_std, dtype=values.dtype)
        mem.memory = int(values.numel())
        mem.weight = values if isinstance(values, nn.Parameter) else nn.Parameter(values)
        return mem

    def extra_repr(self) -> str:
        return f"memory={self.memory}, init_std={self.init_std}"

class HashedLinear(nn.Module):
    """Linear layer whose weights are gathered from a :class:`SharedMemory`.

    Parameters
    ----------
    in_features, out_features : int
        The weight is ``(in_features, out_features)`` and ``y = x @ W + bias``.
    memory : SharedMemory
        The array the weights are read from (shared with other layers for global sharing).
    index : array_like of int
        Slot of every weight, shape ``(in_features, out_features)`` or flat row-major.
    sign : array_like of +-1 or None
        Per-weight sign (None: no sign).
    scale : float
        Module scale ``lambda``.
    bias : bool
        Whether to add a dense bias (not hashed), initialised to zero.

    Notes
    -----
    Forward: :math:`W = \\lambda\\, g \\odot M[h]`, :math:`y = x W + b`. Backward (autograd):
    :math:`\\partial L/\\partial M_b \\mathrel{+}=
    \\lambda \\sum_{i: h(i)=b} g_i (x^T \\partial L/\\partial y)_i`.
    """

    def __init__(self, in_features: int, out_features: int, memory, index, sign=None, *,
                 scale: float = 1.0, bias: bool = True):
        super().__init__()
        self.in_features = check_int("in_features", in_features, low=1)
        self.out_features = check_int("out_features", out_features, low=1)
        if not isinstance(memory, SharedMemory):
            raise RoastTheoryError(f"memory has type {type(memory).__name__}: must be a SharedMemory")
        self.memory = memory
        self.scale = check_real("scale", scale)
        param = memory.weight
        idx = check_weight_shape("index", check_index(index, memory.memory), in_features, out_features)
        idx_t = torch.tensor(np.array(idx, dtype=np.int64), device=param.device)
        self.register_buffer("index", idx_t)
        if sign is None:
            self.sign = None
        else:
            sgn = check_weight_shape("sign", check_sign(sign, np.shape(sign)), in_features, out_features)
            self.register_buffer("sign", torch.as_tensor(sgn, dtype=param.dtype, device=param.device))
        if bias:
            self.bias = nn.Parameter(torch.zeros(out_features, dtype=param.dtype, device=param.device))
        else:
            self.bias = None

    @classmethod
    def from_mapping(cls, mapping, in_features: int, out_features: int, memory, *, scale: float = 1.0,
                     bias: bool = True):
        """Build from a :mod:`roast_theory.mappings` object (anything with ``.index`` and ``.sign``)."""
        for attr in ("index",):
            if not hasattr(mapping, attr):
                raise RoastTheoryError(
                    f"mapping has type {type(mapping).__name__}: it has no .{attr} array")
        sign = getattr(mapping, "sign", None)
        if sign is not None and np.all(np.asarray(sign) == 1):
            sign = None
        return cls(in_features, out_features, memory, mapping.index, sign, scale=scale, bias=bias)

    def set_index(self, index, sign=None) -> None:
        """Replace the hash (index and sign) in place, e.g. to draw a new seed without a new layer."""
        idx = check_weight_shape("index", check_index(index, self.memory.memory), self.in_features,
                               self.out_features)
        self.index.copy_(torch.tensor(np.array(idx, dtype=np.int64)))
        if (sign is None) != (self.sign is None):
            raise RoastTheoryError(f"sign is {'None' if sign is None else 'an array'} but the layer was "
                                   f"built {'without' if self.sign is None else 'with'} signs")
        if sign is not None:
            sgn = check_weight_shape("sign", check_sign(sign, np.shape(sign)), self.in_features,
                                   self.out_features)
            self.sign.copy_(torch.as_tensor(sgn, dtype=self.sign.dtype))

    def gathered_weight(self):
        """The virtual weight ``W = scale * sign * M[index]``, shape ``(in_features, out_features)``."""
        w = torch.index_select(self.memory.weight, 0, self.index.reshape(-1))
        w = w.view(self.in_features, self.out_features)
        if self.sign is not None:
            w = w * self.sign
        if self.scale != 1.0:
            w = w * self.scale
        return w

    def forward(self, x):
        param = self.memory.weight
        check_tensor_input(torch, x, self.in_features, param.dtype, param.device)
        y = torch.matmul(x, self.gathered_weight())
        if self.bias is not None:
            y = y + self.bias
        return y

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"memory={self.memory.memory}, scale={self.scale:.4g}, sign={self.sign is not None}, "
                f"bias={self.bias is not None}")

class HashedNetLinear(HashedLinear):
    """HashedNet layer: one independent slot (and sign) per weight element.

    Same forward/backward as :class:`HashedLinear`; the index normally comes from an element mapping.
    See :meth:`HashedLinear.from_mapping`.
    """

class RoastLinear(HashedLinear):
    """ROAST layer: whole ``BK x BN`` tiles map to contiguous blocks of the memory.

    Same forward/backward as :class:`HashedLinear`; the index normally comes from a tile mapping.
    See :meth:`HashedLinear.from_mapping`.
    """

class DenseLinear(nn.Module):
    """Uncompressed baseline in the same ``y = x @ W + bias`` form (``W``: ``(in, out)``).

    Notes
    -----
    :math:`W_{ij} \\sim N(0, 1/\\text{in\\_features})`, bias zero.
    """

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True, seed: int | None = None,
                 dtype="float32", device=None):
        super().__init__()
        self.in_features = check_int("in_features", in_features, low=1)
        self.out_features = check_int("out_features", out_features, low=1)
        w = _standard_normal((in_features, out_features), seed) / math.sqrt(in_features)
        tdtype = check_dtype(torch, dtype)
        self.weight = nn.Parameter(w.to(dtype=tdtype, device=device))
        self.bias = nn.Parameter(torch.zeros(out_features, dtype=tdtype, device=device)) if bias else None

    def gathered_weight(self):
        """The weight itself (for symmetry with the hashed layers)."""
        return self.weight

    def forward(self, x):
        check_tensor_input(torch, x, self.in_features, self.weight.dtype, self.weight.device)
        y = torch.matmul(x, self.weight)
        if self.bias is not None:
            y = y + self.bias
        return y
