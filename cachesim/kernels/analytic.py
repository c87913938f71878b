"""Expected GPU traffic of the tiled GEMMs in closed form (no trace, no cache replay).

The model follows the same kernel description as :mod:`cachesim.kernels.gemm_gpu` and predicts, per
operand, the warp load instructions, the L1 sector requests (exact for strided tiles, exact expectations
for ROAST and for ideal element hashing), and approximate L1 / L2 misses and DRAM bytes.

Approximations (stated, and tested against the simulation within stated bounds):

* strided operands (``X``, dense ``W``, ``dY``) are never re-used in L1 by a later program on the same SM
  (exact when the grid is a single wave);
* L2 re-reads of strided operands: programs run in waves of one program per SM in grouped order, the
  SMs of a wave in lock step; a tile read earlier in the same wave hits, one last read ``d`` waves
  earlier hits when ``d`` waves' working sets fit in L2 (:func:`_reread_hit_share`);
* references to the shared array follow the *independent reference model*: a request to an array
  of ``F`` sectors hits a cache holding ``C`` of them with probability ``min(1, C/F)``, except for first
  touches, which always miss. ``C`` counts sectors: ``L1_bytes / 32`` for ROAST (tiles fill whole lines),
  ``L1_bytes / 128`` for HashedNet (a sectored line holds about one useful sector of a random gather);
* tile starts are uniform in the element offset within a sector (ROAST) and element slots are uniform
  (ideal hashing; the kernels' linear hashes give the same distinct counts unless ``memory`` is tiny).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._deprecate import deprecated_alias
from .._validate import pick_named
from ..errors import CacheSimError
from .gemm_gpu import GemmPlan, TileLoad, grouped_order, plan_gemm
from .targets import gpu_target


def expected_window_sectors(width_bytes: int, align_bytes: int, sector_bytes: int = 32) -> float:
    """Expected number of sectors touched by ``width_bytes`` contiguous bytes at a random aligned start.

    Parameters
    ----------
    width_bytes : int
        Bytes read by one request (e.g. 32 lanes x 4 B = 128).
    align_bytes : int
        The start is a uniformly random multiple of ``align_bytes`` (the element or vector size).
    sector_bytes : int

    Notes
    -----
    With ``o`` uniform on ``{0, a, 2a, ..., S - a}`` (its position inside a sector),

    .. math:: E[\\#\\text{sectors}] = \\frac{a}{S} \\sum_{j=0}^{S/a - 1} \\lceil (j a + W) / S \\rceil,

    which for ``W`` a multiple of ``S`` is ``W/S + 1 - a/S`` (one extra sector unless aligned).
    """
    if align_bytes < 1 or sector_bytes % align_bytes:
        raise CacheSimError(f"align_bytes={align_bytes} must divide sector_bytes={sector_bytes}")
    if width_bytes < 1:
        raise CacheSimError(f"width_bytes={width_bytes} must be >= 1")
    offsets = np.arange(0, sector_bytes, align_bytes)
    return float(np.mean(-(-(offsets + width_bytes) // sector_bytes)))


def expected_distinct(n_draws: float, n_bins: float) -> float:
    """Expected number of distinct bins hit by ``n_draws`` uniform draws over ``n_bins`` bins.

    Notes
    -----
    :math:`E = F\\,(1 - (1 - 1/F)^{n})` with ``F = n_bins``, ``n = n_draws``.
    """
    if n_bins <= 0:
        raise CacheSimError(f"n_bins={n_bins} must be > 0")
    if n_bins == 1:
        return 1.0 if n_draws > 0 else 0.0
    return float(n_bins * -math.expm1(n_draws * math.log1p(-1.0 / n_bins)))


def strided_instruction_sectors(tile: TileLoad, elem_bytes: int, sector_bytes: int = 32) -> int:
    """Sectors of one warp instruction of a strided tile whose rows start on sector boundaries.

    Notes
    -----
    An instruction covers ``32 v`` elements = ``max(1, 32 v / cols)`` row pieces of
    ``min(cols, 32 v)`` elements; each piece starts on a sector boundary, so it touches
    ``ceil(piece_bytes / S)`` sectors.
    """
    piece = min(tile.cols, 32 * tile.vec)
    pieces = max(1, 32 * tile.vec // tile.cols)
    pieces = min(pieces, tile.rows)
    return pieces * -(-piece * elem_bytes // sector_bytes)


@dataclass(frozen=True)
class OperandExpectation:
    """Expected counts for one operand."""

    name: str
    instructions: int
    l1_sector_requests: float
    l1_sector_misses: float
    l2_sector_misses: float
    exact_requests: bool


@dataclass(frozen=True)
class AnalyticTraffic:
    """Expected traffic of one kernel (fields as in :class:`GpuTraffic`; floats are expectations)."""

    kernel: str
    backward: bool
    target: str
    load_instructions: int
    l1_sector_requests: float
    l1_sector_misses: float
    l2_sector_requests: float
    l2_sector_misses: float
    write_sector_requests: float
    dram_bytes: float
    flops: int
    by_operand: tuple

    kind = deprecated_alias("kernel", "kind")

    def operand(self, prefix: str) -> OperandExpectation:
        """The operand whose name starts with ``prefix`` (``"A"``, ``"B"`` or ``"C"``)."""
        return pick_named(self.by_operand, prefix, "operand", prefix=True)

    def ratio(self, other, metric: str = "l1_sector_requests") -> float:
        """``self.metric / other.metric`` (``other``: an :class:`AnalyticTraffic` or a ``GpuTraffic``)."""
        if not hasattr(self, metric) or not hasattr(other, metric):
            raise CacheSimError(f"metric={metric!r} is not a traffic field")
        den = getattr(other, metric)
        return getattr(self, metric) / den if den else float("inf")


def _per_sm_tiles(plan: GemmPlan, num_sms: int) -> tuple[np.ndarray, np.ndarray]:
    """Per SM: program-steps run and distinct shared-array tiles (kb, nb) loaded (forward B operand)."""
    prow, pcol = grouped_order(plan.n_rows, plan.n_cols, plan.group_m)
    sm = np.arange(plan.n_programs) % num_sms
    progs = np.bincount(sm, minlength=num_sms)
    # distinct pid_n per SM (each contributes n_steps distinct tiles)
    key = np.unique(sm * plan.n_cols + pcol)
    dist_cols = np.bincount(key // plan.n_cols, minlength=num_sms)
    return progs * plan.n_steps, dist_cols * plan.n_steps


def _irm_misses(requests, distinct, capacity: float, footprint: float):
    """Independent reference model: first touches miss, the rest hit with probability min(1, C/F)."""
    p_hit = min(1.0, capacity / footprint) if footprint > 0 else 1.0
    return distinct + (requests - distinct) * (1.0 - p_hit)


def _wave_footprint(plan: GemmPlan, n_sms: int, footprints: dict) -> float:
    """Mean sectors one wave of ``n_sms`` programs reads (its distinct row and column tiles)."""
    prow, pcol = grouped_order(plan.n_rows, plan.n_cols, plan.group_m)
    wave = np.arange(plan.n_programs) // max(1, n_sms)
    n_waves = int(wave[-1]) + 1
    total = 0.0
    for op, key, n_keys in ((0, prow, plan.n_rows), (1, pcol, plan.n_cols)):
        if op in footprints:
            pairs = np.unique(wave * n_keys + key).size
            total += footprints[op] * pairs / (n_waves * n_keys)
    return total


def _reread_hit_share(plan: GemmPlan, op: int, n_sms: int, capacity: float, wave_fp: float) -> float:
    """Expected L2 hit share of the re-reads of strided operand ``op`` (0: row tiles, 1: column tiles).

    Programs run in waves of ``n_sms`` in grouped order, the SMs of a wave in lock step. A re-read of a
    tile that a program of the same wave read before hits; a tile last read ``d`` waves earlier hits
    when ``d F_wave <= C`` (``F_wave`` = one wave's working set in sectors, ``C`` the L2 sectors): an LRU
    cache swept cyclically keeps what was touched within its capacity and nothing older.
    """
    prow, pcol = grouped_order(plan.n_rows, plan.n_cols, plan.group_m)
    key = prow if op == 0 else pcol
    wave = np.arange(plan.n_programs) // max(1, n_sms)
    last = {}
    hits = rereads = 0.0
    for w, k in zip(wave.tolist(), key.tolist()):
        prev = last.get(k)
        last[k] = w
        if prev is None:
            continue
        rereads += 1
        d = w - prev
        hits += 1.0 if d * wave_fp <= capacity else 0.0
    return hits / rereads if rereads else 1.0


def _array_hit_share(plan: GemmPlan, n_sms: int, S: int, arr_sectors: int, capacity: float,
                     strided_wave_fp: float) -> float:
    """L2 hit share of the re-reads of the forward shared array (characteristic-time approximation of LRU,
    Che et al., IEEE JSAC 2002).

    Per k-step of a wave (its programs in lock step) the wave streams ``r = F_strided / steps`` new sectors
    of the strided operands and draws the array: its distinct tile columns (programs of one column read the
    same hashed B) each touch a given array sector with probability ``q`` per draw, ``d`` draws per step,
    so a sector is re-referenced at rate ``lambda = columns d q`` per step. The cache's characteristic time
    ``T`` (steps a sector survives unreferenced) fills it: ``A (1 - exp(-lambda T)) + r T = C`` (``C`` the
    L2 sectors, ``A`` the array's; streamed sectors are not re-referenced within ``T``), and a re-read hits
    with probability ``1 - exp(-lambda T)``. The programs of a wave that share a tile column read the
    same sectors in the same steps: all but the first of them hit (the rule of :func:`_reread_hit_share`
    for re-reads within a wave), so the share is ``f + (1 - f) (1 - exp(-lambda T))`` with ``f = 1 -
    columns / programs`` of a wave.
    """
    q, draws_per_col = _array_draws(plan, S, arr_sectors)
    _, pcol = grouped_order(plan.n_rows, plan.n_cols, plan.group_m)
    wave = np.arange(plan.n_programs) // max(1, n_sms)
    cols = np.unique(wave * plan.n_cols + pcol).size / (int(wave[-1]) + 1)
    steps = max(1, plan.n_steps)
    rate = strided_wave_fp / steps
    if rate <= 0:
        return 1.0 if arr_sectors <= capacity else capacity / arr_sectors
    lam = cols * draws_per_col / steps * min(q, 1.0)
    lo, hi = 0.0, capacity / rate  # the stream alone fills the cache by hi
    for _ in range(100):  # bisection on the monotone occupancy A (1 - exp(-lambda T)) + r T
        mid = 0.5 * (lo + hi)
        if -arr_sectors * math.expm1(-lam * mid) + rate * mid < capacity:
            lo = mid
        else:
            hi = mid
    follow = 1.0 - cols / max(1.0, min(n_sms, plan.n_programs))
    return follow - (1.0 - follow) * math.expm1(-lam * lo)


def _l2_misses(requests, distinct, hit_share: float) -> float:
    """L2 misses: first touches miss; re-reads miss with probability ``1 - hit_share``."""
    return distinct + (requests - distinct) * (1.0 - hit_share)


def _sectored_capacity(l1_bytes: float, line_bytes: int, sector_bytes: int,
                       footprint_sectors: float) -> float:
    """Sectors a sectored LRU cache holds under uniform random sector references to ``footprint_sectors``.

    A miss allocates a whole line but fills one sector. With ``C`` lines for ``F`` lines of footprint
    (``rho = C / F < 1``), a line stays resident while about ``lambda = -ln(1 - rho)`` further references
    reach it, so it holds ``s (1 - (1 - 1/s)^(1 + lambda))`` of its ``s`` sectors: about one sector per line
    when ``rho`` is small (capacity ``C`` sectors) and all of them as ``rho -> 1``. An array that fits
    (``rho >= 1``) is fully held.
    """
    spl = max(1, line_bytes // sector_bytes)
    c_lines = l1_bytes / line_bytes
    f_lines = footprint_sectors / spl
    rho = c_lines / f_lines if f_lines > 0 else math.inf
    if rho >= 1.0:
        return float(footprint_sectors)
    lam = -math.log1p(-rho)
    return c_lines * spl * (1.0 - (1.0 - 1.0 / spl) ** (1.0 + lam))


def analytic_gemm(plan: GemmPlan | None = None, *, target="h200", num_sms: int | None = None,
                  l1_bytes: int | None = None, **kwargs) -> AnalyticTraffic:
    """Expected traffic of a GEMM kernel (same parameters as :func:`simulate_gemm_gpu`).

    Notes
    -----
    Per operand, ``requests = instructions x E[sectors per instruction]`` with

    * strided tiles: :func:`strided_instruction_sectors` (exact);
    * ROAST (forward B, backward atomics): the tile is contiguous, so each instruction reads
      ``W = 32 v e`` contiguous bytes at a start uniform over multiples of ``v e`` within a sector:
      :func:`expected_window_sectors` (exact expectation);
    * HashedNet: 32 uniform elements over ``F = ceil(m e / 32)`` (``m`` = memory) sectors:
      :func:`expected_distinct` ``(32, F)``.

    L1 misses: strided operands miss on every request; the shared array follows :func:`_irm_misses`
    per SM with its first touches ``F (1 - (1 - q)^{tiles})`` (``q`` = fraction of the array one tile
    covers); for HashedNet's scattered sectors the capacity is :func:`_sectored_capacity` (one sector per
    resident line when the array is much larger than L1, all of them when it fits). L2 misses: the
    compulsory footprint of every operand; re-reads of strided operands by the wave rule of
    :func:`_reread_hit_share` (``F_wave`` from :func:`_wave_footprint` plus one wave's share of the
    shared-array reads and atomics), re-reads of the forward shared array by the characteristic-time rule
    of :func:`_array_hit_share` (the array drawn throughout every wave beside the streamed operands; the
    backward atomics by the independent-reference term when the whole footprint exceeds L2). The L1 is
    the target's pool less the carve-out the kernels are launched with (:meth:`GpuTarget.l1_bytes_for`).
    DRAM bytes: 32 x (L2 misses + written sectors).
    """
    if plan is None:
        plan = plan_gemm(**{"tables": False, **kwargs})
    t = gpu_target(target)
    n_sms = t.num_sms if num_sms is None else int(num_sms)
    l1 = t.l1_bytes_for(plan.shared_bytes) if l1_bytes is None else int(l1_bytes)
    S, e = t.sector_bytes, plan.elem_bytes
    for ld, what in ((plan.shape.k, "K"), (plan.shape.n, "N")):
        if (ld * e) % S:
            raise CacheSimError(f"analytic model needs rows of {what}*{e} bytes to be a multiple of {S}")
    arr_sectors = None if plan.memory is None else -(-plan.memory * e // S)
    ops = _strided_operands(plan, S)
    shared = not plan.backward and plan.kernel != "dense"
    if shared:
        ops.append(_shared_array_operand(plan, t, n_sms, l1, arr_sectors))
    ops.sort(key=lambda o: o[0])
    # ---- L2: compulsory footprint, plus IRM term beyond capacity
    footprint = sum(o[5] for o in ops)
    l2_cap = t.l2_bytes / S
    strided = {o[0]: o[5] for o in ops if not (o[0] == 1 and shared)}
    w_instr, w_req, written, w_read = _epilogue(plan, S, arr_sectors)
    # shared-array reads and atomics: one wave's share of the programs touches its share of them
    shared_fp = (footprint - sum(strided.values()) + w_read) * min(1.0, n_sms / plan.n_programs)
    strided_fp = _wave_footprint(plan, n_sms, strided)
    wave_fp = strided_fp + shared_fp
    results = []
    for op, n_instr, req, miss, exact, fp in ops:
        if op in strided:
            hit = _reread_hit_share(plan, op, n_sms, l2_cap, wave_fp)
        elif shared:  # the forward shared array, drawn throughout every wave
            hit = _array_hit_share(plan, n_sms, S, arr_sectors, l2_cap, strided_fp)
        else:
            hit = min(1.0, l2_cap / footprint) if footprint > 0 else 1.0
        l2_miss = float(_l2_misses(miss, min(fp, miss), hit))
        results.append(OperandExpectation(plan.op_names[op], int(n_instr), req, miss, l2_miss, exact))
    results.append(OperandExpectation(plan.op_names[2], int(w_instr), 0.0, 0.0, float(w_read), True))
    loads = results[:2]
    l1_req = sum(o.l1_sector_requests for o in loads)
    l1_miss = sum(o.l1_sector_misses for o in loads)
    l2_miss = sum(o.l2_sector_misses for o in loads)
    return AnalyticTraffic(
        kernel=plan.kernel, backward=plan.backward, target=t.name,
        load_instructions=sum(o.instructions for o in loads), l1_sector_requests=l1_req,
        l1_sector_misses=l1_miss, l2_sector_requests=l1_miss, l2_sector_misses=l2_miss,
        write_sector_requests=float(w_req), dram_bytes=S * (l2_miss + w_read + written),
        flops=plan.shape.flops, by_operand=tuple(results),
    )


def _strided_operands(plan: GemmPlan, S: int) -> list:
    """Operand A (and B of dense / backward kernels): strided, never re-used in L1.

    Rows ``[op, instructions, L1 requests, L1 misses, exact, L2 footprint in sectors]``.
    """
    e = plan.elem_bytes
    m, k, n = plan.shape.m, plan.shape.k, plan.shape.n
    steps_programs = plan.n_steps * plan.n_programs
    strided_ops = [0, 1] if (plan.backward or plan.kernel == "dense") else [0]
    footprint_sectors = {0: m * k * e // S, 1: (m * n if plan.backward else k * n) * e // S}
    ops = []
    for op in strided_ops:
        tl = plan.loads[op]
        req = tl.n_instr * steps_programs * strided_instruction_sectors(tl, e, S)
        ops.append([op, tl.n_instr * steps_programs, float(req), float(req), True, footprint_sectors[op]])
    return ops


def _shared_array_operand(plan: GemmPlan, t, n_sms: int, l1: int, arr_sectors: int) -> list:
    """Forward B of ROAST / HashedNet: reads of the shared array (row as in :func:`_strided_operands`)."""
    S, e = t.sector_bytes, plan.elem_bytes
    tile = plan.block.bk * plan.block.bn
    tl = plan.loads[1]
    n_instr = tl.n_instr * plan.n_steps * plan.n_programs
    steps_sm, tiles_sm = _per_sm_tiles(plan, n_sms)
    if plan.kernel == "roast":
        per_instr = expected_window_sectors(32 * tl.vec * e, tl.vec * e, S)
        per_tile_distinct = expected_window_sectors(tile * e, tl.vec * e, S)
        req_sm = steps_sm * per_tile_distinct  # boundary sectors shared by instructions hit in L1
        q = per_tile_distinct / arr_sectors
        cap = l1 / S
        n_tiles = plan.n_steps * plan.n_cols
        touched_total = arr_sectors * -math.expm1(n_tiles * math.log1p(-min(q, 1 - 1e-12)))
    else:
        per_instr = expected_distinct(32, arr_sectors)
        req_sm = steps_sm * tl.n_instr * per_instr
        q = 1.0 / arr_sectors
        tiles_sm = tiles_sm * tile  # distinct virtual elements
        cap = _sectored_capacity(l1, t.line_bytes, S, arr_sectors)
        touched_total = expected_distinct(plan.shape.k * plan.shape.n, arr_sectors)
    distinct_sm = arr_sectors * -np.expm1(tiles_sm * math.log1p(-min(q, 1 - 1e-12)))
    distinct_sm = np.minimum(distinct_sm, req_sm)
    miss = float(np.sum(_irm_misses(req_sm, distinct_sm, cap, arr_sectors)))
    return [1, n_instr, n_instr * per_instr, miss, plan.kernel == "roast", touched_total]


def _array_draws(plan: GemmPlan, S: int, arr_sectors: int) -> tuple:
    """``(q, draws per tile column)`` of the forward shared array: ROAST draws one tile per k-step (``q``
    its distinct sectors over the array's), HashedNet one element per B element (``q = 1 / sectors``)."""
    e = plan.elem_bytes
    if plan.kernel == "roast":
        vec = plan.loads[1].vec
        q = expected_window_sectors(plan.block.bk * plan.block.bn * e, vec * e, S) / arr_sectors
        return q, float(plan.n_steps)
    return 1.0 / arr_sectors, float(plan.n_steps * plan.block.bk * plan.block.bn)


def _epilogue(plan: GemmPlan, S: int, arr_sectors) -> tuple:
    """Epilogue writes: ``(instructions, write sector requests, sectors written, sectors read)``."""
    e = plan.elem_bytes
    st = plan.store
    w_instr = st.n_instr * plan.n_programs
    if plan.kernel == "dense" or not plan.backward:
        w_req = w_instr * strided_instruction_sectors(st, e, S)
        return w_instr, w_req, w_req, 0.0
    if plan.kernel == "roast":
        w_req = w_instr * expected_window_sectors(32 * e, e, S)
        tile = plan.block.bk * plan.block.bn
        written = arr_sectors * -math.expm1(plan.n_programs * math.log1p(
            -min(expected_window_sectors(tile * e, e, S) / arr_sectors, 1 - 1e-12)))
        return w_instr, w_req, written, written
    w_req = w_instr * expected_distinct(32, arr_sectors)
    written = expected_distinct(plan.shape.k * plan.shape.n, arr_sectors)
    return w_instr, w_req, written, written
