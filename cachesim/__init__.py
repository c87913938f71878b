"""Exact trace-driven cache-hierarchy simulation and kernel traffic models."""

from .config import HierarchyConfig, LevelConfig, load_hierarchy
from .engine import AccessResult, Cache, Simulator, replay
from .errors import CacheSimError
from .parallel import SerialFallbackWarning, ShardPlan, plan_shards, replay_parallel
from .presets import get_preset, preset_names
from .stackdist import (
    MissRatioCurve,
    OlkenProfiler,
    PerSetStackProfiler,
    StackDistanceHistogram,
    miss_ratio_curve,
    stack_distance_histogram,
    stack_distances,
)
from .stats import LevelStats, ReplayResult
from .traceio import TraceFile, TraceWriter, open_trace, write_trace

__all__ = [
    "AccessResult",
    "Cache",
    "CacheSimError",
    "HierarchyConfig",
    "LevelConfig",
    "LevelStats",
    "MissRatioCurve",
    "OlkenProfiler",
    "PerSetStackProfiler",
    "ReplayResult",
    "SerialFallbackWarning",
    "ShardPlan",
    "Simulator",
    "StackDistanceHistogram",
    "TraceFile",
    "TraceWriter",
    "get_preset",
    "load_hierarchy",
    "miss_ratio_curve",
    "open_trace",
    "plan_shards",
    "preset_names",
    "replay",
    "replay_parallel",
    "stack_distance_histogram",
    "stack_distances",
    "write_trace",
]

#: Subpackages reached as attributes on first use (``import cachesim; cachesim.kernels``). They are
#: layers above the core: the core modules never import them; only this lookup on the package resolves them.
_LAZY_SUBPACKAGES = ("kernels", "measure")


def __getattr__(name: str):
    if name in _LAZY_SUBPACKAGES:
        import importlib

        return importlib.import_module("." + name, __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
