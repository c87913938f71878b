"""Exact trace-driven cache-hierarchy simulation and kernel traffic models.

The names below are imported from their submodules on first use (module ``__getattr__``, PEP 562):
``import cachesim`` does not load numba until the simulator is asked for, so the analytic cost model starts
fast. The layers above the core, :mod:`cachesim.kernels` and :mod:`cachesim.measure`, are reached the same
way (``import cachesim; cachesim.kernels``); the core modules never import them.
"""

import importlib

from .errors import CacheSimError

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

_EXPORTS = {
    "cachesim.config": ("HierarchyConfig", "LevelConfig", "load_hierarchy"),
    "cachesim.engine": ("AccessResult", "Cache", "Simulator", "replay"),
    "cachesim.parallel": ("SerialFallbackWarning", "ShardPlan", "plan_shards", "replay_parallel"),
    "cachesim.presets": ("get_preset", "preset_names"),
    "cachesim.stackdist": ("MissRatioCurve", "OlkenProfiler", "PerSetStackProfiler", "StackDistanceHistogram",
                           "miss_ratio_curve", "stack_distance_histogram", "stack_distances"),
    "cachesim.stats": ("LevelStats", "ReplayResult"),
    "cachesim.traceio": ("TraceFile", "TraceWriter", "open_trace", "write_trace"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
    elif name in ("kernels", "measure"):  # the layers above: imported on first use, never by the core
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
