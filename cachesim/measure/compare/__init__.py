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

Modules, one job each: :mod:`.known_misses` (:data:`KNOWN_MISSES`, the documented gaps),
:mod:`.predictions` (:func:`model_prediction` through :func:`cachesim.kernels.predict`, the stored
``model-prediction`` record), :mod:`.rows` (:func:`comparison_rows`: model beside measurement),
:mod:`.ratios` (:func:`headline_rows`, :func:`authors_rows`: measured speed-ups), :mod:`.markdown`
(:func:`comparison_markdown`), :mod:`.run` (:func:`compare_measurements`, the command's one call),
:mod:`.cpu_time` (the CPU gather time model against the CPU records, ``measurements/COMPARISON_CPU.md``).
"""

from .cpu_time import (
    CPU_RATIO_TOLERANCE,
    CpuRatioRow,
    cpu_ratio_rows,
    cpu_time_markdown,
    cpu_time_summary,
    gather_matmul_rows,
    stat_table,
    write_cpu_comparison,
)
from .known_misses import KNOWN_MISSES, KnownMiss
from .markdown import comparison_markdown
from .predictions import SIMULATE_MAX_FLOP, model_prediction, stored_predictions, write_predictions
from .ratios import AuthorsRow, HeadlineRow, authors_rows, headline_rows
from .rows import RATIO_TOLERANCE, SECTOR_METRICS, SECTOR_TOLERANCE, ComparisonRow, comparison_rows, summary
from .run import compare_measurements

_predictions = stored_predictions  # the old private name, still used by tests on other branches

__all__ = [
    "CPU_RATIO_TOLERANCE",
    "CpuRatioRow",
    "cpu_ratio_rows",
    "cpu_time_markdown",
    "cpu_time_summary",
    "gather_matmul_rows",
    "stat_table",
    "write_cpu_comparison",
    "KNOWN_MISSES",
    "RATIO_TOLERANCE",
    "SECTOR_METRICS",
    "SECTOR_TOLERANCE",
    "SIMULATE_MAX_FLOP",
    "AuthorsRow",
    "ComparisonRow",
    "HeadlineRow",
    "KnownMiss",
    "authors_rows",
    "compare_measurements",
    "comparison_markdown",
    "comparison_rows",
    "headline_rows",
    "model_prediction",
    "stored_predictions",
    "summary",
    "write_predictions",
]
