"""Hashed linear layers in torch, in gather-then-matmul form (device-agnostic).

A hashed layer stores no weight matrix of its own. It holds an integer ``index`` buffer and an optional
``sign`` buffer (both of the weight's shape ``(in_features, out_features)``) and reads its weights from a
:class:`SharedMemory` -- one ``nn.Parameter`` vector ``M`` of ``memory`` values -- on every call:

    W = lambda * sign * M[index]            (gather, ``torch.index_select``)
    y = x @ W + bias                        (dense matmul)

Autograd differentiates the gather as a scatter-add (``index_add``) into ``M``, so every layer that shares
one memory accumulates its gradient into the same parameter. *Global* sharing (ROAST) passes one memory
to every layer (different seeds, module scales ``lambda``); *local* sharing (HashedNet) gives every layer
its own memory.

torch is imported lazily: importing :mod:`roast_theory` never needs it. The classes live in
:mod:`roast_theory._torch_modules`, imported on first attribute access (``torch_layers.RoastLinear``).
"""

from __future__ import annotations

import math

import numpy as np

from ._validate import (
    check_index,
    check_int,
    check_real,
    check_sign,
)
from .errors import RoastTheoryError

__all__ = [
    "DenseLinear",  # noqa: F822 - created lazily by __getattr__
    "HashedLinear",  # noqa: F822 - created lazily by __getattr__
    "HashedNetLinear",  # noqa: F822 - created lazily by __getattr__
    "RoastLinear",  # noqa: F822 - created lazily by __getattr__
    "SharedMemory",  # noqa: F822 - created lazily by __getattr__
    "gather_weight_numpy",
    "module_scale",
]

from ._layer_defaults import MEMORY_INIT_STD  # noqa: E402 - re-exported here


def module_scale(in_features: int, memory_init_std: float = MEMORY_INIT_STD) -> float:
    """Module scale ``lambda`` that gives a hashed layer the init scale of a dense one.

    Parameters
    ----------
    in_features : int
        Fan-in of the layer.
    memory_init_std : float
        Standard deviation of the shared array's initial values.

    Returns
    -------
    float
        ``lambda = (1 / sqrt(in_features)) / memory_init_std``.

    Notes
    -----
    RzLinear multiplies its output (and so its gradient) by ``init_factor``; with
    :math:`M_b \\sim N(0, \\sigma_M^2)` the read weight :math:`\\lambda M_{h(i)}` has standard deviation
    :math:`\\lambda \\sigma_M = 1/\\sqrt{\\text{fan\\_in}}`, the dense layer's natural scale.
    """
    in_features = check_int("in_features", in_features, low=1)
    memory_init_std = check_real("memory_init_std", memory_init_std, low=0.0, low_open=True)
    return (1.0 / math.sqrt(in_features)) / memory_init_std


def gather_weight_numpy(memory, index, sign=None, scale: float = 1.0) -> np.ndarray:
    """Reference gather in numpy: ``W = scale * sign * memory[index]`` (float64).

    An implementation independent of torch, used to check the layers.

    Parameters
    ----------
    memory : array_like, shape (m,)
    index : array_like of int, any shape, values in ``[0, m)``
    sign : array_like of +-1, same shape as ``index``, or None (all +1)
    scale : float
        Module scale lambda.

    Returns
    -------
    numpy.ndarray
        The gathered weights, shape of ``index``.

    Notes
    -----
    :math:`W_i = \\lambda\\, g_i\\, M_{h(i)}`.
    """
    mem = np.asarray(memory, dtype=np.float64)
    idx = check_index(index, mem.shape[0] if mem.ndim == 1 else -1)
    if mem.ndim != 1:
        raise RoastTheoryError(f"memory has shape {mem.shape}: must be 1-dimensional")
    out = mem[idx] * float(scale)
    if sign is not None:
        out = out * check_sign(sign, idx.shape)
    return out


_LAZY = ("SharedMemory", "HashedLinear", "HashedNetLinear", "RoastLinear", "DenseLinear")


def __getattr__(name: str):
    if name in _LAZY:
        try:
            from . import _torch_modules
        except ImportError as exc:  # pragma: no cover - depends on the environment
            if exc.name != "torch":
                raise
            raise RoastTheoryError(
                "roast_theory.torch_layers needs torch: pip install 'roast-toolkit[torch]'"
            ) from exc
        return getattr(_torch_modules, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
