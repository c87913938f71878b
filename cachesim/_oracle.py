"""Run pycachesim (an external simulator) as an oracle in a subprocess.

pycachesim's import name is also ``cachesim``, so it cannot live in this environment: it is
installed with ``pip install --target .oracle/pycachesim pycachesim==0.3.1`` and run by a child
Python with ``PYTHONPATH`` pointing there. The trace goes through a ``.npy`` file; the child
converts it to a Python list and times only ``CacheSimulator.load(list)`` (pycachesim's fastest
path). Used by the oracle tests and by ``benchmarks/bench_cachesim.py``; not public API.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import HierarchyConfig, load_hierarchy
from .errors import CacheSimError

ORACLE_DIR = Path(
    os.environ.get("CACHESIM_ORACLE_DIR", Path(__file__).resolve().parent.parent / ".oracle" / "pycachesim")
)

_POLICY = {"lru": "LRU", "fifo": "FIFO", "mru": "MRU", "random": "RR"}

_CHILD = r"""
import json, sys, time
import numpy as np
from cachesim import Cache, CacheSimulator, MainMemory

spec = json.loads(sys.argv[1])
addr = np.load(spec["trace"])
writes = np.load(spec["writes"]) if spec.get("writes") else None
mem = MainMemory()
below = None
caches = []
for lv in reversed(spec["levels"]):
    c = Cache(lv["name"], lv["sets"], lv["ways"], lv["line"], lv["policy"],
              load_from=below, store_to=below)
    if below is None:
        mem.load_to(c)
        mem.store_from(c)
    below = c
    caches.append(c)
cs = CacheSimulator(below, mem)
if writes is None:
    lst = addr.tolist()
    t0 = time.perf_counter()
    cs.load(lst)
    seconds = time.perf_counter() - t0
else:
    pairs = list(zip(addr.tolist(), writes.tolist()))
    t0 = time.perf_counter()
    for a, w in pairs:
        if w:
            cs.store(a)
        else:
            cs.load(a)
    seconds = time.perf_counter() - t0
out = {"seconds": seconds, "levels": []}
for st in cs.stats():
    if "HIT_count" not in st:
        continue
    out["levels"].append({k: st[k] for k in ("name", "LOAD_count", "STORE_count", "HIT_count",
                                              "MISS_count", "EVICT_count")})
print(json.dumps(out))
"""


@dataclass(frozen=True)
class OracleLevel:
    """One level's counters from pycachesim (``accesses`` = its LOAD_count + STORE_count)."""

    name: str
    accesses: int
    loads: int
    stores: int
    hits: int
    misses: int
    evictions: int


@dataclass(frozen=True)
class OracleResult:
    """pycachesim's per-level counters and the seconds spent in the timed call."""

    levels: tuple
    seconds: float

    def level(self, name: str) -> OracleLevel:
        for lv in self.levels:
            if lv.name == name:
                return lv
        raise CacheSimError(f"no oracle level named {name!r}")


def oracle_available() -> bool:
    """True when pycachesim is installed in :data:`ORACLE_DIR`."""
    return (ORACLE_DIR / "cachesim" / "cache.py").is_file()


def pycachesim_levels(hierarchy) -> list[dict]:
    """Translate a hierarchy into pycachesim level specs (only what pycachesim can model)."""
    h: HierarchyConfig = load_hierarchy(hierarchy)
    if h.inclusion != "non-inclusive":
        raise CacheSimError(
            f"pycachesim models non-inclusive hierarchies only, got inclusion={h.inclusion!r}"
        )
    out = []
    for lv in h.levels:
        if lv.policy not in _POLICY:
            raise CacheSimError(f"level {lv.name!r}: pycachesim has no policy {lv.policy!r}")
        if lv.sector is not None or lv.index_hash != "modulo" or not lv.write_back:
            raise CacheSimError(
                f"level {lv.name!r}: pycachesim models unsectored, modulo-indexed write-back caches only"
            )
        out.append(
            {"name": lv.name, "sets": lv.sets, "ways": lv.ways, "line": lv.line, "policy": _POLICY[lv.policy]}
        )
    return out


def run_pycachesim(addr, hierarchy, *, writes=None, timeout: float = 900.0) -> OracleResult:
    """Replay byte addresses (loads, or stores where ``writes``) through pycachesim.

    ``hierarchy`` is anything :func:`cachesim.load_hierarchy` accepts, or a list of pycachesim
    level dicts (``name, sets, ways, line, policy``).
    """
    if not oracle_available():
        raise CacheSimError(f"pycachesim oracle not found in {ORACLE_DIR}")
    levels = hierarchy if isinstance(hierarchy, list) else pycachesim_levels(hierarchy)
    addr = np.ascontiguousarray(addr, dtype=np.int64)
    with tempfile.TemporaryDirectory(prefix="cachesim-oracle-") as tmp:
        spec = {"levels": levels, "trace": str(Path(tmp) / "addr.npy")}
        np.save(spec["trace"], addr)
        if writes is not None:
            spec["writes"] = str(Path(tmp) / "writes.npy")
            np.save(spec["writes"], np.asarray(writes, dtype=bool))
        env = dict(os.environ, PYTHONPATH=str(ORACLE_DIR))
        r = subprocess.run(
            [sys.executable, "-c", _CHILD, json.dumps(spec)],
            env=env,
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    if r.returncode != 0:
        raise CacheSimError(f"pycachesim oracle failed (exit {r.returncode}): {r.stderr.strip()[-2000:]}")
    data = json.loads(r.stdout.strip().splitlines()[-1])
    return OracleResult(
        tuple(
            OracleLevel(
                d["name"],
                d["LOAD_count"] + d["STORE_count"],
                d["LOAD_count"],
                d["STORE_count"],
                d["HIT_count"],
                d["MISS_count"],
                d["EVICT_count"],
            )
            for d in data["levels"]
        ),
        float(data["seconds"]),
    )
