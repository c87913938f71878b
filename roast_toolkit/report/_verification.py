"""Section 1: every closed form against Monte Carlo and sympy (:func:`roast_theory.verify`)."""

from __future__ import annotations

import math

from ._doc import Context, Para, SectionResult, Table, fmt
from ._figures import new_figure

KEY = "verification"
TITLE = "Theorem verification: closed forms vs Monte Carlo and sympy"


def verification_section(ctx: Context) -> SectionResult:
    """Run :func:`roast_theory.verify` and tabulate every row, with a figure of the z-scores.

    Parameters
    ----------
    ctx : Context
        ``ctx.seed`` is the base seed; the Monte Carlo uses 100,000 draws per check (the minimum of
        :func:`roast_theory.verify`, also in ``--quick``).

    Returns
    -------
    SectionResult
        ``failed`` when any row does not pass.
    """
    from roast_theory.verify import CI_LEVEL, Z_LIMIT, verify

    sec = SectionResult(KEY, TITLE)
    trials = 100_000
    with ctx.progress.bar(1, "verify: closed forms vs MC + sympy") as bar:
        rep = verify(trials=trials, seed=ctx.seed)
        bar.update(1)
    rows = [r.to_dict() for r in rep.rows]
    for d in rows:
        d["ci"] = list(d["ci"]) if d["ci"] else None
    n_pass = sum(r.passed for r in rep.rows)
    max_z = max((abs(r.z) for r in rep.rows if r.z is not None), default=0.0)
    sec.data = {"trials": trials, "seed": ctx.seed, "z_limit": Z_LIMIT, "ci_level": CI_LEVEL,
                "n_rows": len(rows), "n_passed": n_pass, "all_passed": rep.all_passed,
                "max_abs_z": max_z, "rows": rows}
    sec.blocks.append(Para(
        f"**{n_pass} of {len(rows)} checks pass.** Monte Carlo rows: {trials:,} draws each (ideal hash "
        f"family, seed {ctx.seed}), pass when |z| < {Z_LIMIT:g}, interval at {CI_LEVEL:.1%}; sympy rows: "
        "the symbolic derivation equals the closed form (identities simplify to 0, numeric values agree "
        "to 1e-9)."))
    sec.blocks.append(Table(
        ("quantity", "formula", "method", "closed form", "estimate", f"CI ({CI_LEVEL:.1%})", "z", "pass"),
        tuple((r.quantity, r.formula, r.method, fmt(r.expected, ".6g"), fmt(r.estimate, ".6g"),
               f"[{fmt(r.ci[0], '.6g')}, {fmt(r.ci[1], '.6g')}]" if r.ci else "-", fmt(r.z, ".2f"),
               "yes" if r.passed else "NO") for r in rep.rows)))
    sec.summary = f"{n_pass}/{len(rows)} checks pass (max |z| = {max_z:.2f}, limit {Z_LIMIT:g})"
    mc = [r for r in rep.rows if r.z is not None and math.isfinite(r.z)]
    fig, ax = new_figure(8.0, 0.22 * len(mc) + 1.2)
    ys = range(len(mc))
    ax.barh(list(ys), [r.z for r in mc], color=["#2a7ab9" if r.passed else "#c0392b" for r in mc])
    for lim in (-Z_LIMIT, Z_LIMIT):
        ax.axvline(lim, color="#c0392b", ls="--", lw=1)
    ax.axvline(0, color="k", lw=0.6)
    ax.set_yticks(list(ys), [r.quantity for r in mc], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("z = (estimate - closed form) / standard error")
    ax.set_title(f"Monte Carlo checks ({trials:,} draws each); dashed: |z| = {Z_LIMIT:g}")
    sec.blocks.append(ctx.save(fig, "verification_z.png", "z-score of every Monte Carlo check", sec))
    if not rep.all_passed:
        sec.status = "failed"
        sec.message = "verification rows failed: " + ", ".join(r.quantity for r in rep.failures())
    return sec


__all__ = ["verification_section"]
