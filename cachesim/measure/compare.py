"""Model vs measurement for the GPU records: sector counts against Nsight Compute, time ratios vs timings.

The model is :mod:`cachesim.kernels` (trace simulation through per-SM L1 and the shared L2 for shapes up to
``SIMULATE_MAX_FLOP``, the analytic model above), run with the *same* parameters as the measured kernel
(shape, block, ``GROUP_M``, warps, stages, dtype, shared-array size, hash family and seed). Predictions
are expensive (minutes for the large shapes), so :func:`write_predictions` stores them once as a record of
kind ``model-prediction`` next to the measurements; :func:`comparison_rows` pairs them with the measured
records and :func:`comparison_markdown` renders ``measurements/gpu/COMPARISON.md``.

Targets: sector counts within :data:`SECTOR_TOLERANCE` (10 %) of ncu, predicted time ratios
HashedNet/ROAST and ROAST/dense within :data:`RATIO_TOLERANCE` (25 %) of the measured ratios. A row that
misses its target must match a rule of :data:`KNOWN_MISSES`, which states the measured gap (as bounds the
rows must satisfy) and its cause. The model is never tuned per case.
"""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..errors import CacheSimError
from .records import load_records, write_record

__all__ = [
    "KNOWN_MISSES",
    "RATIO_TOLERANCE",
    "SECTOR_TOLERANCE",
    "ComparisonRow",
    "KnownMiss",
    "comparison_markdown",
    "comparison_rows",
    "authors_rows",
    "headline_rows",
    "model_prediction",
    "write_predictions",
]

SECTOR_TOLERANCE = 0.10
RATIO_TOLERANCE = 0.25
#: Shapes with at most this many multiply-adds are simulated; larger ones use the analytic model.
SIMULATE_MAX_FLOP = 1e10
#: Seed offsets the measuring harness used (``GemmCase.seed + offset``; the records' seed is 0).
_SEED = {"dense": 0, "roast": 1, "hashednet": 2}

#: (ncu metric, model field) pairs compared as sector counts.
SECTOR_METRICS = (
    ("l1tex__t_requests_pipe_lsu_mem_global_op_ld.sum", "load_instructions"),
    ("l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum", "l1_sector_requests"),
    ("lts__t_sectors_srcunit_tex_op_read.sum", "l2_sector_requests"),
)


@dataclass(frozen=True)
class KnownMiss:
    """A documented gap between model and measurement, for a class of rows (never a single case).

    A row matches when every ``match`` item equals the row's field; its ``measured / predicted`` must then
    lie in ``[gap_low, gap_high]`` (the recorded gap), otherwise the table is out of date.
    """

    name: str
    match: tuple
    gap_low: float
    gap_high: float
    cause: str

    def matches(self, row: ComparisonRow) -> bool:
        return all(getattr(row, k) == v for k, v in self.match)


KNOWN_MISSES = (
    KnownMiss(
        "fp32-dense-loads-doubled",
        (("precision", "tf32"), ("method", "dense"), ("kpass", "fwd")),
        1.9, 2.1,
        "fp32 operands, dense kernel: ncu counts exactly twice the model's ld requests and sectors, and "
        "also non-zero cp.async (ldgsts) sectors; Triton 3.6 issues the dense fp32 tiles through both "
        "paths (cause inside the compiler not established). ROAST/HashedNet fp32 tiles match exactly.",
    ),
    KnownMiss(
        "l2-reads-l1-reuse",
        (("quantity", "lts__t_sectors_srcunit_tex_op_read.sum"),),
        0.5, 3.0,
        "L2 read sectors depend on L1 hits between programs resident on one SM and on the L1/shared "
        "carve-out the driver picks; the model assumes no L1 reuse of strided operands and an independent-"
        "reference L1 for the shared array (HashedNet: measured > predicted when the shared array is small, "
        "< when it exceeds L1; dense: measured < predicted, strided tiles do hit in L1).",
    ),
    KnownMiss(
        "hashednet-roast-ratio-issue-bound",
        (("quantity", "time ratio"), ("method", "hashednet/roast")),
        1.2, 3.5,
        "measured HashedNet/ROAST is larger than predicted: the roofline model charges 32 B per sector at "
        "the L1 / L2 rates, but the HashedNet kernel is also bound by per-element address arithmetic "
        "(int64 multiply and two modulo per weight element) and one 2-byte load instruction per element, "
        "which the model does not charge.",
    ),
    KnownMiss(
        "roast-dense-ratio-unaligned-loads",
        (("quantity", "time ratio"), ("method", "roast/dense")),
        0.5, 5.0,
        "bf16: the ROAST tile start is not 16-byte aligned, so Triton emits 2-byte scalar loads (3.3x the "
        "load instructions of dense, ncu) and the kernel is bound by load issue, not by sector traffic "
        "(the diagnostic aligned-start kernel runs 1.6-2.3x faster with the same sectors); the model "
        "predicts ROAST ~ dense from traffic. tf32: the dense Triton kernel itself runs slow (see the "
        "fp32-dense-loads-doubled miss), so measured ROAST/dense is below the prediction.",
    ),
)


@dataclass(frozen=True)
class ComparisonRow:
    """One model-vs-measurement pair."""

    quantity: str
    case: str
    precision: str
    method: str
    kpass: str
    measured: float
    predicted: float
    tolerance: float
    model: str

    @property
    def ratio(self) -> float:
        """``measured / predicted``."""
        return self.measured / self.predicted if self.predicted else float("inf")

    @property
    def within(self) -> bool:
        return abs(self.ratio - 1.0) <= self.tolerance

    @property
    def known_miss(self) -> KnownMiss | None:
        for km in KNOWN_MISSES:
            if km.matches(self):
                return km
        return None


# ------------------------------------------------------------------------------------------------ model
def _model_key(c: dict) -> tuple:
    return (c["method"], c.get("kpass", "fwd"), c["M"], c["K"], c["N"], c.get("m_slots"), c["precision"],
            c["block_m"], c["block_n"], c["block_k"], c.get("group_m", 8), c.get("num_warps", 4),
            c.get("num_stages", 3))


def model_prediction(case: dict) -> dict:
    """Model traffic and predicted time for one measured case (same parameters as the kernel).

    ``case`` holds ``method`` (dense / roast / hashednet), ``kpass`` (fwd / db), ``M, K, N, m_slots``,
    ``precision`` (bf16 / tf32 / fp32) and the tile fields of a measurement record.
    """
    from ..kernels.analytic import analytic_gemm
    from ..kernels.cost import n_waves, predict_gpu
    from ..kernels.gemm_gpu import plan_gemm
    from ..kernels.gpu_sim import simulate_gemm_gpu
    from ..kernels.targets import get_target

    method, kpass = case["method"], case.get("kpass", "fwd")
    if method not in _SEED or kpass not in ("fwd", "db"):
        raise CacheSimError(f"method={method!r}, kpass={kpass!r}: the model covers dense / roast / "
                            "hashednet, forward and weight-gradient kernels")
    dtype = "bf16" if case["precision"] == "bf16" else "fp32"
    plan = plan_gemm(method, f"{case['M']}x{case['K']}x{case['N']}",
                     block=f"{case['block_m']}x{case['block_n']}x{case['block_k']}", backward=kpass == "db",
                     group_m=case.get("group_m", 8), num_warps=case.get("num_warps", 4),
                     num_stages=case.get("num_stages", 3), dtype=dtype,
                     memory=None if method == "dense" else case["m_slots"],
                     seed=case.get("seed", 0) + _SEED[method])
    t = get_target("h200")
    flop = case["M"] * case["K"] * case["N"]
    model = "simulation" if flop <= SIMULATE_MAX_FLOP else "analytic"
    traffic = simulate_gemm_gpu(plan, target=t) if model == "simulation" else analytic_gemm(plan, target=t)
    cost = predict_gpu(traffic, t, dtype=dtype, tf32=case["precision"] != "fp32",
                       n_waves=n_waves(plan.n_programs, t.num_sms))
    out = {"model": model, "predicted_time_s": float(cost.predicted_time_s), "dominant": cost.dominant}
    for field in ("load_instructions", "l1_sector_requests", "l2_sector_requests", "write_sector_requests",
                  "dram_bytes"):
        out[field] = float(getattr(traffic, field, float("nan")))
    return out


def _predict_one(case):
    return _model_key(case), case, model_prediction(case)


def write_predictions(directory: str | Path = "measurements/gpu", *, workers: int = 2,
                      out_name: str = "model_predictions.json"):
    """Run the model for every distinct ncu case of the records in ``directory`` and store a record."""
    cases = {}
    for rec in load_records(directory, "gpu-ncu"):
        for c in rec.cases:
            if c.get("type") == "ncu" and c["method"] in _SEED and c["kpass"] in ("fwd", "db"):
                cases.setdefault(_model_key(c), c)
    todo = sorted(cases.values(), key=lambda c: c["M"] * c["K"] * c["N"])
    rows = []
    with ProcessPoolExecutor(max_workers=workers) as ex:
        for key, _case, pred in ex.map(_predict_one, todo):
            rows.append({"key": list(key), **pred})
    return write_record(Path(directory) / out_name, "model-prediction", rows,
                        notes="cachesim.kernels predictions (not measurements) for the ncu cases, written by "
                              "cachesim.measure.compare.write_predictions.")


def _predictions(directory) -> dict:
    recs = load_records(directory, "model-prediction")
    if not recs:
        raise CacheSimError(f"no model-prediction record under {directory}: run "
                            "`cachesim measure compare --write-predictions`")
    return {tuple(r["key"]): r for rec in recs for r in rec.cases}


# ------------------------------------------------------------------------------------------------- rows
def _label(c: dict) -> str:
    m = "" if c["method"] == "dense" else f" m={c['m_slots']}"
    return (f"{c['M']}x{c['K']}x{c['N']}{m} {c['block_m']}x{c['block_n']}x{c['block_k']}"
            f"-w{c['num_warps']}-s{c['num_stages']}")


def _timing_index(directory) -> dict:
    idx = {}
    for rec in load_records(directory, "gpu-timing"):
        for c in rec.cases:
            if c.get("type") == "time":
                idx[(c["impl"], c["M"], c["K"], c["N"], c["m_slots"], c["precision"], c["block_m"],
                     c["block_n"], c["block_k"])] = c
    return idx


def comparison_rows(directory: str | Path = "measurements/gpu") -> list[ComparisonRow]:
    """Every model-vs-measurement pair available in ``directory``."""
    preds = _predictions(directory)
    rows = []
    ncu_cases = [c for rec in load_records(directory, "gpu-ncu") for c in rec.cases if c.get("type") == "ncu"]
    for c in ncu_cases:
        p = preds.get(_model_key(c))
        if p is None:
            continue
        for metric, field in SECTOR_METRICS:
            if c["kpass"] == "db" and field == "l2_sector_requests":
                continue  # the model's L2 requests include the atomics; ncu's read counter does not
            v = c["metrics"].get(metric, {}).get("value")
            if isinstance(v, (int, float)):
                rows.append(ComparisonRow(metric, _label(c), c["precision"], c["method"], c["kpass"],
                                          float(v), p[field], SECTOR_TOLERANCE, p["model"]))
    timing = _timing_index(directory)
    by_case = {}
    for c in ncu_cases:
        if c["kpass"] == "fwd" and _model_key(c) in preds:
            by_case[(c["method"], c["M"], c["K"], c["N"], c["m_slots"], c["precision"], c["block_m"],
                     c["block_n"], c["block_k"])] = (c, preds[_model_key(c)])
    for key, (c, p) in sorted(by_case.items(), key=lambda kv: str(kv[0])):
        if key[0] != "hashednet":
            continue
        rest = key[1:]
        for num, den in (("hashednet", "roast"), ("roast", "dense")):
            kn, kd = (num, *rest), (den, *rest)
            if den == "dense":
                kd = next((k for k in by_case
                           if k[0] == "dense" and k[1:4] == rest[:3] and k[5:] == rest[4:]), None)
            if kn not in by_case or kd not in by_case:
                continue
            tn = timing.get((f"triton_{num}", *rest))
            td = timing.get((f"triton_{den}", *kd[1:]))
            if tn is None or td is None:
                continue
            measured = tn["fwd_ms"] / td["fwd_ms"]
            predicted = by_case[kn][1]["predicted_time_s"] / by_case[kd][1]["predicted_time_s"]
            rows.append(ComparisonRow("time ratio", _label(c), c["precision"], f"{num}/{den}", "fwd",
                                      measured, predicted, RATIO_TOLERANCE, p["model"]))
    return rows


def comparison_markdown(directory: str | Path = "measurements/gpu") -> str:
    """The comparison table (markdown) of every row, with the known-miss rule that covers each miss."""
    rows = comparison_rows(directory)
    lines = [
        "# GPU model vs measurement (generated by `cachesim.measure.compare.comparison_markdown`)",
        "",
        "Do not edit by hand: regenerate with `cachesim measure compare --markdown "
        "measurements/gpu/COMPARISON.md`.",
        f"Targets: sector counts within {SECTOR_TOLERANCE:.0%} of Nsight Compute; predicted time ratios "
        f"within {RATIO_TOLERANCE:.0%} of the measured ratios (triton.testing.do_bench medians).",
        "",
        "| quantity | case | prec | method | pass | measured | predicted | meas/pred | target met | "
        "known miss |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        km = r.known_miss
        quantity = r.quantity.split("__")[-1]
        lines.append(
            f"| {quantity} | {r.case} | {r.precision} | {r.method} | {r.kpass} | {r.measured:.6g} | "
            f"{r.predicted:.6g} | {r.ratio:.3f} | {'yes' if r.within else 'NO'} | "
            f"{'' if r.within or km is None else km.name} |")
    n_ok = sum(r.within for r in rows)
    lines += ["", f"{n_ok} of {len(rows)} rows meet their target.", "", "## Known misses", ""]
    for km in KNOWN_MISSES:
        lines.append(f"* **{km.name}** (rows matching {dict(km.match)}; measured/predicted in "
                     f"[{km.gap_low}, {km.gap_high}]): {km.cause}")
    lines += ["", "## Headline: measured speedups on the GPU (fused Triton kernels, same tiling)", "",
              "| prec | shape | m | tile | HashedNet/ROAST fwd | HashedNet/ROAST train | ROAST/cuBLAS fwd | "
              "ROAST/Triton-dense fwd | aligned-ROAST/cuBLAS fwd | gather-ROAST/cuBLAS fwd |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for h in headline_rows(directory):
        lines.append(f"| {h.precision} | {h.shape} | {h.m_slots} | {h.tile} | "
                     f"{h.hashednet_over_roast_fwd:.2f} | "
                     f"{h.hashednet_over_roast_train:.2f} | {h.roast_over_cublas_fwd:.2f} | "
                     f"{h.roast_over_triton_dense_fwd:.2f} | {h.aligned_over_cublas_fwd:.2f} | "
                     f"{h.gather_roast_over_cublas_fwd:.2f} |")
    lines += ["", "## Authors' harness (512 x 10240 x 10240, 2 warm-ups, median of 10 events, no L2 flush)",
              "", "Two passes per case; each cell shows pass 0 / pass 1. `best` = fastest of the fused and "
              "gather implementations of a method.", "",
              "| prec | m | HashedNet/ROAST fused fwd | fused train | gather fwd | gather train | "
              "best-HN/best-ROAST fwd | best train | fused ROAST/cuBLAS fwd |",
              "|---|---|---|---|---|---|---|---|---|"]
    for a in authors_rows(directory):
        def cell(pair):
            return " / ".join("-" if v != v else f"{v:.2f}" for v in pair)
        lines.append(f"| {a.precision} | {a.m_slots} | {cell(a.fused_fwd)} | {cell(a.fused_train)} | "
                     f"{cell(a.gather_fwd)} | {cell(a.gather_train)} | {cell(a.best_fwd)} | "
                     f"{cell(a.best_train)} | {cell(a.roast_over_cublas_fwd)} |")
    return "\n".join(lines) + "\n"


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


def summary(directory: str | Path = "measurements/gpu") -> dict:
    """Counts of rows meeting / missing their targets (for the CLI)."""
    rows = comparison_rows(directory)
    return {"rows": len(rows), "within_target": sum(r.within for r in rows),
            "known_misses": sum((not r.within) and r.known_miss is not None for r in rows),
            "unexplained": sum((not r.within) and r.known_miss is None for r in rows)}


def _dump(obj) -> str:  # pragma: no cover - debugging helper
    return json.dumps(obj, indent=1, default=str)
