"""Run every closed form against Monte Carlo (:mod:`roast_theory.montecarlo`) and sympy on built-in cases.

A Monte Carlo row passes when ``|z| < 5`` (``z`` from the estimate's standard error); a sympy row passes
when the symbolic derivation equals the closed form (identities: simplify to exactly 0; numeric: relative
difference below ``1e-9``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import check_int, check_seed
from ._verify_rows import CI_LEVEL, Z_LIMIT, VerificationRow, _exact_row, _mc_row, builtin_vectors  # noqa: F401
from ._verify_theorem import general_symbolic_rows, kernel_rows, theorem_rows, tile_symbolic_rows
from .moments import tile_hashing_moments, weight_mse
from .placement import kernel_slot_load, unused_fraction
from .results import _Result
from .sharing import kernel_variance, module_output_variance, sharing_variance


@dataclass(frozen=True)
class VerificationReport(_Result):
    """All rows of a verification run."""

    rows: tuple
    trials: int
    seed: int

    @property
    def all_passed(self) -> bool:
        """True when every row passed."""
        return all(r.passed for r in self.rows)

    def failures(self) -> tuple:
        """The rows that did not pass."""
        return tuple(r for r in self.rows if not r.passed)

    def to_dict(self) -> dict:
        return {"all_passed": self.all_passed, "trials": self.trials, "seed": self.seed,
                "rows": [r.to_dict() for r in self.rows]}

    def to_table(self) -> str:
        """A fixed-width text table, one line per row, and a summary line."""
        head = f"{'quantity':52s} {'formula':10s} {'method':8s} {'closed form':>14s} {'estimate':>14s} " \
               f"{'CI (99.9%)':>31s} {'z':>7s}  ok"
        lines = [head, "-" * len(head)]
        for r in self.rows:
            ci = f"[{r.ci[0]:.6g}, {r.ci[1]:.6g}]" if r.ci else "-"
            z = f"{r.z:7.2f}" if r.z is not None else "      -"
            lines.append(f"{r.quantity[:52]:52s} {r.formula:10s} {r.method:8s} {r.expected:14.6g} "
                         f"{r.estimate:14.6g} {ci:>31s} {z}  {'yes' if r.passed else 'NO'}")
        n_fail = len(self.failures())
        lines.append(f"{len(self.rows) - n_fail}/{len(self.rows)} checks passed"
                     + ("" if n_fail == 0 else f"; FAILED: {', '.join(r.quantity for r in self.failures())}"))
        return "\n".join(lines)


def _moment_rows(trials: int, seed: int) -> list[VerificationRow]:
    from .montecarlo import mc_inner_product, mc_weight_mse

    x, w = builtin_vectors()
    rows = []
    cases = [  # label, x, w, memory, tile, sign, placement
        ("element, signs", x, w, 40, 1, "element", "circular"),
        ("element, x = w", w, w, 40, 1, "element", "circular"),
        ("element, no sign", x, w, 40, 1, "none", "circular"),
        ("Z=8, per-element signs", x, w, 40, 8, "element", "circular"),
        ("Z=8, per-tile sign", x, w, 40, 8, "tile", "circular"),
        ("Z=8, no sign", x, w, 40, 8, "none", "circular"),
        ("Z=8, per-tile sign, m=11 (lags wrap)", x, w, 11, 8, "tile", "circular"),
        ("Z=8, per-element signs, kernel starts", x, w, 40, 8, "element", "kernel"),
        ("Z=8, per-tile sign, kernel starts", x, w, 40, 8, "tile", "kernel"),
    ]
    for i, (label, xv, wv, m, z, sign, placement) in enumerate(cases):
        res = tile_hashing_moments(xv, wv, m, z, sign, placement)
        est = mc_inner_product(xv, wv, memory=m, tile=z, sign=sign, placement=placement, family="ideal",
                               trials=trials, seed=seed + i)
        rows.append(_mc_row(f"mean: {label}", res.formula, res.mean, est, "mean"))
        rows.append(_mc_row(f"variance: {label}", res.formula, res.variance, est, "variance"))
    for i, (z, sign, placement) in enumerate([(1, "element", "circular"), (8, "tile", "circular"),
                                              (8, "none", "circular"), (8, "element", "kernel")]):
        res = weight_mse(w, 40, z, sign, placement)
        est = mc_weight_mse(w, memory=40, tile=z, sign=sign, placement=placement, family="ideal",
                            trials=trials, seed=seed + 100 + i)
        rows.append(_mc_row(f"E|w_hat - w|^2: Z={z}, sign={sign}, {placement}", res.formula, res.mse, est))
    return rows


def _sharing_rows(trials: int, seed: int) -> list[VerificationRow]:
    from .montecarlo import mc_kernel, mc_module_output, mc_total_inner_product

    rng = np.random.default_rng(7)
    xs = [rng.standard_normal(12) + 1.0, 2.0 * rng.standard_normal(24)]
    ws = [rng.standard_normal(12) + 0.5, 0.5 * rng.standard_normal(24)]
    counter_xs = [np.zeros(12), np.linspace(1.0, 2.0, 12)]
    counter_ws = [np.linspace(-1.0, 1.0, 12) + 0.2, np.zeros(12)]
    rows = []
    for i, (label, cx, cw) in enumerate([("two modules", xs, ws), ("x = w", xs, xs),
                                         ("w in 1, x in 2", counter_xs, counter_ws)]):
        res = sharing_variance(cx, cw, 24)
        for j, sharing in enumerate(("global", "local")):
            est = mc_total_inner_product(cx, cw, memory=24, sharing=sharing, trials=trials,
                                         seed=seed + 200 + 2 * i + j)
            expected = res.global_variance if sharing == "global" else res.local_variance
            rows.append(_mc_row(f"B3 {sharing} variance: {label}", "B3", expected, est, "variance"))
        rows.append(_exact_row(f"B3 decomposition residual: {label}", "B3", 0.0,
                               res.decomposition_residual() / max(1.0, abs(24 * res.difference())),
                               method="exact", rel=1e-9))
    scales = [0.5, 2.0]
    res = module_output_variance(xs, ws, 0, 24, scales)
    for j, sharing in enumerate(("global", "local")):
        est = mc_module_output(xs, ws, 0, memory=24, sharing=sharing, scales=scales, trials=trials,
                               seed=seed + 300 + j)
        expected = res.global_variance if sharing == "global" else res.local_variance
        rows.append(_mc_row(f"B2 {sharing} module-0 output variance", "B2", expected, est, "variance"))
    kv = kernel_variance(xs[0], ws[0], 24, 36)
    est = mc_kernel(xs[0], ws[0], memory=24, trials=trials, seed=seed + 400)
    rows.append(_mc_row("B1 hashed kernel variance (m slots)", "B1", kv.global_variance, est, "variance"))
    return rows


def _placement_rows(trials: int, seed: int) -> list[VerificationRow]:
    from .montecarlo import mc_placement_load, mc_unused_fraction

    rows = []
    load = kernel_slot_load((32, 64), (8, 16), 400)
    est = mc_placement_load((32, 64), (8, 16), 400, trials=trials, seed=seed + 500)
    # the estimate counts the weight itself: E = 1 + expected number of other weights in its slot
    rows.append(_mc_row("kernel placement: load at a weight's slot", "placement",
                        1.0 + load.collisions_per_weight, est))
    for i, (n, m, z, placement) in enumerate([(300, 300, 1, "circular"), (300, 120, 10, "kernel")]):
        uf = unused_fraction(n, m, z, placement)
        est = mc_unused_fraction(n, m, z, placement=placement, trials=trials, seed=seed + 600 + i)
        rows.append(_mc_row(f"unused fraction n={n} m={m} Z={z} {placement}", "unused", uf.fraction, est))
    return rows


def _symbolic_rows() -> list[VerificationRow]:
    from .symbolic import (
        derive_element_variance,
        derive_sharing_identity,
        derive_tile_variance,
        symbolic_moments,
    )

    rows = [
        VerificationRow("sympy: Var = Q/m (element, n=4)", "A", "sympy", 0.0, 0.0, (), None,
                        derive_element_variance(4).matches),
        VerificationRow("sympy: C1 = (Q - sum_t Q_t)/m (n=6, Z=3)", "C1", "sympy", 0.0, 0.0, (), None,
                        derive_tile_variance(6, 3).matches),
        VerificationRow("sympy: B3 identity - decomposition == 0", "B3", "sympy", 0.0, 0.0, (), None,
                        derive_sharing_identity((2, 3)).matches),
    ]
    x, w = builtin_vectors(7, seed=11)
    for sign in ("element", "tile", "none"):
        res = tile_hashing_moments(x, w, 29, 3, sign)
        mean, var = symbolic_moments(x, w, 29, 3, sign)
        rows.append(_exact_row(f"sympy variance, n=7 Z=3 sign={sign}", res.formula, res.variance, var))
        rows.append(_exact_row(f"sympy mean, n=7 Z=3 sign={sign}", res.formula, res.mean, mean))
    return rows


def verify(trials: int = 100_000, seed: int = 0) -> VerificationReport:
    """Check every closed form against Monte Carlo (``trials`` draws, ``|z| < 5``) and sympy.

    Parameters
    ----------
    trials : int
        Monte Carlo draws per check, at least 100,000.
    seed : int
        Base seed; each check uses its own offset from it.

    Returns
    -------
    VerificationReport
    """
    trials = check_int("trials", trials, low=100_000)
    seed = check_seed(seed)
    rows = _symbolic_rows() + _moment_rows(trials, seed) + _sharing_rows(trials, seed) \
        + _placement_rows(trials, seed) + kernel_rows(trials, seed) + theorem_rows(trials, seed) \
        + general_symbolic_rows() + tile_symbolic_rows()
    return VerificationReport(rows=tuple(rows), trials=trials, seed=seed)


__all__ = ["VerificationReport", "VerificationRow", "verify"]
