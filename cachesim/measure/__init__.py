"""Measurements of real torch / Triton kernels, recorded with provenance, compared with the model."""

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
from .records import MeasurementRecord, load_records, provenance, write_record

__all__ = [
    "MeasurementRecord", "load_records", "provenance", "write_record",
    # CPU gather sweep vs the simulator (H6b)
    "GatherSweep", "GatherTiming", "KneeComparison", "LevelKnee", "SimulatedGather", "SimulatedGatherSweep",
    "compare_knees", "gather_sweep", "gather_trace", "simulate_gather_sweep",
]
