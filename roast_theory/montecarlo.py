"""Monte Carlo estimates of hashed inner products, weight error, sharing and placement load.

Every function draws ``trials`` independent hashings (blocks of at most ``2e7`` elements at a time)
from ``numpy.random.default_rng(seed)`` and returns a frozen :class:`MonteCarloEstimate`.

* ``family="ideal"``: tile starts independent uniform, signs independent fair.
* a kernel family (``"rz-stable"``, ``"rz-v1"``, ``"hashednet-triton"``, ``"robez"``): in every trial (and
  for every module) fresh parameters ``R`` are drawn uniform in ``[0, P)`` -- the law of
  ``make_family(name, fresh_seed)`` -- and the starts follow the exact kernel formula at the tile keys
  (a 1-D vector is the row ``(1, n)``: tile ``t`` has keys ``(0, t)``). The kernels have no sign; a
  requested sign is an independent ideal Rademacher sign.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from . import _mc_kernels as K
from ._deprecation import renamed_kwargs
from ._mc_results import Comparison, ConfidenceInterval, KernelIdealGap, MomentAccumulator, MonteCarloEstimate
from ._validate import (
    PLACEMENTS,
    SHARINGS,
    check_choice,
    check_hashing,
    check_int,
    check_local_memory,
    check_memory,
    check_modules,
    check_pair,
    check_seed,
    check_shape,
    check_tile_for_shape,
    check_vector,
)
from .errors import RoastTheoryError
from .hashes import FAMILY_NAMES
from .layout import local_slots, resolve_scales

__all__ = [
    "Comparison",
    "ConfidenceInterval",
    "KernelIdealGap",
    "MonteCarloEstimate",
    "kernel_vs_ideal_gap",
    "mc_inner_product",
    "mc_kernel",
    "mc_module_output",
    "mc_placement_load",
    "mc_total_inner_product",
    "mc_unused_fraction",
    "mc_weight_mse",
]


def _common(memory, tile, sign, placement, family, trials, seed):
    return check_hashing(memory, tile, sign, placement, family, trials, seed, families=FAMILY_NAMES)


def _aligned(plan, align, placement, family):
    """The plan with ideal starts on multiples of ``align`` (kernel placement, ideal family only)."""
    a = check_int("align", align, low=1)
    if a != 1 and (placement != "kernel" or family != "ideal"):
        raise RoastTheoryError(f"align={a} needs placement='kernel' and family='ideal' (for a kernel hash "
                               "with aligned starts use family='rz-aligned')")
    return dataclasses.replace(plan, align=a) if a != 1 else plan


def _progress_bar(progress, trials: int):
    """A tqdm bar on stderr over ``trials`` when ``progress`` is true, else ``None``."""
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=trials, unit="trial", unit_scale=True, desc="montecarlo", leave=False)


def _run(plan, x, w, *, sign, placement, family, trials, seed, what="inner", params=None, progress=False):
    """Per-trial estimates block by block (at most ``BLOCK_ELEMENTS`` numbers at a time), accumulated as
    streamed moments: memory does not grow with ``trials``."""
    rng = np.random.default_rng(seed)
    acc = MomentAccumulator()
    bar = _progress_bar(progress, trials)
    try:
        for b in K.block_sizes(trials, plan.n):
            acc.add(_block(plan, rng, b, x, w, sign=sign, placement=placement, family=family, what=what))
            if bar is not None:
                bar.update(b)
    finally:
        if bar is not None:
            bar.close()
    return MonteCarloEstimate.from_moments(acc, seed, **(params or {}))


def _block(plan, rng, b, x, w, *, sign, placement, family, what):
    s = K.draw_starts(rng, plan, b, family, placement)
    g = K.draw_sign_draws(rng, plan, b, sign)
    if plan.m_total <= K.SCRATCH_SLOTS:
        return K.fused_estimates(plan, s, g, sign, placement, x, w, what)
    # huge memory: materialise slots, relabel the used ones, then the same sums
    h = K.slots_from_starts(plan, s, placement)
    ge = K.expand_signs(plan, g, sign)
    if what == "inner":
        return K.inner_products(h, ge, x, w, plan.m_total)
    return K.weight_sq_errors(h, ge, w, plan.m_total)


def _params(memory, tile, sign, placement, family) -> dict:
    return dict(memory=int(memory), tile=tile, sign=sign, placement=placement, family=family)


def mc_inner_product(x, w, *, memory, tile=1, sign="element", placement="circular", family="ideal",
                     trials=100_000, seed=0, progress=False, align=1) -> MonteCarloEstimate:
    """Monte Carlo estimate of ``<w_hat, x>``, ``w_hat = recover(sketch(w))`` for a 1-D tile mapping.

    Parameters
    ----------
    x, w : 1-D arrays of equal length ``n``
    memory : int
        Slots ``m`` (``>= tile`` circular, ``> tile`` kernel placement).
    tile : int
        Chunk size ``Z`` (``1`` is element hashing).
    sign : {"element", "tile", "none"}
    placement : {"circular", "kernel"}
    family : {"ideal", "rz-stable", "rz-v1", "hashednet-triton", "robez"}
    trials : int
        Independent hash draws (``>= 2``).
    seed : int or None
    progress : bool
        Show a tqdm progress bar on stderr.
    align : int
        Ideal kernel-placement starts are multiples of ``align`` (needs ``placement="kernel"``).

    Returns
    -------
    MonteCarloEstimate
        Carrying ``memory, tile, sign, placement, family`` (see :meth:`MonteCarloEstimate.compare`).
        Memory use does not grow with ``trials``: the per-trial values are reduced block by block.

    Notes
    -----
    .. math:: Y = \\langle \\hat w, x\\rangle = \\langle S w, S x\\rangle,\\quad
              S_{b i} = g_i [h(i) = b],\\quad h(i) = s_{t(i)} + o(i)\\ (\\bmod m)
    """
    x, w = check_pair(x, w)
    m, z, trials, seed = _common(memory, tile, sign, placement, family, trials, seed)
    plan = _aligned(K.make_plan([x.shape], (1, z), [m], shared=True), align, placement, family)
    return _run(plan, x, w, sign=sign, placement=placement, family=family, trials=trials, seed=seed,
                params=_params(m, z, sign, placement, family), progress=progress)


def mc_weight_mse(w, *, memory, tile=1, sign="element", placement="circular", family="ideal",
                  trials=100_000, seed=0, align=1) -> MonteCarloEstimate:
    """Monte Carlo estimate of the weight error ``|w_hat - w|^2`` (same mapping as :func:`mc_inner_product`).

    Notes
    -----
    .. math:: Y = \\sum_i (g_i (S w)_{h(i)} - w_i)^2
    """
    w = check_vector("w", w)
    m, z, trials, seed = _common(memory, tile, sign, placement, family, trials, seed)
    plan = _aligned(K.make_plan([w.shape], (1, z), [m], shared=True), align, placement, family)
    return _run(plan, None, w, sign=sign, placement=placement, family=family, trials=trials, seed=seed,
                what="mse", params=_params(m, z, sign, placement, family))


def mc_kernel(x, x2, *, memory, trials=100_000, seed=0, family="ideal") -> MonteCarloEstimate:
    """Monte Carlo estimate of the hashed kernel ``<S x, S x2>`` (element hashing, per-element signs; B1).

    Notes
    -----
    The same estimator as :func:`mc_inner_product` with ``tile=1``: ``<S x, S x2> = <S^T S x2, x>``.
    """
    return mc_inner_product(x, x2, memory=memory, tile=1, sign="element", placement="circular",
                            family=family, trials=trials, seed=seed)


def mc_total_inner_product(xs, ws, *, memory, sharing="global", tile=1, sign="element", scales=None,
                           placement="circular", family="ideal", trials=100_000,
                           seed=0) -> MonteCarloEstimate:
    """Monte Carlo estimate of the total ``sum_l <x_l, w_hat_l>`` over modules (B3).

    Parameters
    ----------
    xs, ws : sequences of arrays
        Module inputs and weights (flattened; each module cut into chunks of ``tile``).
    memory : int
        Total slots ``m``.
    sharing : {"global", "local"}
        ``global``: all modules in one array of ``m`` slots, each with its own hash; stored values
        ``u_l = w_l / lambda_l`` recovered times ``lambda_l``. ``local``: module ``l`` alone in
        ``m_l = round(p_l m)`` slots (:func:`roast_theory.layout.local_slots`; ``sum m_l = m``).
    scales : None, "auto" or sequence of float
        ``lambda_l`` (global only; local sharing is scale-free). ``"auto"``: see
        :func:`roast_theory.layout.auto_scales`.

    Notes
    -----
    .. math:: Y_G = \\sum_l \\lambda_l \\langle x_l, \\hat u_l\\rangle
              = \\langle S (\\lambda x), S u\\rangle
    """
    xs_, ws_, w_shapes = check_modules(xs, ws, flatten=True)
    check_choice("sharing", sharing, SHARINGS)
    shapes = [w.shape for w in ws_]
    m, z, trials, seed = _common(memory, tile, sign, placement, family, trials, seed)
    if sharing == "global":
        lam = resolve_scales(scales, w_shapes)
        plan = K.make_plan(shapes, (1, z), [m], shared=True)
        x = np.concatenate([l_ * x for l_, x in zip(lam, xs_)])
        w = np.concatenate([w / l_ for l_, w in zip(lam, ws_)])
    else:
        m_l = check_local_memory(local_slots([s[0] for s in shapes], m), m, z, placement)
        plan = K.make_plan(shapes, (1, z), [int(v) for v in m_l], shared=False)
        x = np.concatenate(xs_)
        w = np.concatenate(ws_)
    return _run(plan, x, w, sign=sign, placement=placement, family=family, trials=trials, seed=seed,
                params=_params(m, z, sign, placement, family))


def mc_module_output(xs, ws, module, *, memory, sharing="global", scales=None, tile=1, sign="element",
                     placement="circular", family="ideal", trials=100_000, seed=0) -> MonteCarloEstimate:
    """Monte Carlo estimate of one module's output ``<x_l, w_hat_l>`` (B2).

    All modules' weights are stored (and collide with module ``l`` under global sharing); only module
    ``l``'s input is non-zero: the estimator is :func:`mc_total_inner_product` with ``x_j = 0, j != l``.
    """
    xs_ = list(xs)
    module = check_int("module", module, low=0, high=len(xs_) - 1)
    xs0 = [np.asarray(x, dtype=np.float64) * (1.0 if j == module else 0.0) for j, x in enumerate(xs_)]
    return mc_total_inner_product(xs0, ws, memory=memory, sharing=sharing, tile=tile, sign=sign,
                                  scales=scales, placement=placement, family=family, trials=trials, seed=seed)


@renamed_kwargs(tile_shape="tile")
def mc_placement_load(shape, tile, memory, *, trials=1000, seed=0, family="ideal",
                      placement="kernel") -> MonteCarloEstimate:
    """Monte Carlo estimate of the mean load at a weight's slot (weights sharing it, itself included).

    Parameters
    ----------
    shape : int or (K, N)
    tile : int or (BK, BN)
    memory : int
        Slots ``m``; kernel placement draws starts in ``[0, m - T)``.

    Notes
    -----
    Per trial :math:`Y = \\frac{1}{n}\\sum_i c_{h(i)} = \\frac{1}{n}\\sum_b c_b^2`, ``c_b`` the number of
    weights in slot ``b``. When every tile is full, ``c`` is a length-``T`` window sum of the histogram
    of tile starts (no element-level arrays).
    """
    counts_iter, n, seed = _counts(shape, tile, memory, trials, seed, family, placement)
    acc = MomentAccumulator()
    for c in counts_iter:
        acc.add((c.astype(np.float64) ** 2).sum(axis=1) / n)
    return MonteCarloEstimate.from_moments(acc, seed, **_params(memory, tile, None, placement, family))


def mc_unused_fraction(n, memory, tile=1, *, trials=1000, seed=0, family="ideal",
                       placement="circular") -> MonteCarloEstimate:
    """Monte Carlo estimate of the fraction of the ``m`` slots that no weight uses (1-D, chunks of ``tile``).

    Notes
    -----
    Per trial :math:`Y = \\#\\{b : c_b = 0\\} / m`; ideal element hashing gives
    :math:`E Y = (1 - 1/m)^n`.
    """
    n = check_int("n", n, low=1)
    counts_iter, _, seed = _counts((n,), tile, memory, trials, seed, family, placement)
    acc = MomentAccumulator()
    for c in counts_iter:
        acc.add((c == 0).sum(axis=1) / memory)
    return MonteCarloEstimate.from_moments(acc, seed, **_params(memory, tile, None, placement, family))


def _counts(shape, tile, memory, trials, seed, family, placement):
    shape = check_shape("shape", shape)
    tile = check_tile_for_shape(tile, shape)
    check_choice("placement", placement, PLACEMENTS)
    check_choice("family", family, FAMILY_NAMES)
    trials = check_int("trials", trials, low=2)
    seed = check_seed(seed)
    m = check_memory(memory, tile[0] * tile[1], placement)
    plan = K.make_plan([shape], tile, [m], shared=True)
    full = all(d % t == 0 for d, t in zip(shape if len(shape) == 2 else (1, shape[0]), tile))
    n = plan.n
    rng = np.random.default_rng(seed)

    def gen():
        per_trial = max(m, plan.n_tiles if full else n)
        for b in K.block_sizes(trials, per_trial):
            if full:
                s = K.draw_starts(rng, plan, b, family, placement)
                yield K.slot_counts_window(s, plan.t_size, m, placement)
            else:
                yield K.slot_counts(K.draw_slots(rng, plan, b, family, placement), m)

    return gen(), n, seed


def kernel_vs_ideal_gap(x, w, *, memory, tile=1, family="rz-stable", sign="element", placement=None,
                        trials=100_000, seed=0) -> KernelIdealGap:
    """Variance of ``<w_hat, x>`` under the exact kernel hash family against ideal hashing.

    The two estimates use independent streams (seeds ``seed`` and ``seed + 1``) and otherwise the same
    mapping (:func:`mc_inner_product`). ``placement`` defaults to what the kernel does: ``"circular"``
    (``raw mod m``, HashedNet) for ``tile=1`` and ``"kernel"`` (``mod (m - T)``, RzLinear) for tiles.
    """
    check_choice("family", family, FAMILY_NAMES)
    if placement is None:
        placement = "circular" if tile == 1 else "kernel"
    seed = check_seed(seed)
    s2 = None if seed is None else seed + 1
    kw = dict(memory=memory, tile=tile, sign=sign, placement=placement, trials=trials)
    kern = mc_inner_product(x, w, family=family, seed=seed, **kw)
    ideal = mc_inner_product(x, w, family="ideal", seed=s2, **kw)
    return KernelIdealGap(kernel=kern, ideal=ideal, family=family)
