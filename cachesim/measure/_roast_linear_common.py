"""What :mod:`cachesim.measure.roast_linear` and its torch classes share: checks, the tile-start table, and
the choice of the fast forward kernel (no torch import at module level)."""

from __future__ import annotations

import numpy as np

from ..errors import CacheSimError
from . import triton_fast_bwd as fb
from ._triton_host import import_torch
from ._triton_host import int_in as _int


def _torch():
    return import_torch("RoastLinear")


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
