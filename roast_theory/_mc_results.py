"""Frozen result objects of the Monte Carlo estimators."""

from __future__ import annotations

from dataclasses import dataclass, fields
from statistics import NormalDist
from typing import NamedTuple

import numpy as np

from ._validate import check_choice, check_probability, check_real
from .errors import RoastTheoryError


class ConfidenceInterval(NamedTuple):
    """A two-sided confidence interval ``[low, high]``."""

    low: float
    high: float


def _z(level) -> float:
    level = check_probability("level", level)
    return float(NormalDist().inv_cdf(0.5 + level / 2))


class MomentAccumulator:
    r"""Streaming sample moments: feed blocks of per-trial values, memory O(1) in the number of trials.

    Each block's mean and central sums ``M_p = sum (y - mean)^p`` (``p = 2, 3, 4``) are computed two-pass
    (as for one array), then merged into the running totals with the pairwise update of Pebay (2008),
    numerically stable (no raw power sums). One block gives exactly the one-array result; several agree
    with it to rounding (about 1e-15 relative).

    Notes
    -----
    Merging ``A`` (``n_a`` values) and ``B`` (``n_b``), ``n = n_a + n_b``, ``d = mean_B - mean_A``:

    .. math::
        \bar y = \bar y_A + d\,n_b/n,\quad
        M_2 = M_{2A} + M_{2B} + d^2 n_a n_b / n

        M_3 = M_{3A} + M_{3B} + d^3 \frac{n_a n_b (n_a - n_b)}{n^2}
              + 3 d \frac{n_a M_{2B} - n_b M_{2A}}{n}

        M_4 = M_{4A} + M_{4B} + d^4 \frac{n_a n_b (n_a^2 - n_a n_b + n_b^2)}{n^3}
              + 6 d^2 \frac{n_a^2 M_{2B} + n_b^2 M_{2A}}{n^2} + 4 d \frac{n_a M_{3B} - n_b M_{3A}}{n}
    """

    __slots__ = ("n", "mean", "m2", "m3", "m4")

    def __init__(self):
        self.n = 0
        self.mean = self.m2 = self.m3 = self.m4 = 0.0

    def add(self, y) -> None:
        """Account for the values ``y`` (any shape, flattened)."""
        y = np.asarray(y, dtype=np.float64).ravel()
        nb = y.size
        if nb == 0:
            return
        mb = float(y.mean())
        d = y - mb
        d2 = d * d
        m2b, m3b, m4b = float(d2.sum()), float((d2 * d).sum()), float((d2 * d2).sum())
        if self.n == 0:
            self.n, self.mean, self.m2, self.m3, self.m4 = nb, mb, m2b, m3b, m4b
            return
        na, n = self.n, self.n + nb
        delta = mb - self.mean
        m2a, m3a, m4a = self.m2, self.m3, self.m4
        self.mean = self.mean + delta * nb / n
        self.m2 = m2a + m2b + delta * delta * na * nb / n
        self.m3 = (m3a + m3b + delta ** 3 * na * nb * (na - nb) / n ** 2
                   + 3.0 * delta * (na * m2b - nb * m2a) / n)
        self.m4 = (m4a + m4b + delta ** 4 * na * nb * (na * na - na * nb + nb * nb) / n ** 3
                   + 6.0 * delta * delta * (na * na * m2b + nb * nb * m2a) / n ** 2
                   + 4.0 * delta * (na * m3b - nb * m3a) / n)
        self.n = n


@dataclass(frozen=True)
class MonteCarloEstimate:
    """Mean and variance of a Monte Carlo estimator over ``trials`` independent hash draws.

    Attributes
    ----------
    mean, variance : float
        Sample mean and unbiased sample variance of the per-trial values ``Y_1..Y_N``.
    mean_se : float
        Standard error of the mean, ``sqrt(variance / N)``.
    variance_se : float
        Standard error of the sample variance from the fourth central moment (see Notes).
    trials : int
        ``N``.
    seed : int or None
        Seed of the generator that drew the hashes.

    Notes
    -----
    .. math:: \\operatorname{Var}(s^2) = \\frac{\\mu_4}{N} - \\frac{\\sigma^4 (N - 3)}{N (N - 1)}

    with ``mu_4`` and ``sigma^2`` replaced by the sample fourth central moment and ``s^2``. Intervals
    are normal-theory: ``estimate +- z_{(1+level)/2} * se``.
    """

    mean: float
    variance: float
    mean_se: float
    variance_se: float
    trials: int
    seed: int | None
    memory: int | None = None
    tile: object = None
    sign: str | None = None
    placement: str | None = None
    family: str | None = None

    @classmethod
    def from_samples(cls, y: np.ndarray, seed, **params) -> MonteCarloEstimate:
        """Estimate from the per-trial values ``y`` (``params``: the mapping's parameters, carried along)."""
        acc = MomentAccumulator()
        acc.add(y)
        return cls.from_moments(acc, seed, **params)

    @classmethod
    def from_moments(cls, acc: MomentAccumulator, seed, **params) -> MonteCarloEstimate:
        """Estimate from streamed moments (:class:`MomentAccumulator`); raises on non-finite results."""
        n = acc.n
        if n < 2:
            raise RoastTheoryError(f"trials={n} must be >= 2 to estimate a variance")
        var = acc.m2 / (n - 1)
        mu4 = acc.m4 / n
        var_var = mu4 / n - var * var * (n - 3) / (n * (n - 1))
        est = cls(mean=float(acc.mean), variance=float(var), mean_se=float(np.sqrt(var / n)),
                  variance_se=float(np.sqrt(max(var_var, 0.0))), trials=int(n), seed=seed, **params)
        if not all(np.isfinite(v) for v in (est.mean, est.variance, est.mean_se, est.variance_se)):
            raise RoastTheoryError(
                f"the Monte Carlo estimate overflowed (mean={est.mean!r}, variance={est.variance!r}): "
                "the inputs' magnitudes are too large for float64")
        return est

    def to_dict(self) -> dict:
        """Plain-Python dict of every field (``tile`` as a list when it is a pair)."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        if isinstance(d["tile"], tuple):
            d["tile"] = list(d["tile"])
        return d

    def compare(self, closed_form, level: float = 0.95) -> Comparison:
        """This estimate against a closed form (any object with ``mean`` and ``variance``, e.g. the
        :class:`~roast_theory.results.InnerProductMoments` of the same mapping): z-scores and verdicts."""
        mean, variance = _closed_form_pair(closed_form)
        lo, hi = self.confidence_interval(level)
        vlo, vhi = self.variance_confidence_interval(level)
        return Comparison(estimate=self, closed_form_mean=mean, closed_form_variance=variance, level=level,
                          z_mean=self.z_score(mean, "mean"), z_variance=self.z_score(variance, "variance"),
                          mean_within_ci=bool(lo <= mean <= hi),
                          variance_within_ci=bool(vlo <= variance <= vhi))

    @property
    def std(self) -> float:
        """Standard deviation of the estimator, ``sqrt(variance)``."""
        return float(np.sqrt(self.variance))

    def confidence_interval(self, level: float = 0.95) -> ConfidenceInterval:
        """Normal-theory interval for the mean."""
        h = _z(level) * self.mean_se
        return ConfidenceInterval(self.mean - h, self.mean + h)

    def variance_confidence_interval(self, level: float = 0.95) -> ConfidenceInterval:
        """Normal-theory interval for the variance (fourth-moment standard error)."""
        h = _z(level) * self.variance_se
        return ConfidenceInterval(self.variance - h, self.variance + h)

    def z_score(self, expected: float, of: str = "mean") -> float:
        """``(estimate - expected) / se`` for ``of="mean"`` or ``of="variance"``."""
        check_choice("of", of, ("mean", "variance"))
        expected = check_real("expected", expected)
        est, se = (self.mean, self.mean_se) if of == "mean" else (self.variance, self.variance_se)
        if se == 0.0:
            return 0.0 if est == expected else float(np.copysign(np.inf, est - expected))
        return (est - expected) / se


def _closed_form_pair(closed_form) -> tuple[float, float]:
    if isinstance(closed_form, dict):
        mean, var = closed_form.get("mean"), closed_form.get("variance")
    else:
        mean, var = getattr(closed_form, "mean", None), getattr(closed_form, "variance", None)
    if mean is None or var is None:
        raise RoastTheoryError(
            f"closed_form of type {type(closed_form).__name__} has no mean and variance to compare with")
    return check_real("closed_form.mean", mean), check_real("closed_form.variance", var)


@dataclass(frozen=True)
class Comparison:
    """A Monte Carlo estimate against its closed form (:meth:`MonteCarloEstimate.compare`).

    Attributes
    ----------
    estimate : MonteCarloEstimate
    closed_form_mean, closed_form_variance : float
    level : float
        Confidence level of the intervals.
    z_mean, z_variance : float
        ``(estimate - closed form) / standard error``.
    mean_within_ci, variance_within_ci : bool
        The closed form lies in the estimate's normal-theory interval at ``level``.
    """

    estimate: MonteCarloEstimate
    closed_form_mean: float
    closed_form_variance: float
    level: float
    z_mean: float
    z_variance: float
    mean_within_ci: bool
    variance_within_ci: bool

    @property
    def agrees(self) -> bool:
        """Both the mean and the variance lie in their intervals."""
        return self.mean_within_ci and self.variance_within_ci

    def to_dict(self) -> dict:
        """Plain-Python dict (the estimate nested under ``"estimate"``)."""
        return {"estimate": self.estimate.to_dict(), "closed_form_mean": self.closed_form_mean,
                "closed_form_variance": self.closed_form_variance, "level": self.level,
                "z_mean": self.z_mean, "z_variance": self.z_variance, "mean_within_ci": self.mean_within_ci,
                "variance_within_ci": self.variance_within_ci, "agrees": self.agrees}


@dataclass(frozen=True)
class KernelIdealGap:
    """Variance of the estimator under a kernel hash family against ideal hashing.

    Attributes
    ----------
    kernel, ideal : MonteCarloEstimate
        The two independent estimates.
    family : str
        The kernel family.

    Notes
    -----
    ``difference = Var_kernel - Var_ideal``; the two runs are independent, so
    ``difference_se = sqrt(se_kernel^2 + se_ideal^2)`` and ``z_score = difference / difference_se``.
    """

    kernel: MonteCarloEstimate
    ideal: MonteCarloEstimate
    family: str

    @property
    def variance_kernel(self) -> float:
        return self.kernel.variance

    @property
    def variance_ideal(self) -> float:
        return self.ideal.variance

    @property
    def difference(self) -> float:
        return self.kernel.variance - self.ideal.variance

    @property
    def difference_se(self) -> float:
        return float(np.hypot(self.kernel.variance_se, self.ideal.variance_se))

    @property
    def z_score(self) -> float:
        se = self.difference_se
        return self.difference / se if se > 0 else 0.0

    def confidence_interval(self, level: float = 0.95) -> ConfidenceInterval:
        """Normal-theory interval for the difference of variances."""
        h = _z(level) * self.difference_se
        return ConfidenceInterval(self.difference - h, self.difference + h)
