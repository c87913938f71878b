"""Model-vs-measurement pairs: Nsight Compute sector counts and measured time ratios beside the model.

Targets: sector counts within :data:`SECTOR_TOLERANCE` (10 %) of ncu, predicted time ratios
HashedNet/ROAST and ROAST/dense within :data:`RATIO_TOLERANCE` (25 %) of the measured ratios. A row that
misses its target must match a rule of :data:`~cachesim.measure.compare.KNOWN_MISSES`. The model is never
tuned per case.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..records import load_records
from .known_misses import KNOWN_MISSES, KnownMiss
from .predictions import _model_key, stored_predictions

__all__ = ["RATIO_TOLERANCE", "SECTOR_METRICS", "SECTOR_TOLERANCE", "ComparisonRow", "comparison_rows",
           "summary"]

SECTOR_TOLERANCE = 0.10
RATIO_TOLERANCE = 0.25

#: (ncu metric, model field) pairs compared as sector counts.
SECTOR_METRICS = (
    ("l1tex__t_requests_pipe_lsu_mem_global_op_ld.sum", "load_instructions"),
    ("l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum", "l1_sector_requests"),
    ("lts__t_sectors_srcunit_tex_op_read.sum", "l2_sector_requests"),
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
    preds = stored_predictions(directory)
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


def summary(directory: str | Path = "measurements/gpu") -> dict:
    """Counts of rows meeting / missing their targets (for the CLI)."""
    rows = comparison_rows(directory)
    return {"rows": len(rows), "within_target": sum(r.within for r in rows),
            "known_misses": sum((not r.within) and r.known_miss is not None for r in rows),
            "unexplained": sum((not r.within) and r.known_miss is None for r in rows)}

