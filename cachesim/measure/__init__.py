"""Measurements of real torch / Triton kernels, recorded with provenance, compared with the model.

Subpackages and modules: :mod:`.records` (JSON records with provenance), :mod:`.geometry` (the cache
geometry a record was made with), :mod:`.cpu` (CPU gather sweep, its simulation and knee comparison),
:mod:`.gpu` (GPU harness: cases, checks, timings), :mod:`.compare` (model vs GPU measurement),
:mod:`.triton_kernels` (the fused Triton kernels).
"""

from .compare import (
    KNOWN_MISSES,
    ComparisonRow,
    KnownMiss,
    authors_rows,
    compare_measurements,
    comparison_markdown,
    comparison_rows,
    headline_rows,
)
from .cpu import (
    GatherSweep,
    GatherTiming,
    KneeComparison,
    LevelKnee,
    SimulatedGather,
    SimulatedGatherSweep,
    compare_knees,
    gather_sweep,
    gather_trace,
    simulate_gather_sweep,
)
from .fast_records import FastHeadline, TrainStep, fast_headline, fast_train_steps
from .geometry import record_hierarchy
from .gpu import GemmCase, ceilings, check_case, time_case
from .records import MeasurementRecord, load_records, provenance, write_record
from .triton_kernels import KernelHash, TileConfig, kernel_index, matmul, matmul_db, matmul_dx

__all__ = [
    "MeasurementRecord", "load_records", "provenance", "record_hierarchy", "write_record",
    "FastHeadline", "TrainStep", "fast_headline", "fast_train_steps",
    # CPU gather sweep vs the simulator
    "GatherSweep", "GatherTiming", "KneeComparison", "LevelKnee", "SimulatedGather", "SimulatedGatherSweep",
    "compare_knees", "gather_sweep", "gather_trace", "simulate_gather_sweep",
    # GPU kernels, harness and model comparison
    "KNOWN_MISSES", "ComparisonRow", "GemmCase", "KernelHash", "KnownMiss", "TileConfig", "authors_rows",
    "ceilings", "check_case", "compare_measurements", "comparison_markdown", "comparison_rows",
    "headline_rows", "kernel_index", "matmul", "matmul_db", "matmul_dx", "time_case",
]
