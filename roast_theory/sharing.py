"""Global (ROAST) versus local (HashedNet) weight sharing: results B1-B3 and slot allocation.

Modules ``l = 1..k`` with ``n_l`` elements, ``p_l = n_l / n``. Local: module l is hashed alone into
``m_l = p_l m`` slots (a real number here: the closed forms need no rounding). Global: all ``n`` elements
share ``m`` slots. Element hashing with per-element signs throughout (result A per module).

Result labels: ``B1``, the hashed kernel ``<S x, S x2>`` of two inputs of one module (global sharing is
better by ``n / n_l``, always); ``B2``, the output of one module (global helps a module whose stored values
are at least as large as the average); ``B3``, the total inner product over all modules, whose
global-minus-local difference splits exactly into a covariance, an alignment and a diagonal term (either
sharing can win).
"""

from __future__ import annotations

import math

import numpy as np

from ._tiles import q_form
from ._validate import check_int, check_modules, check_same_shape, check_scales, check_vector
from .errors import RoastTheoryError
from .results import Allocation, KernelVariance, ModuleOutputVariance, SharingVariance


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else (0.0 if num == 0 else math.inf)


def kernel_variance(x, x2, memory, n_total, module_size=None) -> KernelVariance:
    """B1: variance of the hashed kernel ``<phi x, phi x2>`` of one module, global vs local sharing.

    Parameters
    ----------
    x, x2 : array_like, shape (n_l,)
        Two inputs of one module.
    memory : int
        Global slots ``m``.
    n_total : int
        Elements of the whole model ``n >= n_l``.
    module_size : int, optional
        ``n_l``; defaults to ``len(x)`` and must equal it when given.

    Returns
    -------
    KernelVariance

    Notes
    -----
    ``Var_G = Q(x, x2) / m``, ``Var_L = Q(x, x2) / m_l`` with ``m_l = (n_l / n) m``: global is better by
    ``n / n_l`` whatever the inputs.
    """
    xv, x2v = check_vector("x", x), check_vector("x2", x2)
    check_same_shape("x", xv, "x2", x2v)
    m = check_int("memory", memory, low=1)
    n_l = xv.size if module_size is None else check_int("module_size", module_size, low=1)
    if n_l != xv.size:
        raise RoastTheoryError(f"module_size={n_l} must equal len(x)={xv.size}")
    n = check_int("n_total", n_total, low=n_l)
    q = q_form(xv, x2v)
    m_l = n_l * m / n
    return KernelVariance(global_variance=q / m, local_variance=q / m_l, memory=m, local_memory=m_l,
                          n_total=n, module_size=n_l)


def module_output_variance(xs, ws, module, memory, scales=None) -> ModuleOutputVariance:
    """B2: variance of module ``l``'s output ``lambda_l <x_l, u_hat_l>`` under global and local sharing.

    Parameters
    ----------
    xs, ws : sequence of array_like
        Inputs and (true) weights of every module.
    module : int
        Index ``l`` of the module whose output is studied.
    memory : int
        Global slots ``m``.
    scales : sequence of float, optional
        Module scales ``lambda_l > 0`` (default 1); stored values are ``u_l = w_l / lambda_l``.

    Returns
    -------
    ModuleOutputVariance

    Notes
    -----
    ``Var_G(l) = (lambda_l^2 / m) [|x_l|^2 |u|^2 + <x_l, u_l>^2 - 2 sum_{i in l} x_i^2 u_i^2]`` (``u`` all
    stored values); ``Var_L(l) = Q(x_l, w_l) / m_l``, ``m_l = (n_l / n) m``.
    """
    xv, wv, _ = check_modules(xs, ws)
    k = len(xv)
    l = check_int("module", module, low=0, high=k - 1)
    m = check_int("memory", memory, low=1)
    lam = check_scales(scales, k)
    us = [w / s for w, s in zip(wv, lam)]
    u_sq = float(sum(u @ u for u in us))
    x_l, u_l = xv[l], us[l]
    xu = x_l * u_l
    var_g = lam[l] ** 2 / m * ((x_l @ x_l) * u_sq + xu.sum() ** 2 - 2.0 * (xu @ xu))
    n = sum(x.size for x in xv)
    m_l = x_l.size * m / n
    var_l = q_form(x_l, wv[l]) / m_l
    return ModuleOutputVariance(global_variance=float(var_g), local_variance=float(var_l), module=l,
                                memory=m, local_memory=m_l, scale=float(lam[l]))


def sharing_variance(xs, ws, memory, scales=None) -> SharingVariance:
    """B3: variance of the total inner product ``sum_l <x_l, w_l>``, global vs local, with the decomposition.

    Parameters
    ----------
    xs, ws : sequence of array_like
        Inputs and weights of every module.
    memory : int
        Global slots ``m``.
    scales : sequence of float, optional
        Module scales ``lambda_l > 0`` of the global array (default 1): it stores ``u_l = w_l / lambda_l``
        and module ``l`` reads ``lambda_l u_hat_l``, so global sharing sees
        ``(lambda_l x_l, w_l / lambda_l)``. Local sharing is unchanged by scales. (For RzLinear's
        automatic scales use :func:`roast_theory.auto_scales` on the module shapes.)

    Returns
    -------
    SharingVariance

    Notes
    -----
    ``V_G = Q(x, w) / m``, ``V_L = sum_l Q(x_l, w_l) / (p_l m)`` and exactly
    ``m (V_L - V_G) = n^2 Cov_p(a, b) + [sum_l <x_l, w_l>^2 / p_l - <x, w>^2] - 2 [sum_l D_l / p_l - D]``
    with ``a_l = |x_l|^2 / n_l``, ``b_l = |w_l|^2 / n_l``, ``D_l = sum_{i in l} x_i^2 w_i^2``,
    ``Cov_p(a, b) = sum p_l a_l b_l - (sum p_l a_l)(sum p_l b_l)`` (with scales, all of this for
    ``(lambda_l x_l, w_l / lambda_l)``, which leaves ``V_L`` unchanged). The three terms are returned as
    ``covariance_term``, ``alignment_term`` and ``diagonal_term`` (the last one including its ``-2``).

    The diagonal term is never positive, so with exactly homogeneous energy (``x = w = 1``) local sharing
    wins by ``2 (k - 1) n / m``; global wins once the covariance and alignment terms exceed it.
    """
    xv, wv, _ = check_modules(xs, ws)
    m = check_int("memory", memory, low=1)
    lam = check_scales(scales, len(xv))
    xv = [x * s for x, s in zip(xv, lam)]
    wv = [w / s for w, s in zip(wv, lam)]
    sizes = np.array([x.size for x in xv], dtype=np.float64)
    n = sizes.sum()
    p = sizes / n
    x_all, w_all = np.concatenate(xv), np.concatenate(wv)
    v_g = q_form(x_all, w_all) / m
    v_l = float(sum(q_form(x, w) / (pl * m) for x, w, pl in zip(xv, wv, p)))
    a = np.array([x @ x for x in xv]) / sizes
    b = np.array([w @ w for w in wv]) / sizes
    cov = float(p @ (a * b) - (p @ a) * (p @ b))
    inner = np.array([x @ w for x, w in zip(xv, wv)])
    d_l = np.array([float((x * w) @ (x * w)) for x, w in zip(xv, wv)])
    alignment = float((inner**2 / p).sum() - inner.sum() ** 2)
    diagonal = -2.0 * float((d_l / p).sum() - d_l.sum())
    return SharingVariance(global_variance=float(v_g), local_variance=v_l, covariance_term=float(n**2 * cov),
                           alignment_term=alignment, diagonal_term=diagonal, memory=m,
                           module_sizes=tuple(int(s) for s in sizes))


def _round_allocation(target: np.ndarray, memory: int) -> np.ndarray:
    """Largest-remainder rounding of real budgets ``target`` (summing to ``memory``) to integers.

    Every module with a positive target gets at least one slot.
    """
    base = np.floor(target).astype(np.int64)
    need = target > 0
    base[need & (base == 0)] = 1
    left = memory - int(base.sum())
    if left < 0:  # the minimum-one rule overshot: take slots back from the largest budgets
        for i in np.argsort(-base, kind="stable"):
            take = min(left * -1, int(base[i]) - 1)
            base[i] -= take
            left += take
            if left == 0:
                break
    else:
        order = np.argsort(-(target - np.floor(target)), kind="stable")
        base[order[:left]] += 1
    return base


def optimal_allocation(xs, ws, memory) -> Allocation:
    """Per-module budgets ``m_l`` proportional to ``|x_l| |w_l|`` (integers summing to ``memory``).

    Parameters
    ----------
    xs, ws : sequence of array_like
    memory : int
        Total slots ``m``; at least the number of modules with ``|x_l| |w_l| > 0``.

    Returns
    -------
    Allocation
        ``slots`` and the variance ``sum_l Q(x_l, w_l) / m_l`` they achieve; the same for the integer
        proportional-to-size budgets; and ``exact_optimal_variance = (sum_l sqrt(Q_l))^2 / m``, the
        real-valued optimum of ``sum_l Q_l / m_l`` (at ``m_l`` proportional to ``sqrt(Q_l)``).

    Notes
    -----
    Minimising the norm part ``sum_l |x_l|^2 |w_l|^2 / m_l`` subject to ``sum_l m_l = m`` (Lagrange) gives
    ``m_l = m |x_l| |w_l| / sum_j |x_j| |w_j|``. Modules with ``|x_l||w_l| = 0`` have ``Q_l = 0`` and get
    no slots.
    """
    xv, wv, _ = check_modules(xs, ws)
    m = check_int("memory", memory, low=1)
    weight = np.array([math.sqrt(x @ x) * math.sqrt(w @ w) for x, w in zip(xv, wv)])
    q = np.array([q_form(x, w) for x, w in zip(xv, wv)])
    n_pos = int((weight > 0).sum())
    if m < max(n_pos, 1):
        raise RoastTheoryError(f"memory={m} must be an integer >= {n_pos} (one slot per module with signal)")
    sizes = np.array([x.size for x in xv], dtype=np.float64)
    target = m * weight / weight.sum() if weight.sum() > 0 else m * sizes / sizes.sum()
    slots = _round_allocation(target, m)
    prop = _round_allocation(m * sizes / sizes.sum(), m) if m >= len(xv) else None

    def var_of(s):
        return float(sum(_ratio(ql, float(sl)) for ql, sl in zip(q, s)))

    exact = float(np.sqrt(np.clip(q, 0, None)).sum() ** 2 / m)
    return Allocation(slots=tuple(int(s) for s in slots), variance=var_of(slots),
                      proportional_slots=tuple(int(s) for s in prop) if prop is not None else (),
                      proportional_variance=var_of(prop) if prop is not None else math.inf,
                      exact_optimal_variance=exact, memory=m)
