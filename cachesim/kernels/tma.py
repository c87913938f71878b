"""Traffic of the TMA kernels: the pointer kernel's sectors, delivered by box copies instead of loads.

A Tensor Memory Accelerator (TMA) copy moves a whole box (a ``BK x BN`` tile of B, a ``BM x BK`` tile of
A) from global memory into shared memory on one instruction of one thread: no per-thread load
instructions, no L1 lookup (the copy goes from L2 to shared memory; NVIDIA Hopper Tuning Guide, "Tensor
Memory Accelerator"). A's boxes cover the sectors the pointer kernel's 16-byte copies request; a ROAST box
with ``align == BN`` starts a row of the shared array, so it covers whole 32-byte sectors, ``B elements x
bytes / 32`` (the pointer plan counts the windows of element-aligned starts, 1.47x that for 2-byte
elements), the same as dense W's boxes. None of them can hit in L1: every sector of A and B is an L2
request. DRAM bytes are unchanged (what L2 keeps does not depend on the path into the SM).

Schedules (:func:`compiled_schedule`): ``plain`` launches one program per output block; ``persistent``
launches at most one program per SM, each walking blocks in the grouped order (one resident program per
SM); ``warp-specialized`` asks Triton to split the persistent loop into a producer partition (the TMA
copies and, for ROAST, the start-table read) and consumer partitions (the MMA). Whether the compiler
actually split it is read from the offline listings of every timed persistent pair
(``drivers/gpu_sass_tma_offline.py``, ``measurements/gpu/sass_offline/gpu_sass_tma_offline.json``):
Triton 3.6.0 split only the 4-warp kernels with 64-row blocks (12 warps launched, ``USETMAXREG``, the start
read by one ``LDG`` in the producer); every 8-warp ``-pw`` listing is byte-identical to its ``-p`` listing.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import replace
from pathlib import Path

from ..errors import CacheSimError

__all__ = ["SCHEDULES", "SCHEDULE_RECORD", "SCHEDULE_SUFFIX", "compiled_schedule", "tma_traffic"]

#: Launch schedules of the TMA kernels (``cachesim.measure.triton_tma.TmaConfig``: ``persistent``,
#: ``persistent`` + ``warp_specialize``) and the suffix each adds to a configuration label
#: (``TmaConfig.label``; the offline listings and the records name configurations so).
SCHEDULE_SUFFIX = {"plain": "", "persistent": "-p", "warp-specialized": "-pw"}
SCHEDULES = tuple(SCHEDULE_SUFFIX)
#: The offline listings of the timed TMA pairs, relative to the repository this package lives in.
SCHEDULE_RECORD = (Path(__file__).resolve().parents[2] / "measurements" / "gpu" / "sass_offline"
                   / "gpu_sass_tma_offline.json")


@functools.lru_cache(maxsize=4)
def _split_pairs(path: str) -> dict:
    """``{(variant without its tile, config without the schedule): warp_specialized}`` of the ``-pw`` pairs
    of the offline record (empty where the record is absent; an unreadable one is an error)."""
    p = Path(path)
    if not p.is_file():
        return {}
    try:
        cases = json.loads(p.read_text())["cases"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CacheSimError(f"offline TMA listing record {p}: not a readable record ({exc!r})") from exc
    return {(re.sub(r"-t\d+x\d+$", "", c["variant"]), re.sub(r"-pw(-dx)?$", r"\1", c["config"])):
            bool(c["warp_specialized"])
            for c in cases if c.get("type") == "sass" and re.search(r"-pw(-dx)?$", str(c.get("config", "")))
            and "warp_specialized" in c}


def compiled_schedule(variant: str, config: str, schedule: str, record: str | Path | None = None) -> str:
    """The schedule Triton compiled for ``schedule`` (module notes): ``warp-specialized`` stays so only where
    the listing of ``(variant, config)`` is split into partitions, else it is ``persistent``.

    ``variant``: ``tma-dense``, ``tma-roast-table-a128`` ...; ``config``: ``BMxBNxBK-gG-wW-sS`` (``-dx``
    appended for the input-gradient kernel). Pairs the record lacks follow what every recorded pair showed
    (forward and dX): split at 4 warps with 64-row blocks, not at 8 warps (no 4-warp block of 128 or more
    rows was timed with warp specialisation, so those are assumed unsplit too).

    Examples
    --------
    >>> compiled_schedule("tma-roast-table-a128", "64x128x64-g8-w8-s3", "warp-specialized")
    'persistent'
    >>> compiled_schedule("tma-roast-table-a128", "64x128x64-g8-w4-s3", "warp-specialized")
    'warp-specialized'
    >>> compiled_schedule("tma-dense", "32x128x64-g8-w4-s3", "warp-specialized", record="absent.json")
    'persistent'
    """
    if schedule not in SCHEDULES:
        raise CacheSimError(f"schedule={schedule!r} must be one of {', '.join(SCHEDULES)}")
    if schedule != "warp-specialized":
        return schedule
    split = _split_pairs(str(record or SCHEDULE_RECORD)).get((variant, config))
    if split is None:
        split = re.search(r"-w4-", config) is not None and config.startswith("64x")
    return "warp-specialized" if split else "persistent"


def tma_traffic(traffic, b_sectors: float | None = None):
    """The traffic of the same kernel with A and B copied by TMA (module notes).

    ``traffic``: an :class:`~cachesim.kernels.analytic.AnalyticTraffic` (or anything with the same
    fields and ``by_operand``). A and B lose their load instructions and their L1 hits; L2 requests grow by
    the sectors L1 used to serve. ``b_sectors``: the sectors B's boxes cover, where the pointer kernel's
    count differs (a ROAST box with ``align == BN`` covers whole rows, ``B elements x bytes / 32``, while
    the pointer plan counts the windows of element-aligned starts).

    Examples
    --------
    >>> from cachesim.kernels.analytic import AnalyticTraffic, OperandExpectation
    >>> ops = (OperandExpectation("A", 10, 40.0, 10.0, 5.0, True),
    ...        OperandExpectation("B", 10, 40.0, 40.0, 8.0, True))
    >>> tr = AnalyticTraffic("dense", False, "h200", 20, 80.0, 50.0, 50.0, 13.0, 4.0, 1e3, 100, ops)
    >>> t = tma_traffic(tr)
    >>> t.load_instructions, t.l2_sector_requests, t.l1_sector_misses
    (0, 80.0, 80.0)
    """
    ops, gained, instr = [], 0.0, 0
    for op in traffic.by_operand:
        if op.name[:1] in ("A", "B"):
            req = float(op.l1_sector_requests)
            if op.name[:1] == "B" and b_sectors is not None:
                req = float(b_sectors)
            gained += req - float(op.l1_sector_misses)
            instr += int(op.instructions)
            op = replace(op, instructions=0, l1_sector_requests=req, l1_sector_misses=req)
        ops.append(op)
    l1_req = sum(float(op.l1_sector_requests) for op in ops)
    return replace(traffic, load_instructions=int(traffic.load_instructions) - instr,
                   l1_sector_requests=l1_req, l1_sector_misses=float(traffic.l1_sector_misses) + gained,
                   l2_sector_requests=float(traffic.l2_sector_requests) + gained, by_operand=tuple(ops))
