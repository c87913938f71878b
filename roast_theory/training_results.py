"""Frozen results of the training experiment (:func:`roast_theory.training.train_sharing_experiment`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._deprecation import renamed_fields, renamed_kwargs
from ._validate import check_probability
from .errors import RoastTheoryError

__all__ = ["AccuracySummary", "TrainRun", "TrainSharingResult"]


@renamed_fields(indexing="scheme", m_slots="memory")
@dataclass(frozen=True)
class TrainRun:
    """One training run: configuration, memory sizes and the test accuracy.

    :meth:`to_case` writes the keys of the recorded runs (``"indexing"`` for ``scheme``, ``"m_slots"`` for
    ``memory``, so that ``measurements/cpu/train_sharing.json`` keeps one format); :meth:`from_case` reads
    them back. ``TrainRun(indexing=..., m_slots=...)`` still works but warns (deprecated keywords).
    """

    scheme: str
    sharing: str
    compression: float
    seed: int
    hidden: int
    memory: tuple
    n_weights: int
    test_accuracy: float
    train_accuracy: float
    seconds: float

    _CASE_KEYS = {"indexing": "scheme", "m_slots": "memory"}

    @classmethod
    def from_case(cls, case: dict) -> TrainRun:
        """The run of one recorded case (a dict from :meth:`to_case`; the new key names work as well)."""
        fields = {cls._CASE_KEYS.get(k, k): v for k, v in case.items()}
        return cls(**{**fields, "memory": tuple(fields["memory"])})

    def to_case(self) -> dict:
        """The run as a JSON-ready dict with the recorded file's keys (see the class docstring)."""
        return {"indexing": self.scheme, "sharing": self.sharing, "compression": self.compression,
                "seed": self.seed, "hidden": self.hidden, "m_slots": list(self.memory),
                "n_weights": self.n_weights, "test_accuracy": self.test_accuracy,
                "train_accuracy": self.train_accuracy, "seconds": self.seconds}


@renamed_fields(indexing="scheme")
@dataclass(frozen=True)
class AccuracySummary:
    """Test accuracy of one configuration over seeds: mean and standard error of the mean.

    Notes
    -----
    :math:`\\bar a = \\frac1S \\sum_s a_s`, :math:`SE = s_a / \\sqrt S` (sample standard deviation,
    ``ddof=1``); the confidence interval uses Student's t with ``S - 1`` degrees of freedom.
    """

    scheme: str
    sharing: str
    compression: float
    mean: float
    standard_error: float
    n_seeds: int

    def confidence_interval(self, confidence_level: float = 0.95) -> tuple[float, float]:
        """Student-t interval for the mean accuracy."""
        from scipy import stats

        confidence_level = check_probability("confidence_level", confidence_level)
        if self.n_seeds < 2:
            return (float("nan"), float("nan"))
        t = stats.t.ppf(0.5 + confidence_level / 2, self.n_seeds - 1)
        return (self.mean - t * self.standard_error, self.mean + t * self.standard_error)


@dataclass(frozen=True)
class TrainSharingResult:
    """All runs of :func:`train_sharing_experiment`, with per-configuration summaries."""

    runs: tuple
    dense: tuple  # TrainRun of the uncompressed baseline (compression 1)
    settings: dict

    @renamed_kwargs(indexing="scheme")
    def summary(self, scheme: str, sharing: str, compression: float) -> AccuracySummary:
        """Mean +- SE of the test accuracy of one configuration."""
        acc = np.array([r.test_accuracy for r in self.runs if r.scheme == scheme and r.sharing == sharing
                        and r.compression == compression])
        if acc.size == 0:
            raise RoastTheoryError(f"no runs for scheme={scheme!r}, sharing={sharing!r}, "
                                   f"compression={compression!r}")
        se = acc.std(ddof=1) / math.sqrt(acc.size) if acc.size > 1 else float("nan")
        return AccuracySummary(scheme, sharing, compression, float(acc.mean()), float(se), int(acc.size))

    def table(self) -> tuple:
        """One :class:`AccuracySummary` per (scheme, sharing, compression), in run order."""
        keys = list(dict.fromkeys((r.scheme, r.sharing, r.compression) for r in self.runs))
        return tuple(self.summary(*key) for key in keys)

    def dense_summary(self) -> AccuracySummary:
        acc = np.array([r.test_accuracy for r in self.dense])
        se = acc.std(ddof=1) / math.sqrt(acc.size) if acc.size > 1 else float("nan")
        return AccuracySummary("dense", "none", 1.0, float(acc.mean()), float(se), int(acc.size))

    def to_cases(self) -> list:
        return [r.to_case() for r in self.dense + self.runs]

    def format(self) -> str:
        """A plain-text table (accuracy mean +- standard error over seeds)."""
        d = self.dense_summary()
        lines = [f"{'scheme':8s} {'sharing':7s} {'compr':>6s} {'test acc':>18s} {'seeds':>5s}",
                 f"{'dense':8s} {'-':7s} {1:6.0f} {d.mean:9.4f} +- {d.standard_error:6.4f} {d.n_seeds:5d}"]
        for s in self.table():
            lines.append(f"{s.scheme:8s} {s.sharing:7s} {s.compression:6.0f} {s.mean:9.4f} +- "
                         f"{s.standard_error:6.4f} {s.n_seeds:5d}")
        return "\n".join(lines)
