"""Rows of :func:`roast_theory.verify`: the row type, the row makers and the built-in vectors."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .results import _Result

Z_LIMIT = 5.0
CI_LEVEL = 0.999


@dataclass(frozen=True)
class VerificationRow(_Result):
    """One check: closed form ``expected`` of ``quantity`` against ``estimate`` from ``method``."""

    quantity: str
    formula: str
    method: str
    expected: float
    estimate: float
    ci: tuple
    z: float | None
    passed: bool


# ------------------------------------------------------------------------------------------ row makers
def _mc_row(quantity: str, formula: str, expected: float, est, of: str = "mean") -> VerificationRow:
    if of == "mean":
        value, se = float(est.mean), float(est.mean_se)
        ci = tuple(float(v) for v in est.confidence_interval(CI_LEVEL))
    else:
        value, se = float(est.variance), float(est.variance_se)
        ci = tuple(float(v) for v in est.variance_confidence_interval(CI_LEVEL))
    if se > 0:
        z = float(est.z_score(expected, of=of))
        passed = abs(z) < Z_LIMIT
    else:  # a degenerate estimate (e.g. a zero variance): it must be exact
        z = 0.0 if math.isclose(value, expected, rel_tol=1e-12, abs_tol=1e-12) else math.inf
        passed = z == 0.0
    return VerificationRow(quantity, formula, "MC", float(expected), value, ci, z, passed)


def _exact_row(quantity: str, formula: str, expected: float, value: float, method: str = "sympy",
               rel: float = 1e-9) -> VerificationRow:
    ok = math.isclose(value, expected, rel_tol=rel, abs_tol=rel)
    return VerificationRow(quantity, formula, method, float(expected), float(value), (), None, ok)


# ---------------------------------------------------------------------------------------- built-in cases
def builtin_vectors(n: int = 48, seed: int = 2024) -> tuple[np.ndarray, np.ndarray]:
    """Smooth ``w`` and a random ``x`` (fixed): the cases every check uses."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, n)
    x = rng.standard_normal(n) + 0.5
    w = np.sin(2.5 * t) + 0.4
    return x, w
