"""``RoastLinear``: a torch layer on the fused, table-driven ROAST-MM kernels (forward, dX, grad into memory).

The layer reads its ``in_features x out_features`` weight from a shared array, tile by tile, exactly as
:class:`roast_theory.torch_layers.RoastLinear` does by gathering, but without materialising the weight:

    y = lambda * x @ W + bias,   W[k, n] = memory[s(k // BK, n // BN) + (k mod BK) BN + (n mod BN)]

with the tile starts ``s`` of the ``roast_theory.hashes`` family ``"rz-aligned"`` (multiples of ``align``;
``align = 1`` is RzLinear ``stable``) in an int32 table computed once per layer. The mapping comes from
``roast_theory`` (:func:`roast_theory.hashes.tile_start_table`), so the theory, the Monte Carlo, the
gather layers and these kernels read the same slots (:meth:`slot_index`).

Autograd: the forward runs the fast fused kernel of :mod:`cachesim.measure.triton_fast` when a launch
configuration of it covers the shape (``M, K, N`` multiples of its blocks), otherwise the reference forward
of :mod:`cachesim.measure.triton_fast_bwd`; the backward runs :func:`~.triton_fast_bwd.roast_dx` and
:func:`~.triton_fast_bwd.roast_grad_memory` (a float32 buffer, cast to the memory's dtype). Layers that
share one memory (global sharing) each return their gradient and autograd sums them.

Importing this module needs neither torch nor triton: the torch classes live in a private module that is
imported on first access to ``RoastLinear`` / ``RoastMatmul``.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..errors import CacheSimError
from ..trace import plain
from . import triton_fast_bwd as fb

__all__ = ["RoastLinear", "RoastMatmul", "start_table"]  # noqa: F822 - classes imported lazily


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise CacheSimError(f"RoastLinear needs torch ({exc})") from None
    return torch


def _int(name, value, low=1, high=None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise CacheSimError(f"{name}={plain(value)!r} must be an integer >= {low}")
    v = int(value)
    if v < low or (high is not None and v > high):
        rng = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise CacheSimError(f"{name}={v} must be an integer {rng}")
    return v


def _check_layout(in_features, out_features, memory_size, tile, align):
    """Validate the layer's shape, tile, alignment and memory size; return the checked values."""
    k = _int("in_features", in_features)
    n = _int("out_features", out_features)
    tile = fb._check_tile(tile)
    align = fb._check_align(align)
    t_size = tile[0] * tile[1]
    memory_size = _int("memory", memory_size, t_size + 1, 2**31 - 1)
    if (memory_size - t_size) % align:
        raise CacheSimError(f"memory={memory_size}: align={align} must divide memory - BK*BN = "
                            f"{memory_size - t_size} (the span of the tile starts)")
    return k, n, tile, align, memory_size


def start_table(in_features: int, out_features: int, tile, memory: int, *, align: int = 8, seed: int = 0):
    """The layer's int32 tile-start table from ``roast_theory.hashes`` (``"rz-aligned"``), numpy.

    Returns
    -------
    numpy.ndarray, int32, ``(ceil(K / BK), ceil(N / BN))``

    Notes
    -----
    :math:`s(kb, nb) = a\\,(r(kb, nb) \\bmod ((m - B_K B_N) / a))` with :math:`r` the RzLinear ``stable``
    bracket and :math:`a` = ``align`` (see :class:`roast_theory.hashes.RzAlignedHash`).
    """
    from roast_theory import hashes

    k, n, tile, align, memory = _check_layout(in_features, out_features, memory, tile, align)
    seed = _int("seed", seed, 0)
    fam = hashes.make_family("rz-aligned", seed, align=align)
    return hashes.tile_start_table(fam, k, n, tile, memory, np.int32)


def _fast_choice(layer, device, m):
    """``(prep, config)`` of the fast forward for ``m`` rows on ``device``, or None (reference forward)."""
    try:
        from . import triton_fast as tf
    except ImportError:  # pragma: no cover - only before triton_fast existed
        return None
    prep = layer._fast_prep(tf, device)
    if prep is None:
        return None
    configs = layer.fwd_configs if layer.fwd_configs is not None else prep.weight.configs()
    for cfg in configs:
        if m % cfg.block_m == 0 and layer.out_features % cfg.block_n == 0 and \
                layer.in_features % cfg.block_k == 0 and cfg in prep.weight.configs((cfg,)):
            return prep, cfg
    return None


def _fast_forward(layer, x2):
    """The lead forward (``triton_fast.fast_matmul``) when one of its configurations covers the shape.

    The choice is cached per (device, rows), so a training loop pays for it once.
    """
    if layer.forward_kernel == "reference":
        return None
    key = (str(x2.device), x2.shape[0])
    if key not in layer._fast_choices:
        layer._fast_choices[key] = _fast_choice(layer, x2.device, x2.shape[0])
    choice = layer._fast_choices[key]
    if choice is None:
        return None
    from . import triton_fast as tf

    return tf.fast_matmul(x2, layer.memory_param, choice[0], choice[1], scale=layer.scale, ieee=layer.ieee)


def __getattr__(name: str):
    if name in ("RoastLinear", "RoastMatmul"):
        _torch()
        from . import _roast_linear_torch

        return getattr(_roast_linear_torch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
