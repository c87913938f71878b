"""Exact k-loop counts of the fast GEMM kernels compiled offline for sm_90 (read from the stored record).

``drivers/gpu_sass_offline.py`` compiles every ``(variant, config)`` of the fast kernels timed on the H200
(``cachesim.measure.triton_fast``) with the device's Triton version and the launch's own specialisation, for
``cuda:90`` on a CPU host, and counts each k-loop with :func:`cachesim.kernels.sass.loop_mix` and
:func:`cachesim.kernels.sass.load_profile`. It writes the record
``measurements/gpu/sass_offline/gpu_sass_offline.json`` (kind ``gpu-sass-offline``). For the pairs whose
SASS the device itself recorded, the offline counts equal the device's (a test checks it), so the offline
table extends :data:`cachesim.kernels.issue.LOOP_MIXES` / ``LOOP_LOADS`` to every timed configuration
instead of scaling the few recorded ones.

``drivers/gpu_sass_tma_offline.py`` does the same for every timed TMA kernel (``tma-dense``,
``tma-roast-{table,hash32}-a<BN>-t<BKxBN>``) at its plain, persistent (``-p``) and warp-specialised
(``-pw``) schedule (:data:`TMA_RECORD`, kind ``gpu-sass-tma-offline``); its pairs join the same table.

The records are read by path (this module must not import ``cachesim.measure``); where they are absent
(an installed package without the repository's ``measurements/``) the table is empty and the cost model
scales the recorded loops as before.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CacheSimError

__all__ = ["RECORD", "TMA_RECORD", "LoopTable", "offline_loops"]

#: The offline SASS record, relative to the repository this package lives in.
RECORD = (Path(__file__).resolve().parents[2] / "measurements" / "gpu" / "sass_offline"
          / "gpu_sass_offline.json")
KIND = "gpu-sass-offline"
#: The offline SASS record of the TMA kernels (same case layout).
TMA_RECORD = RECORD.with_name("gpu_sass_tma_offline.json")
TMA_KIND = "gpu-sass-tma-offline"
_MIX_KEYS = ("instructions", "stall_cycles", "local_loads", "global_loads", "registers", "shared_bytes")
_LOAD_KEYS = ("chain", "lsu", "spill")


@dataclass(frozen=True)
class LoopTable:
    """Loop counts per ``(variant, config)``, in the tuples of ``LOOP_MIXES`` and ``LOOP_LOADS``.

    Attributes
    ----------
    mixes : dict
        ``(variant, config): (instructions, stall_cycles, local_loads, global_loads, registers,
        shared_bytes)`` per warp and k-iteration.
    loads : dict
        ``(variant, config): (load_chain, lsu_instructions, spill_bytes)``.
    failed : dict
        ``(variant, config): reason`` for pairs without counts (compile error, or no closed loop).
    source : str
        The file read ("" when none was found).
    spill_waits : dict
        ``(variant, config): waits on spill reloads per iteration``
        (:func:`cachesim.kernels.sass.spill_waits`) where the record counts them.
    variable_latency : dict
        ``(variant, config): MUFU and conversion instructions per iteration`` (the variable-latency ALU
        instructions of a remainder by a runtime divisor; classes ``mufu`` and ``convert``).
    """

    mixes: dict = field(default_factory=dict)
    loads: dict = field(default_factory=dict)
    failed: dict = field(default_factory=dict)
    source: str = ""
    spill_waits: dict = field(default_factory=dict)
    variable_latency: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"source": self.source,
                "mixes": {f"{v} {c}": list(t) for (v, c), t in sorted(self.mixes.items())},
                "loads": {f"{v} {c}": list(t) for (v, c), t in sorted(self.loads.items())},
                "failed": {f"{v} {c}": r for (v, c), r in sorted(self.failed.items())}}


def offline_loops() -> LoopTable:
    """The :class:`LoopTable` of :data:`RECORD` and :data:`TMA_RECORD` (read once; empty where a file is
    absent)."""
    return _merged(str(RECORD), str(TMA_RECORD))


@functools.cache
def _merged(path: str, tma_path: str) -> LoopTable:
    a, b = _read(path), _read(tma_path, TMA_KIND)
    return LoopTable({**a.mixes, **b.mixes}, {**a.loads, **b.loads}, {**a.failed, **b.failed},
                     "; ".join(x.source for x in (a, b) if x.source), {**a.spill_waits, **b.spill_waits},
                     {**a.variable_latency, **b.variable_latency})


@functools.cache
def _read(path: str, kind: str = KIND) -> LoopTable:
    p = Path(path)
    if not p.is_file():
        return LoopTable()
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise CacheSimError(f"offline SASS record {p}: not readable JSON ({exc})") from exc
    if data.get("kind") != kind:
        raise CacheSimError(f"offline SASS record {p}: kind={data.get('kind')!r}, expected {kind!r}")
    mixes, loads, failed, waits, xu = {}, {}, {}, {}, {}
    for c in data.get("cases", []):
        if c.get("type") != "sass":
            continue
        key = (c["variant"], c["config"])
        if c.get("error") or not c.get("loop_mix"):
            failed[key] = c.get("error") or "no closed k-loop in the listing"
            continue
        mixes[key] = tuple(int(c["loop_mix"][k]) for k in _MIX_KEYS)
        if c.get("by_class"):
            xu[key] = int(c["by_class"].get("mufu", 0)) + int(c["by_class"].get("convert", 0))
        if c.get("load_profile"):
            loads[key] = tuple(int(c["load_profile"][k]) for k in _LOAD_KEYS)
            if "spill_waits" in c["load_profile"]:
                waits[key] = int(c["load_profile"]["spill_waits"])
    return LoopTable(mixes, loads, failed, str(p), waits, xu)
