"""Roofline cost model: turn per-level traffic into a predicted kernel time and name its bottleneck.

Terms (GPU)
-----------
* ``compute``  ``2 M K N / peak(dtype)`` (fp32 runs on TF32 tensor cores, as Triton's default);
* ``L1``       ``32 B x (load sector requests + write sector requests) / (num_sms x B_L1 x f)``:
  every sector a warp instruction touches occupies one L1TEX data-stage slot;
* ``L2``       ``32 B x (L2 load requests + write sector requests) / B_L2``;
* ``DRAM``     ``dram_bytes / B_DRAM``;
* ``latency``  ``launch overhead + waves x DRAM latency`` (the pipeline fill each wave pays once).

``predicted_time_s = latency + max(compute, L1, L2, DRAM)`` (a roofline: the units overlap, the slowest
one sets the pace); ``dominant`` is the term that attains the max. The values and their sources are
those of the target (:func:`cachesim.kernels.targets.get_target`).

CPU targets use the same form with per-level line traffic: ``64 B x accesses_at_level / (B_level x f)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .._deprecate import deprecated_alias, renamed_kwargs
from .._validate import pick_named
from ..errors import CacheSimError
from ._common import Block
from .micro_rates import gather_seconds_per_element, interp_loglog, operand_levels, tile_rate
from .targets import CpuTarget, GpuTarget, get_target


@dataclass(frozen=True)
class CostTerm:
    """One term of the cost model: its time and where its rate comes from."""

    name: str
    seconds: float
    source: str


@dataclass(frozen=True)
class CostPrediction:
    """Predicted time of one kernel.

    Attributes
    ----------
    kernel : str
        The kernel implementation the traffic belongs to.
    predicted_time_s : float
        ``latency + max(throughput terms)``.
    dominant : str
        Name of the largest throughput term.
    terms : tuple of CostTerm
        The throughput terms, then ``latency``.
    """

    kernel: str
    target: str
    predicted_time_s: float
    dominant: str
    terms: tuple

    kind = deprecated_alias("kernel", "kind")

    def term(self, name: str) -> CostTerm:
        """The term called ``name``."""
        return pick_named(self.terms, name, "term")

    def ratio(self, other: CostPrediction) -> float:
        """Predicted slowdown of ``self`` relative to ``other``: ``self.time / other.time``."""
        if not isinstance(other, CostPrediction):
            raise CacheSimError(f"other must be a CostPrediction, got {type(other).__name__}")
        return self.predicted_time_s / other.predicted_time_s

    def to_dict(self) -> dict:
        return {"kernel": self.kernel, "target": self.target, "predicted_time_s": self.predicted_time_s,
                "dominant": self.dominant, "terms": {t.name: t.seconds for t in self.terms}}


def _finish(kernel: str, target: str, throughput: list[CostTerm], latency: CostTerm) -> CostPrediction:
    best = max(throughput, key=lambda t: t.seconds)
    total = latency.seconds + best.seconds
    return CostPrediction(kernel, target, total, best.name, tuple(throughput) + (latency,))


def predict_gpu(traffic, target="h200", *, dtype: str = "fp32", tf32: bool = True,
                n_waves: int | None = None) -> CostPrediction:
    """Cost of a GPU kernel from its traffic (:class:`GpuTraffic` or :class:`AnalyticTraffic`).

    Parameters
    ----------
    traffic : GpuTraffic or AnalyticTraffic
    target : str or GpuTarget
    dtype : {"fp32", "fp16", "bf16"}
    tf32 : bool
        fp32 matmuls on TF32 tensor cores (Triton's default ``allow_tf32``).
    n_waves : int, optional
        Waves of programs (for the latency term); default 1.
    """
    t = target if isinstance(target, GpuTarget) else get_target(target)
    if not isinstance(t, GpuTarget):
        raise CacheSimError(f"target={t.name!r} is a CPU target; use predict_cpu")
    S = t.sector_bytes
    src = t.sources
    writes = getattr(traffic, "write_sector_requests", 0)
    l1_rate = t.num_sms * t.l1_bytes_per_clk_per_sm * t.frequency_ghz * 1e9
    terms = [
        CostTerm("compute", traffic.flops / t.peak_flops(dtype, tf32), src.get("peak_tflops", "")),
        CostTerm("L1", S * (traffic.l1_sector_requests + writes) / l1_rate,
                 src.get("l1_bytes_per_clk_per_sm", "")),
        CostTerm("L2", S * (traffic.l2_sector_requests + writes) / (t.l2_bandwidth_gbs * 1e9),
                 src.get("l2_bandwidth_gbs", "")),
        CostTerm("DRAM", traffic.dram_bytes / (t.dram_bandwidth_gbs * 1e9),
                 src.get("dram_bandwidth_gbs", "")),
    ]
    waves = 1 if n_waves is None else max(1, int(n_waves))
    lat = CostTerm("latency", (t.launch_overhead_ns + waves * t.dram_latency_ns) * 1e-9,
                   src.get("launch_overhead_ns", "") + "; " + src.get("dram_latency_ns", ""))
    kernel = getattr(traffic, "kernel", None) or getattr(traffic, "kind", "gpu")
    return _finish(kernel, t.name, terms, lat)


@renamed_kwargs(kind="kernel")
def predict_cpu(level_accesses, dram_bytes: float, flops: float, target="zen4", *, dtype: str = "fp32",
                kernel: str = "cpu") -> CostPrediction:
    """Cost of a CPU loop nest from the line accesses served at each level.

    Parameters
    ----------
    level_accesses : sequence of int
        Line accesses that reached each level (L1 first).
    dram_bytes : float
    flops : float
    """
    t = target if isinstance(target, CpuTarget) else get_target(target)
    if not isinstance(t, CpuTarget):
        raise CacheSimError(f"target={t.name!r} is a GPU target; use predict_gpu")
    if len(level_accesses) != len(t.levels):
        raise CacheSimError(
            f"level_accesses has {len(level_accesses)} entries, target has {len(t.levels)} levels"
        )
    f = t.frequency_ghz * 1e9
    terms = [CostTerm("compute", flops / (t.peak_gflops[dtype] * 1e9), t.sources.get("peak_gflops", ""))]
    for (name, _, _), acc, bpc in zip(t.levels, level_accesses, t.level_bytes_per_clk):
        terms.append(CostTerm(name, t.line_bytes * acc / (bpc * f), t.sources.get("level_bytes_per_clk", "")))
    terms.append(CostTerm("DRAM", dram_bytes / (t.dram_bandwidth_gbs * 1e9),
                          t.sources.get("dram_bandwidth_gbs", "")))
    lat = CostTerm("latency", t.latencies_ns[-1] * 1e-9, t.sources.get("dram_latency_ns", ""))
    return _finish(kernel, t.name, terms, lat)


def n_waves(n_programs: int, num_sms: int) -> int:
    """Waves of programs: ``ceil(programs / SMs)``."""
    return max(1, math.ceil(n_programs / num_sms))


def gather_rate(cal: dict, memory_bytes: float) -> float:
    """Scattered 2-byte loads per second for a shared array of ``memory_bytes`` (log-log interpolation of
    the gather microbenchmark; clamped at its ends)."""
    return interp_loglog(cal["gather_bf16_per_s"], memory_bytes)


#: The compiled loop whose stall-to-instruction ratio stands for each hash's dependency chains.
_HASH_LOOP = {"hash": ("hashednet-arith-only", "128x128x64-g8-w4-s4"),
              "arith-only": ("hashednet-arith-only", "128x128x64-g8-w4-s4"),
              "mulshift": ("hashednet-mulshift", "128x128x64-g8-w4-s4")}


def _issue_exposure(desc, issue) -> float:
    """``max(1, (S / n) / W)``: how much slower than at full occupancy a hash issues with ``W`` warps per
    scheduler. One warp alone issues one instruction per ``S / n`` cycles (the compiler's stall counts over
    the instructions of the compiled hash loop); the hash microbenchmark ran at 16 warps per scheduler,
    enough to fill every issue slot, while a kernel with fewer than ``S / n`` warps leaves slots empty
    (MWP-CWP's computation-warp parallelism)."""
    from .issue import LOOP_MIXES

    key = _HASH_LOOP.get(desc.index)
    if key is None or key not in LOOP_MIXES:
        return 1.0
    n, stall = LOOP_MIXES[key][:2]
    return max(1.0, (stall / n) / max(issue.warps_per_scheduler, 1e-9))


def _micro_terms(traffic, t, desc, issue) -> tuple[float, float, float]:
    """``(index, gather, lsu)`` seconds priced by the microbenchmarks (0 where a kernel has no such term).

    ``elements = K x N x programs per column`` B elements are indexed and loaded. HashedNet: ``index =
    elements / hash rate x max(1, (S / n) / W)`` (``hash``/``arith-only``: the authors' two 64-bit
    remainders; ``mulshift``; the factor: :func:`_issue_exposure`) and,
    for the scattered kernels, ``gather = elements x`` the seconds per element of the gather
    microbenchmark mixed by the level each sector is served from, at the kernel's resident warps per SM
    (:func:`cachesim.kernels.micro_rates.gather_seconds_per_element`; where a target lacks that record, the
    full-occupancy rate for the shared-array size). ROAST: ``lsu = elements / rate`` of the tile-load
    microbenchmark with the same alignment class (1: scalar loads stored to shared memory; 8: 16-byte
    copies straddling lines; 64 and wider: line-aligned copies) and nearest tile width at the same warps per
    SM and size; TMA kernels: the TMA box-path microbenchmark.

    Clock: the microbenchmarks ran at the unthrottled 1980 MHz their records show before each run
    (``micro_clock_ghz``), the kernels they price at the loaded clock the model assumes
    (:func:`cachesim.kernels.issue.sm_clock_ghz`). Rates bound inside the SM (the tile paths, the hash
    evaluations, gathers served by L1 and L2) scale with the SM clock, so they are converted by
    ``sm_clock / micro_clock``; gathers served by DRAM are not.
    """
    cal = t.calibration
    elements = issue.elements
    warps = issue.warps_per_scheduler * t.schedulers_per_sm
    clock = _micro_clock(t)
    if getattr(desc, "tma", False):
        table = _rows_table(cal, "tma_tile", issue, {}).get("roast" if desc.kernel == "roast" else "dense")
        level = warps
        if _table_read_in_loop(cal, desc, issue):  # per k-step of the start-table microbenchmark
            return 0.0, 0.0, elements / _step_elements(issue) * _tma_table_step(cal, issue, "table") / clock
        return 0.0, 0.0, (elements / (clock * tile_rate(table, level, issue.memory_bytes)) if table else 0.0)
    if desc.kernel == "roast" and "tile_align_per_s" in cal:
        return 0.0, 0.0, elements / _tile_path_rate(t, desc, issue)
    if desc.kernel != "hashednet" or "hash_modp_per_s" not in cal:
        return 0.0, 0.0, 0.0
    rate = {"hash": cal["hash_modp_per_s"], "arith-only": cal["hash_modp_per_s"],
            "mulshift": cal["hash_mulshift_per_s"]}.get(desc.index)
    index = elements / (clock * rate) * _issue_exposure(desc, issue) if rate else 0.0
    gather = 0.0
    if desc.scattered and "gather_mwp_per_s" in cal:
        h1, h2, hd = operand_levels(traffic.operand("B"))
        rates = cal["gather_mwp_per_s"]
        on_chip = gather_seconds_per_element(rates, (h1, h2, 0.0), warps) / clock
        gather = elements * (on_chip + gather_seconds_per_element(rates, (0.0, 0.0, hd), warps))
    elif desc.scattered:
        gather = elements / gather_rate(cal, issue.memory_bytes)
    if desc.index == "table":
        gather *= table_gather_factor(cal, warps, issue.memory_bytes, index_matrix_bytes(issue))
    return index, gather, 0.0


def index_matrix_bytes(issue) -> float:
    """Bytes of HashedNet's ``K x N`` int32 index matrix: ``4 K N``, from the B elements the launch loads
    (``K N`` per row of programs) and its rows of programs (the table kernel reads it once per row: its extra
    L2 sectors, :func:`cachesim.kernels.prediction`'s ``extra_l2_sectors``)."""
    rows = (getattr(issue, "grid", (0, 0)) or (0, 0))[0]
    return 4.0 * issue.elements / rows if rows else 0.0


def table_gather_factor(cal: dict, warps_per_sm: float, memory_bytes: float, table_bytes: float) -> float:
    """How much longer the HashedNet gather takes when its indices are read from the index matrix than when
    they are computed in registers: the ``gather_table`` microbenchmark (call35) at the same resident warps
    per SM and shared-array bytes (:func:`~cachesim.kernels.micro_rates.tile_rate`), log-log between its two
    index-matrix sizes and clamped at them; 1 where the calibration lacks it.

    Examples
    --------
    >>> cal = {"gather_table_factor": {1000: {(4, 10): 1.1}, 100000: {(4, 10): 1.5}}}
    >>> round(table_gather_factor(cal, 4, 10, 10000), 4), table_gather_factor({}, 4, 10, 10)
    (1.2845, 1.0)
    """
    tables = cal.get("gather_table_factor")
    if not tables or table_bytes <= 0:
        return 1.0
    per_size = [(size, tile_rate(points, warps_per_sm, memory_bytes)) for size, points in tables.items()]
    return interp_loglog(per_size, table_bytes)


def _micro_clock(t) -> float:
    """``sm_clock / micro_clock``: SM-bound microbenchmark rates at the model's loaded clock."""
    from .issue import sm_clock_ghz

    return sm_clock_ghz(t) / (t.calibration or {}).get("micro_clock_ghz", sm_clock_ghz(t))


def _tile_path_rate(t, desc, issue, stream: bool = False) -> float:
    """B elements/s of the ROAST pointer kernel's tile path (:func:`_tile_table`; ``stream``: the rows with
    A's tile loaded every k-step) at its resident warps and shared-array size, at the loaded clock."""
    warps = issue.warps_per_scheduler * t.schedulers_per_sm
    table = _tile_table(t.calibration, desc, issue, stream)
    return _micro_clock(t) * tile_rate(table, warps, issue.memory_bytes)


def tile_excess(traffic, t, desc, issue, lsu: float | None = None) -> float:
    """Seconds the B-tile path of a ROAST pointer kernel adds on top of its tensor-core work: ``elements x
    (1 / r_tile(align) - 1 / r_tile(64))`` at the kernel's resident warps, tile width, block rows and array
    size (0 for line-aligned starts, TMA and the other kernels).

    The tile-path microbenchmark feeds every tile to ``tl.dot``; with line-aligned starts its B path keeps
    up with the dot, so the slower rate of scalar (align 1) or line-straddling (align 8) loads is time the
    load path adds that the MMA does not hide. Where the calibration has the rows measured with A's tile
    loaded every k-step as well (``tile_align_astream_per_s``, call28: the kernels' loop, whose B copies
    share the load path with A's) and their compiled B path is the fixed-A rows' (``tile_astream_same_b_path``
    by alignment class: align 8; not align 1, whose A-streamed listing interleaves its scalar B loads with
    their stores where the kernels issue them all first), both rates come from them; otherwise from the
    fixed-A rows, of which ``lsu`` is the kernel's own tile-path seconds where the caller has them
    (``_micro_terms``).
    :func:`issue_pace` adds the excess to the kernel's tensor-core / issue pace."""
    cal = t.calibration or {}
    if getattr(desc, "tma", False):
        return _tma_table_excess(cal, t, desc, issue)
    start_wait = _ptr_table_excess(cal, t, desc, issue)
    if desc.kernel != "roast" or desc.align >= 64 or "tile_align_per_s" not in cal:
        return start_wait
    same_b_path = cal.get("tile_astream_same_b_path", {}).get(_align_class(desc.align), True)
    stream = "tile_align_astream_per_s" in cal and same_b_path
    if lsu is None or stream:
        lsu = issue.elements / _tile_path_rate(t, desc, issue, stream)
    return start_wait + max(0.0, lsu - issue.elements / _tile_path_rate(t, replace(desc, align=64), issue,
                                                                        stream))


def _ptr_table_excess(cal: dict, t, desc, issue) -> float:
    """The pointer ROAST ``table`` kernels' start-table wait: ``k-steps x max(0, S / r_table - S / r_hash)``
    with the pair of the pointer start-table microbenchmark (call39: the line-aligned loop with A streamed,
    each step's start read from the kernels' table layout vs computed; ``S`` its B elements per step) at
    the kernel's programs per SM and array size, for the entries' reuse nearest the launch's row blocks (2 or
    32 programs reading each entry), at the loaded clock; 0 for the other kernels.

    At one program per SM the table loop takes 1.5-2.1x the computed one (the start's load and, in Triton's
    compile of that loop, two pipeline buffers where the computed loop keeps four); at three the two run
    alike: other resident programs hide the wait. A kernel whose listing keeps three B buffers
    (:func:`~cachesim.kernels.issue.pipeline_buffers`: the cp.async table loops at 5 stages) takes call41's
    pair instead (``ptr_table_three_buffers_per_s``: the same loop at 5 stages, 0.98-1.33x at one program
    per SM): the deeper pipeline hides most of the start's load. Align 1 (B staged through registers) and
    configurations without a listing keep call39's pair. The ``table-pf`` kernels (the start read a k-step
    ahead by a plain load) take call46's pair (``ptr_prefetch_per_s``: that loop against the computed one,
    1.07-1.55x): their listing waits on the start's load within the k-step that issues the B copies, so
    the prefetch hides little of it where no other program shares the SM. That loop keeps one program
    resident (its 2 and 3 "per SM" rows are waves), so the pair prices the launches that deal one program
    to the busiest SM only; with more resident the term is 0 (call48: with two and three of that loop
    resident it runs 0.97-1.10x the computed one)."""
    if desc.kernel != "roast" or desc.index not in ("table", "table-pf") or getattr(desc, "tma", False):
        return 0.0
    pairs = cal.get("ptr_table_per_s" if desc.index == "table" else "ptr_prefetch_per_s")
    if not pairs or (desc.index == "table-pf" and getattr(issue, "programs_per_sm", 1) != 1):
        return 0.0
    from .issue import pipeline_buffers

    config = getattr(issue, "config", "")
    if desc.index == "table" and config and (pipeline_buffers(desc, config) or 2) >= 3:
        pairs = cal.get("ptr_table_three_buffers_per_s", pairs)
    rows = max(1, (getattr(issue, "grid", (1, 1)) or (1, 1))[0])
    pair = pairs[min(pairs, key=lambda reuse: abs(math.log(reuse / rows)))]
    steps = issue.elements / _step_elements(issue)
    return steps * max(0.0, _pair_step_seconds(pair, issue, "excess")) / _micro_clock(t)


def _tma_table_excess(cal: dict, t, desc, issue) -> float:
    """TMA ROAST with the start table: ``k-steps x (S / r_table - S / r_hash)`` of the same-run pair of the
    start-table microbenchmark (rows from an int32 table read in the k-loop vs from the in-loop hash; ``S``
    its B elements per step) at the kernel's resident programs per SM (a persistent launch: one), array
    size and box bytes per k-step (:func:`_tma_table_step`), at the loaded clock; 0 for the other TMA
    kernels and for a warp-specialised listing (its producer partition reads the start with a plain load,
    the consumers wait only on the stages' barriers: no per-step wait in the MMA loop).

    The pair is keyed by programs per SM: each program waits on its own start read every k-step
    (``DEPBAR.LE SB0, 0x0``), which only another resident program can hide, whatever its warp count; and
    by the bytes the step's boxes copy, which the wait holds back: call25 / call26 / call27 measured 268 /
    376 / 530 cycles per k-step at one program per SM for 16 / 32 / 48 KiB (2 MiB array; at 64 MiB, where
    the hash path itself waits on DRAM, 643 / 583 / 179)."""
    if not _table_read_in_loop(cal, desc, issue):
        return 0.0
    steps = issue.elements / _step_elements(issue)
    return max(0.0, steps * _tma_table_step(cal, issue, "excess") / _micro_clock(t))


def _step_elements(issue) -> float:
    """B elements one program copies per k-step: ``BN x BK`` of the configuration (forward ``BK x BN``
    boxes, dX one or two ``64 x 128`` boxes)."""
    b = _block(issue)
    return float(b.bn * b.bk)


def _tma_table_step(cal: dict, issue, what: str) -> float:
    """Seconds per program k-step (GPU-wide, at the microbenchmark's clock) of the start-table path
    (``what="table"``: ``S / r_table``) or of its excess over the hash path (``"excess"``: ``S / r_table - S
    / r_hash``), at the kernel's programs per SM and array size, interpolated linearly in the bytes the
    kernel's step copies (``2 BK (BM + BN)``: A's box and B's) between the measured box sizes, clamped at
    the smallest and largest."""
    b = _block(issue)
    nbytes = 2.0 * b.bk * (b.bm + b.bn)
    pts = [(size, _pair_step_seconds(pair, issue, what))
           for size, pair in sorted(cal["tma_table_per_s"].items())]
    if nbytes <= pts[0][0]:
        return pts[0][1]
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if nbytes <= x1:
            return y0 + (y1 - y0) * (nbytes - x0) / (x1 - x0)
    return pts[-1][1]


def _pair_step_seconds(pair: dict, issue, what: str) -> float:
    """A start-table pair's seconds per program k-step (GPU-wide, at the microbenchmark's clock) at the
    kernel's programs per SM and array size: ``S / r_table`` (``what="table"``) or ``S / r_table - S /
    r_hash`` (``"excess"``), ``S`` the pair's B elements per step."""
    table, hashed = (tile_rate(pair[k], issue.programs_per_sm, issue.memory_bytes) for k in ("table", "hash"))
    return pair["step"] / table if what == "table" else pair["step"] / table - pair["step"] / hashed


def _table_read_in_loop(cal: dict, desc, issue) -> bool:
    """True for a TMA ROAST start-table kernel whose MMA loop itself waits on the start read (every
    schedule but a split warp-specialised one, whose producer partition reads it) on a target with the
    start-table microbenchmark."""
    return (desc.kernel == "roast" and desc.index == "table" and "tma_table_per_s" in cal
            and getattr(issue, "schedule", "plain") != "warp-specialized")


def _align_class(align) -> int:
    """The tile microbenchmark's alignment class of ``align``: 1 (2-byte scalar loads), 8 (16-byte vectors
    that straddle 128-byte lines) or 64 (vectors starting a line; also 128 and 256)."""
    return 1 if align == 1 else (8 if align < 64 else 64)


def _rows_table(cal: dict, prefix: str, issue, default=None):
    """``cal[prefix + "_bm64_per_s"]`` for a block of 64 rows or fewer where the calibration has it (the
    microbenchmark's dot with a 64-row A tile: a 128-row dot runs half as fast per B element), else
    ``cal[prefix + "_per_s"]`` (``default`` where that is missing too)."""
    if _block(issue).bm <= 64 and f"{prefix}_bm64_per_s" in cal:
        return cal[f"{prefix}_bm64_per_s"]
    return cal[f"{prefix}_per_s"] if default is None else cal.get(f"{prefix}_per_s", default)


def _tile_table(cal: dict, desc, issue, stream: bool = False) -> dict:
    """The B-tile microbenchmark table for ``desc``: alignment class 1 (2-byte scalar loads), 8 (16-byte
    vectors that straddle 128-byte lines) or 64 (vectors starting a line; also 128/256), the measured
    tile width nearest the kernel's ROAST tile width (``BN``: 64 or 128), and the A-tile rows of the
    microbenchmark's dot nearest the kernel's block rows (``tile_align_bm64_per_s`` for 64-row blocks, where
    the calibration has it; ``tile_align_per_s``, 128 rows, otherwise): the line-aligned rows run at the
    dot's own rate, which halves with the A tile's rows."""
    table = _rows_table(cal, "tile_align_astream" if stream else "tile_align", issue)
    klass = _align_class(desc.align)
    bn = desc.tile[1] if desc.tile is not None else 64
    widths = sorted({w for a, w in table if a == klass}, key=lambda w: (abs(math.log2(w / bn)), -w))
    return table[(klass, widths[0])]


def _block(issue) -> Block:
    """The :class:`~cachesim.kernels._common.Block` of the kernel's configuration (``BMxBNxBK-...``;
    128x128x64 where the estimate has none)."""
    config = getattr(issue, "config", "") or ""
    return Block.parse(config.split("-", 1)[0]) if config else Block(128, 128, 64)


def overlap(a: float, b: float, fraction: float) -> float:
    """Time of two activities of one SM that overlap by ``fraction`` of the shorter one:
    ``max(a, b) + (1 - fraction) min(a, b)`` (``fraction`` 1: fully hidden, 0: one after the other).

    >>> overlap(3.0, 1.0, 1.0), overlap(3.0, 1.0, 0.0), overlap(3.0, 1.0, 0.5)
    (3.0, 4.0, 3.5)
    """
    return max(a, b) + (1.0 - fraction) * min(a, b)


def issue_pace(terms: dict, overlap_fraction: float = 1.0) -> float:
    """The overlapped part of the issue-aware time: ``max(max(overlap(compute, issue), resident) +
    lsu_excess, L1, L2, index + gather, DRAM, lsu)`` of the ``{term name: seconds}`` of
    :func:`predict_gpu_issue` (which adds ``latency``); tensor-core work and instruction issue overlap by
    ``overlap_fraction`` (:func:`overlap`), no faster than the dense loop of the same configuration at the
    launch's programs per SM (``resident``, 0 where that is the occupancy), and the B-tile path's excess
    over the line-aligned path (:func:`tile_excess`) adds to them."""
    core = max(overlap(terms["compute"], terms["issue"], overlap_fraction), terms.get("resident", 0.0)) \
        + terms.get("lsu_excess", 0.0)
    return max(core, terms["L1"], terms["L2"], terms["index"] + terms["gather"], terms["DRAM"],
               terms.get("lsu", 0.0))


def _latency_term(t, waves: int) -> CostTerm:
    """``launch + waves x DRAM latency``: the launch cost measured inside the timer (micro3) and the
    pointer-chase DRAM latency where the calibration has them, else the preset's assumed values."""
    cal = t.calibration or {}
    if "launch_s" in cal and "chase_cycles" in cal:
        dram_s = cal["chase_cycles"]["DRAM"] / (cal.get("sm_clock_ghz", t.frequency_ghz) * 1e9)
        return CostTerm("latency", cal["launch_s"] + waves * dram_s, cal.get("micro3_source", ""))
    src = t.sources
    return CostTerm("latency", (t.launch_overhead_ns + waves * t.dram_latency_ns) * 1e-9,
                    src.get("launch_overhead_ns", "") + "; " + src.get("dram_latency_ns", ""))


def predict_gpu_issue(traffic, target, desc, issue, *, dtype: str = "bf16", tf32: bool = True,
                      n_waves: int | None = None, extra_l2_sectors: float = 0.0) -> CostPrediction:
    """Issue-aware cost of a fused GEMM (the model of :mod:`cachesim.kernels.issue`).

    Parameters
    ----------
    traffic : GpuTraffic or AnalyticTraffic
        Sector traffic of the kernel (the dense traffic for HashedNet ``arith-only``).
    target : GpuTarget
        Must carry a ``calibration`` (measured ceilings).
    desc : KernelDescription
    issue : IssueEstimate
    extra_l2_sectors : float
        Coalesced sectors the index path adds (HashedNet ``table``: the int32 index matrix).

    Notes
    -----
    Terms (seconds): ``compute = flops / sustained`` (pointer kernels: the dense loop's measured rate at the
    same configuration, ``dense_tflops_by_config``; otherwise the cuBLAS ceiling; other dtypes scaled by
    the sustained/datasheet fraction); ``resident`` (pointer kernels whose launch deals the busiest SM
    fewer programs than their occupancy: the dense loop's time at that many programs per SM, call42's
    ``dense_resident`` microbenchmark, :func:`_resident_tflops`; else 0); ``issue``
    (:func:`~cachesim.kernels.issue.estimate_issue`);
    ``L1 = wavefronts / (SMs x wavefronts/clk x f)``; ``L2 = 32 B x (L2 sectors + writes) / B_L2`` (the
    clean L2 read ceiling); ``DRAM = bytes / measured stream bandwidth``; ``lsu`` and ``lsu_excess`` (the
    ROAST B-tile path and its excess over the line-aligned path, :func:`tile_excess`); ``latency = launch +
    waves x DRAM latency`` (both measured where the calibration has them).

    HashedNet adds two terms priced by microbenchmarks (:func:`_micro_terms`): ``index`` (evaluations of
    its hash at the measured rate) and ``gather`` (scattered 2-byte loads at the rate measured for the
    same shared-array size; a memory-divergent load holds the L1's miss-handling resources until all its
    lines return, Wang et al., MICRO 2018, so the microbenchmark's rate already includes that queueing).

    Resident programs: the terms priced per SM (``compute``, ``L1``, ``index``, ``gather``, ``lsu``,
    ``lsu_excess``: rates measured, or defined, with every SM busy) are multiplied by
    :func:`busiest_sm_share` (``ceil(P / SMs) SMs / P``: the last wave's tail; the dense loop's rate is
    divided by its own share at 8192^3); ``L2`` and ``DRAM`` are shared by all SMs and are not. The
    scattered B operand's L1 passes are priced at the gather microbenchmark's L1-level ceiling
    (:func:`_scattered_l1_seconds`), not at one wavefront per clock; the traffic's L1 is what the carve-out
    of the resident programs leaves (``IssueEstimate.l1_bytes``, :meth:`GpuTarget.l1_bytes_for`).

    Overlap rule (:func:`issue_pace`): ``t = latency + max(max(overlap(compute, issue), resident) +
    lsu_excess, L1, L2, index + gather, DRAM, lsu)``: tensor-core work and issue overlap by the measured
    ``overlap_fraction``, and no kernel's loop runs faster than the dense loop at the same configuration and
    programs per SM (one program of four warps per SM leaves each k-step's load and MMA latencies exposed);
    the other pipelined units overlap; the index and the gather it feeds are serial (each load's address is
    the hash's result, and the kernel keeps too few warps resident to hide one behind the other).
    ``dominant`` names the largest term (``index+gather`` when their sum sets the pace, ``lsu_excess`` when
    the tile path's excess lifts the tensor-core / issue pace above every single term).
    """
    t = target
    cal = t.calibration
    if cal is None:
        raise CacheSimError(f"target={t.name!r} has no calibration for the issue-aware cost model "
                            "(measured ceilings exist for: h200)")
    terms = _issue_terms(traffic, t, desc, issue, dtype, tf32, extra_l2_sectors)
    lat = _latency_term(t, 1 if n_waves is None else max(1, int(n_waves)))
    by = {x.name: x.seconds for x in terms}
    phi = cal.get("overlap_fraction", 1.0)
    pace = issue_pace(by, phi)
    dominant = max(terms, key=lambda x: x.seconds).name
    if by["index"] + by["gather"] == pace and by["index"] and by["gather"]:
        dominant = "index+gather"
    core = overlap(by["compute"], by["issue"], phi)
    if by["lsu_excess"] and pace == core + by["lsu_excess"] and pace > max(x.seconds for x in terms):
        dominant = "lsu_excess"
    kernel = getattr(traffic, "kernel", None) or desc.kernel
    return CostPrediction(kernel, t.name, lat.seconds + pace, dominant, tuple(terms) + (lat,))


def _scattered_l1_seconds(traffic, t, desc) -> float:
    """Seconds the L1 pipe spends on the scattered B operand's sectors, hits and misses alike: sectors /
    the gather microbenchmark's L1-level ceiling (its best rate over warps per SM, at the model's clock).
    That microbenchmark drives the same L1 with the same random 2-byte loads; where a target lacks it, one
    wavefront per sector at ``l1_wavefronts_per_clk``."""
    from .issue import scattered_sectors, sm_clock_ghz

    n = scattered_sectors(traffic, desc)
    rates = (t.calibration or {}).get("gather_mwp_per_s", {}).get("L1")
    if not n:
        return 0.0
    if not rates:
        return n / (t.num_sms * t.l1_wavefronts_per_clk * sm_clock_ghz(t) * 1e9)
    return n / (max(r for _, r in rates) * _micro_clock(t))


def busiest_sm_share(programs: int, num_sms: int) -> float:
    """``ceil(P / SMs) / (P / SMs)``: how much longer than an even spread the busiest SM works when ``P``
    equal programs are dealt to ``SMs`` SMs (the tail of the last wave; 1 when ``P`` is a multiple of
    ``SMs``). MWP-CWP multiplies per-SM time by ``#Rep`` = blocks / (blocks per SM x SMs); the busiest SM
    runs the ceiling of that.

    >>> busiest_sm_share(96, 132), busiest_sm_share(264, 132), round(busiest_sm_share(384, 132), 4)
    (1.375, 1.0, 1.0312)
    """
    if programs <= 0:
        return 1.0
    return math.ceil(programs / num_sms) * num_sms / programs


def _sm_share(t, issue) -> float:
    """:func:`busiest_sm_share` of the launch, for the terms priced per SM (tensor cores, L1, index
    evaluations, gathers, tile paths: rates measured with every SM busy)."""
    return busiest_sm_share(getattr(issue, "programs", 0), t.num_sms)


def _resident_tflops(t, issue) -> float | None:
    """TFLOP/s of the dense loop at ``issue.config`` when the launch deals the busiest SM ``r`` programs,
    fewer than the configuration's occupancy (``0 < r < occupancy``): the ``dense_resident``
    microbenchmark's launch of exactly ``132 r`` programs (call42), net of the model's latency term for one
    wave (launch + one DRAM latency, which :func:`predict_gpu_issue` adds back); None elsewhere. The
    ``resident`` term prices the loop at this rate as a floor under the tensor-core / issue pace: the
    measured time already holds the dense loop's own issue and exposed latency.

    One program of four warps per SM runs a configuration's k-steps with their load and MMA latencies
    exposed: 128x64x32 reaches 226 TFLOP/s there, 415 with its four programs resident."""
    table = (t.calibration or {}).get("dense_resident")
    r, occupancy = getattr(issue, "programs_per_sm", 0), getattr(issue, "occupancy", 0)
    if not table or issue.config not in table["seconds"] or not 0 < r < occupancy:
        return None
    seconds = table["seconds"][issue.config]
    if r not in seconds:
        return None
    b = _block(issue)
    flops = 2.0 * table["row_blocks"] * b.bm * table["K"] * table["columns_per_program_per_sm"] * r * b.bn
    net = seconds[r] - _latency_term(t, 1).seconds
    return flops / net / 1e12


def _calibration_share(t, config: str) -> float:
    """:func:`busiest_sm_share` of the dense-loop calibration launch (``dense_tflops_shape``, 8192^3) at
    ``config``: its measured TFLOP/s already carry that tail."""
    side = (t.calibration or {}).get("dense_tflops_shape", 8192)
    b = Block.parse(config.split("-", 1)[0])
    return busiest_sm_share(math.ceil(side / b.bm) * math.ceil(side / b.bn), t.num_sms)


def wave_shared_share(n_rows: int, n_cols: int, group_m: int, wave: int) -> tuple[float, float]:
    """``(s_A, s_B)``: the share of the first wave's programs (``wave`` of them, in Triton's grouped launch
    order) whose A row tile, resp. B column tile, another program of that wave reads too: at the same
    k-step, at about the same time.

    >>> wave_shared_share(64, 6, 8, 132)    # 8-row groups of 6 columns: every row and column shared
    (1.0, 1.0)
    >>> wave_shared_share(1, 100, 8, 100)   # one row: A shared by all, no B column read twice
    (1.0, 0.0)
    """
    import numpy as np

    from .gemm_gpu import grouped_order

    rows, cols = grouped_order(n_rows, n_cols, group_m)
    w = max(1, min(int(wave), rows.size))
    shares = []
    for ids in (rows[:w], cols[:w]):
        _, inverse, counts = np.unique(ids, return_inverse=True, return_counts=True)
        shares.append(float(np.mean(counts[inverse] >= 2)))
    return shares[0], shares[1]


def _shared_stream_sectors(traffic, t, desc, issue) -> float:
    """L2 sectors of the 16-byte ``cp.async`` streams (A of every pointer kernel; B of dense and of ROAST
    with starts aligned to 8 or more) that another program of the same wave reads at the same k-step
    (:func:`wave_shared_share`); 0 for TMA kernels and without a launch grid."""
    n_rows, n_cols = getattr(issue, "grid", (0, 0)) or (0, 0)
    if getattr(desc, "tma", False) or not n_rows:
        return 0.0
    config = getattr(issue, "config", "") or ""
    group_m = int(config.split("-g")[1].split("-")[0]) if "-g" in config else 8
    wave = t.num_sms * max(1, issue.programs_per_sm)
    s_a, s_b = wave_shared_share(n_rows, n_cols, group_m, wave)
    shared = s_a * float(traffic.operand("A").l1_sector_misses)
    if desc.kernel == "dense" or (desc.kernel == "roast" and (desc.align or 1) >= 8):
        shared += s_b * float(traffic.operand("B").l1_sector_misses)
    return shared


def _l2_seconds(traffic, t, desc, issue, sectors: float) -> float:
    """``32 B x (sectors - shared) / B_L2 + 32 B x shared / B_L2,shared``: the clean L2 read ceiling for
    sectors one program reads alone, the shared-stream ceiling (call32: 13.4-15.0 TB/s once two or more SMs
    stream the same slice at once, against 7.8 alone) for the wave-shared stream sectors
    (:func:`_shared_stream_sectors`) where the calibration has it."""
    cal = t.calibration
    clean = cal.get("l2_read_gbs", cal.get("l2_stream_gbs", t.l2_bandwidth_gbs)) * 1e9
    shared = _shared_stream_sectors(traffic, t, desc, issue) if "l2_shared_read_gbs" in cal else 0.0
    shared = min(shared, sectors)
    rest = t.sector_bytes * (sectors - shared) / clean
    return rest + (t.sector_bytes * shared / (cal["l2_shared_read_gbs"] * 1e9) if shared else 0.0)


def _issue_terms(traffic, t, desc, issue, dtype, tf32, extra_l2_sectors) -> list:
    """The throughput terms of :func:`predict_gpu_issue` (its Notes), each with its source."""
    from .issue import l1_wavefronts, sm_clock_ghz

    cal, src = t.calibration, t.sources
    sustained = cal["sustained_bf16_tflops"]
    by_config = cal.get("dense_tflops_by_config", {})
    if not getattr(desc, "tma", False) and issue.config in by_config:
        # the pointer kernels: the dense loop's rate at this configuration, its own tail divided out
        sustained = by_config[issue.config] * _calibration_share(t, issue.config)
    resident = _resident_tflops(t, issue) if not getattr(desc, "tma", False) else None
    frac = sustained / t.peak_tflops["bf16"]
    f = sm_clock_ghz(t) * 1e9
    writes = getattr(traffic, "write_sector_requests", 0)
    wf = l1_wavefronts(traffic, desc, scattered=False) + extra_l2_sectors / 4.0
    l1_s = wf / (t.num_sms * t.l1_wavefronts_per_clk * f) + _scattered_l1_seconds(traffic, t, desc)
    l2_sectors = traffic.l2_sector_requests + writes + extra_l2_sectors
    index_s, gather_s, lsu_s = _micro_terms(traffic, t, desc, issue)
    excess_s = tile_excess(traffic, t, desc, issue, lsu_s)
    dram_gbs = cal.get("dram_stream_gbs", cal["copy_gbps"])
    micro3 = cal.get("micro3_source", "")
    q = _sm_share(t, issue)  # the per-SM terms at the busiest SM's share; L2 and DRAM are shared
    return [
        CostTerm("compute", q * traffic.flops / (t.peak_flops(dtype, tf32) * frac), micro3 or cal["source"]),
        CostTerm("resident", q * traffic.flops / (resident * 1e12) if resident else 0.0,
                 "measurements/gpu/call42_micro3p (dense_resident)"),
        CostTerm("issue", issue.issue_seconds, "SASS loop mix (measurements/gpu/call7_time/sass_fast.txt, "
                 "measurements/gpu/sass_offline); " + src.get("issue_per_scheduler_per_clk", "")),
        CostTerm("L1", q * l1_s, src.get("l1_wavefronts_per_clk", "")),
        CostTerm("L2", _l2_seconds(traffic, t, desc, issue, l2_sectors),
                 micro3 or cal.get("micro_source", src.get("l2_bandwidth_gbs", ""))),
        CostTerm("index", q * index_s, cal.get("micro_source", "")),
        CostTerm("gather", q * gather_s, cal.get("micro_source", "")),
        CostTerm("DRAM", traffic.dram_bytes / (dram_gbs * 1e9), micro3 or cal["source"]),
        CostTerm("lsu", q * lsu_s, micro3 or cal.get("micro2_source", "")),
        CostTerm("lsu_excess", q * excess_s, micro3),
    ]


def predict_vendor_gemm(shape, target="h200", *, dtype: str = "bf16") -> CostPrediction:
    """The vendor library's GEMM (cuBLAS) priced at the target's measured ceilings.

    Its kernel choice and tiles are not visible, so it is priced as what the library reaches on a large
    square product: ``t = launch + max(2 M K N / sustained, (M K + K N + M N) e / B_copy)`` with the
    sustained rate and copy bandwidth of the target's calibration (``sustained_bf16_tflops``,
    ``copy_gbps``; other dtypes scaled by the datasheet ratio) and ``e`` bytes per element: every operand
    read once and the output written once (compulsory traffic).
    """
    from ._common import GemmShape, dtype_bytes

    t = target if isinstance(target, GpuTarget) else get_target(target)
    cal = getattr(t, "calibration", None)
    if not isinstance(t, GpuTarget) or cal is None:
        raise CacheSimError(f"target={getattr(t, 'name', t)!r} has no measured GEMM ceiling "
                            "(calibrated: h200)")
    s = GemmShape.parse(shape)
    rate = cal["sustained_bf16_tflops"] * 1e12 * t.peak_tflops[dtype] / t.peak_tflops["bf16"]
    e = dtype_bytes(dtype)
    compulsory = (s.m * s.k + s.k * s.n + s.m * s.n) * e
    terms = [CostTerm("compute", 2.0 * s.m * s.k * s.n / rate, cal["source"]),
             CostTerm("DRAM", compulsory / (cal.get("dram_stream_gbs", cal["copy_gbps"]) * 1e9),
                      cal["source"])]
    lat = _latency_term(t, 1)
    return _finish("cublas", t.name, terms, lat)
