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


def _table_weight(layer):
    """The ``triton_fast.FastWeight`` of the layer's tile-start table (both kernel families read it)."""
    from . import triton_fast as tf

    return tf.FastWeight("roast", "table", memory=layer.memory_param.numel(), tile=layer.tile,
                         align=layer.align, seed=layer.seed)


def _check_table(prep, layer, kernels: str):
    """``prep``, whose start table must equal the layer's (``roast_theory``'s): else the kernels would read
    other slots."""
    if not bool((prep.aux.cpu() == layer.start_table.cpu()).all()):
        raise CacheSimError(f"{kernels}'s start table differs from roast_theory's: "
                            "the two kernels would read different slots")
    return prep


def _tma_prep(layer, device):
    """The TMA kernels' prepared weight of the layer on ``device`` (its start table checked equal)."""
    key = ("tma", str(device))
    if key not in layer._prep:
        prep = _table_weight(layer).prepare(layer.in_features, layer.out_features, device)
        layer._prep[key] = _check_table(prep, layer, "triton_tma")
    return layer._prep[key]


def _tma_candidates(tile, pass_):
    """Default TMA configurations of a pass, largest blocks first (the first that covers is used)."""
    from . import triton_tma as tt

    bk, bn = tile
    if pass_ == "forward":
        return [tt.TmaConfig(bm, bn, bk, 8, 4, 3) for bm in (128, 64, 32, 16)]
    return [tt.TmaConfig(bm, p, bn, 8, 4, 4) for bm in (64, 32, 16) for p in (2 * bk, bk)]


def _tma_config(layer, pass_: str, m: int):
    """The layer's TMA configuration of ``pass_`` ("forward", "dx") for ``m`` rows (cached), or an error."""
    key = (pass_, m)
    if key not in layer._tma_choices:
        given = (layer.tma_configs or {}).get(pass_)
        cands = [given] if given is not None else _tma_candidates(layer.tile, pass_)
        p = layer.out_features if pass_ == "forward" else layer.in_features
        r = layer.in_features if pass_ == "forward" else layer.out_features
        ok = [c for c in cands if m % c.block_m == 0 and p % c.block_n == 0 and r % c.block_k == 0]
        if not ok:
            raise CacheSimError(f"forward_kernel='tma': no {pass_} configuration covers M={m}, "
                                f"{'N' if pass_ == 'forward' else 'K'}={p} with whole tiles {layer.tile}")
        layer._tma_choices[key] = ok[0]
    return layer._tma_choices[key]


def _tma_grad_config(layer, m: int) -> dict:
    """``tma_grad`` keyword arguments for ``m`` rows (``tma_configs["grad"]`` or the largest block_m)."""
    given = (layer.tma_configs or {}).get("grad")
    if given is not None:
        return dict(given)
    for bm in (64, 32, 16):
        if m % bm == 0:
            return {"block_m": bm}
    raise CacheSimError(f"forward_kernel='tma': M={m} rows must be a multiple of 16")
