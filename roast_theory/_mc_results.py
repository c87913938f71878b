"""Frozen result objects of the Monte Carlo estimators."""

from __future__ import annotations

from dataclasses import dataclass
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

    @classmethod
    def from_samples(cls, y: np.ndarray, seed) -> MonteCarloEstimate:
        """Estimate from the per-trial values ``y``."""
        y = np.asarray(y, dtype=np.float64)
        n = y.size
        if n < 2:
            raise RoastTheoryError(f"trials={n} must be >= 2 to estimate a variance")
        mean = float(y.mean())
        d = y - mean
        d2 = d * d
        var = float(d2.sum() / (n - 1))
        mu4 = float((d2 * d2).mean())
        var_var = mu4 / n - var * var * (n - 3) / (n * (n - 1))
        return cls(mean=mean, variance=var, mean_se=float(np.sqrt(var / n)),
                   variance_se=float(np.sqrt(max(var_var, 0.0))), trials=int(n), seed=seed)

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
