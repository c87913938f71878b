"""When does global sharing beat local sharing? The exact condition and what follows from it.

Element hashing with per-element signs; modules ``l = 1..k`` of ``n_l`` elements, ``p_l = n_l / n``; local
budgets ``m_l = q_l m`` (``sum_l q_l = 1``; ``q = p`` when budgets are proportional to size). Write
``c_ij = (x_i w_j + x_j w_i)^2`` for a pair of elements. Then ``Q(x, w) = sum_{i<j} c_ij``, so

* ``m V_G = sum_{i<j} c_ij`` = within-module pair energy ``E_in = sum_l E_l`` plus cross-module pair
  energy ``E_x``, and ``m V_L = sum_l E_l / q_l``;
* **global wins iff** ``E_x < sum_l (1/q_l - 1) E_l`` (the exact pair-energy condition);
* a **sufficient** condition: ``E_x < (1/q_max - 1) E_in`` (since ``1/q_l >= 1/q_max``);
* **random inputs** ``x = w`` with iid entries of variance 1 (any law) and ``q = p``:
  ``E[m (V_L - V_G)] = -2 (k - 1) n`` exactly (``E c_ij = 4``, so local wins on average);
* **limit law** for ``x = w`` iid with fourth moment ``mu4 > 1``: with ``y_i = x_i^2``,
  ``m (V_L - V_G) = 2 n sum_l n_l (ybar_l - ybar)^2 - 2 sum_l (1/p_l - 1) sum_{i in l} y_i^2``; the first sum
  tends to ``(mu4 - 1) chi2_{k-1}`` and the second is ``(k - 1) n mu4 (1 + o(1))``, so
  ``P(global wins) -> P(chi2_{k-1} > (k - 1) mu4 / (mu4 - 1))`` (0 for Rademacher entries, ``mu4 = 1``);
* **optimal scales** ``lambda_l^4`` proportional to ``|w_l|^2 / |x_l|^2`` minimise ``V_G`` and turn the
  covariance term into ``n^2 Var_p(sqrt(a_l b_l)) >= 0`` (``a_l = |x_l|^2/n_l``, ``b_l = |w_l|^2/n_l``).

The one unconditional result is B1 (the hashed kernel of one module, :func:`roast_theory.kernel_variance`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._tiles import q_form
from ._validate import check_int, check_modules, check_real
from .errors import RoastTheoryError
from .results import _Result


@dataclass(frozen=True)
class PairEnergy(_Result):
    """The pair-energy form of global vs local sharing.

    ``global_wins`` iff ``cross_energy < threshold`` with ``threshold = sum_l (1/q_l - 1) within_energy[l]``;
    ``sufficient`` is the weaker test ``cross_energy < (1/q_max - 1) sum_l within_energy[l]``.
    """

    within_energy: tuple
    cross_energy: float
    threshold: float
    sufficient_threshold: float
    fractions: tuple
    global_wins: bool
    sufficient: bool

    def margin(self) -> float:
        """``threshold - cross_energy = m (V_L - V_G)`` (> 0: global wins)."""
        return self.threshold - self.cross_energy


def pair_energy(xs, ws, fractions=None) -> PairEnergy:
    """Split ``m V_G`` and ``m V_L`` into within- and cross-module pair energies.

    Parameters
    ----------
    xs, ws : sequence of array_like
        Inputs and weights of every module.
    fractions : sequence of float, optional
        Local memory fractions ``q_l = m_l / m`` (positive, summing to 1); default ``p_l = n_l / n``.

    Returns
    -------
    PairEnergy

    Notes
    -----
    ``E_l = Q(x_l, w_l) = sum_{i<j in l} c_ij`` and ``E_x = Q(x, w) - sum_l E_l``; ``m (V_L - V_G) =
    sum_l (1/q_l - 1) E_l - E_x``.
    """
    xv, wv, _ = check_modules(xs, ws)
    sizes = np.array([x.size for x in xv], dtype=np.float64)
    if fractions is None:
        q = sizes / sizes.sum()
    else:
        q = np.array([check_real(f"fractions[{l}]", f, low=0.0, low_open=True)
                      for l, f in enumerate(fractions)])
        if q.size != len(xv) or abs(q.sum() - 1.0) > 1e-12:
            raise RoastTheoryError(f"fractions={tuple(q)} must have one positive entry per module and "
                                   "sum to 1")
    within = np.array([q_form(x, w) for x, w in zip(xv, wv)])
    cross = q_form(np.concatenate(xv), np.concatenate(wv)) - within.sum()
    thr = float(((1.0 / q - 1.0) * within).sum())
    suff = float((1.0 / q.max() - 1.0) * within.sum())
    return PairEnergy(within_energy=tuple(float(v) for v in within), cross_energy=float(cross), threshold=thr,
                      sufficient_threshold=suff, fractions=tuple(float(v) for v in q),
                      global_wins=bool(cross < thr), sufficient=bool(cross < suff))


def expected_random_difference(sizes) -> float:
    """``E[m (V_L - V_G)] = -2 (k - 1) n`` for ``x = w`` with iid entries of variance 1 and ``q = p``.

    Notes
    -----
    ``E c_ij = E[4 x_i^2 x_j^2] = 4`` for ``i != j`` whatever the law, so ``E E_l = 2 n_l (n_l - 1)`` and
    ``E E_x = 2 (n^2 - sum_l n_l^2)``; ``sum_l (n/n_l - 1) 2 n_l (n_l - 1) - 2 (n^2 - sum_l n_l^2) =
    -2 (k - 1) n``.
    """
    n_l = [check_int(f"sizes[{l}]", s, low=1) for l, s in enumerate(sizes)]
    return -2.0 * (len(n_l) - 1) * sum(n_l)


def limit_global_win_probability(k: int, mu4: float) -> float:
    """``lim P(global wins) = P(chi2_{k-1} > (k - 1) mu4 / (mu4 - 1))`` for ``x = w`` iid, ``E x^2 = 1``.

    Parameters
    ----------
    k : int
        Number of modules (``>= 2``), each of a fixed fraction of ``n -> infinity`` elements.
    mu4 : float
        Fourth moment ``E x^4 >= 1`` of the (unit-variance) entry law; 3 for Gaussian, 1 for Rademacher
        (then the limit is 0).
    """
    k = check_int("k", k, low=2)
    mu4 = check_real("mu4", mu4, low=1.0)
    if mu4 == 1.0:
        return 0.0
    from scipy import stats

    return float(stats.chi2.sf((k - 1) * mu4 / (mu4 - 1.0), k - 1))
