"""Global versus local sharing under tile hashing (results B2 and B3 for ROAST tiles and ROBE-Z chunks).

Modules ``l = 1..k`` are cut into 1-D chunks of ``tile`` elements each (a chunk never spans two modules).
Global sharing puts every module's tiles into one array of ``m`` slots with independent uniform starts;
local sharing puts module ``l``'s tiles into its own ``m_l`` whole slots (``sum_l m_l = m``). The closed
forms are those of :func:`roast_theory.tile_hashing_moments` (C1-C3, circular or kernel placement, any
``align``) applied to the stacked tile matrix of all modules (global) or to each module alone (local; the
modules' hashings are independent, so means and variances add).

Unlike element hashing (:func:`roast_theory.sharing_variance`) there is no three-term decomposition: with
one sign per tile or none, the variance depends on the lag correlations of the tiles.
"""

from __future__ import annotations

import numpy as np

from . import _tiles
from ._validate import (
    PLACEMENTS,
    SIGNS,
    check_choice,
    check_int,
    check_local_memory,
    check_memory,
    check_modules,
    check_scales,
)
from .moments import _check_align, _formula, _moments_from_matrices
from .results import TileSharingVariance
from .sharing import _module_slots


def _tile_moments(xs, ws, memory, tile, sign, placement, align, scales, local_slots, module=None):
    xv, wv, _ = check_modules(xs, ws)
    k = len(xv)
    sign = check_choice("sign", sign, SIGNS)
    placement = check_choice("placement", placement, PLACEMENTS)
    z = check_int("tile", tile, low=1)
    m = check_memory(memory, z, placement)
    a = _check_align(align, placement)
    lam = check_scales(scales, k)
    if module is not None:
        module = check_int("module", module, low=0, high=k - 1)
        xv = [x if l == module else np.zeros_like(x) for l, x in enumerate(xv)]
    sizes = [x.size for x in xv]
    slots = check_local_memory(_module_slots(sizes, m, local_slots), m, z, placement)
    formula = _formula(z, sign, placement)
    X = np.vstack([_tiles.chunk_matrix(x * s, z) for x, s in zip(xv, lam)])
    W = np.vstack([_tiles.chunk_matrix(w / s, z) for w, s in zip(wv, lam)])
    glob = _moments_from_matrices(X, W, m, z, sign, placement, formula, a)
    local = [_moments_from_matrices(_tiles.chunk_matrix(x, z), _tiles.chunk_matrix(w, z), int(ml), z, sign,
                                    placement, formula, a) for x, w, ml in zip(xv, wv, slots)]
    label = ("B2-" if module is not None else "B3-") + formula
    return TileSharingVariance(
        global_mean=glob.mean, global_variance=glob.variance, local_mean=float(sum(r.mean for r in local)),
        local_variance=float(sum(r.variance for r in local)), exact_inner_product=glob.exact_inner_product,
        memory=m, module_sizes=tuple(int(v) for v in sizes), local_slots=tuple(int(v) for v in slots),
        tile=z, sign=sign, placement=placement, align=a, formula=label, module=module)


def tile_sharing_variance(xs, ws, memory, tile, sign: str = "element", placement: str = "circular",
                          align: int = 1, scales=None, local_slots=None) -> TileSharingVariance:
    """B3 under tile hashing: mean and variance of ``sum_l <x_l, w_hat_l>``, global vs local sharing.

    Parameters
    ----------
    xs, ws : sequence of array_like
        Inputs and weights of every module (1-D; each cut into chunks of ``tile``).
    memory : int
        Global slots ``m``.
    tile : int
        Chunk size ``Z``.
    sign : {"element", "tile", "none"}
    placement : {"circular", "kernel"}
    align : int
        Kernel placement: starts are multiples of ``align``.
    scales : sequence of float, optional
        Module scales ``lambda_l > 0`` of the global array (stored values ``w_l / lambda_l``).
    local_slots : sequence of int, optional
        Whole-slot local budgets summing to ``memory`` (default by size, largest remainder); each must hold
        a tile (``>= Z`` circular, ``> Z`` kernel).

    Returns
    -------
    TileSharingVariance

    Notes
    -----
    Global: the moments of :func:`roast_theory.tile_hashing_moments` for the tile matrix stacking every
    module's chunks of ``(lambda_l x_l, w_l / lambda_l)`` in ``m`` slots, e.g. with one sign per tile
    ``V_G = (1/m) sum_{a != b} sum_d [C_ab(d)^2 + C_ab(d) D_ab(d)]`` over *all* tile pairs (circular).
    Local: ``V_L = sum_l V(x_l, w_l; m_l)`` and ``E_L = sum_l E(x_l, w_l; m_l)``, tile pairs of one module
    only, with ``m_l`` slots each. Without signs the biases differ too (``E_G - <x, w>`` sums over all
    cross-module tile pairs), so compare :meth:`TileSharingVariance.global_mse`.
    """
    return _tile_moments(xs, ws, memory, tile, sign, placement, align, scales, local_slots)


def tile_module_output_variance(xs, ws, module, memory, tile, sign: str = "element",
                                placement: str = "circular", align: int = 1, scales=None,
                                local_slots=None) -> TileSharingVariance:
    """B2 under tile hashing: module ``l``'s output ``<x_l, w_hat_l>`` (all modules' weights stored).

    Parameters
    ----------
    module : int
        Index ``l`` of the module whose output is studied; the other parameters as in
        :func:`tile_sharing_variance`.

    Returns
    -------
    TileSharingVariance
        With ``module`` set; ``local_*`` is module ``l`` alone in ``m_l`` slots.

    Notes
    -----
    :func:`tile_sharing_variance` with ``x_j = 0`` for ``j != l``: globally module ``l``'s tiles meet every
    other module's stored tiles, locally only its own (the other modules contribute 0 to mean and variance).
    """
    return _tile_moments(xs, ws, memory, tile, sign, placement, align, scales, local_slots, module=module)
