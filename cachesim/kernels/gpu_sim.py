"""Replay GPU sector requests through per-SM sectored L1 caches, one shared sectored L2 and DRAM.

Every SM has its own L1 (capacity: the target's L1/shared pool minus the kernel's shared-memory carve-out,
see :meth:`GpuTarget.l1_bytes_for`); the L1 misses of all SMs, in issue order, form the request stream of
the shared L2 (one stream: the order within a wave is the lock-step order of the trace). Both levels
are sectored (128-byte lines, 32-byte sectors) and LRU. The replay itself is the private numba kernel
:func:`cachesim.kernels._replay_kernel.replay_chunk`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import CacheSimError
from . import _replay_kernel as rk
from ._common import check_int
from .gemm_gpu import GemmPlan, GpuTraffic, OperandTraffic, gemm_sector_trace, plan_gemm
from .targets import GpuTarget, gpu_target


@dataclass(frozen=True)
class ReplayCounts:
    """Raw per-operand counters of one replay (rows: L1, L2)."""

    requests: np.ndarray        # (2, n_ops) sectors looked up in L1 / L2
    misses: np.ndarray          # (2, n_ops)
    l1_bypass_loads: np.ndarray  # (n_ops,) load sectors that skipped L1 (cp.async.cg)
    dram_read_sectors: np.ndarray
    dram_write_sectors: int


def replay_sectors(chunks, target, *, l1_bytes: int, n_ops: int = 3) -> ReplayCounts:
    """Replay an iterable of :class:`SectorRows` through ``num_sms`` L1s and the shared L2."""
    t = gpu_target(target)
    levels = [(int(l1_bytes), t.l1_ways, t.line_bytes, t.sector_bytes),
              (t.l2_bytes, t.l2_ways, t.line_bytes, t.sector_bytes)]
    state = rk.ChainState(levels, n_instances=t.num_sms, n_ops=n_ops)
    for ch in chunks:
        if len(ch) == 0:
            continue
        if int(ch.sm.max()) >= t.num_sms or int(ch.sm.min()) < 0:
            raise CacheSimError(f"sector trace uses SM {int(ch.sm.max())} but target has {t.num_sms} SMs")
        state.feed_rows(ch.lanes, ch.sm, ch.op, ch.flags)
    # load sectors that never reached L1 (cp.async.cg): issued - looked up in L1 (op C is all writes)
    bypass = state.issued - state.req[0]
    return ReplayCounts(state.req.copy(), state.miss.copy(), bypass, state.dram_read.copy(),
                        int(state.dram_write[0]) + state.flush_dirty())


def simulate_gemm_gpu(plan: GemmPlan | None = None, *, target="h200", num_sms: int | None = None,
                      l1_bytes: int | None = None, **kwargs) -> GpuTraffic:
    """Simulate one GEMM kernel (forward or backward-weight) on a GPU target.

    Parameters
    ----------
    plan : GemmPlan, optional
        From :func:`plan_gemm`; otherwise ``kwargs`` are passed to :func:`plan_gemm`.
    target : str or GpuTarget
        ``"h200"`` or ``"h100"``.
    num_sms : int, optional
        Override the target's SM count (e.g. 1 for a hand-checked case).
    l1_bytes : int, optional
        Override the per-SM L1 capacity (default: pool minus the carve-out).

    Returns
    -------
    GpuTraffic

    Notes
    -----
    ``l1_sector_requests = sum over load instructions of |distinct 32 B sectors|``;
    ``l2_sector_requests = l1_sector_misses``; ``dram_bytes = 32 * (L2 load/atomic misses + dirty
    sectors written back)``.
    """
    if plan is None:
        plan = plan_gemm(**kwargs)
    elif kwargs:
        raise CacheSimError(f"pass either a plan or keyword arguments, not both (got {sorted(kwargs)})")
    if plan.kernel != "dense" and plan.starts is None and plan.slots is None:
        raise CacheSimError("the plan was built with tables=False: the simulation needs plan_gemm(..., "
                            "tables=True)")
    t = gpu_target(target)
    if num_sms is not None:
        t = replace(t, num_sms=check_int("num_sms", num_sms, low=1))
    if l1_bytes is None:
        l1_bytes = t.l1_bytes_for(plan.shared_bytes)
    else:
        l1_bytes = check_int("l1_bytes", l1_bytes, low=t.line_bytes * t.l1_ways)
    counts = replay_sectors(gemm_sector_trace(plan, t.num_sms, t.sector_bytes), t, l1_bytes=l1_bytes)
    return _to_traffic(plan, t, counts)


def _to_traffic(plan: GemmPlan, t: GpuTarget, c: ReplayCounts) -> GpuTraffic:
    sb = t.sector_bytes
    steps_programs = plan.n_steps * plan.n_programs
    ops = []
    for op in range(2):
        l1_req = int(c.requests[0, op] + c.l1_bypass_loads[op])
        l1_miss = int(c.misses[0, op] + c.l1_bypass_loads[op])
        ops.append(OperandTraffic(plan.op_names[op], plan.loads[op].n_instr * steps_programs, l1_req, l1_miss,
                                  int(c.requests[1, op]), int(c.misses[1, op]),
                                  int(c.dram_read_sectors[op]) * sb))
    ops.append(OperandTraffic(plan.op_names[2], plan.store.n_instr * plan.n_programs, 0, 0,
                              int(c.requests[1, 2]), int(c.misses[1, 2]), int(c.dram_read_sectors[2]) * sb))
    a, b, w = ops
    return GpuTraffic(
        kernel=plan.kernel, backward=plan.backward, target=t.name, load_path=plan.load_path,
        load_instructions=a.instructions + b.instructions,
        l1_sector_requests=a.l1_sector_requests + b.l1_sector_requests,
        l1_sector_misses=a.l1_sector_misses + b.l1_sector_misses,
        l2_sector_requests=a.l2_sector_requests + b.l2_sector_requests,
        l2_sector_misses=a.l2_sector_misses + b.l2_sector_misses,
        write_instructions=w.instructions, write_sector_requests=w.l2_sector_requests,
        dram_read_bytes=int(c.dram_read_sectors.sum()) * sb, dram_write_bytes=c.dram_write_sectors * sb,
        flops=plan.shape.flops, by_operand=tuple(ops),
    )
