"""Cache level and hierarchy descriptions: frozen dataclasses parsed from dicts (see :mod:`cachesim.config`).

Schema (the same keys in a Python dict, a JSON file or a TOML file)::

    name = "zen4"                  # optional
    inclusion = "non-inclusive"    # or "inclusive" (back-invalidation) or "exclusive" (victim)
    frequency_ghz = 3.7            # optional, for cost models
    dram_bandwidth_gbs = 460.8     # optional
    num_sms = 132                  # optional (GPUs)

    [[levels]]                     # first = nearest the core
    name = "L1"
    size = "32 KiB"                # int bytes, or a string with B/KiB/MiB/GiB (K/M/G are binary too)
    line = 64
    ways = 8                       # int, or "full" / 0 for fully associative
    policy = "lru"                 # lru | fifo | random | plru | mru
    seed = 0                       # random policy only
    write_policy = "write-back"    # or "write-through" (then no-write-allocate)
    sector = 32                    # optional sector (sub-block) size in bytes
    index_hash = "modulo"          # or "xor"
    latency_cycles = 4             # optional; also bandwidth_bytes_per_cycle, bandwidth_gbs

Set index (``index_hash``), for a level of ``S = 2**s`` sets and line number ``x = addr >> log2(line)``:

- ``"modulo"``: ``set = x mod S``;
- ``"xor"``: XOR-fold of the whole line number into ``s`` bits,
  ``set = (x ^ (x >> s) ^ (x >> 2s) ^ ...) mod S``.

The tag kept in the cache is the whole line number, so both functions are exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields

import numpy as np

from ._validate import (
    check_nonnegative_int,
    check_positive_int,
    check_positive_number,
    check_pow2,
    is_int,
    is_pow2,
    plain,
)
from .errors import CacheSimError

POLICIES = ("lru", "fifo", "random", "plru", "mru")
WRITE_POLICIES = ("write-back", "write-through")
INCLUSIONS = ("non-inclusive", "inclusive", "exclusive")
INDEX_HASHES = ("modulo", "xor")

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1 << 10,
    "kb": 1 << 10,
    "kib": 1 << 10,
    "m": 1 << 20,
    "mb": 1 << 20,
    "mib": 1 << 20,
    "g": 1 << 30,
    "gb": 1 << 30,
    "gib": 1 << 30,
    "t": 1 << 40,
    "tb": 1 << 40,
    "tib": 1 << 40,
}


def parse_size(value, field_name: str = "size") -> int:
    """Parse a byte count: an int, or a string like ``"32 KiB"``, ``"1.875MiB"``, ``"50M"``.

    Unit suffixes are binary (``K = KiB = 1024``). The result must be a positive whole number of bytes.
    """
    if isinstance(value, bool | np.bool_):
        raise CacheSimError(f"{field_name}={value!r} must be a positive number of bytes")
    if is_int(value):
        n = int(value)
    elif isinstance(value, float | np.floating) and float(value).is_integer():
        n = int(value)
    elif isinstance(value, str):
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", value)
        if not m or m.group(2).lower() not in _UNITS:
            raise CacheSimError(
                f"{field_name}={value!r} is not a size: use an integer number of bytes or e.g. '32 KiB'"
            )
        x = float(m.group(1)) * _UNITS[m.group(2).lower()]
        if not x.is_integer():
            raise CacheSimError(f"{field_name}={value!r} is not a whole number of bytes")
        n = int(x)
    else:
        raise CacheSimError(f"{field_name}={plain(value)!r} must be a positive number of bytes")
    if n <= 0:
        raise CacheSimError(f"{field_name}={plain(value)!r} must be a positive number of bytes")
    return n


def _opt_float(name: str, value, level: str) -> float | None:
    return None if value is None else check_positive_number(f"level {level!r}: {name}", value)


@dataclass(frozen=True)
class LevelConfig:
    """One cache level.

    Parameters
    ----------
    name : str
        Level name (``"L1"``...), unique within a hierarchy.
    size : int or str
        Capacity in bytes (strings such as ``"32 KiB"`` are parsed).
    line : int
        Line size in bytes, a power of two.
    ways : int or "full"
        Associativity; ``"full"`` or ``0`` means fully associative (``ways = size / line``).
    policy : {"lru", "fifo", "random", "plru", "mru"}
        Replacement policy. ``plru`` is tree pseudo-LRU and needs a power-of-two number of ways.
    seed : int
        Seed of the xorshift64 generator of the ``random`` policy.
    write_policy : {"write-back", "write-through"}
        ``write-back`` implies write-allocate, ``write-through`` implies no-write-allocate.
    sector : int, optional
        Sector (sub-block) size; a tag hit on an invalid sector is a *sector miss*, and a fill brings
        only the requested sectors. ``None``: unsectored (one sector = one line).
    index_hash : {"modulo", "xor"}
        Set-index function (see the module docstring).
    latency_cycles, bandwidth_bytes_per_cycle, bandwidth_gbs : float, optional
        Cost-model data; not used by the simulator.

    Notes
    -----
    ``sets = size / (line * ways)`` must be a power of two; ``line / sector <= 64``.
    """

    name: str
    size: int
    line: int = 64
    ways: int = 8
    policy: str = "lru"
    seed: int = 0
    write_policy: str = "write-back"
    sector: int | None = None
    index_hash: str = "modulo"
    latency_cycles: float | None = None
    bandwidth_bytes_per_cycle: float | None = None
    bandwidth_gbs: float | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise CacheSimError(f"level name={self.name!r} must be a non-empty string")
        nm = self.name
        size = parse_size(self.size, f"level {nm!r}: size")
        object.__setattr__(self, "size", size)
        line = check_pow2(f"level {nm!r}: line", self.line, unit=" (bytes)")
        object.__setattr__(self, "line", line)
        ways = self.ways
        if isinstance(ways, str):
            if ways.lower() not in ("full", "fully-associative", "fa"):
                raise CacheSimError(f"level {nm!r}: ways={ways!r} must be a positive integer or 'full'")
            ways = 0
        if not is_int(ways) or ways < 0:
            raise CacheSimError(f"level {nm!r}: ways={plain(ways)!r} must be a positive integer or 'full'")
        ways = int(ways)
        if size % line:
            raise CacheSimError(f"level {nm!r}: size={size} is not a multiple of line={line}")
        n_lines = size // line
        if ways == 0:
            ways = n_lines
        if n_lines % ways:
            raise CacheSimError(
                f"level {nm!r}: size={size} is not a multiple of line*ways={line}*{ways}={line * ways}"
            )
        object.__setattr__(self, "ways", ways)
        sets = n_lines // ways
        if not is_pow2(sets):
            raise CacheSimError(
                f"level {nm!r}: number of sets size/(line*ways)={sets} must be a power of two"
            )
        pol = str(self.policy).lower()
        if pol not in POLICIES:
            raise CacheSimError(f"level {nm!r}: policy={self.policy!r} must be one of {POLICIES}")
        object.__setattr__(self, "policy", pol)
        if pol == "plru" and not is_pow2(ways):
            raise CacheSimError(f"level {nm!r}: policy='plru' needs power-of-two ways, got ways={ways}")
        object.__setattr__(self, "seed", check_nonnegative_int(f"level {nm!r}: seed", self.seed))
        wp = str(self.write_policy).lower().replace("_", "-")
        if wp in ("wb", "writeback"):
            wp = "write-back"
        if wp in ("wt", "writethrough"):
            wp = "write-through"
        if wp not in WRITE_POLICIES:
            raise CacheSimError(
                f"level {nm!r}: write_policy={self.write_policy!r} must be one of {WRITE_POLICIES}"
            )
        object.__setattr__(self, "write_policy", wp)
        if self.sector is not None:
            s = check_pow2(f"level {nm!r}: sector", self.sector, unit=" (bytes)")
            object.__setattr__(self, "sector", s)
            if s > line:
                raise CacheSimError(f"level {nm!r}: sector={s} must be <= line={line}")
            if line // s > 64:
                raise CacheSimError(f"level {nm!r}: line/sector={line // s} must be <= 64")
            if s == line:
                object.__setattr__(self, "sector", None)
        ih = str(self.index_hash).lower()
        if ih not in INDEX_HASHES:
            raise CacheSimError(f"level {nm!r}: index_hash={self.index_hash!r} must be one of {INDEX_HASHES}")
        object.__setattr__(self, "index_hash", ih)
        for f in ("latency_cycles", "bandwidth_bytes_per_cycle", "bandwidth_gbs"):
            object.__setattr__(self, f, _opt_float(f, getattr(self, f), nm))

    @property
    def sets(self) -> int:
        """Number of sets, ``size / (line * ways)``."""
        return self.size // (self.line * self.ways)

    @property
    def n_lines(self) -> int:
        """Number of lines, ``size / line``."""
        return self.size // self.line

    @property
    def sector_size(self) -> int:
        """Sector size in bytes (the line size when unsectored)."""
        return self.line if self.sector is None else self.sector

    @property
    def sectors_per_line(self) -> int:
        """Sectors per line (1 when unsectored)."""
        return self.line // self.sector_size

    @property
    def write_back(self) -> bool:
        """True for write-back + write-allocate."""
        return self.write_policy == "write-back"

    @property
    def fully_associative(self) -> bool:
        """True when the level has a single set."""
        return self.sets == 1

    def to_dict(self) -> dict:
        """The schema dict of this level (``None`` fields left out)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    @classmethod
    def from_dict(cls, d: dict) -> LevelConfig:
        """Build from a schema dict; unknown keys raise :class:`CacheSimError`."""
        if isinstance(d, LevelConfig):
            return d
        if not isinstance(d, dict):
            raise CacheSimError(f"a level must be a dict, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        aliases = {"line_size": "line", "assoc": "ways", "associativity": "ways", "sector_size": "sector",
                   "replacement": "policy"}
        kw = {}
        for k, v in d.items():
            key = aliases.get(k, k)
            if key not in known:
                raise CacheSimError(
                    f"unknown level field {k!r} (level {d.get('name')!r}); allowed: {sorted(known)}"
                )
            kw[key] = v
        if "name" not in kw or "size" not in kw:
            raise CacheSimError(f"level {d!r} needs at least 'name' and 'size'")
        return cls(**kw)


@dataclass(frozen=True)
class HierarchyConfig:
    """A cache hierarchy: levels (first = nearest the core) and an inclusion mode.

    Parameters
    ----------
    levels : tuple of LevelConfig
        At least one level; names unique; line sizes non-decreasing going down.
    inclusion : {"non-inclusive", "inclusive", "exclusive"}
        ``non-inclusive``: fill on miss at every level, no back-invalidation (pycachesim,
        Dinero IV). ``inclusive``: the same, plus an eviction at level k invalidates the line in
        all levels above (dirty data merged into the victim). ``exclusive``: a line lives in at
        most one level; a miss fills only the first level, an upper victim moves to the next level
        down, a hit below moves the line up. Exclusive needs unsectored write-back levels of one
        line size.
    name : str
    frequency_ghz, dram_bandwidth_gbs : float, optional
    num_sms : int, optional
        Cost-model data, not used by the simulator.
    """

    levels: tuple
    inclusion: str = "non-inclusive"
    name: str = "custom"
    frequency_ghz: float | None = None
    dram_bandwidth_gbs: float | None = None
    num_sms: int | None = None
    notes: str = field(default="", compare=False)

    def __post_init__(self):
        lv = self.levels
        if isinstance(lv, LevelConfig) or isinstance(lv, dict):
            lv = [lv]
        if not isinstance(lv, list | tuple) or len(lv) == 0:
            raise CacheSimError(f"levels={self.levels!r} must be a non-empty list of levels")
        lv = tuple(LevelConfig.from_dict(x) for x in lv)
        object.__setattr__(self, "levels", lv)
        names = [x.name for x in lv]
        if len(set(names)) != len(names):
            raise CacheSimError(f"level names {names} must be unique")
        inc = str(self.inclusion).lower().replace("_", "-")
        if inc not in INCLUSIONS:
            raise CacheSimError(f"inclusion={self.inclusion!r} must be one of {INCLUSIONS}")
        object.__setattr__(self, "inclusion", inc)
        for a, b in zip(lv, lv[1:]):
            if b.line < a.line:
                raise CacheSimError(
                    f"level {b.name!r}: line={b.line} must be >= line={a.line} of the level above "
                    f"({a.name!r})"
                )
        if inc == "exclusive":
            for x in lv:
                if x.line != lv[0].line:
                    raise CacheSimError(
                        f"inclusion='exclusive' needs one line size: level {x.name!r} has line={x.line}, "
                        f"level {lv[0].name!r} has line={lv[0].line}"
                    )
                if x.sector is not None:
                    raise CacheSimError(
                        f"inclusion='exclusive' needs unsectored levels: level {x.name!r} has "
                        f"sector={x.sector}"
                    )
                if not x.write_back:
                    raise CacheSimError(
                        f"inclusion='exclusive' needs write-back levels: level {x.name!r} has "
                        f"write_policy={x.write_policy!r}"
                    )
        object.__setattr__(self, "frequency_ghz", _opt_float("frequency_ghz", self.frequency_ghz, "*"))
        object.__setattr__(
            self, "dram_bandwidth_gbs", _opt_float("dram_bandwidth_gbs", self.dram_bandwidth_gbs, "*")
        )
        if self.num_sms is not None:
            object.__setattr__(self, "num_sms", check_positive_int("num_sms", self.num_sms))

    def level(self, name: str) -> LevelConfig:
        """The level called ``name``."""
        for x in self.levels:
            if x.name == name:
                return x
        raise CacheSimError(f"no level named {name!r}; levels are {[x.name for x in self.levels]}")

    def to_dict(self) -> dict:
        """The schema dict (round-trips through :meth:`from_dict`)."""
        d = {"name": self.name, "inclusion": self.inclusion, "levels": [x.to_dict() for x in self.levels]}
        for k in ("frequency_ghz", "dram_bandwidth_gbs", "num_sms"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        if self.notes:
            d["notes"] = self.notes
        return d

    @classmethod
    def from_dict(cls, d: dict) -> HierarchyConfig:
        """Build from a schema dict; unknown keys raise :class:`CacheSimError`."""
        if not isinstance(d, dict):
            raise CacheSimError(f"a hierarchy must be a dict, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        bad = [k for k in d if k not in known]
        if bad:
            raise CacheSimError(f"unknown hierarchy field {bad[0]!r}; allowed: {sorted(known)}")
        if "levels" not in d:
            raise CacheSimError("a hierarchy needs 'levels' (a list of levels)")
        return cls(**d)
