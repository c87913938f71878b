"""Rows of :func:`roast_theory.verify` for the global-vs-local theorem and the kernel-placement forms.

Each statement of :mod:`roast_theory.sharing_theorem` gets an exact check (sympy identity or exact
arithmetic) and a Monte Carlo check (over hashings, or over random inputs for the statements about
random inputs).
"""

from __future__ import annotations

import math

import numpy as np

from ._verify_rows import Z_LIMIT, VerificationRow, _mc_row, builtin_vectors
from .sharing import optimal_scales, sharing_variance
from .sharing_theorem import expected_random_difference, limit_global_win_probability, pair_energy


def _row(quantity, formula, method, expected, value, se=None, rel=1e-9):
    if se is None:
        ok = math.isclose(value, expected, rel_tol=rel, abs_tol=rel)
        return VerificationRow(quantity, formula, method, float(expected), float(value), (), None, ok)
    z = (value - expected) / se if se > 0 else (0.0 if value == expected else math.inf)
    ci = (float(value - 3.29 * se), float(value + 3.29 * se))
    return VerificationRow(quantity, formula, method, float(expected), float(value), ci, float(z),
                           abs(z) < Z_LIMIT)


def _margins_x_equals_w(X: np.ndarray, sizes) -> np.ndarray:
    """``m (V_L - V_G)`` for every row of ``X`` (``x = w``, ``q = p``), from pair energies."""
    n = sum(sizes)
    y = X * X
    cross = 2.0 * (y.sum(1) ** 2 - (y * y).sum(1))
    out = np.zeros(X.shape[0])
    start = 0
    for nl in sizes:
        yl = y[:, start:start + nl]
        e_l = 2.0 * (yl.sum(1) ** 2 - (yl * yl).sum(1))
        out += (n / nl - 1.0) * e_l
        cross -= e_l
        start += nl
    return out - cross


def _sympy_expectation_identity() -> bool:
    import sympy as sp

    n1, n2, n3 = sp.symbols("n1 n2 n3", positive=True)
    sizes = (n1, n2, n3)
    n = sum(sizes)
    within = sum((n / nl - 1) * 2 * nl * (nl - 1) for nl in sizes)
    cross = 2 * (n**2 - sum(nl**2 for nl in sizes))
    return sp.simplify(within - cross - (-2 * 2 * n)) == 0


def _sympy_x_equals_w_identity() -> bool:
    """``m (V_L - V_G) = 2 n sum_l n_l (ybar_l - ybar)^2 - 2 sum_l (1/p_l - 1) sum_{i in l} y_i^2``."""
    import sympy as sp

    y = sp.symbols("y0:5", positive=True)
    groups = (y[:2], y[2:])
    n = 5
    pair = lambda g: sum(4 * g[i] * g[j] for i in range(len(g)) for j in range(i + 1, len(g)))  # noqa: E731
    within = [pair(g) for g in groups]
    cross = pair(y) - sum(within)
    lhs = sum(sp.Rational(n, len(g)) * e for g, e in zip(groups, within)) - sum(within) - cross
    ybar = sum(y) / n
    rhs = 2 * n * sum(len(g) * (sum(g) / len(g) - ybar) ** 2 for g in groups) \
        - 2 * sum((sp.Rational(n, len(g)) - 1) * sum(v**2 for v in g) for g in groups)
    return sp.expand(lhs - rhs) == 0


def theorem_rows(trials: int, seed: int) -> list:
    """Exact and Monte Carlo rows for the pair-energy condition and its consequences."""
    from .montecarlo import mc_total_inner_product

    rows = []
    rng = np.random.default_rng(17)
    xs = [rng.standard_normal(12) + 1.0, 2.0 * rng.standard_normal(24)]
    ws = [rng.standard_normal(12) + 0.5, 0.5 * rng.standard_normal(24)]
    res = sharing_variance(xs, ws, 24)
    pe = pair_energy(xs, ws, [s / 24 for s in res.local_slots])
    rows.append(_row("pair energy: margin == m (V_L - V_G)", "B3-pair", "exact", 24 * res.difference(),
                     pe.margin()))
    est_g = mc_total_inner_product(xs, ws, memory=24, sharing="global", trials=trials, seed=seed + 700)
    est_l = mc_total_inner_product(xs, ws, memory=24, sharing="local", trials=trials, seed=seed + 701)
    se = 24 * math.hypot(est_g.variance_se, est_l.variance_se)
    rows.append(_row("pair energy: margin vs MC m (V_L - V_G)", "B3-pair", "MC", pe.margin(),
                     24 * (est_l.variance - est_g.variance), se))
    bad = hits = 0
    for _ in range(300):  # the sufficient condition never claims a win that the exact condition denies
        k = int(rng.integers(2, 5))
        sx = [rng.standard_normal(int(rng.integers(2, 9))) * rng.uniform(0.1, 3) for _ in range(k)]
        sw = [rng.standard_normal(x.size) * rng.uniform(0.1, 3) for x in sx]
        p = pair_energy(sx, sw)
        bad += int(p.sufficient and not p.global_wins)
        hits += int(p.sufficient)
    rows.append(_row(f"sufficient => global wins ({hits} of 300 cases)", "B3-pair", "exact", 0.0,
                     float(bad) if hits else math.nan))
    rows.append(_row("sympy: E m(V_L - V_G) = -2(k-1)n, k=3", "B3-rand", "sympy", 0.0,
                     0.0 if _sympy_expectation_identity() else 1.0))
    sizes = (20, 30, 50)
    x = np.random.default_rng(seed + 702).exponential(size=(20_000, sum(sizes))) - 1.0  # not Gaussian
    mg = _margins_x_equals_w(x, sizes)
    rows.append(_row("E m(V_L - V_G), x = w iid centred Exp(1)", "B3-rand", "MC",
                     expected_random_difference(sizes), float(mg.mean()),
                     float(mg.std() / math.sqrt(mg.size))))
    rows.append(_row("sympy: x = w difference = between-SS - fourth moments", "B3-limit", "sympy", 0.0,
                     0.0 if _sympy_x_equals_w_identity() else 1.0))
    p_lim = limit_global_win_probability(2, 3.0)
    g = np.random.default_rng(seed + 703).standard_normal((10_000, 2000))
    won = float((_margins_x_equals_w(g, (1000, 1000)) > 0).mean())
    rows.append(_row("P(global wins), x = w Gaussian, 2 x 1000 vs chi2 limit", "B3-limit", "MC", p_lim, won,
                     math.sqrt(p_lim * (1 - p_lim) / 10_000)))
    lam = optimal_scales(xs, ws)
    opt = sharing_variance(xs, ws, 24, scales=lam)
    sizes2 = np.array([12.0, 24.0])
    p2 = sizes2 / sizes2.sum()
    c = np.sqrt(np.array([(u @ u) * (v @ v) for u, v in zip(xs, ws)])) / sizes2
    rows.append(_row("optimal scales: covariance term = n^2 Var_p(sqrt(ab))", "B3-scales", "exact",
                     36.0**2 * float(p2 @ c**2 - (p2 @ c) ** 2), opt.covariance_term))
    est = mc_total_inner_product(xs, ws, memory=24, sharing="global", scales=list(lam), trials=trials,
                                 seed=seed + 704)
    rows.append(_row("optimal scales: global variance", "B3-scales", "MC", opt.global_variance,
                     float(est.variance), float(est.variance_se)))
    return rows


def kernel_rows(trials: int, seed: int) -> list:
    """Monte Carlo rows for kernel placement without signs and with aligned starts."""
    from .moments import tile_hashing_moments, weight_mse
    from .montecarlo import mc_inner_product, mc_weight_mse

    x, w = builtin_vectors()
    rows = []
    for i, (sign, align) in enumerate([("none", 1), ("none", 4), ("tile", 4), ("element", 8)]):
        res = tile_hashing_moments(x, w, 40, 8, sign, "kernel", align=align)
        est = mc_inner_product(x, w, memory=40, tile=8, sign=sign, placement="kernel", trials=trials,
                               seed=seed + 800 + i, align=align)
        label = f"Z=8, sign={sign}, kernel starts, align={align}"
        if sign == "none":
            rows.append(_mc_row(f"mean: {label}", res.formula, res.mean, est, "mean"))
        rows.append(_mc_row(f"variance: {label}", res.formula, res.variance, est, "variance"))
    for i, align in enumerate((1, 4)):
        res = weight_mse(w, 40, 8, "none", "kernel", align=align)
        est = mc_weight_mse(w, memory=40, tile=8, sign="none", placement="kernel", trials=trials,
                            seed=seed + 810 + i, align=align)
        rows.append(_mc_row(f"E|w_hat - w|^2: Z=8, no sign, kernel, align={align}", "C4-kernel", res.mse,
                            est))
    return rows + _tile_sharing_rows(trials, seed) + _layer_rows() + _layer_mc_rows(trials, seed)


def _layer_rows() -> list:
    """Layer quantities: the eigen route against the per-element-sign closed form, and the trace of the
    output covariance against the layer error of one input row (no sign, kernel placement, align 2)."""
    from . import layer_moments as lm

    rng = np.random.default_rng(41)
    x, w = rng.standard_normal((4, 12)), rng.standard_normal((12, 10)) + 0.5
    opts = lm._hashing("element", "circular", 1, (4, 5), 40)
    rows = [_row("layer E||XW_hat - XW||^2: eigen route == closed form", "layer", "exact",
                 lm.layer_output_mse(x, w, 40, (4, 5)).mse, lm._general_layer_mse(x, w, opts), rel=1e-12)]
    mse = lm.layer_output_mse(x[:1], w, 40, (4, 5), "none", "kernel", 2).mse
    cov = lm.output_covariance(x[0], w, 40, (4, 5), "none", "kernel", 2)
    bias = np.array([lm._output_moments(x[0], n, w, ("none", "kernel", 2, (4, 5), 40))[0]
                     for n in range(w.shape[1])])
    rows.append(_row("layer MSE == trace(output cov) + |bias|^2, no sign, kernel", "layer", "exact", mse,
                     float(np.trace(cov.covariance) + bias @ bias), rel=1e-12))
    return rows


def _layer_mc_rows(trials: int, seed: int) -> list:
    """``E ||X W_hat - X W||^2`` without signs, kernel placement, align 1 and 2, on a 12 x 10 layer in
    ``(4, 5)`` tiles (memory 40, batch 3): the mean squared error over ``TileMapping`` draws of the real tile
    starts (``trials // 25`` draws, at most 4000: each draw builds a whole mapping)."""
    from .layer_moments import layer_output_mse
    from .mappings import TileMapping

    rng = np.random.default_rng(43)
    x, w = rng.standard_normal((3, 12)), rng.standard_normal((12, 10)) + 0.5
    draws = max(200, min(trials // 25, 4000))
    rows = []
    for i, align in enumerate((1, 2)):
        res = layer_output_mse(x, w, 40, (4, 5), "none", "kernel", align)
        errs = np.empty(draws)
        for d in range(draws):
            mp = TileMapping((12, 10), 40, tile=(4, 5), placement="kernel", sign="none", align=align,
                             seed=(seed + 1) * 1_000_003 + 10_000 * i + d)
            errs[d] = ((x @ mp.recover(mp.sketch(w)) - x @ w) ** 2).sum()
        se = float(errs.std(ddof=1) / np.sqrt(draws))
        rows.append(_row(f"layer E||XW_hat - XW||^2: no sign, kernel, align={align}, {draws} draws",
                         "layer", "MC", float(res.mse), float(errs.mean()), se))
    return rows


def _tile_sharing_rows(trials: int, seed: int) -> list:
    """B3 under tile hashing (modules of 32 and 16 in chunks of 8, m = 40): global and local vs MC."""
    from .montecarlo import mc_total_inner_product
    from .tile_sharing import tile_sharing_variance

    x, w = builtin_vectors()
    xs, ws = [x[:32], x[32:]], [w[:32], w[32:]]
    rows = []
    for i, (sign, placement) in enumerate([("tile", "circular"), ("none", "kernel")]):
        res = tile_sharing_variance(xs, ws, 40, 8, sign, placement)
        for j, sharing in enumerate(("global", "local")):
            est = mc_total_inner_product(xs, ws, memory=40, sharing=sharing, tile=8, sign=sign,
                                         placement=placement, trials=trials, seed=seed + 820 + 2 * i + j)
            mean, var = getattr(res, f"{sharing}_mean"), getattr(res, f"{sharing}_variance")
            label = f"B3 tiles Z=8 {sharing}, sign={sign}, {placement}"
            if sign == "none":
                rows.append(_mc_row(f"mean: {label}", "B3-tiles", mean, est, "mean"))
            rows.append(_mc_row(f"variance: {label}", "B3-tiles", var, est, "variance"))
    return rows


def general_symbolic_rows() -> list:
    """Each general-``n`` derivation: a symbolic proof, and an exact-rational instance against the package."""
    from fractions import Fraction

    from .moments import element_hashing_moments, tile_hashing_moments, weight_mse
    from .sharing import kernel_variance, module_output_variance
    from .symbolic_general import NAMES, derive

    rng = np.random.default_rng(23)
    xs = [Fraction(int(v), 7) for v in rng.integers(-9, 10, 5)]
    ws = [Fraction(int(v), 5) for v in rng.integers(-9, 10, 5)]
    xf, wf = np.array(xs, dtype=float), np.array(ws, dtype=float)
    package = {"A": element_hashing_moments(xf, wf, 13).variance,
               "B3-global": element_hashing_moments(xf, wf, 13).variance,
               "A-mean-nosign": element_hashing_moments(xf, wf, 13, sign="none").mean,
               "weight-mse": weight_mse(wf, 13).mse,
               "B1": kernel_variance(xf, wf, 13, 5).global_variance}
    xt = [xs[:2], xs[2:4], [xs[4], Fraction(1, 3)]]  # C1: 3 tiles of 2
    wt = [ws[:2], ws[2:4], [ws[4], Fraction(-2, 9)]]
    flat = lambda t: np.array([float(v) for row in t for v in row])  # noqa: E731
    package["C1"] = tile_hashing_moments(flat(xt), flat(wt), 13, 2).variance
    lam = Fraction(3, 2)  # B2: module 0 = the first 3 elements, scale 3/2, 8 of the 13 slots locally
    b2 = module_output_variance([xf[:3], xf[3:]], [wf[:3], wf[3:]], 0, 13, scales=[float(lam), 1.0],
                                local_slots=(8, 5))
    package["B2-global"], package["B2-local"] = b2.global_variance, b2.local_variance
    b3 = sharing_variance([xf[:3], xf[3:]], [wf[:3], wf[3:]], 13, local_slots=(8, 5))
    package["B3-local"], package["B3-identity"] = b3.local_variance, 13 * b3.difference()
    us = [v / lam for v in ws[:3]] + ws[3:]
    rows = []
    for name in NAMES:
        d = derive(name)
        label = name if len(name) <= 10 else name.split("-")[0]
        rows.append(VerificationRow(f"sympy general n: {name} == closed form", label, "sympy", 0.0, 0.0, (),
                                    None, d.matches))
        values = {"x": xt, "w": wt} if name == "C1" else {"x": xs, "w": ws, "x2": ws, "u": us}
        module = (3, 8, lam) if name.startswith("B2") else (3, 8, 1) if name in ("B3-local", "B3-identity") \
            else None
        rows.append(_row(f"exact rational n=5 m=13: {name}", label, "exact", package[name],
                         float(d.evaluate(values, 5, 13, module=module)), rel=1e-12))
    return rows


def tile_symbolic_rows() -> list:
    """C2/C3 (circular and kernel placement): the indicator-expectation derivation equals the closed form
    exactly on an exact-rational instance, and the package's float value agrees with it."""
    from fractions import Fraction

    from .moments import tile_hashing_moments, weight_mse
    from .symbolic_tiles import TILE_NAMES, derive_tiles

    rng = np.random.default_rng(31)
    x = [[Fraction(int(v), 7) for v in rng.integers(-9, 10, 3)] for _ in range(3)]
    w = [[Fraction(int(v), 5) for v in rng.integers(-9, 10, 3)] for _ in range(3)]
    xf, wf = np.array(x, dtype=float).ravel(), np.array(w, dtype=float).ravel()
    cases = {"circular": [(7, 1)], "kernel": [(9, 2), (5, 1)]}  # (memory, align); m=5: clipped laws
    rows = []
    for name in TILE_NAMES:
        d = derive_tiles(name)
        sign = "element" if name.startswith("C1") else "none" if name.startswith("C3") or \
            name.endswith("nosign") else "tile"
        for memory, align in cases[d.placement]:
            derived, closed = d.evaluate(x, w, memory, align)
            label, formula = f"{name} m={memory} A={align}", name.replace("-mean", "").replace("-nosign", "")
            rows.append(VerificationRow(f"derived == closed (exact), {label}", formula, "exact",
                                        float(closed), float(derived), (), None, derived == closed))
            if name.startswith("C4"):
                value = weight_mse(wf, memory, 3, sign, d.placement, align=align).mse
            else:
                res = tile_hashing_moments(xf, wf, memory, 3, sign, d.placement, align=align)
                value = res.mean if name.endswith("mean") else res.variance
            rows.append(_row(f"float == exact rational, {label}", formula, "exact", float(closed), value,
                             rel=1e-12))
    return rows
