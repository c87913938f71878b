"""Frozen result objects of a replay: per-level counters and the whole-hierarchy result."""

from __future__ import annotations

from dataclasses import asdict, dataclass

#: Order of the per-level counters in the kernels' stats arrays.
COUNTERS = (
    "accesses",
    "writes",
    "hits",
    "misses",
    "sector_misses",
    "evictions",
    "writebacks",
    "bytes_read",
    "bytes_written",
    "invalidations",
)


@dataclass(frozen=True)
class LevelStats:
    """Counters of one cache level.

    Attributes
    ----------
    name : str
    accesses : int
        Requests that reached this level (line pieces of the trace at the first level; fills,
        write-backs and write-throughs of the level above below it).
    writes : int
        Of which stores / write-backs / write-throughs.
    hits : int
        Tag present and every requested sector valid.
    misses : int
        Tag absent (``accesses = hits + misses + sector_misses``).
    sector_misses : int
        Tag present but some requested sector invalid (sectored levels only).
    evictions : int
        Valid lines replaced (exclusive mode: lines pushed to the level below or dropped).
    writebacks : int
        Evicted lines with dirty data written to the level below.
    bytes_read : int
        Bytes filled into this level from the level below.
    bytes_written : int
        Bytes this level sent to the level below (write-backs, write-throughs, exclusive victims).
    invalidations : int
        Lines of this level invalidated by an inclusive lower level's eviction.
    """

    name: str
    accesses: int = 0
    writes: int = 0
    hits: int = 0
    misses: int = 0
    sector_misses: int = 0
    evictions: int = 0
    writebacks: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    invalidations: int = 0

    @property
    def miss_ratio(self) -> float:
        """``(misses + sector_misses) / accesses`` (0 when there were no accesses)."""
        return (self.misses + self.sector_misses) / self.accesses if self.accesses else 0.0

    @property
    def hit_ratio(self) -> float:
        """``hits / accesses``."""
        return self.hits / self.accesses if self.accesses else 0.0

    def to_dict(self) -> dict:
        """All counters plus ``miss_ratio``."""
        d = asdict(self)
        d["miss_ratio"] = self.miss_ratio
        return d


@dataclass(frozen=True)
class ReplayResult:
    """Result of :func:`cachesim.replay`.

    Attributes
    ----------
    levels : tuple of LevelStats
        First = nearest the core.
    accesses : int
        Trace accesses replayed (before splitting at line boundaries).
    hierarchy : HierarchyConfig
    memory_bytes_read, memory_bytes_written : int
        Traffic between the last level and memory.
    """

    levels: tuple
    accesses: int
    hierarchy: object
    memory_bytes_read: int = 0
    memory_bytes_written: int = 0

    def level(self, name: str) -> LevelStats:
        """The :class:`LevelStats` of the level called ``name``."""
        for s in self.levels:
            if s.name == name:
                return s
        from .errors import CacheSimError

        raise CacheSimError(f"no level named {name!r}; levels are {[s.name for s in self.levels]}")

    def __getitem__(self, name: str) -> LevelStats:
        return self.level(name)

    def to_dict(self) -> dict:
        """Plain-data form (JSON-serialisable)."""
        h = self.hierarchy
        return {
            "hierarchy": h.to_dict() if hasattr(h, "to_dict") else str(h),
            "accesses": self.accesses,
            "memory_bytes_read": self.memory_bytes_read,
            "memory_bytes_written": self.memory_bytes_written,
            "levels": [s.to_dict() for s in self.levels],
        }

    def __str__(self) -> str:
        name = getattr(self.hierarchy, "name", "")
        cols = ("accesses", "hits", "misses", "sector_misses", "evictions", "writebacks", "bytes_read")
        head = ["level"] + list(cols) + ["miss_ratio"]
        rows = [
            [s.name] + [f"{getattr(s, c):,}" for c in cols] + [f"{s.miss_ratio:.4f}"] for s in self.levels
        ]
        widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]

        def fmt(r):
            return "  ".join(x.rjust(w) if i else x.ljust(w) for i, (x, w) in enumerate(zip(r, widths)))

        lines = [f"replay of {self.accesses:,} accesses on {name!r}", fmt(head)]
        lines += [fmt(r) for r in rows]
        lines.append(f"memory: {self.memory_bytes_read:,} B read, {self.memory_bytes_written:,} B written")
        return "\n".join(lines)
