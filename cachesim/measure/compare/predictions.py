"""Model predictions for the measured GPU cases, through :func:`cachesim.kernels.predict`, stored as a record.

Predictions are expensive (minutes for the large shapes), so :func:`write_predictions` stores them once as a
record of kind ``model-prediction`` next to the measurements; :func:`stored_predictions` reads them back.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ...errors import CacheSimError
from ..gpu.cases import SEED_OFFSET
from ..records import load_records, write_record

__all__ = ["SIMULATE_MAX_FLOP", "model_prediction", "stored_predictions", "write_predictions"]

#: Shapes with at most this many multiply-adds are simulated; larger ones use the analytic model.
SIMULATE_MAX_FLOP = 1e10
#: Kernels the model covers (the measured kernels of the same names).
MODELLED = ("dense", "roast", "hashednet")
#: Traffic fields stored per prediction.
TRAFFIC_FIELDS = ("load_instructions", "l1_sector_requests", "l2_sector_requests", "write_sector_requests",
                  "dram_bytes")


def _model_key(c: dict) -> tuple:
    return (c["method"], c.get("kpass", "fwd"), c["M"], c["K"], c["N"], c.get("m_slots"), c["precision"],
            c["block_m"], c["block_n"], c["block_k"], c.get("group_m", 8), c.get("num_warps", 4),
            c.get("num_stages", 3))


def model_prediction(case: dict) -> dict:
    """Model traffic and predicted time for one measured case (same parameters as the kernel).

    ``case`` holds ``method`` (dense / roast / hashednet), ``kpass`` (fwd / db), ``M, K, N, m_slots``,
    ``precision`` (bf16 / tf32 / fp32) and the tile fields of a measurement record.

    Notes
    -----
    One call of :func:`cachesim.kernels.predict` on the ``h200`` target: ``dtype`` bf16 for bf16 cases,
    else fp32 with TF32 products unless the precision is fp32; the hash seed is the record's seed plus the
    harness's offset (:data:`cachesim.measure.gpu.SEED_OFFSET`); shapes above :data:`SIMULATE_MAX_FLOP`
    multiply-adds use the analytic traffic model, smaller ones the trace simulation.
    """
    from ...kernels import predict

    method, kpass = case["method"], case.get("kpass", "fwd")
    if method not in MODELLED or kpass not in ("fwd", "db"):
        raise CacheSimError(f"method={method!r}, kpass={kpass!r}: the model covers dense / roast / "
                            "hashednet, forward and weight-gradient kernels")
    p = predict(method, f"{case['M']}x{case['K']}x{case['N']}", "h200",
                dtype="bf16" if case["precision"] == "bf16" else "fp32",
                block=f"{case['block_m']}x{case['block_n']}x{case['block_k']}", backward=kpass == "db",
                memory=None if method == "dense" else case["m_slots"], group_m=case.get("group_m", 8),
                num_warps=case.get("num_warps", 4), num_stages=case.get("num_stages", 3),
                seed=case.get("seed", 0) + SEED_OFFSET[method], tf32=case["precision"] != "fp32",
                analytic=case["M"] * case["K"] * case["N"] > SIMULATE_MAX_FLOP)
    out = {"model": p.model, "predicted_time_s": float(p.predicted_time_s), "dominant": p.dominant}
    for field in TRAFFIC_FIELDS:
        out[field] = float(getattr(p.traffic, field, float("nan")))
    return out


def _predict_one(case):
    return _model_key(case), case, model_prediction(case)


def write_predictions(directory: str | Path = "measurements/gpu", *, workers: int = 2,
                      out_name: str = "model_predictions.json"):
    """Run the model for every distinct ncu case of the records in ``directory`` and store a record."""
    cases = {}
    for rec in load_records(directory, "gpu-ncu"):
        for c in rec.cases:
            if c.get("type") == "ncu" and c["method"] in MODELLED and c["kpass"] in ("fwd", "db"):
                cases.setdefault(_model_key(c), c)
    todo = sorted(cases.values(), key=lambda c: c["M"] * c["K"] * c["N"])
    rows = []
    with ProcessPoolExecutor(max_workers=workers) as ex:
        for key, _case, pred in ex.map(_predict_one, todo):
            rows.append({"key": list(key), **pred})
    return write_record(Path(directory) / out_name, "model-prediction", rows,
                        notes="cachesim.kernels predictions (not measurements) for the ncu cases, written by "
                              "cachesim.measure.compare.write_predictions.")


def stored_predictions(directory: str | Path = "measurements/gpu") -> dict:
    """The stored ``model-prediction`` rows of ``directory``, by case key (see :func:`write_predictions`)."""
    recs = load_records(directory, "model-prediction")
    if not recs:
        raise CacheSimError(f"no model-prediction record under {directory}: run "
                            "`cachesim measure compare --write-predictions`")
    return {tuple(r["key"]): r for rec in recs for r in rec.cases}
