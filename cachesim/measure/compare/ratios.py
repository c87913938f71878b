"""Measured speed-ups from the GPU timing records (no model): headline ratios and the authors' harness."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..records import load_records

__all__ = ["AuthorsRow", "HeadlineRow", "authors_rows", "headline_rows"]


@dataclass(frozen=True)
class AuthorsRow:
    """Time ratios (pass 0, pass 1) at the authors' shape; HashedNet over ROAST unless named otherwise.

    Fused ROAST is the faster of ``triton_roast`` and ``triton_roast_vec`` (same hash); NaN where the
    implementation was not timed (fp32 fused ROAST, whose exact-fp32 Triton dot is 10x slow).
    """

    precision: str
    m_slots: int
    fused_fwd: tuple
    fused_train: tuple
    gather_fwd: tuple
    gather_train: tuple
    best_fwd: tuple
    best_train: tuple
    roast_over_cublas_fwd: tuple


def authors_rows(directory: str | Path = "measurements/gpu") -> list[AuthorsRow]:
    """Ratios from the ``gpu-timing-authors`` record (the authors' timing method)."""
    nan = float("nan")
    t = {}
    for rec in load_records(directory, "gpu-timing-authors"):
        for c in rec.cases:
            if c.get("type") == "time":
                t[(c["precision"], c["m_slots"] if c["impl"] != "cublas_dense" else 0, c["impl"],
                   c.get("pass", 0))] = c

    def get(prec, m, impl, ps, field):
        c = t.get((prec, 0 if impl == "cublas_dense" else m, impl, ps))
        return nan if c is None else c[field]

    rows = []
    for prec, m in sorted({(k[0], k[1]) for k in t if k[1]}):
        out = {k: [] for k in ("ff", "ft", "gf", "gt", "bf", "bt", "rc")}
        for ps in (0, 1):
            impls = ("triton_roast", "triton_roast_vec", "triton_hashednet", "gather_roast",
                     "gather_hashednet", "cublas_dense")
            g = {f: {i: get(prec, m, i, ps, f) for i in impls} for f in ("fwd_ms", "train_ms")}

            def fused(f, g=g):
                return min(g[f]["triton_roast"], g[f]["triton_roast_vec"])

            def best(f, name, g=g):
                return min(v for k, v in g[f].items() if name in k and v == v)

            out["ff"].append(g["fwd_ms"]["triton_hashednet"] / fused("fwd_ms"))
            out["ft"].append(g["train_ms"]["triton_hashednet"] / fused("train_ms"))
            out["gf"].append(g["fwd_ms"]["gather_hashednet"] / g["fwd_ms"]["gather_roast"])
            out["gt"].append(g["train_ms"]["gather_hashednet"] / g["train_ms"]["gather_roast"])
            out["bf"].append(best("fwd_ms", "hashednet") / best("fwd_ms", "roast"))
            out["bt"].append(best("train_ms", "hashednet") / best("train_ms", "roast"))
            out["rc"].append(fused("fwd_ms") / g["fwd_ms"]["cublas_dense"])
        rows.append(AuthorsRow(prec, m, *(tuple(out[k]) for k in ("ff", "ft", "gf", "gt", "bf", "bt", "rc"))))
    return rows


@dataclass(frozen=True)
class HeadlineRow:
    """Measured time ratios of one (precision, shape, m, tile) case (``a_over_b`` = time(a) / time(b))."""

    precision: str
    shape: str
    m_slots: int
    tile: str
    hashednet_over_roast_fwd: float
    hashednet_over_roast_train: float
    roast_over_cublas_fwd: float
    roast_over_triton_dense_fwd: float
    aligned_over_cublas_fwd: float
    gather_roast_over_cublas_fwd: float


def headline_rows(directory: str | Path = "measurements/gpu") -> list[HeadlineRow]:
    """ROAST vs HashedNet (fused) and ROAST vs cuBLAS from the timing records (one row per case)."""
    nan = float("nan")
    cases = [c for rec in load_records(directory, "gpu-timing") for c in rec.cases if c.get("type") == "time"]
    by = {}
    for c in cases:
        by[(c["impl"], c["precision"], c["M"], c["K"], c["N"], c["m_slots"], c["block_m"], c["block_n"],
            c["block_k"])] = c
    cublas = {(c["precision"], c["M"], c["K"], c["N"]): c for c in cases if c["impl"] == "cublas_dense"}
    dense = {(c["precision"], c["M"], c["K"], c["N"], c["block_m"], c["block_n"], c["block_k"]): c
             for c in cases if c["impl"] == "triton_dense"}
    gather = {(c["precision"], c["M"], c["K"], c["N"], c["m_slots"]): c for c in cases
              if c["impl"] == "gather_roast"}
    rows = []
    for key, r in sorted(by.items(), key=lambda kv: str(kv[0])):
        if key[0] != "triton_roast":
            continue
        rest = key[1:]
        hn = by.get(("triton_hashednet", *rest))
        al = by.get(("triton_roast_aligned", *rest))
        cb = cublas.get(rest[:4])
        dn = dense.get((*rest[:4], *rest[5:]))
        ga = gather.get(rest[:5])
        if hn is None or cb is None:
            continue
        rows.append(HeadlineRow(
            rest[0], f"{rest[1]}x{rest[2]}x{rest[3]}", rest[4], f"{rest[5]}x{rest[6]}x{rest[7]}",
            hn["fwd_ms"] / r["fwd_ms"], hn["train_ms"] / r["train_ms"], r["fwd_ms"] / cb["fwd_ms"],
            r["fwd_ms"] / dn["fwd_ms"] if dn else nan, al["fwd_ms"] / cb["fwd_ms"] if al else nan,
            ga["fwd_ms"] / cb["fwd_ms"] if ga else nan))
    return rows

