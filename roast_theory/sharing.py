"""Global (ROAST) versus local (HashedNet) weight sharing: results B1-B3 and slot allocation.

Modules ``l = 1..k`` with ``n_l`` elements, ``p_l = n_l / n``. Local: module l is hashed alone into
``m_l`` whole slots, ``sum_l m_l = m``; by default ``m_l`` is ``p_l m`` rounded by largest remainder, as
:meth:`roast_theory.ModelLayout.local` and the Monte Carlo do (B2, B3). Global: all ``n`` elements share
``m`` slots. Element hashing with per-element signs throughout (result A per module).

Result labels: ``B1``, the hashed kernel ``<S x, S x2>`` of two inputs of one module (global sharing is
better by ``n / n_l``, always); ``B2``, the output of one module (global helps a module whose stored values
are at least as large as the average); ``B3``, the total inner product over all modules, whose
global-minus-local difference splits exactly into a covariance, an alignment and a diagonal term (either
sharing can win).
"""

from __future__ import annotations

import math

import numpy as np

from ._allocation import integer_optimal_slots
from ._tiles import q_form
from ._validate import check_int, check_modules, check_same_shape, check_scales, check_vector
from .errors import RoastTheoryError
from .layout import local_slots as _by_size
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


def module_output_variance(xs, ws, module, memory, scales=None, local_slots=None) -> ModuleOutputVariance:
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
    local_slots : sequence of int, optional
        Whole-slot local budgets ``m_l >= 1`` summing to ``memory`` (default: by size, largest remainder).

    Returns
    -------
    ModuleOutputVariance

    Notes
    -----
    ``Var_G(l) = (lambda_l^2 / m) [|x_l|^2 |u|^2 + <x_l, u_l>^2 - 2 sum_{i in l} x_i^2 u_i^2]`` (``u`` all
    stored values); ``Var_L(l) = Q(x_l, w_l) / m_l``.
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
    m_l = float(_module_slots([x.size for x in xv], m, local_slots)[l])
    var_l = q_form(x_l, wv[l]) / m_l
    return ModuleOutputVariance(global_variance=float(var_g), local_variance=float(var_l), module=l,
                                memory=m, local_memory=m_l, scale=float(lam[l]))


def _module_slots(sizes, memory: int, local_slots=None) -> np.ndarray:
    """Whole-slot local budgets: given (integers >= 1 summing to ``memory``) or by size."""
    k = len(sizes)
    if local_slots is None:
        slots = _by_size(sizes, memory)
    else:
        vals = list(local_slots) if isinstance(local_slots, list | tuple) else list(np.ravel(local_slots))
        if len(vals) != k:
            raise RoastTheoryError(f"local_slots has {len(vals)} entries: must have one per module ({k})")
        slots = np.array([check_int(f"local_slots[{l}]", v, low=0) for l, v in enumerate(vals)], np.int64)
        if int(slots.sum()) != memory:
            raise RoastTheoryError(f"local_slots={tuple(int(v) for v in slots)} sum to {int(slots.sum())}: "
                                   f"must sum to memory={memory}")
    for l, ml in enumerate(slots):
        if ml < 1:
            raise RoastTheoryError(f"memory={memory}: module {l} gets m_l={int(ml)} slots under local "
                                   "sharing; every module needs at least one slot")
    return slots


def sharing_variance(xs, ws, memory, scales=None, local_slots=None) -> SharingVariance:
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
        automatic scales use :func:`roast_theory.auto_scales` on the module shapes; for the variance-optimal
        ones :func:`optimal_scales`.)
    local_slots : sequence of int, optional
        Whole-slot local budgets ``m_l >= 1`` summing to ``memory``; default ``p_l m`` rounded by largest
        remainder (:func:`roast_theory.local_slots`, what ``ModelLayout.local`` uses).

    Returns
    -------
    SharingVariance
        With ``local_slots``, the budgets used.

    Notes
    -----
    ``V_G = Q(x, w) / m``, ``V_L = sum_l Q(x_l, w_l) / m_l``. With memory fractions ``q_l = m_l / m``,
    exactly ``m (V_L - V_G) = [sum_l |x_l|^2 |w_l|^2 / q_l - |x|^2 |w|^2] + [sum_l <x_l, w_l>^2 / q_l -
    <x, w>^2] - 2 [sum_l D_l / q_l - D]``, ``D_l = sum_{i in l} x_i^2 w_i^2``, ``D = sum_l D_l`` (with scales,
    all of this for ``(lambda_l x_l, w_l / lambda_l)``). The three brackets are ``covariance_term``,
    ``alignment_term`` and ``diagonal_term`` (the last one including its ``-2``). When ``q_l = p_l``
    (budgets exactly proportional to size) the first is ``n^2 Cov_p(a, b)``, ``a_l = |x_l|^2 / n_l``,
    ``b_l = |w_l|^2 / n_l``, ``Cov_p(a, b) = sum p_l a_l b_l - (sum p_l a_l)(sum p_l b_l)``. For any
    budgets (``sum_l q_l = 1``) Cauchy-Schwarz makes the alignment term ``>= 0`` and the diagonal term
    ``<= 0``.

    With exactly homogeneous energy (``x = w = 1``) and ``q = p``, local sharing wins by ``2 (k - 1) n / m``;
    global wins once the covariance and alignment terms exceed it.
    """
    xv, wv, _ = check_modules(xs, ws)
    m = check_int("memory", memory, low=1)
    lam = check_scales(scales, len(xv))
    xv = [x * s for x, s in zip(xv, lam)]
    wv = [w / s for w, s in zip(wv, lam)]
    sizes = np.array([x.size for x in xv], dtype=np.int64)
    slots = _module_slots(sizes, m, local_slots)
    frac = slots / m
    x_all, w_all = np.concatenate(xv), np.concatenate(wv)
    v_g = q_form(x_all, w_all) / m
    v_l = float(sum(q_form(x, w) / float(ml) for x, w, ml in zip(xv, wv, slots)))
    norms = np.array([(x @ x) * (w @ w) for x, w in zip(xv, wv)])
    cov = float((norms / frac).sum() - (x_all @ x_all) * (w_all @ w_all))
    inner = np.array([x @ w for x, w in zip(xv, wv)])
    d_l = np.array([float((x * w) @ (x * w)) for x, w in zip(xv, wv)])
    alignment = float((inner**2 / frac).sum() - inner.sum() ** 2)
    diagonal = -2.0 * float((d_l / frac).sum() - d_l.sum())
    return SharingVariance(global_variance=float(v_g), local_variance=v_l, covariance_term=cov,
                           alignment_term=alignment, diagonal_term=diagonal, memory=m,
                           module_sizes=tuple(int(v) for v in sizes),
                           local_slots=tuple(int(v) for v in slots))


def optimal_scales(xs, ws) -> np.ndarray:
    """Module scales that minimise the global variance: ``lambda_l = (|w_l| / |x_l|)^(1/2)``.

    Parameters
    ----------
    xs, ws : sequence of array_like
        Every module needs ``|x_l| > 0`` and ``|w_l| > 0``.

    Returns
    -------
    numpy.ndarray
        ``lambda_l``, normalised to geometric mean 1 (``V_G`` is unchanged by a common factor).

    Notes
    -----
    Scales change only ``|x'|^2 |w'|^2 = (sum_l lambda_l^2 |x_l|^2)(sum_l |w_l|^2 / lambda_l^2)`` in
    ``m V_G``; by Cauchy-Schwarz it is at least ``(sum_l |x_l| |w_l|)^2``, with equality iff
    ``lambda_l^4`` is proportional to ``|w_l|^2 / |x_l|^2``. Then ``a'_l = b'_l = sqrt(a_l b_l)`` and the
    covariance term becomes ``n^2 Var_p(sqrt(a_l b_l)) >= 0`` (for ``q = p``): global sharing can then lose
    only through the diagonal term (and the alignment term never helps local sharing).
    """
    xv, wv, _ = check_modules(xs, ws)
    nx = np.array([math.sqrt(x @ x) for x in xv])
    nw = np.array([math.sqrt(w @ w) for w in wv])
    for l in range(len(xv)):
        if not (nx[l] > 0 and nw[l] > 0):
            raise RoastTheoryError(f"module {l} has |x_l|={nx[l]:g}, |w_l|={nw[l]:g}: optimal scales need "
                                   "both norms positive (a scale would be zero or infinite)")
    lam = np.sqrt(nw / nx)
    return lam / math.exp(float(np.mean(np.log(lam))))


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
    """The whole-slot local budgets that minimise the local variance ``sum_l Q(x_l, w_l) / m_l``.

    Parameters
    ----------
    xs, ws : sequence of array_like
    memory : int
        Total slots ``m >= k`` (one slot per module at least).

    Returns
    -------
    Allocation
        ``slots``: the exact integer optimum (``m_l >= 1``, ``sum m_l = m``) and its ``variance``;
        ``proportional_slots`` / ``proportional_variance``: budgets by size (what local sharing does);
        ``norm_slots`` / ``norm_variance``: budgets proportional to ``|x_l| |w_l|`` (rounded), which minimise
        only the norm part of ``Q``; ``exact_optimal_variance = (sum_l sqrt(Q_l))^2 / m``, the real-valued
        optimum (at ``m_l`` proportional to ``sqrt(Q_l)``), a lower bound.

    Notes
    -----
    ``sum_l Q_l / m_l`` is separable and convex in each ``m_l``: the ``j``-th extra slot of module ``l``
    gains ``Q_l / (j (j + 1))``, decreasing in ``j``, so taking the ``m - k`` largest gains (greedy marginal
    allocation) is exactly optimal. Lagrange on the real relaxation gives ``m_l`` proportional to
    ``sqrt(Q_l)``, not ``|x_l| |w_l|``.
    """
    xv, wv, _ = check_modules(xs, ws)
    m = check_int("memory", memory, low=1)
    k = len(xv)
    if m < k:
        raise RoastTheoryError(f"memory={m} must be an integer >= {k} (one slot per module)")
    q = np.array([max(q_form(x, w), 0.0) for x, w in zip(xv, wv)])
    weight = np.array([math.sqrt(x @ x) * math.sqrt(w @ w) for x, w in zip(xv, wv)])
    sizes = np.array([x.size for x in xv], dtype=np.int64)
    best = integer_optimal_slots(q, m)
    prop = _by_size(sizes, m)
    norm = _round_allocation(m * weight / weight.sum(), m) if weight.sum() > 0 else prop
    norm = np.maximum(norm, 1)  # every module keeps one slot; take the extra back from the largest budget
    norm[int(np.argmax(norm))] -= int(norm.sum()) - m

    def var_of(s):
        return float(sum(_ratio(ql, float(sl)) for ql, sl in zip(q, s)))

    return Allocation(slots=tuple(int(v) for v in best), variance=var_of(best),
                      proportional_slots=tuple(int(v) for v in prop), proportional_variance=var_of(prop),
                      exact_optimal_variance=float(np.sqrt(q).sum() ** 2 / m), memory=m,
                      norm_slots=tuple(int(v) for v in norm), norm_variance=var_of(norm))
