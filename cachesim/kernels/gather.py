"""Gather-then-matmul: materialise ``W = M[idx]`` (``K x N``), then run the dense GEMM.

The gather reads the index array (int64, row-major like ``W``), reads ``M[idx]`` and writes ``W``:

* ``gather-hashednet``: ``idx[k, n] = h(k, n)`` (element hashing);
* ``gather-roast``: ``idx[k, n] = s(kb, nb) + (k mod BK) BN + (n mod BN)`` (tile hashing): runs of
  ``BN`` consecutive indices are contiguous, so the reads of ``M`` coalesce.

CPU: elements are processed in row-major order in segments of one ``W`` line (``64 / e`` elements);
each segment emits its index lines, the distinct ``M`` lines of its elements (consecutive equal lines
collapsed) and its ``W`` line (a write), through the engine.
GPU: one thread per element, 32 consecutive elements per warp instruction, blocks of ``4`` warps
assigned round-robin to the SMs; per warp: one index load (``32 x 8 B``), one gather of ``M`` (its
distinct sectors), one store of ``W`` (whole sectors, L1 bypass), replayed like the GEMM kernels.
The dense GEMM that follows is :func:`simulate_gemm_gpu` / :func:`simulate_gemm_cpu` with ``kernel="dense"``.

These functions count traffic. The CPU gather's *time* (latency-bound once the shared array outgrows the
caches) is priced by :func:`cachesim.kernels.cpu_cost.predict_cpu_gather` and broken down level by level
by :func:`cachesim.kernels.cpu_waterfall.cpu_waterfall`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._deprecate import deprecated_alias, renamed_kwargs
from ..errors import CacheSimError
from ..trace import TraceChunk
from . import _replay_kernel as rk
from ._common import GATHER_KERNELS, Block, GemmShape, check_choice, check_int, dtype_bytes
from ._family import DEFAULT_FAMILY, resolve_family
from .gemm_cpu import CpuTraffic, cpu_target, replay_cpu, simulate_gemm_cpu
from .gemm_gpu import SectorRows
from .gpu_sim import gpu_target, replay_sectors, simulate_gemm_gpu

KERNELS = GATHER_KERNELS
KINDS = KERNELS  # deprecated name
IDX_BYTES = 8
_WARPS_PER_BLOCK = 4


@dataclass(frozen=True)
class GatherTraffic:
    """Traffic of the gather and of the dense matmul that follows it.

    ``gather`` is a :class:`GpuTraffic`-like :class:`GatherGpuCounts` (GPU) or a :class:`CpuTraffic`;
    ``matmul`` is the dense GEMM's :class:`GpuTraffic` / :class:`CpuTraffic`.
    """

    kernel: str
    gather: object
    matmul: object

    kind = deprecated_alias("kernel", "kind")


@dataclass(frozen=True)
class GatherGpuCounts:
    """GPU counts of the gather kernel (op names: index loads, M gathers, W stores)."""

    kernel: str
    target: str
    load_instructions: int
    l1_sector_requests: int
    l1_sector_misses: int
    l2_sector_requests: int
    l2_sector_misses: int
    write_sector_requests: int
    dram_bytes: int
    m_sector_requests: int
    flops: int = 0

    kind = deprecated_alias("kernel", "kind")


@renamed_kwargs(kind="kernel")
def gather_indices(kernel: str, k: int, n: int, memory: int, *, block: Block, seed: int = 0, family=None):
    """The ``K x N`` int64 index array of the gather (see the module notes)."""
    kernel = check_choice("kernel", kernel, KERNELS)
    if kernel == "gather-roast":
        bk, bn = block.bk, block.bn
        if k % bk or n % bn:
            raise CacheSimError(f"shape K={k}, N={n} must be multiples of BK={bk}, BN={bn}")
        memory = check_int("memory", memory, low=bk * bn + 1)
        fam = resolve_family(family or DEFAULT_FAMILY["roast"], seed, need="tile_starts")
        kb, nb = np.meshgrid(np.arange(k // bk), np.arange(n // bn), indexing="ij")
        starts = np.asarray(fam.tile_starts(kb, nb, memory - bk * bn), dtype=np.int64)
        kk, nn = np.meshgrid(np.arange(k), np.arange(n), indexing="ij")
        return starts[kk // bk, nn // bn] + (kk % bk) * bn + nn % bn
    memory = check_int("memory", memory, low=1)
    fam = resolve_family(family or DEFAULT_FAMILY["hashednet"], seed, need="element_slots")
    kk, nn = np.meshgrid(np.arange(k), np.arange(n), indexing="ij")
    return np.asarray(fam.element_slots(kk, nn, memory), dtype=np.int64)


def _regions(k, n, memory, e):
    al = 4096
    idx_base = 0
    m_base = -(-k * n * IDX_BYTES // al) * al
    w_base = m_base + -(-memory * e // al) * al
    return idx_base, m_base, w_base


@renamed_kwargs(kind="kernel")
def gather_gpu(kernel, shape, memory, *, target="h200", block="128x64x32", dtype="fp32", seed=0, family=None,
               num_sms=None, **gemm_kwargs) -> GatherTraffic:
    """Simulate the gather on a GPU target, then the dense GEMM (``gemm_kwargs`` go to it)."""
    from dataclasses import replace

    t = gpu_target(target)
    if num_sms is not None:
        t = replace(t, num_sms=check_int("num_sms", num_sms, low=1))
    sh, blk, e = GemmShape.parse(shape), Block.parse(block), dtype_bytes(dtype)
    idx = gather_indices(kernel, sh.k, sh.n, memory, block=blk, seed=seed, family=family).ravel()
    n_el = idx.size
    if n_el % 32:
        raise CacheSimError(f"shape K*N={n_el} must be a multiple of 32 (one warp per 32 elements)")
    idx_base, m_base, w_base = _regions(sh.k, sh.n, memory, e)
    S = t.sector_bytes
    n_warps = n_el // 32
    el = np.arange(n_el, dtype=np.int64).reshape(n_warps, 32)
    rows_idx = (idx_base + el * IDX_BYTES) // S * S
    rows_m = np.sort((m_base + idx.reshape(n_warps, 32) * e) // S * S, axis=1)
    rows_w = (w_base + el * e) // S * S
    lanes = np.stack([rows_idx, rows_m, rows_w], axis=1).reshape(-1, 32)
    sm = np.repeat((np.arange(n_warps) // _WARPS_PER_BLOCK) % t.num_sms, 3)
    op = np.tile(np.array([0, 1, 2]), n_warps)
    flags = np.tile(np.array([0, 0, rk.WRITE | rk.BYPASS0 | rk.FULL]), n_warps)
    l1_bytes = t.l1_pool_bytes
    rows = SectorRows(lanes, sm, op, flags)
    c = replay_sectors([rows], t, l1_bytes=l1_bytes)
    loads = slice(0, 2)
    g = GatherGpuCounts(
        kernel=kernel, target=t.name, load_instructions=2 * n_warps,
        l1_sector_requests=int(c.requests[0, loads].sum()), l1_sector_misses=int(c.misses[0, loads].sum()),
        l2_sector_requests=int(c.requests[1, loads].sum()), l2_sector_misses=int(c.misses[1, loads].sum()),
        write_sector_requests=int(c.requests[1, 2]),
        dram_bytes=int(c.dram_read_sectors.sum() + c.dram_write_sectors) * S,
        m_sector_requests=int(c.requests[0, 1]),
    )
    mm = simulate_gemm_gpu(kernel="dense", shape=sh, block=blk, dtype=dtype, target=t, **gemm_kwargs)
    return GatherTraffic(kernel, g, mm)


@renamed_kwargs(kind="kernel")
def gather_cpu_trace(kernel, shape, memory, *, block="128x64x32", dtype="fp32", seed=0, family=None,
                     line_bytes: int = 64):
    """Line-access trace of the CPU gather (see the module notes)."""
    sh, blk, e = GemmShape.parse(shape), Block.parse(block), dtype_bytes(dtype)
    idx = gather_indices(kernel, sh.k, sh.n, memory, block=blk, seed=seed, family=family).ravel()
    per = max(1, line_bytes // e)
    n_el = idx.size
    if n_el % per:
        raise CacheSimError(f"shape K*N={n_el} must be a multiple of {per} (elements per line)")
    idx_base, m_base, w_base = _regions(sh.k, sh.n, memory, e)
    seg = np.arange(n_el, dtype=np.int64).reshape(-1, per)
    i_lines = (idx_base + seg * IDX_BYTES) // line_bytes
    i_ok = np.ones(i_lines.shape, bool)
    i_ok[:, 1:] = i_lines[:, 1:] != i_lines[:, :-1]
    m_lines = (m_base + idx.reshape(-1, per) * e) // line_bytes
    m_ok = np.ones(m_lines.shape, bool)
    m_ok[:, 1:] = m_lines[:, 1:] != m_lines[:, :-1]
    w_lines = ((w_base + seg[:, :1] * e) // line_bytes)
    lines = np.concatenate([i_lines, m_lines, w_lines], axis=1)
    ok = np.concatenate([i_ok, m_ok, np.ones(w_lines.shape, bool)], axis=1)
    wr = np.zeros(lines.shape, bool)
    wr[:, -1] = True
    return TraceChunk(lines[ok] * line_bytes, None, wr[ok], 0)


@renamed_kwargs(kind="kernel", tiles="loop_tiles")
def gather_cpu(kernel, shape, memory, *, target="zen4", block="128x64x32", dtype="fp32", seed=0, family=None,
               loop_tiles="32x32x32") -> GatherTraffic:
    """Replay the gather through a CPU target, then the dense blocked GEMM."""
    t = cpu_target(target)
    ch = gather_cpu_trace(kernel, shape, memory, block=block, dtype=dtype, seed=seed, family=family,
                          line_bytes=t.line_bytes)
    g: CpuTraffic = replay_cpu(iter([ch]), t, kernel, 0)
    mm = simulate_gemm_cpu("dense", shape, target=t, loop_tiles=loop_tiles, dtype=dtype)
    return GatherTraffic(kernel, g, mm)
