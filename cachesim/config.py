"""Cache level and hierarchy configuration: load a hierarchy from a preset name, a dict, JSON or TOML.

The dataclasses and the schema live in :mod:`cachesim.levels` (re-exported here); the named hierarchies
in :mod:`cachesim.presets`. This module only turns a user's ``spec`` into a :class:`HierarchyConfig`.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import CacheSimError
from .levels import (
    INCLUSIONS,
    INDEX_HASHES,
    POLICIES,
    WRITE_POLICIES,
    HierarchyConfig,
    LevelConfig,
    parse_size,
)
from .presets import get_preset, preset_names

__all__ = ["INCLUSIONS", "INDEX_HASHES", "POLICIES", "WRITE_POLICIES", "HierarchyConfig", "LevelConfig",
           "load_hierarchy", "parse_size"]


def load_hierarchy(spec) -> HierarchyConfig:
    """Turn ``spec`` into a :class:`HierarchyConfig`.

    ``spec`` may be a :class:`HierarchyConfig`, a :class:`LevelConfig` (one-level hierarchy), a
    preset name (see :func:`cachesim.presets.preset_names`), a schema dict, or a path to a
    ``.json`` or ``.toml`` file.
    """
    if isinstance(spec, HierarchyConfig):
        return spec
    if isinstance(spec, LevelConfig):
        return HierarchyConfig(levels=(spec,), name=spec.name)
    if isinstance(spec, dict):
        if "levels" not in spec and "size" in spec:
            return HierarchyConfig(levels=(LevelConfig.from_dict(spec),), name=str(spec.get("name")))
        return HierarchyConfig.from_dict(spec)
    if isinstance(spec, str | Path):
        if isinstance(spec, str) and spec in preset_names():
            return get_preset(spec)
        p = Path(spec)
        if p.suffix.lower() in (".json", ".toml"):
            if not p.is_file():
                raise CacheSimError(f"hierarchy file {str(p)!r} does not exist")
            try:
                if p.suffix.lower() == ".json":
                    data = json.loads(p.read_text())
                else:
                    import tomllib

                    data = tomllib.loads(p.read_text())
            except (ValueError, OSError) as e:
                raise CacheSimError(f"cannot parse hierarchy file {str(p)!r}: {e}") from e
            try:
                return load_hierarchy(data)
            except CacheSimError as e:
                raise CacheSimError(f"{p}: {e}") from e
        raise CacheSimError(
            f"hierarchy={str(spec)!r} is neither a preset ({', '.join(preset_names())}) "
            "nor a .json/.toml file"
        )
    raise CacheSimError(f"hierarchy of type {type(spec).__name__} is not supported")
