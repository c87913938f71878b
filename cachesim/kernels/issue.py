"""Instruction issue, load issue and occupancy of the fused GEMM kernels (the terms beyond traffic).

The roofline (:mod:`cachesim.kernels.cost`) prices bytes. The fused hashed kernels are often bound by
something else: the instructions that compute the index (a 64-bit remainder by a runtime divisor costs a
~73-instruction subroutine per element), the number of warp load instructions (2-byte scalar loads where
the ROAST tile start is not 16-byte aligned), and the L1 *wavefronts* of memory-divergent loads (a warp
load of 32 elements in 32 different lines is processed as 32 wavefronts, one line per clock). This module
describes each kernel by its index path and prices those terms.

Kernel description
------------------
``(kernel, index, align)``: ``dense``; ``roast`` with ``index`` in ``{"hash", "table"}`` (tile start from
the in-loop hash or a precomputed tile-start table) and ``align`` in ``{1, 8, 64}`` (tile starts on
multiples of ``align`` elements); ``hashednet`` with ``index`` in ``{"hash", "mulshift", "table",
"arith-only"}`` (``hash``: the authors' per-element formula, a 64-bit remainder by a runtime prime;
``mulshift``: multiply-shift range reduction; ``table``: a precomputed int32 index matrix;
``arith-only``: the authors' arithmetic, but B read coalesced from a dense matrix).

Per-iteration instruction mix
-----------------------------
For every kernel variant whose compiled code was recorded, :data:`LOOP_MIXES` holds the k-loop's warp
instructions and stall cycles per iteration, counted from the SASS listing by
:func:`cachesim.kernels.sass.loop_mix` (the subroutine calls expanded). A ``(variant, config)`` the device
did not record takes the counts of the same kernel compiled offline for sm_90 with the device's Triton
(:mod:`cachesim.kernels.loop_table`: every configuration timed on the H200; equal to the device's listing
where both exist). Only a configuration in neither table takes the counts of the recorded configuration
of the same variant (same ROAST tile where recorded), scaled by the B elements each thread handles per
iteration (``BK * BN / (32 * num_warps)``); the ROAST in-loop hash's extra over the table loop scales with
the ROAST tiles per iteration instead (it is computed once per tile); the HashedNet hash loops are recorded
by the device at one configuration only, elsewhere (without a listing) the loop comes from
``mulshift``/``dense`` and the hash arithmetic from the microbenchmark term
(:func:`cachesim.kernels.cost.predict_gpu_issue`). The device's HashedNet ``hash``
listing is cut at 64 KiB of code (Triton 3.6's disassembler reads four-digit addresses only), before its
loop closes; without the offline listing (complete) its mix is the ``arith-only`` one (the same index
arithmetic), which Nsight Compute confirms: 256.7 M vs 258.8 M executed warp instructions at
4096x768x3072 (call8_focus).

Model (per SM sub-partition, one k-iteration)
---------------------------------------------
Let ``n`` be the warp instructions of one iteration, ``S`` the sum of the compiler's stall counts (the
cycles one warp alone needs for its fixed-latency dependencies), ``L`` the exposed memory latency of one
warp (:mod:`cachesim.kernels.latency`: its chain of synchronous loads, one latency per level, and its
spill reloads at the level they hit), ``lat_async`` the latency of the operands ``cp.async`` stages
``num_stages - 1`` iterations ahead, and ``W`` the warps resident per sub-partition: those of the programs
the busiest SM holds, the occupancy (from registers, shared memory and warp slots) or ``ceil(programs /
SMs)`` when the launch has fewer programs (:func:`launched_per_sm`; the L1 carve-out follows the occupancy,
which the launch sets whatever the grid). Then, as in the MWP-CWP model (Hong & Kim, ISCA 2009)::

    T = cycles per iteration = max(W * n / issue_rate, S + L, (S + L + lat_async) / num_stages)

(issue-bound when enough warps interleave; bound by one warp's dependency chain and memory waits when
they do not; the third argument is the pipelined loads' latency left after ``num_stages - 1`` iterations
of cover: ``T >= S + L + lat_async - (num_stages - 1) T``). ``issue_seconds = waves * (K / BK) * T / f``
(``f`` = the SM clock measured under load, :func:`sm_clock_ghz`) with ``waves = ceil(programs /
(SMs * programs per SM))``. Without the kernel's traffic, ``L`` is the spill reloads at one L1 hit each.

L1 wavefronts: a warp load takes one wavefront per distinct 128-byte line it touches. Coalesced operands
take ``ceil(sectors / 4)`` per request (at least one); the scattered HashedNet B operand takes one per
element. ``wavefront_seconds = wavefronts / (SMs * wavefronts per clock * f)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..errors import CacheSimError
from ._common import Block
from .latency import load_latency
from .loop_table import offline_loops

__all__ = ["INDEX_PATHS", "LOADS", "LOOP_LOADS", "LOOP_MIXES", "TMA_ALIGNS", "TMA_LOOP_LOADS",
           "TMA_LOOP_MIXES", "KernelDescription", "IssueEstimate", "describe", "estimate_issue"]

#: Index paths each kernel accepts (first = default). ROAST ``hash32``: the int32 in-loop hash of the fast
#: kernels; ``table-pf``: the tile-start table read one k-step ahead (a register prefetch).
INDEX_PATHS = {"dense": (None,), "roast": ("hash", "table", "hash32", "table-pf"),
               "hashednet": ("hash", "mulshift", "table", "arith-only")}
#: ROAST tile-start alignments (elements) of the pointer kernels; the TMA kernels take ``align == BN`` of
#: the tile (:data:`TMA_ALIGNS`): every B box starts a row of the shared array viewed as (memory/BN) x BN.
ALIGNS = (1, 8, 64)
TMA_ALIGNS = (64, 128, 256)
#: Load paths of the issue-aware model: ``pointer`` (per-thread addresses: ``ld`` / ``cp.async``) and
#: ``tma`` (Tensor Memory Accelerator box copies; dense and ROAST only, index ``table`` or ``hash32``).
LOADS = ("pointer", "tma")

#: ``(variant, config): (instructions, stall_cycles, local_loads, global_loads, registers, shared_bytes)``
#: per warp and k-iteration, counted by :func:`cachesim.kernels.sass.loop_mix` from
#: ``measurements/gpu/call7_time/sass_fast.txt`` (H200, Triton 3.6.0, bf16), with only the side of each
#: guarded 64-bit remainder that the hash runs (:func:`cachesim.kernels.sass.remainder_path`: the ROAST
#: in-loop hash keeps its operands below 2**32). Not fitted; a test recounts them from the record.
LOOP_MIXES = {
    ("dense", "128x64x64-g8-w4-s4"): (106, 183, 0, 14, 122, 98304),
    ("roast-table-a1-t32x64", "128x64x32-g8-w4-s4"): (154, 354, 0, 22, 125, 36864),
    ("roast-table-a1-t32x64", "256x64x64-g8-w8-s4"): (172, 402, 0, 27, 128, 139264),
    ("roast-table-a8-t32x64", "128x64x32-g8-w4-s4"): (97, 187, 0, 10, 96, 24580),
    ("roast-table-a8-t32x64", "256x64x64-g8-w8-s4"): (129, 237, 0, 16, 118, 81940),
    ("roast-hash-a1-t32x64", "128x64x32-g8-w4-s4"): (355, 880, 0, 21, 123, 36864),
    ("roast-hash-a1-t32x64", "256x64x64-g8-w8-s4"): (308, 1111, 0, 25, 144, 139264),
    ("roast-table-a64-t64x128", "128x128x64-g8-w4-s4"): (143, 269, 0, 20, 200, 65540),
    ("roast-table-a64-t64x128", "256x128x64-g8-w8-s3"): (131, 267, 0, 16, 196, 98308),
    ("roast-hash-a64-t64x128", "128x128x64-g8-w4-s4"): (192, 583, 0, 18, 198, 131072),
    ("roast-hash-a64-t64x128", "256x128x64-g8-w8-s3"): (180, 569, 0, 14, 192, 147456),
    ("hashednet-mulshift", "128x128x64-g8-w4-s4"): (480, 972, 0, 73, 237, 81920),
    ("hashednet-table", "128x128x64-g8-w4-s4"): (651, 1477, 0, 89, 255, 131072),
    ("hashednet-arith-only", "128x128x64-g8-w4-s4"): (6901, 19518, 292, 18, 255, 131072),
}
#: ``(variant, config): (load_chain, lsu_instructions, spill_bytes)`` of the same listings, counted by
#: :func:`cachesim.kernels.sass.load_profile` (a test recounts them): the depth of the exposed synchronous
#: global-load chain per iteration, the warp instructions through the LSU/MIO pipe per iteration, and the
#: register-spill footprint per thread (bytes).
LOOP_LOADS = {
    ("dense", "128x64x64-g8-w4-s4"): (0, 15, 0),
    ("roast-table-a1-t32x64", "128x64x32-g8-w4-s4"): (2, 44, 0),
    ("roast-table-a1-t32x64", "256x64x64-g8-w8-s4"): (2, 49, 0),
    ("roast-table-a8-t32x64", "128x64x32-g8-w4-s4"): (0, 17, 0),
    ("roast-table-a8-t32x64", "256x64x64-g8-w8-s4"): (0, 23, 0),
    ("roast-hash-a1-t32x64", "128x64x32-g8-w4-s4"): (1, 43, 0),
    ("roast-hash-a1-t32x64", "256x64x64-g8-w8-s4"): (1, 47, 0),
    ("roast-table-a64-t64x128", "128x128x64-g8-w4-s4"): (0, 27, 0),
    ("roast-table-a64-t64x128", "256x128x64-g8-w8-s3"): (0, 23, 0),
    ("roast-hash-a64-t64x128", "128x128x64-g8-w4-s4"): (0, 22, 0),
    ("roast-hash-a64-t64x128", "256x128x64-g8-w8-s3"): (0, 18, 0),
    ("hashednet-mulshift", "128x128x64-g8-w4-s4"): (1, 143, 0),
    ("hashednet-table", "128x128x64-g8-w4-s4"): (2, 223, 0),
    ("hashednet-arith-only", "128x128x64-g8-w4-s4"): (0, 579, 936),
}
#: The TMA kernels' k-loops (same tuples as :data:`LOOP_MIXES` / :data:`LOOP_LOADS`), counted from
#: ``measurements/gpu/call18_headline/sass_tma.txt`` (H200, Triton 3.6.0, bf16; the k-loop is the shortest
#: backward-branch region holding the HGMMAs). Configurations ending in ``-p`` / ``-pw`` are the persistent
#: (and warp-specialised) schedules. A test recounts them from the record.
TMA_LOOP_MIXES = {
    ("tma-dense", "128x128x64-g8-w4-s3"): (96, 230, 0, 0, 154, 98328),
    ("tma-dense", "128x128x64-g8-w8-s3"): (83, 188, 0, 0, 90, 98328),
    ("tma-roast-table-a128-t64x128", "128x128x64-g8-w4-s3"): (123, 340, 0, 2, 154, 65556),
    ("tma-roast-hash32-a128-t64x128", "128x128x64-g8-w4-s3"): (133, 300, 0, 0, 154, 98328),
    ("tma-roast-table-a256-t64x256", "128x256x64-g8-w8-s3-pw"): (116, 292, 0, 2, 173, 163860),
    ("tma-roast-hash32-a256-t64x256", "128x256x64-g8-w8-s3-p"): (124, 348, 0, 0, 166, 213016),
}
TMA_LOOP_LOADS = {k: (0, 5 if "table" in k[0] else 0, 0) for k in TMA_LOOP_MIXES}
#: Recorded listings used for variants whose own listing is unusable (see the module notes).
_MIX_ALIAS = {"hashednet-hash": "hashednet-arith-only"}


@dataclass(frozen=True)
class KernelDescription:
    """A fused GEMM kernel with its index path: ``kernel``, ``index``, ``align`` (ROAST only)."""

    kernel: str
    index: str | None
    align: int | None
    tile: tuple | None = None
    loads: str = "pointer"

    @property
    def variant(self) -> str:
        """The recorded variant family name (``roast-table-a64``, ``hashednet-hash``, ``dense``; TMA kernels
        carry a ``tma-`` prefix: ``tma-roast-table-a128``)."""
        pre = "tma-" if self.loads == "tma" else ""
        if self.kernel == "dense":
            return pre + "dense"
        if self.kernel == "roast":
            return f"{pre}roast-{self.index}-a{self.align}"
        return f"hashednet-{self.index}"

    @property
    def tma(self) -> bool:
        """True when A and B arrive by TMA box copies (no per-thread load instructions)."""
        return self.loads == "tma"

    @property
    def scattered(self) -> bool:
        """True when B is gathered element by element (memory-divergent loads)."""
        return self.kernel == "hashednet" and self.index != "arith-only"

    def to_dict(self) -> dict:
        return {"kernel": self.kernel, "index": self.index, "align": self.align,
                "tile": None if self.tile is None else list(self.tile), "loads": self.loads}


def _tile(tile):
    if tile is None:
        return None
    if isinstance(tile, str):
        parts = tile.lower().split("x")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise CacheSimError(f"tile={tile!r} must look like BKxBN (e.g. 64x128)")
        tile = tuple(int(p) for p in parts)
    if (not isinstance(tile, tuple | list) or len(tile) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in tile)):
        raise CacheSimError(f"tile={tile!r} must be a (BK, BN) pair of positive integers")
    return tuple(tile)


def describe(kernel: str, index=None, align=None, tile=None, loads="pointer") -> KernelDescription:
    """Validate ``(kernel, index, align, tile, loads)`` and return the :class:`KernelDescription`.

    Raises
    ------
    CacheSimError
        Unknown index path, an alignment on a kernel without tile starts, an alignment not in 1/8/64
        (TMA: not the tile's ``BN``), a ``tile`` (ROAST ``(BK, BN)``; default: the program's ``BK x BN``)
        on another kernel, an unknown ``loads``, TMA with HashedNet (element gathers have no box) or with
        an index path the TMA kernels do not have.
    """
    if loads not in LOADS:
        raise CacheSimError(f"loads={loads!r} must be one of {', '.join(LOADS)}")
    if loads == "tma":
        return _describe_tma(kernel, index, align, tile)
    if tile is not None and kernel != "roast":
        raise CacheSimError(f"tile={tile!r}: only ROAST has tiles (kernel={kernel!r})")
    if kernel not in INDEX_PATHS:
        raise CacheSimError(f"kernel={kernel!r}: the index-aware cost model covers the fused GEMMs "
                            f"({', '.join(INDEX_PATHS)})")
    allowed = INDEX_PATHS[kernel]
    if kernel == "dense":
        if index not in (None, "dense") or align is not None:
            raise CacheSimError(f"index={index!r}, align={align!r}: the dense kernel has no index path")
        return KernelDescription("dense", None, None)
    if index is None:
        index = allowed[0]
    if index not in allowed:
        raise CacheSimError(f"index={index!r} is not an index path of kernel {kernel!r}: choose one of "
                            f"{', '.join(allowed)}")
    if kernel == "hashednet":
        if align is not None:
            raise CacheSimError(f"align={align!r}: HashedNet has no tile starts to align (ROAST only)")
        return KernelDescription(kernel, index, None)
    align = 1 if align is None else align
    if isinstance(align, bool) or not isinstance(align, int) or align not in ALIGNS:
        raise CacheSimError(f"align={align!r} must be one of {', '.join(map(str, ALIGNS))} (elements)")
    return KernelDescription(kernel, index, align, _tile(tile))


def _describe_tma(kernel, index, align, tile) -> KernelDescription:
    if kernel == "hashednet":
        raise CacheSimError("loads='tma': HashedNet gathers element by element; a TMA box copies a "
                            "contiguous tile (dense and ROAST only)")
    if kernel == "dense":
        return replace(describe(kernel, index, align), loads="tma")
    if kernel != "roast":
        raise CacheSimError(f"kernel={kernel!r}: loads='tma' covers the dense and ROAST GEMMs")
    index = "table" if index is None else index
    if index not in ("table", "hash32"):
        raise CacheSimError(f"index={index!r}: the TMA ROAST kernels read the tile start from a table or "
                            "the int32 hash (table | hash32)")
    tile = _tile(tile)
    if isinstance(align, bool) or not isinstance(align, int) or align not in TMA_ALIGNS:
        raise CacheSimError(f"align={align!r} must be one of {', '.join(map(str, TMA_ALIGNS))} with "
                            "loads='tma' (the tile's BN)")
    if tile is not None and tile[1] != align:
        raise CacheSimError(f"align={align} must equal the tile's BN={tile[1]} with loads='tma'")
    return KernelDescription("roast", index, align, tile, "tma")


def _config_label(block: Block, group_m: int, num_warps: int, num_stages: int) -> str:
    return f"{block.bm}x{block.bn}x{block.bk}-g{group_m}-w{num_warps}-s{num_stages}"


def _elements_per_thread(block: Block, num_warps: int) -> float:
    return block.bk * block.bn / (32.0 * num_warps)


def _pick_mix(desc: KernelDescription, config: str):
    """``(counts, recorded_config, recorded_variant)`` of the recorded mix closest to ``desc`` (same
    variant, same config when recorded; else the variant's first recorded config; ROAST alignments missing
    from the record fall back to a recorded one with the same index path and load class: 1 (scalar) or
    8/64 (16-byte vectors), the nearest first)."""
    if desc.tma:
        return _pick_tma_mix(desc, config)
    name = _MIX_ALIAS.get(desc.variant, desc.variant)
    cands = [(v, c) for (v, c) in LOOP_MIXES if v == name or v.startswith(name + "-t")]
    if desc.tile is not None:
        same = [(v, c) for v, c in cands if v.endswith(f"-t{desc.tile[0]}x{desc.tile[1]}")]
        cands = same + [vc for vc in cands if vc not in same]
    if not cands and desc.kernel == "roast" and desc.index in ("hash32", "table-pf"):
        # no listing of the int32-hash / prefetched-table loop: the table loop of the same alignment (the
        # int32 hash costs a few instructions per tile, the prefetch moves the same load one step ahead)
        return _pick_mix(replace(desc, index="table"), config)
    if not cands and desc.kernel == "roast":
        # same load class first: align 8 and 64 both give 16-byte aligned starts (the same vector loads;
        # the recorded table-a8 and table-a64 loops match), align 1 gives 2-byte scalar loads
        for a in sorted(ALIGNS, key=lambda a: ((a == 1) != (desc.align == 1), abs(a - desc.align))):
            cands = [(v, c) for (v, c) in LOOP_MIXES if v.startswith(f"roast-{desc.index}-a{a}-t")]
            if cands:
                break
    if not cands:
        raise CacheSimError(f"no recorded instruction mix for {desc.variant!r}")
    for v, c in cands:
        if c == config:
            return LOOP_MIXES[(v, c)], c, v
    v, c = cands[0]
    return LOOP_MIXES[(v, c)], c, v


def _pick_tma_mix(desc: KernelDescription, config: str):
    """The TMA loop of ``desc`` at ``config`` if recorded, else its variant's first recorded (plain)
    configuration, else the ROAST TMA loop with the same index path, else the dense TMA loop."""
    plain = [(v, c) for (v, c) in TMA_LOOP_MIXES if not c.endswith(("-p", "-pw", "-f"))]
    for pick in (lambda v, c: v.startswith(desc.variant) and c == config,
                 lambda v, c: v.startswith(desc.variant),
                 lambda v, c: v.startswith(f"tma-roast-{desc.index}-"),
                 lambda v, c: v == "tma-dense"):
        hits = [(v, c) for v, c in plain if pick(v, c)]
        if hits:
            v, c = hits[0]
            return TMA_LOOP_MIXES[(v, c)], c, v
    raise CacheSimError(f"no recorded TMA instruction mix for {desc.variant!r}")


@dataclass(frozen=True)
class IssueEstimate:
    """Issue-side quantities of one kernel launch (see the module notes for the formulas)."""

    description: KernelDescription
    mix_config: str
    instructions_per_iteration: float
    stall_cycles_per_iteration: float
    exposed_latency_cycles: float
    programs_per_sm: int
    warps_per_scheduler: float
    waves: int
    iterations: int
    cycles_per_iteration: float
    issue_seconds: float
    elements: float = 0.0
    memory_bytes: float = 0.0
    latency: object = None
    lsu_instructions_per_iteration: float = 0.0
    load_chain: int = 0
    config: str = ""
    schedule: str = "plain"
    #: L1 data bytes the resident programs' shared-memory carve-out leaves (:meth:`GpuTarget.l1_bytes_for`)
    l1_bytes: int = 0
    #: programs of the launch (``ceil(M / BM) x ceil(N / BN)``)
    programs: int = 0
    #: ``(ceil(M / BM), ceil(N / BN))``: row and column tiles of the launch
    grid: tuple = (0, 0)
    #: programs one SM can hold at once (registers, shared memory, warp slots; 1 for a persistent schedule)
    occupancy: int = 0

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("description", "latency")}
        return {"description": self.description.to_dict(), **out,
                "latency": None if self.latency is None else self.latency.to_dict()}


def _occupancy(t, regs: int, shared: int, num_warps: int) -> int:
    by_regs = t.registers_per_sm // max(1, regs * 32 * num_warps)
    by_shared = t.max_shared_per_sm // max(1, shared + t.shared_reserved_per_block)
    by_warps = t.max_warps_per_sm // num_warps
    return max(1, min(by_regs, by_shared, by_warps, t.max_blocks_per_sm))


def _tiles_per_iteration(block: Block, tile) -> float:
    tk, tn = tile if tile is not None else (block.bk, block.bn)
    return max(1.0, block.bk / tk) * max(1.0, block.bn / tn)


def _listed_variant(desc: KernelDescription, block: Block) -> str:
    """The listing name of ``desc``: ``dense``, ``hashednet-hash``, ``roast-table-a64-t64x128`` (a ROAST
    description without a tile has the program's ``BK x BN`` tile)."""
    if desc.kernel != "roast":
        return desc.variant
    tk, tn = desc.tile if desc.tile is not None else (block.bk, block.bn)
    return f"{desc.variant}-t{tk}x{tn}"


def _exact_mix(desc: KernelDescription, block: Block, config: str):
    """``(counts, variant)`` of the listing of exactly ``desc`` at ``config``: the device's
    (:data:`LOOP_MIXES`, :data:`TMA_LOOP_MIXES`) first, else the offline compile's
    (:mod:`cachesim.kernels.loop_table`); None. A TMA ``config`` may carry its schedule (``-p``, ``-pw``)."""
    key = (_listed_variant(desc, block), config)
    counts = LOOP_MIXES.get(key) or TMA_LOOP_MIXES.get(key) or offline_loops().mixes.get(key)
    return None if counts is None else (counts, key[0])


def pipeline_buffers(desc: KernelDescription, config: str) -> int | None:
    """B-tile pipeline buffers the compiled pointer ROAST loop at ``config`` keeps (``BMxBNxBK-gG-wW-sS``):
    its listing's shared bytes over one stage's A and B tiles (``2 BK (BM + BN)``), for the kernels whose B
    tile is copied with ``cp.async`` (align 8 and up); None for the others (align 1 stages B through
    registers into one shared buffer beside A's stages, so its shared bytes count no B stages), for TMA and
    where no listing of exactly this kernel and configuration exists.

    Triton compiles the start-table loop with fewer buffers than ``num_stages`` asks for: two at 3 and 4
    stages, three at 5 (the listings), where the computed-start loop keeps ``num_stages``."""
    if desc.kernel != "roast" or getattr(desc, "tma", False) or (desc.align or 1) < 8:
        return None
    block = Block.parse(config.split("-", 1)[0])
    exact = _exact_mix(desc, block, config)
    if exact is None:
        return None
    return exact[0][5] // (2 * block.bk * (block.bm + block.bn))


def _loop_loads(variant: str, config: str) -> tuple:
    """``(load_chain, lsu, spill_bytes)`` of a listed loop (device first, then offline; zeros if neither)."""
    key = (variant, config)
    return LOOP_LOADS.get(key) or TMA_LOOP_LOADS.get(key) or offline_loops().loads.get(key, (0, 0, 0))


def _scaled_mix(desc: KernelDescription, block: Block, config: str, num_warps: int):
    """``(n, stall, local_loads, regs, shared, recorded_config)`` for ``config`` (module notes).

    The listed loop of exactly this kernel and configuration (device or offline) when there is one;
    otherwise scaled from a recorded one as follows.

    Per-element work scales with the B elements per thread. ROAST ``hash``: the in-loop tile-start hash is
    per ROAST tile, so its extra over the ``table`` loop of the same recorded configuration scales with the
    tiles per iteration instead. HashedNet ``hash``/``arith-only`` at a configuration whose loop was not
    recorded: the recorded arith-only loop spills (its configuration's register pressure), so the loop is
    taken from ``mulshift`` (scattered loads, cheap index) or ``dense``, and the hash arithmetic is priced by
    the microbenchmark term ``index`` of the cost model instead.
    """
    exact = _exact_mix(desc, block, config)
    if exact is not None:
        (n, stall, ldl, _gld, regs, shared), variant = exact
        return n, stall, ldl, regs, shared, config, (variant, 1.0)
    if (desc.kernel == "hashednet" and desc.index in ("hash", "arith-only")
            and ("hashednet-arith-only", config) not in LOOP_MIXES):
        sub = KernelDescription("hashednet", "mulshift", None) if desc.index == "hash" else \
            KernelDescription("dense", None, None)
        return _scaled_mix(sub, block, config, num_warps)
    (n, stall, ldl, _gld, regs, shared), rec_cfg, rec_var = _pick_mix(desc, config)
    rec_block = Block.parse(rec_cfg.split("-")[0])
    rec_warps = int(rec_cfg.split("-w")[1].split("-")[0])
    scale = _elements_per_thread(block, num_warps) / _elements_per_thread(rec_block, rec_warps)
    if desc.kernel == "roast" and desc.index == "hash":
        table = KernelDescription("roast", "table", desc.align, desc.tile)
        (nt, st, _, _, _, _), tcfg, _ = _pick_mix(table, rec_cfg)
        if tcfg == rec_cfg:
            rec_tile = _recorded_tile(desc, rec_cfg)
            tscale = _tiles_per_iteration(block, desc.tile) / _tiles_per_iteration(rec_block, rec_tile)
            n, stall = nt * scale + (n - nt) * tscale, st * scale + (stall - st) * tscale
            scale = 1.0
    return n * scale, stall * scale, ldl * scale, regs, shared, rec_cfg, (rec_var, scale)


def _variable_latency(t, desc: KernelDescription, block: Block, rec_var: str, rec_cfg: str) -> float:
    """Cycles per iteration the variable-latency instructions (MUFU, conversions) of a ROAST in-loop
    tile-start hash expose beyond the compiler's stall counts: their count in the listing times the
    calibration's ``variable_latency_cycles`` (each is on the one dependent chain of the tile's start; the
    hash_overlap microbenchmark's residual per such instruction, call24 against its own listing). A
    configuration without its own listing takes the recorded one's count scaled by the tiles per iteration.
    0 for the other kernels (HashedNet's per-element hashes are independent chains that hide each other, and
    its hash is priced by the ``index`` term)."""
    cycles = (t.calibration or {}).get("variable_latency_cycles")
    if not cycles or desc.kernel != "roast" or desc.index not in ("hash", "hash32"):
        return 0.0
    count = offline_loops().variable_latency.get((rec_var, rec_cfg), 0)
    rec_block = Block.parse(rec_cfg.split("-")[0])
    return cycles * count * _tiles_per_iteration(block, desc.tile) / _tiles_per_iteration(
        rec_block, _variant_tile(rec_var))


def _variant_tile(variant: str):
    """``(TK, TN)`` of a listed variant name ending in ``-tTKxTN``; None without one."""
    if "-t" not in variant:
        return None
    tk, tn = variant.rsplit("-t", 1)[1].split("x")
    return int(tk), int(tn)


def _recorded_tile(desc: KernelDescription, rec_cfg: str):
    for v, c in LOOP_MIXES:
        if c == rec_cfg and v.startswith(desc.variant + "-t"):
            return _variant_tile(v)
    return None


def _residency(desc: KernelDescription, block: Block, t, *, group_m, num_warps, num_stages, schedule,
               transpose) -> tuple:
    """``(config, compiled schedule, listed mix, shared bytes, programs per SM)`` of a launch: the listing
    :func:`_scaled_mix` takes for it (its registers and shared memory; a configuration no listing has: the
    stages' tiles), and the occupancy they allow (one program per SM for a persistent schedule)."""
    from .tma import SCHEDULE_SUFFIX, compiled_schedule

    config = _config_label(block, group_m, num_warps, num_stages)
    if (schedule != "plain" or transpose) and not desc.tma:
        raise CacheSimError(f"schedule={schedule!r}, transpose={transpose!r}: needs loads='tma' (the pointer "
                            "kernels launch one program per block and have no dX kernel)")
    dx = "-dx" if transpose else ""
    listed = config + SCHEDULE_SUFFIX[schedule] + dx  # the timed label, as the listings name it
    schedule = compiled_schedule(desc.variant, config + dx, schedule)
    mix = _scaled_mix(desc, block, listed, num_warps)
    regs, shared, rec_cfg = mix[3], mix[4], mix[5]
    if rec_cfg != listed:
        shared = num_stages * (block.bm * block.bk + block.bk * block.bn) * 2
    r = 1 if schedule != "plain" else _occupancy(t, regs, shared, num_warps)
    return config, schedule, mix, shared, r


def launched_per_sm(occupancy: int, programs: int, num_sms: int) -> int:
    """Programs the busiest SM holds at once: the occupancy, or ``ceil(programs / SMs)`` when the launch has
    fewer programs than the SMs can hold (the block scheduler deals programs to idle SMs first; MWP-CWP's
    active blocks per SM are likewise the smaller of the two).

    >>> launched_per_sm(4, 128, 132), launched_per_sm(4, 384, 132), launched_per_sm(2, 2000, 132)
    (1, 3, 2)
    """
    return max(1, min(int(occupancy), math.ceil(programs / num_sms))) if programs > 0 else int(occupancy)


def resident_l1_bytes(desc: KernelDescription, block: Block, t, *, group_m=8, num_warps=4, num_stages=3,
                      schedule="plain", transpose=False) -> int:
    """L1 data bytes the carve-out of the launch's resident programs leaves (:meth:`GpuTarget.l1_bytes_for`
    with the compiled shared memory and occupancy of :func:`estimate_issue`; its ``l1_bytes``)."""
    *_, shared, r = _residency(desc, block, t, group_m=group_m, num_warps=num_warps, num_stages=num_stages,
                               schedule=schedule, transpose=transpose)
    return t.l1_bytes_for(shared, programs=r)


def estimate_issue(desc: KernelDescription, shape, block: Block, t, *, group_m=8, num_warps=4,
                   num_stages=3, memory=None, traffic=None, schedule="plain",
                   transpose=False) -> IssueEstimate:
    """Instruction-issue time of the fused kernel ``desc`` (module notes: ``max(W n, S + L, (S + L +
    lat_async) / num_stages)``).

    ``traffic`` (the kernel's :class:`AnalyticTraffic` or ``GpuTraffic``) switches on the exposed memory
    latencies of :mod:`cachesim.kernels.latency`; without it ``L`` is the spill reloads at one L1 hit each.
    ``schedule`` (TMA kernels, :data:`cachesim.kernels.tma.SCHEDULES`): a persistent launch keeps one
    program per SM whatever the occupancy would allow; the estimate carries the schedule the compiler
    produced (:func:`cachesim.kernels.tma.compiled_schedule`). ``transpose``: the TMA input-gradient
    kernel ``dX = dY W^T`` (``shape`` is then its own ``M x N x K`` GEMM; its listings carry ``-dx``).
    """
    config, schedule, mix, shared, occupancy = _residency(desc, block, t, group_m=group_m,
                                                          num_warps=num_warps, num_stages=num_stages,
                                                          schedule=schedule, transpose=transpose)
    n, stall, ldl, _, _, rec_cfg, (rec_var, _) = mix
    stall += _variable_latency(t, desc, block, rec_var, rec_cfg)
    programs = math.ceil(shape.m / block.bm) * math.ceil(shape.n / block.bn)
    # the carve-out follows the kernel's occupancy (set at launch whatever the grid); the warps that share an
    # SM's schedulers are those of the programs the busiest SM actually holds
    r = launched_per_sm(occupancy, programs, t.num_sms)
    w = r * num_warps / t.schedulers_per_sm
    l1_bytes = t.l1_bytes_for(shared, programs=occupancy)
    iters = max(1, math.ceil(shape.k / block.bk))
    chain, lsu, spill_bytes = _loop_loads(rec_var, rec_cfg)
    if desc.scattered:  # 2-byte gathers cannot be staged by cp.async: synchronous loads
        chain = max(chain, 1)
    if traffic is None:
        lat_info = None
        lat, lat_async = ldl * t.l1_latency_ns * t.frequency_ghz, 0.0
    else:
        lat_info = load_latency(traffic, t, load_chain=chain, local_loads=ldl, spill_bytes=spill_bytes,
                                spill_waits=offline_loops().spill_waits.get((rec_var, rec_cfg)),
                                warp_iterations=float(programs * num_warps * iters),
                                threads_per_sm=r * num_warps * 32,
                                l1_bytes=l1_bytes)
        lat, lat_async = lat_info.sync_cycles + lat_info.spill_cycles, lat_info.async_cycles
    cyc = max(w * n / t.issue_per_scheduler_per_clk, stall + lat,
              (stall + lat + lat_async) / max(1, num_stages))
    waves = max(1, math.ceil(programs / (t.num_sms * r)))
    secs = waves * iters * cyc / (sm_clock_ghz(t) * 1e9)
    elements = float(shape.k) * shape.n * math.ceil(shape.m / block.bm)
    lsu_scale = _elements_per_thread(block, num_warps) / _elements_per_thread(
        Block.parse(rec_cfg.split("-")[0]), int(rec_cfg.split("-w")[1].split("-")[0]))
    return IssueEstimate(desc, rec_cfg, n, stall, lat, r, w, waves, iters, cyc, secs, elements,
                         2.0 * (memory or 0), lat_info, lsu * lsu_scale, chain, config, schedule, l1_bytes,
                         programs, (math.ceil(shape.m / block.bm), math.ceil(shape.n / block.bn)), occupancy)


def sm_clock_ghz(t) -> float:
    """SM clock under load: the calibration's measured clock where there is one, else the preset's."""
    return (t.calibration or {}).get("sm_clock_ghz", t.frequency_ghz)


def l1_wavefronts(traffic, desc: KernelDescription, *, scattered: bool = True) -> float:
    """L1 wavefronts of the kernel's global loads (one per distinct 128-byte line per warp request).

    Coalesced operands: ``max(requests, sectors / 4)``; the scattered HashedNet B operand: one per sector
    (every element lies in its own line), left out with ``scattered=False`` (:func:`scattered_sectors`).
    """
    total = 0.0
    if desc.tma:  # box copies: no warp load instructions, no L1 lookups
        return total
    for name in ("A", "B"):
        op = traffic.operand(name)
        sectors = float(op.l1_sector_requests)
        if name == "B" and desc.scattered:
            total += sectors if scattered else 0.0
        else:
            total += max(float(op.instructions), sectors / 4.0)
    return total


def scattered_sectors(traffic, desc: KernelDescription) -> float:
    """L1 sector requests of the scattered HashedNet B operand (0 for the other kernels)."""
    return float(traffic.operand("B").l1_sector_requests) if desc.scattered and not desc.tma else 0.0
