"""Exact trace-driven cache-hierarchy simulation and kernel traffic models."""

from .config import HierarchyConfig, LevelConfig, load_hierarchy
from .engine import AccessResult, Cache, Simulator, replay
from .errors import CacheSimError
from .presets import get_preset, preset_names
from .stats import LevelStats, ReplayResult

__all__ = [
    "AccessResult",
    "Cache",
    "CacheSimError",
    "HierarchyConfig",
    "LevelConfig",
    "LevelStats",
    "ReplayResult",
    "Simulator",
    "get_preset",
    "load_hierarchy",
    "preset_names",
    "replay",
]
