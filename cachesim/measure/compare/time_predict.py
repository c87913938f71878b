"""The time model's rows and predictions: :class:`TimeRow`, the variant names of the records, and the
cached issue-aware predictions (stored in ``time_model_predictions.json``, computed where missing)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from ...kernels.tma import SCHEDULE_SUFFIX
from ..records import load_records
from .time_misses import SHAPE_MISSES, TIME_MISSES

__all__ = ["IRREPRODUCIBLE", "PREDICTIONS_FILE", "PREDICTIONS_KIND", "REPLICATE_TOLERANCE", "TIME_TOLERANCE",
           "TimeRow"]

PREDICTIONS_FILE = "time_model_predictions.json"
PREDICTIONS_KIND = "model-time-prediction"

TIME_TOLERANCE = 0.25
#: A timing is contradicted when another record timed the same case (variant, configuration, shape, array
#: size) more than this factor apart (call7/8/9's 1330 shared cases all agree within it).
REPLICATE_TOLERANCE = 1.2
#: The class of a ratio whose numerator or denominator timing another record contradicts.
IRREPRODUCIBLE = "timing-irreproducible"
_FAST_KINDS = ("gpu-fast-time", "gpu-fast-focus")
_VARIANT = re.compile(r"^(dense|roast-(table-pf|table|hash32|hash)-a(\d+)-t(\d+x\d+)|"
                      r"hashednet-(hash|mulshift|table|arith-only))$")


@dataclass(frozen=True)
class TimeRow:
    """One measured time ratio beside the model's (``measured / predicted`` judged)."""

    record: str
    shape: str
    memory: int
    config: str
    numerator: str
    denominator: str
    measured: float
    predicted: float
    dominant: str
    #: the largest factor between the numerator's or the denominator's timing and another record's timing
    #: of the same case (1.0 where no other record timed it)
    replicate_spread: float = 1.0

    @property
    def ratio(self) -> float:
        return self.measured / self.predicted

    @property
    def within(self) -> bool:
        return abs(self.ratio - 1.0) <= TIME_TOLERANCE

    @property
    def reproducible(self) -> bool:
        """False where another record timed the numerator's or denominator's case more than
        :data:`REPLICATE_TOLERANCE` apart."""
        return self.replicate_spread <= REPLICATE_TOLERANCE

    @property
    def klass(self) -> str:
        """Name of the :data:`SHAPE_MISSES` or :data:`TIME_MISSES` rule whose class the row falls in (the
        shape's first, then the first matching ratio rule; "unexplained" where none matches), or
        :data:`IRREPRODUCIBLE` first where another record contradicts one of its timings
        (:attr:`reproducible`)."""
        if not self.reproducible:
            return IRREPRODUCIBLE
        if self.shape in SHAPE_MISSES:
            return SHAPE_MISSES[self.shape][0]
        for name, num, den, _ in TIME_MISSES:
            if self.numerator.startswith(num) and self.denominator.startswith(den):
                return name
        return "unexplained"

    @property
    def miss(self) -> str:
        """The class (:attr:`klass`) of a missed row, the rule that explains it ('' when within target)."""
        return "" if self.within else self.klass

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__} | {"ratio": self.ratio}


def _describe(variant: str):
    m = _VARIANT.match(variant)
    if not m:
        return None
    if variant == "dense":
        return ("dense", None, None, None)
    if m.group(2):
        return ("roast", m.group(2), int(m.group(3)), m.group(4))
    return ("hashednet", m.group(5), None, None)


_STORED: dict = {}


def _predict(kernel, index, align, tile, shape, memory, config, load_path="auto"):
    key = (kernel, index, align, tile, shape, memory, config, load_path)
    if key not in _STORED:
        _STORED[key] = _compute(*key)
    return _STORED[key]


#: Config label suffix -> ``predict(schedule=...)`` (the inverse of ``cachesim.kernels.tma.SCHEDULE_SUFFIX``).
_SCHEDULES = {suffix or None: name for name, suffix in SCHEDULE_SUFFIX.items()}


@functools.lru_cache(maxsize=8192)
def _compute(kernel, index, align, tile, shape, memory, config, load_path="auto"):
    """Issue-aware prediction (analytic traffic, expected over hash seeds: seed 0); ``cublas``: the vendor
    GEMM at its measured ceilings (:func:`cachesim.kernels.cost.predict_vendor_gemm`)."""
    from ...kernels import predict
    from ...kernels.cost import predict_vendor_gemm

    if kernel == "cublas":
        p = predict_vendor_gemm(shape, "h200", dtype="bf16")
        return p.predicted_time_s, p.dominant
    cfg = re.match(r"(\d+x\d+x\d+)-g(\d+)-w(\d+)-s(\d+)(-pw?)?(-dx)?$", config)
    p = predict(kernel, shape, "h200", dtype="bf16", block=cfg.group(1), group_m=int(cfg.group(2)),
                num_warps=int(cfg.group(3)), num_stages=int(cfg.group(4)),
                memory=None if kernel == "dense" else memory, seed=0, analytic=True, index=index,
                align=align, tile=tile, cost_model="issue", load_path=load_path,
                schedule=_SCHEDULES[cfg.group(5)], transpose=cfg.group(6) is not None)
    return p.predicted_time_s, p.dominant


def _load_stored(directory) -> None:
    _STORED.clear()
    for rec in load_records(directory, PREDICTIONS_KIND):
        for c in rec.cases:
            key = tuple(c["key"])
            _STORED[key + ("auto",) * (8 - len(key))] = (c["predicted_time_s"], c["dominant"])
