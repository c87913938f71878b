"""Section 2: theory figures from the closed forms (no sampling): global vs local sharing, tile size."""

from __future__ import annotations

import numpy as np

from ._doc import Context, Para, SectionResult, Table, fmt
from ._figures import new_figure

KEY = "theory"
TITLE = "Theory: global vs local sharing, variance vs tile size"

#: Three modules of a toy network: sizes, input scale, weight scale (deliberately unequal energies).
MODULES = ((4096, 1.0, 0.2), (1024, 3.0, 1.0), (2048, 0.5, 2.0))
COMPRESSIONS = (2, 3, 5, 10, 20, 30, 50, 100, 200, 300)
SIGNS = ("element", "tile", "none")


def builtin_modules(seed: int = 3):
    """The fixed ``xs, ws`` of :data:`MODULES` (inputs with a mean of 0.3, zero-mean weights)."""
    rng = np.random.default_rng(seed)
    xs = [sx * rng.standard_normal(n) + 0.3 for n, sx, _ in MODULES]
    ws = [sw * rng.standard_normal(n) for n, _, sw in MODULES]
    return xs, ws


def _sharing(ctx: Context, sec: SectionResult) -> None:
    from roast_theory.sharing import optimal_allocation, sharing_variance

    xs, ws = builtin_modules()
    n = sum(x.size for x in xs)
    rows = []
    for c in COMPRESSIONS:
        m = n // c
        r = sharing_variance(xs, ws, m)
        a = optimal_allocation(xs, ws, m)
        rows.append({"compression": c, "memory": m, "global_variance": r.global_variance,
                     "local_variance": r.local_variance, "local_over_global": r.local_variance
                     / r.global_variance, "allocated_local_variance": a.variance,
                     "covariance_term": r.covariance_term, "alignment_term": r.alignment_term,
                     "diagonal_term": r.diagonal_term, "decomposition_residual": r.decomposition_residual()})
    # the same two-module sweep over relative energy: where global wins and where local wins
    rng = np.random.default_rng(5)
    base_x, base_w = rng.standard_normal(2048), rng.standard_normal(2048)
    other_x, other_w = rng.standard_normal(2048), rng.standard_normal(2048)
    scales = np.geomspace(0.05, 20.0, 25)
    sweep = []
    for s in scales:
        r = sharing_variance([base_x, s * other_x], [base_w, s * other_w], 512)
        sweep.append({"energy_scale": float(s), "local_over_global": r.local_variance / r.global_variance})
    sec.data["sharing"] = {"modules": [{"size": n_, "x_scale": a, "w_scale": b} for n_, a, b in MODULES],
                           "by_compression": rows, "energy_sweep": {"memory": 512, "module_size": 2048,
                                                                    "points": sweep}}
    c_ = [r["compression"] for r in rows]
    fig, (ax1, ax2) = new_figure(11.0, 4.0, ncols=2)
    ax1.loglog(c_, [r["global_variance"] for r in rows], "o-", label="global (ROAST: one shared array)")
    ax1.loglog(c_, [r["local_variance"] for r in rows], "s-", label="local, slots by size (HashedNet)")
    ax1.loglog(c_, [r["allocated_local_variance"] for r in rows], "^--",
               label="local, variance-optimal whole slots")
    ax1.set_xlabel("compression n / m")
    ax1.set_ylabel("Var of the total inner product")
    ax1.set_title(f"B3 on a 3-module toy model (n = {n})")
    ax1.legend(fontsize=8)
    ax2.semilogx(scales, [p["local_over_global"] for p in sweep], "o-")
    ax2.axhline(1.0, color="k", lw=0.8, ls="--")
    ax2.set_xlabel("energy scale of module 2 relative to module 1")
    ax2.set_ylabel("V_local / V_global  (> 1: global wins)")
    ax2.set_title("two equal-size modules, m = 512")
    sec.blocks.append(Para(
        "Global sharing (one array for every module, as in ROAST) against local sharing (one array per "
        "module, whole slots proportional to its size) from the B3 closed form; the difference is "
        "covariance + alignment + diagonal terms (`roast_theory.sharing_variance`). Both variances scale "
        "as 1/m, so their ratio barely depends on the compression (only through the rounding of whole "
        "slots); it depends on how unequal the modules' energies are "
        "(ratio > 1: global sharing has the lower variance). In this toy model local sharing wins at equal "
        "size-proportional budgets, and the exact variance-optimal integer allocation (slots near "
        "sqrt(Q_l), `optimal_allocation`) is better still; with two modules "
        "of equal size the ratio is 1 at equal energy and approaches 2 as one module dominates."))
    sec.blocks.append(Table(
        ("compression", "m", "V global", "V local", "V local / V global", "V local (optimal slots)"),
        tuple((fmt(r["compression"]), fmt(r["memory"]), fmt(r["global_variance"]), fmt(r["local_variance"]),
               fmt(r["local_over_global"], ".3f"), fmt(r["allocated_local_variance"])) for r in rows)))
    sec.blocks.append(ctx.save(fig, "theory_sharing.png",
                               "global vs local variance vs compression (left); their ratio vs the energy "
                               "imbalance of two modules (right)", sec))


def _tiles(ctx: Context, sec: SectionResult) -> None:
    from roast_theory.moments import block_tile_moments, tile_hashing_moments
    from roast_theory.verify import builtin_vectors

    x, w = builtin_vectors(n=1024)
    memory = 256
    zs = (1, 2, 4, 8, 16, 32, 64, 128)
    one_d = {s: [tile_hashing_moments(x, w, memory, z, s).variance for z in zs] for s in SIGNS}
    rng = np.random.default_rng(9)
    k, n_cols, m2 = 256, 64, 2048
    a = rng.standard_normal(k) + 0.5
    wmat = np.sin(np.linspace(0, 6, k))[:, None] * np.cos(np.linspace(0, 3, n_cols))[None, :] + 0.3
    xmat = np.zeros((k, n_cols))
    xmat[:, 0] = a  # one output of y = a W
    blocks = (1, 2, 4, 8, 16, 32)
    two_d = {s: [block_tile_moments(xmat, wmat, m2, (b, b), s).variance for b in blocks] for s in SIGNS}
    sec.data["tile_size"] = {
        "one_d": {"n": int(x.size), "memory": memory, "tile": list(zs),
                  "variance": {s: v for s, v in one_d.items()}},
        "blocks": {"shape": [k, n_cols], "memory": m2, "block": [[b, b] for b in blocks],
                   "variance": {s: v for s, v in two_d.items()}}}
    fig, (ax1, ax2) = new_figure(11.0, 4.0, ncols=2)
    for s, mark in zip(SIGNS, "os^"):
        ax1.loglog(zs, one_d[s], mark + "-", label=f"sign={s}")
        ax2.loglog([b * b for b in blocks], two_d[s], mark + "-", label=f"sign={s}")
    ax1.set_xlabel("chunk size Z")
    ax1.set_title(f"1-D chunks, n = {x.size}, m = {memory} (C1-C3)")
    ax2.set_xlabel("tile size Z = BK x BN (square blocks)")
    ax2.set_title(f"ROAST-MM blocks, W {k}x{n_cols}, one output of y = aW, m = {m2}")
    for ax in (ax1, ax2):
        ax.set_ylabel("Var <w_hat, x>")
        ax.legend(fontsize=8)
    sec.blocks.append(Para(
        "Variance of the hashed inner product against the tile size for the three sign conventions: "
        "per-element signs (C1: the variance falls slightly with Z, pairs inside a tile never collide), "
        "one sign per tile (C2) and no sign (C3), where whole tiles collide coherently and the variance "
        "grows with Z."))
    sec.blocks.append(Table(
        ("Z", *(f"Var, sign={s}" for s in SIGNS)),
        tuple((fmt(z), *(fmt(one_d[s][i]) for s in SIGNS)) for i, z in enumerate(zs))))
    sec.blocks.append(ctx.save(fig, "theory_tile_size.png",
                               "variance vs tile size, 1-D chunks (left) and 2-D blocks (right)", sec))


def theory_section(ctx: Context) -> SectionResult:
    """Closed-form figures: B3 global vs local sharing and variance vs tile size per sign convention.

    Parameters
    ----------
    ctx : Context

    Returns
    -------
    SectionResult
        Fails when the B3 decomposition does not close (relative residual above 1e-9).
    """
    sec = SectionResult(KEY, TITLE)
    with ctx.progress.bar(2, "theory figures") as bar:
        _sharing(ctx, sec)
        bar.update(1)
        _tiles(ctx, sec)
        bar.update(1)
    worst = max(abs(r["decomposition_residual"]) / max(1.0, r["memory"] * abs(r["local_variance"]
                                                                             - r["global_variance"]))
                for r in sec.data["sharing"]["by_compression"])
    sec.data["sharing"]["max_relative_residual"] = worst
    ratios = [r["local_over_global"] for r in sec.data["sharing"]["by_compression"]]
    v = sec.data["tile_size"]["one_d"]["variance"]
    sec.summary = (f"toy model: V_local / V_global = {min(ratios):.3f}-{max(ratios):.3f} by compression; "
                   f"1-D Var at Z=1 -> Z=128: element {v['element'][0]:.4g} -> {v['element'][-1]:.4g}, "
                   f"tile {v['tile'][0]:.4g} -> {v['tile'][-1]:.4g}")
    if worst > 1e-9:
        sec.status = "failed"
        sec.message = f"B3 decomposition does not close: relative residual {worst:.3g}"
    return sec


__all__ = ["builtin_modules", "theory_section"]
