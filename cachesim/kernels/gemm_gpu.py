"""Sector-request traces of Triton-style tiled GEMMs on a GPU (dense, ROAST, HashedNet; forward and dW).

The modelled kernel is the Triton matmul tutorial's: ``Y = X W`` (``X: M x K``, ``W: K x N``, row-major),
one program per ``BLOCK_M x BLOCK_N`` output tile in grouped order (``GROUP_M``), looping over ``K`` in
steps of ``BLOCK_K``; each step loads an A tile (``BM x BK`` of ``X``) and a B tile (``BK x BN``):

* ``dense``     B rows from ``W``: ``W[kb*BK + r, nb*BN + c]``;
* ``roast``     one contiguous ``BK*BN`` block of the shared array: element ``s(kb, nb) + r*BN + c``;
* ``hashednet`` (fused) element ``h(k, n)`` of the shared array for every element.

The backward-weight kernel computes ``dW = X^T dY`` with one program per ``BK x BN`` tile of ``dW``,
looping over ``M`` in steps of ``BLOCK_M`` (loads: ``X`` rows ``BM x BK``, ``dY`` rows ``BM x BN``), then
writes the tile: ``dense`` a plain 16-byte store of the dense tile, ``roast`` element atomics
(``red.add``) into the contiguous block, ``hashednet`` per-element scattered atomics.

What is counted (what Nsight Compute counts)
--------------------------------------------
A tile is loaded by warp instructions: thread ``j`` loads the ``v`` consecutive elements starting at the
tile's row-major flat index ``j*v`` and an instruction is 32 consecutive threads. The coalescer turns an
instruction into its *distinct* 32-byte sectors (``l1tex__t_sectors_pipe_lsu_mem_global_op_ld`` counts
them, ``l1tex__t_requests`` the instructions). The vector width ``v`` is what the compiler can prove:

* strided operands (``X``, dense ``W``, ``dY``, ``Y``): 16 bytes when the row stride in bytes is a
  multiple of 16 (Triton's divisibility-by-16 specialisation), else one element;
* ROAST: the start ``s`` is a runtime hash value, so only element alignment is provable:
  ``roast_vector_bytes`` defaults to the element size. A larger value models a variant whose starts
  are multiples of ``roast_vector_bytes / elem`` elements (the starts are rounded down to that);
* HashedNet: one element per thread (gather).

Load path (``load_path``): ``"ld"`` -- plain ``ld.global``, cached in L1 (``..._op_ld`` metrics);
``"ldgsts"`` -- Triton on Hopper with ``num_stages > 1`` pipelines loads through ``cp.async``
(``..._op_ldgsts`` metrics): 16-byte copies are ``.cg`` and bypass L1 (every sector goes to L2; they
are still counted as L1 sector requests, and as misses), 4/8-byte copies are ``.ca`` (cached in L1);
2-byte loads cannot be ``cp.async`` and stay ``ld``. ``"auto"`` (default) picks ``ldgsts`` when
``num_stages > 1``. Stores and atomics bypass L1 (write-through, no allocate) and are counted as L2
write sector requests; a store of whole sectors needs no DRAM read, an atomic read-modify-writes.

``num_warps`` only decides how the instructions of a tile are spread over the warps of a program; it
does not change their number or their sectors (tiles are assumed to hold at least ``32 v`` elements
per warp, so no thread loads a replicated element).

Schedule: programs run in waves of ``num_sms``; program ``p`` runs on SM ``p mod num_sms``. Within a
wave the SMs are assumed to advance in lock step: the request stream is ordered by (k-step, SM, A
instructions then B instructions), the epilogue writes follow the last step. L1 capacity is the 256 KiB
pool minus the shared-memory carve-out the kernel needs (``num_stages * (BM*BK + BK*BN) * elem``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .._deprecate import deprecated_alias, renamed_kwargs
from .._validate import check_allocation, is_pow2, pick_named
from ..errors import CacheSimError
from . import _sector_flags as sector_flags
from ._common import (
    GEMM_KERNELS,
    MAX_DIM,
    Block,
    GemmShape,
    check_choice,
    check_divisible,
    check_int,
    check_memory,
    dtype_bytes,
)
from ._family import DEFAULT_FAMILY, resolve_family

KERNELS = GEMM_KERNELS
KINDS = KERNELS  # deprecated name
LOAD_PATHS = ("auto", "ld", "ldgsts")
OP_NAMES_FWD = ("A:X", "B:W", "C:Y-store")
OP_NAMES_BWD = ("A:X^T", "B:dY", "C:dW-write")
_REGION_ALIGN = 1 << 12
_CHUNK_LANES = 1 << 23


def _align(x: int) -> int:
    return -(-x // _REGION_ALIGN) * _REGION_ALIGN


def grouped_order(n_rows: int, n_cols: int, group: int) -> tuple[np.ndarray, np.ndarray]:
    """Program id -> (row tile, column tile) in the Triton tutorial's grouped order.

    Notes
    -----
    ``g = pid // (G*n_cols)``, ``first = g*G``, ``size = min(n_rows - first, G)``,
    ``row = first + (pid mod G*n_cols) mod size``, ``col = (pid mod G*n_cols) // size``.
    """
    pid = np.arange(n_rows * n_cols, dtype=np.int64)
    per_group = group * n_cols
    first = (pid // per_group) * group
    size = np.minimum(n_rows - first, group)
    local = pid % per_group
    return first + local % size, local // size


@dataclass(frozen=True)
class TileLoad:
    """How one ``rows x cols`` tile is accessed: ``vec`` elements per thread, 32 threads per instruction.

    ``thread_row`` / ``thread_col`` give each (padded) thread's first element; padding repeats the last
    thread, which adds no sector.
    """

    rows: int
    cols: int
    vec: int
    thread_row: np.ndarray
    thread_col: np.ndarray

    @property
    def n_instr(self) -> int:
        return self.thread_row.shape[0] // 32

    @classmethod
    def make(cls, rows: int, cols: int, vec: int) -> TileLoad:
        n_threads = rows * cols // vec
        flat = np.arange(n_threads, dtype=np.int64) * vec
        pad = (-n_threads) % 32
        flat = np.concatenate([flat, np.full(pad, flat[-1])])
        return cls(rows, cols, vec, flat // cols, flat % cols)


@dataclass(frozen=True)
class OperandTraffic:
    """Counts for one operand stream (``A``, ``B`` or the epilogue write ``C``)."""

    name: str
    instructions: int
    l1_sector_requests: int
    l1_sector_misses: int
    l2_sector_requests: int
    l2_sector_misses: int
    dram_read_bytes: int

    @property
    def sectors_per_request(self) -> float:
        """Mean distinct sectors per warp instruction."""
        reqs = self.l1_sector_requests if self.l1_sector_requests else self.l2_sector_requests
        return reqs / self.instructions if self.instructions else 0.0


@dataclass(frozen=True)
class GpuTraffic:
    """Simulated traffic of one GPU kernel.

    Attributes
    ----------
    load_instructions : int
        Warp-level global load instructions (``l1tex__t_requests_pipe_lsu_mem_global_op_ld[gsts]``).
    l1_sector_requests : int
        Distinct 32-byte sectors per load instruction, summed (``..._t_sectors_..._op_ld[gsts]``).
    l1_sector_misses : int
        Load sectors L1 did not hold (L1-bypassing ``cp.async.cg`` sectors count as misses).
    l2_sector_requests : int
        Load sectors requested from L2; equals ``l1_sector_misses``.
    l2_sector_misses : int
        Load sectors L2 had to fetch from DRAM.
    write_sector_requests : int
        Store / atomic sectors sent to L2 (the epilogue).
    dram_read_bytes, dram_write_bytes, dram_bytes : int
        DRAM traffic: 32 bytes per missed sector (loads and atomics), plus dirty sectors written back
        (evicted, or flushed at the end of the kernel).
    by_operand : tuple of OperandTraffic
    """

    kernel: str
    backward: bool
    target: str
    load_path: str
    load_instructions: int
    l1_sector_requests: int
    l1_sector_misses: int
    l2_sector_requests: int
    l2_sector_misses: int
    write_instructions: int
    write_sector_requests: int
    dram_read_bytes: int
    dram_write_bytes: int
    flops: int
    by_operand: tuple

    kind = deprecated_alias("kernel", "kind")

    @property
    def dram_bytes(self) -> int:
        return self.dram_read_bytes + self.dram_write_bytes

    @property
    def sectors_per_request(self) -> float:
        """Mean distinct sectors per load instruction."""
        return self.l1_sector_requests / self.load_instructions if self.load_instructions else 0.0

    def operand(self, prefix: str) -> OperandTraffic:
        """The operand whose name starts with ``prefix`` (``"A"``, ``"B"`` or ``"C"``)."""
        return pick_named(self.by_operand, prefix, "operand", prefix=True)

    def ratio(self, other: GpuTraffic, metric: str = "l1_sector_requests") -> float:
        """``self.metric / other.metric``."""
        if not hasattr(self, metric):
            raise CacheSimError(f"metric={metric!r} is not a GpuTraffic field")
        den = getattr(other, metric)
        return getattr(self, metric) / den if den else float("inf")

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in (
            "kernel", "backward", "target", "load_path", "load_instructions", "l1_sector_requests",
            "l1_sector_misses", "l2_sector_requests", "l2_sector_misses", "write_instructions",
            "write_sector_requests", "dram_read_bytes", "dram_write_bytes", "dram_bytes", "flops")}
        d["by_operand"] = {o.name: {k: getattr(o, k) for k in (
            "instructions", "l1_sector_requests", "l1_sector_misses", "l2_sector_requests",
            "l2_sector_misses", "dram_read_bytes")} for o in self.by_operand}
        return d


@dataclass(frozen=True)
class GemmPlan:
    """A validated GEMM kernel description with its derived quantities (build with :func:`plan_gemm`)."""

    kernel: str
    backward: bool
    shape: GemmShape
    block: Block
    group_m: int
    num_warps: int
    num_stages: int
    dtype: str
    elem_bytes: int
    memory: int | None
    seed: int
    family: object
    load_path: str
    roast_vector_bytes: int
    n_rows: int          # program grid rows (M/BM forward, K/BK backward)
    n_cols: int          # N/BN
    n_steps: int         # K/BK forward, M/BM backward
    loads: tuple         # (TileLoad A, TileLoad B)
    store: TileLoad
    bases: dict
    starts: np.ndarray | None
    slots: np.ndarray | None

    kind = deprecated_alias("kernel", "kind")

    @property
    def n_programs(self) -> int:
        return self.n_rows * self.n_cols

    @property
    def shared_bytes(self) -> int:
        b = self.block
        return self.num_stages * (b.bm * b.bk + b.bk * b.bn) * self.elem_bytes

    @property
    def op_names(self) -> tuple:
        return OP_NAMES_BWD if self.backward else OP_NAMES_FWD

    def load_flags(self, op: int) -> int:
        """Replay flags of a load of operand ``op`` under this plan's load path."""
        vec_bytes = self.loads[op].vec * self.elem_bytes
        return sector_flags.BYPASS0 if (self.load_path == "ldgsts" and vec_bytes == 16) else 0

    @property
    def write_flags(self) -> int:
        if self.kernel == "dense" or not self.backward:
            return sector_flags.WRITE | sector_flags.BYPASS0 | sector_flags.FULL
        return sector_flags.WRITE | sector_flags.BYPASS0

    @property
    def write_is_atomic(self) -> bool:
        return self.backward and self.kernel != "dense"


def _stride_vec(ld_elems: int, elem_bytes: int) -> int:
    return 16 // elem_bytes if (ld_elems * elem_bytes) % 16 == 0 else 1


def _check_roast_vector_bytes(roast_vector_bytes, elem: int, block: Block) -> int:
    """Bytes per thread of ROAST B loads: a power of two in ``[elem, 16]`` dividing ``BLOCK_N * elem``."""
    if roast_vector_bytes is None:
        return elem
    roast_vector_bytes = check_int("roast_vector_bytes", roast_vector_bytes, low=elem, high=16)
    if roast_vector_bytes & (roast_vector_bytes - 1) or block.bn * elem % roast_vector_bytes:
        raise CacheSimError(
            f"roast_vector_bytes={roast_vector_bytes} must be a power of two in [{elem}, 16] dividing "
            f"BLOCK_N*{elem}={block.bn * elem}"
        )
    return roast_vector_bytes


@renamed_kwargs(kind="kernel")
def plan_gemm(kernel="dense", shape="64x64x64", *, block="128x64x32", backward=False, group_m=8, num_warps=4,
              num_stages=3, dtype="fp32", memory=None, seed=0, family=None, load_path="auto",
              roast_vector_bytes=None, tables=True) -> GemmPlan:
    """Validate the kernel parameters and build the (cached) plan.

    Parameters
    ----------
    kernel : {"dense", "roast", "hashednet"}
    shape : str or GemmShape
        ``"MxKxN"``.
    block : str or Block
        ``"BLOCK_MxBLOCK_NxBLOCK_K"``, powers of two >= 8; each dimension must divide the shape.
    memory : int
        Size of the shared array in elements (ROAST needs ``memory > BK*BN``); ignored for dense.
    family : str or object
        Hash family (default: ``rz-stable`` for ROAST, ``hashednet-triton`` for HashedNet).
    load_path : {"auto", "ld", "ldgsts"}
    roast_vector_bytes : int, optional
        Bytes per thread for ROAST B loads (default: the element size; see the module notes).
    tables : bool
        Build the ROAST tile-start table (``starts``) and the HashedNet per-element slot table (``slots``,
        ``K x N`` entries). Only the trace simulation reads them; the closed-form model
        (:func:`~cachesim.kernels.analytic.analytic_gemm`) does not, so it plans with ``tables=False``
        (``starts`` and ``slots`` are then ``None``; the family is still resolved and checked for the
        method it needs, but its output range is checked only when a table is built). Every other field
        is the same.

    Raises
    ------
    CacheSimError
        Naming the first bad argument.
    """
    kernel = check_choice("kernel", kernel, KERNELS)
    if not isinstance(backward, bool):
        raise CacheSimError(f"backward={backward!r} must be True or False")
    shape = GemmShape.parse(shape)
    block = Block.parse(block)
    elem = dtype_bytes(dtype)
    group_m = check_int("group_m", group_m, low=1, high=MAX_DIM)  # the grouped order multiplies it by columns
    num_warps = check_int("num_warps", num_warps, low=1, high=32)
    if not is_pow2(num_warps):  # Triton launches 1, 2, 4, 8, 16 or 32 warps per program
        raise CacheSimError(f"num_warps={num_warps} must be a power of two in [1, 32]")
    num_stages = check_int("num_stages", num_stages, low=1, high=8)
    seed = check_int("seed", seed, low=0)
    load_path = check_choice("load_path", load_path, LOAD_PATHS)
    if load_path == "auto":
        load_path = "ldgsts" if num_stages > 1 else "ld"
    check_divisible(shape, block)
    if kernel == "hashednet":  # the per-element slot table of W and its temporaries, before building it
        check_allocation(f"the HashedNet slot table of W = {shape.k} x {shape.n}", shape.k * shape.n, 40,
                         unit="elements")
    tile = block.bk * block.bn
    if kernel == "dense":
        memory = None
    else:
        memory = check_memory(kernel, memory)
        if kernel == "roast" and memory <= tile:
            raise CacheSimError(
                f"memory={memory} must be > BLOCK_K*BLOCK_N = {tile}: a ROAST tile must fit in the "
                "shared array"
            )
    roast_vector_bytes = _check_roast_vector_bytes(roast_vector_bytes, elem, block)
    if not isinstance(tables, bool):
        raise CacheSimError(f"tables={tables!r} must be True or False")
    if family is None:
        family = DEFAULT_FAMILY.get(kernel)
    fam_key = family if isinstance(family, str) or family is None else id(family)
    try:
        hash(family)
    except TypeError:  # an unhashable family object: build the plan without caching it
        return _plan_cached.__wrapped__(kernel, backward, shape, block, group_m, num_warps, num_stages, dtype,
                                        elem, memory, seed, fam_key, load_path, roast_vector_bytes, family,
                                        tables)
    return _plan_cached(kernel, backward, shape, block, group_m, num_warps, num_stages, dtype, elem, memory,
                        seed, fam_key, load_path, roast_vector_bytes, family, tables)


@functools.lru_cache(maxsize=8)
def _plan_cached(kernel, backward, shape, block, group_m, num_warps, num_stages, dtype, elem, memory, seed,
                 fam_key, load_path, roast_vec, family, tables=True):
    m, k, n = shape.m, shape.k, shape.n
    bm, bn, bk = block.bm, block.bn, block.bk
    starts = slots = None
    if not tables and kernel != "dense":  # the family is still resolved (and checked), no table is built
        resolve_family(family, seed, need="tile_starts" if kernel == "roast" else "element_slots")
    elif kernel == "roast":
        fam = resolve_family(family, seed, need="tile_starts")
        kb, nb = np.meshgrid(np.arange(k // bk, dtype=np.int64), np.arange(n // bn, dtype=np.int64),
                             indexing="ij")
        span = memory - bk * bn
        starts = np.asarray(fam.tile_starts(kb, nb, span), dtype=np.int64)
        starts = np.broadcast_to(starts, (k // bk, n // bn))
        if starts.size and (starts.min() < 0 or starts.max() >= span):
            raise CacheSimError(f"family {family!r} returned tile starts outside [0, {span})")
        vec_el = roast_vec // elem
        starts = starts - starts % vec_el
    elif kernel == "hashednet":
        fam = resolve_family(family, seed, need="element_slots")
        kk, nn = np.meshgrid(np.arange(k, dtype=np.int64), np.arange(n, dtype=np.int64), indexing="ij")
        slots = np.broadcast_to(np.asarray(fam.element_slots(kk, nn, memory), dtype=np.int64), (k, n))
        if slots.size and (slots.min() < 0 or slots.max() >= memory):
            raise CacheSimError(f"family {family!r} returned element slots outside [0, {memory})")
    # regions, in elements: X, then (W or dY), then (Y / dW or the shared array)
    sizes = {"X": m * k}
    if backward:
        sizes["dY"] = m * n
        sizes["W"] = k * n if kernel == "dense" else memory
    else:
        sizes["W"] = k * n if kernel == "dense" else memory
        sizes["Y"] = m * n
    bases, pos = {}, 0
    for name, sz in sizes.items():
        bases[name] = pos
        pos = _align(pos + sz * elem)
    b_vec = {"dense": _stride_vec(n, elem), "roast": roast_vec // elem, "hashednet": 1}[kernel]
    if backward:
        loads = (TileLoad.make(bm, bk, _stride_vec(k, elem)), TileLoad.make(bm, bn, _stride_vec(n, elem)))
        store = TileLoad.make(bk, bn, _stride_vec(n, elem) if kernel == "dense" else 1)
        n_rows, n_steps = k // bk, m // bm
    else:
        loads = (TileLoad.make(bm, bk, _stride_vec(k, elem)), TileLoad.make(bk, bn, b_vec))
        store = TileLoad.make(bm, bn, _stride_vec(n, elem))
        n_rows, n_steps = m // bm, k // bk
    return GemmPlan(kernel, backward, shape, block, group_m, num_warps, num_stages, dtype, elem, memory, seed,
                    family, load_path, roast_vec, n_rows, n // bn, n_steps, loads, store, bases, starts,
                    slots)


# ----------------------------------------------------------------------------------------------------
# element addresses of each operand tile; arrays broadcast as (steps, programs, threads)


def _addr_load(plan: GemmPlan, op: int, step, prow, pcol) -> np.ndarray:
    t = plan.loads[op]
    tr, tc = t.thread_row, t.thread_col
    s, e = plan.shape, plan.elem_bytes
    bm, bn, bk = plan.block.bm, plan.block.bn, plan.block.bk
    if op == 0:  # X rows: forward (pid_m, kb); backward (mb, pid_k)
        r0, c0 = (step * bm, prow * bk) if plan.backward else (prow * bm, step * bk)
        return plan.bases["X"] + ((r0 + tr) * s.k + c0 + tc) * e
    if plan.backward:  # dY rows (mb, pid_n)
        return plan.bases["dY"] + ((step * bm + tr) * s.n + pcol * bn + tc) * e
    return _addr_b_tile(plan, step, pcol, tr, tc)


def _addr_b_tile(plan: GemmPlan, kb, nb, tr, tc) -> np.ndarray:
    """Address of element (kb*BK + tr, nb*BN + tc) of the (virtual) weight under the plan's mapping."""
    e, base = plan.elem_bytes, plan.bases["W"]
    bn, bk = plan.block.bn, plan.block.bk
    if plan.kernel == "dense":
        return base + ((kb * bk + tr) * plan.shape.n + nb * bn + tc) * e
    if plan.kernel == "roast":
        return base + (plan.starts[kb, nb] + tr * bn + tc) * e
    return base + plan.slots[kb * bk + tr, nb * bn + tc] * e


def _addr_store(plan: GemmPlan, prow, pcol) -> np.ndarray:
    t = plan.store
    if plan.backward:
        return _addr_b_tile(plan, prow, pcol, t.thread_row, t.thread_col)
    return plan.bases["Y"] + ((prow * plan.block.bm + t.thread_row) * plan.shape.n
                              + pcol * plan.block.bn + t.thread_col) * plan.elem_bytes


@dataclass(frozen=True)
class SectorRows:
    """Warp instructions in issue order.

    Row ``r`` of ``lanes`` holds the 32 lanes' sector addresses (bytes, multiples of the sector size)
    of one instruction with equal sectors adjacent, so its distinct sectors are the runs of equal
    values; ``sm``, ``op`` and ``flags`` are per row.
    """

    lanes: np.ndarray
    sm: np.ndarray
    op: np.ndarray
    flags: np.ndarray

    def __len__(self) -> int:
        return int(self.lanes.shape[0])

    def keep_mask(self) -> np.ndarray:
        """True at the first lane of each run of equal sectors (one request per distinct sector)."""
        keep = np.ones(self.lanes.shape, dtype=bool)
        keep[:, 1:] = self.lanes[:, 1:] != self.lanes[:, :-1]
        return keep

    def requests_per_row(self) -> np.ndarray:
        """Distinct sectors of each instruction."""
        return self.keep_mask().sum(axis=1)

    def expand(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Flat sector requests ``(addr, sm, op, flags)`` in issue order."""
        keep = self.keep_mask()
        reps = keep.sum(axis=1)
        return (self.lanes[keep], np.repeat(self.sm, reps), np.repeat(self.op, reps),
                np.repeat(self.flags, reps))


def gemm_sector_trace(plan: GemmPlan, num_sms: int, sector_bytes: int = 32) -> Iterator[SectorRows]:
    """Yield the kernel's warp instructions as :class:`SectorRows`, wave by wave, in the order described
    in the module notes."""
    num_sms = check_int("num_sms", num_sms, low=1)
    shift = int(sector_bytes).bit_length() - 1
    prow_all, pcol_all = grouped_order(plan.n_rows, plan.n_cols, plan.group_m)
    n_a, n_b = plan.loads[0].n_instr, plan.loads[1].n_instr
    sort_b = plan.kernel == "hashednet" and not plan.backward
    op_instr = np.concatenate([np.zeros(n_a, np.int64), np.ones(n_b, np.int64)])
    fl_instr = np.concatenate([np.full(n_a, plan.load_flags(0)), np.full(n_b, plan.load_flags(1))])
    n_c = plan.store.n_instr
    for lo in range(0, plan.n_programs, num_sms):
        prow = prow_all[lo:lo + num_sms]
        pcol = pcol_all[lo:lo + num_sms]
        n_p = prow.shape[0]
        sm = np.arange(n_p, dtype=np.int64)
        steps_per_chunk = max(1, _CHUNK_LANES // (n_p * (n_a + n_b) * 32))
        for s0 in range(0, plan.n_steps, steps_per_chunk):
            step = np.arange(s0, min(s0 + steps_per_chunk, plan.n_steps), dtype=np.int64)[:, None, None]
            n_s = step.shape[0]
            rows = np.empty((n_s, n_p, n_a + n_b, 32), dtype=np.int64)
            a = _addr_load(plan, 0, step, prow[None, :, None], pcol[None, :, None])
            rows[:, :, :n_a, :] = (a >> shift << shift).reshape(-1, n_p, n_a, 32)
            b = _addr_load(plan, 1, step, prow[None, :, None], pcol[None, :, None])
            rows[:, :, n_a:, :] = (b >> shift << shift).reshape(-1, n_p, n_b, 32)
            if sort_b:
                rows[:, :, n_a:, :].sort(axis=-1)
            yield SectorRows(
                rows.reshape(-1, 32),
                np.broadcast_to(sm[None, :, None], (n_s, n_p, n_a + n_b)).ravel(),
                np.broadcast_to(op_instr, (n_s, n_p, n_a + n_b)).ravel(),
                np.broadcast_to(fl_instr, (n_s, n_p, n_a + n_b)).ravel(),
            )
        c = _addr_store(plan, prow[:, None], pcol[:, None]) >> shift << shift
        c = np.broadcast_to(c, (n_p, c.shape[-1])).reshape(n_p * n_c, 32)
        if plan.kernel == "hashednet" and plan.backward:
            c = np.sort(c, axis=-1)
        yield SectorRows(c, np.repeat(sm, n_c), np.full(n_p * n_c, 2, np.int64),
                         np.full(n_p * n_c, plan.write_flags, np.int64))
