"""CPU line traces of a blocked GEMM loop nest (dense, ROAST, HashedNet) replayed through the engine.

Loop nest (tile sizes ``TM x TN x TK``, all dimensions multiples of their tiles)::

    for i0 in 0..M step TM:  for j0 in 0..N step TN:  for k0 in 0..K step TK:
        for i in i0..i0+TM:  for k in k0..k0+TK:
            a = X[i, k]                              # one load
            Y[i, j0:j0+TN] += a * W[k, j0:j0+TN]     # one inner row segment

The element stream is collapsed to line accesses per inner row segment: each segment contributes the
distinct cache lines it touches, in address order, once (the loads of ``W``, then ``Y`` as a
read-modify-write, i.e. a write access). ``W[k, j]`` is read from

* ``dense``: ``W`` itself (row-major ``K x N``);
* ``roast``: the shared array at ``s(kb, nb) + (k mod BK) BN + (j mod BN)``: the segment splits into
  contiguous pieces, one per tile it crosses;
* ``hashednet``: the shared array at ``h(k, j)`` for every element (consecutive equal lines collapsed).

The trace is replayed with :func:`cachesim.replay` through the target's hierarchy (``zen4``, ``host``,
``intel-server``: non-inclusive, write-back, LRU).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .._deprecate import deprecated_alias, renamed_kwargs
from ..errors import CacheSimError
from ..trace import TraceChunk
from ._common import (
    GEMM_KERNELS,
    Block,
    GemmShape,
    check_choice,
    check_int,
    check_memory,
    dtype_bytes,
    parse_triple,
)
from ._family import DEFAULT_FAMILY, resolve_family
from .targets import cpu_target

KERNELS = GEMM_KERNELS
KINDS = KERNELS  # deprecated name


@dataclass(frozen=True)
class CpuTraffic:
    """Line traffic of a CPU kernel through each cache level.

    Attributes
    ----------
    level_names : tuple of str
    accesses, misses : tuple of int
        Per level (nearest the core first): line accesses that reached the level and its misses
        (sector misses included; CPU levels are unsectored).
    dram_bytes : int
        Bytes read from and written to memory.
    trace_accesses : int
        Line accesses in the trace.
    """

    kernel: str
    target: str
    level_names: tuple
    accesses: tuple
    misses: tuple
    dram_bytes: int
    trace_accesses: int
    flops: int

    kind = deprecated_alias("kernel", "kind")

    def level(self, name: str) -> tuple[int, int]:
        """``(accesses, misses)`` of the level called ``name``."""
        if name not in self.level_names:
            raise CacheSimError(f"level={name!r} is not one of {self.level_names}")
        i = self.level_names.index(name)
        return self.accesses[i], self.misses[i]

    def ratio(self, other: CpuTraffic, level: int = 0) -> float:
        """``self.accesses[level] / other.accesses[level]`` (accesses that reached level ``level``)."""
        return self.accesses[level] / other.accesses[level] if other.accesses[level] else float("inf")

    def to_dict(self) -> dict:
        d = {"kernel": self.kernel, "target": self.target, "trace_accesses": self.trace_accesses,
             "dram_bytes": self.dram_bytes, "flops": self.flops}
        for n, a, m in zip(self.level_names, self.accesses, self.misses):
            d[f"{n.lower()}_accesses"] = a
            d[f"{n.lower()}_misses"] = m
        return d


@renamed_kwargs(kind="kernel")
def replay_cpu(chunks, target, kernel: str, flops: int) -> CpuTraffic:
    """Replay line-access chunks through the CPU target's hierarchy (the engine)."""
    from ..engine import replay

    t = cpu_target(target)
    res = replay(chunks, t.name)
    return CpuTraffic(
        kernel=kernel, target=t.name, level_names=tuple(s.name for s in res.levels),
        accesses=tuple(int(s.accesses) for s in res.levels),
        misses=tuple(int(s.misses + s.sector_misses) for s in res.levels),
        dram_bytes=int(res.memory_bytes_read + res.memory_bytes_written), trace_accesses=int(res.accesses),
        flops=int(flops),
    )


def _segment_lines(start_bytes: np.ndarray, length_bytes: int, line: int) -> tuple[np.ndarray, np.ndarray]:
    """Lines of contiguous segments: a (n, max_lines) array and its validity mask (address order)."""
    first = start_bytes // line
    last = (start_bytes + length_bytes - 1) // line
    width = int((last - first).max()) + 1 if start_bytes.size else 1
    lines = first[:, None] + np.arange(width)[None, :]
    return lines, lines <= last[:, None]


@renamed_kwargs(kind="kernel", tiles="loop_tiles")
def gemm_cpu_trace(kernel="dense", shape="64x64x64", *, loop_tiles="32x32x32", block="32x64x32", dtype="fp32",
                   memory=None, seed=0, family=None, line_bytes: int = 64) -> Iterator[TraceChunk]:
    """Yield the line-access trace of the blocked loop nest (see the module notes).

    ``loop_tiles`` is ``TMxTNxTK`` of the loop nest; ``block`` (``BMxBNxBK``; only BN and BK matter) is the
    ROAST tile shape. Addresses are byte addresses of line starts; ``Y`` accesses are writes.
    """
    kernel = check_choice("kernel", kernel, KERNELS)
    sh = GemmShape.parse(shape)
    tm, tn, tk = parse_triple("loop_tiles", loop_tiles)
    blk = Block.parse(block)
    bn, bk = blk.bn, blk.bk
    e = dtype_bytes(dtype)
    line = check_int("line_bytes", line_bytes, low=8)
    for nm, dim, t in (("M", sh.m, tm), ("N", sh.n, tn), ("K", sh.k, tk)):
        if dim % t:
            raise CacheSimError(
                f"shape {nm}={dim} must be a multiple of its tile {t} (loop_tiles={loop_tiles!r})"
            )
    m, k, n = sh.m, sh.k, sh.n
    if kernel != "dense":
        memory = check_memory(kernel, memory, low=bk * bn + 1 if kernel == "roast" else 1)
        if k % bk or n % bn:
            raise CacheSimError(f"shape K={k}, N={n} must be multiples of the ROAST block BK={bk}, BN={bn}")
        fam = resolve_family(family or DEFAULT_FAMILY[kernel], seed,
                             need="tile_starts" if kernel == "roast" else "element_slots")
    x_base = 0
    w_base = -(-m * k * e // 4096) * 4096
    w_elems = k * n if kernel == "dense" else memory
    y_base = w_base + -(-w_elems * e // 4096) * 4096
    if kernel == "roast":
        kb, nb = np.meshgrid(np.arange(k // bk), np.arange(n // bn), indexing="ij")
        starts = np.asarray(fam.tile_starts(kb, nb, memory - bk * bn), dtype=np.int64)
    elif kernel == "hashednet":
        kk, nn = np.meshgrid(np.arange(k), np.arange(n), indexing="ij")
        slots = np.asarray(fam.element_slots(kk, nn, memory), dtype=np.int64)
    for i0 in range(0, m, tm):
        for j0 in range(0, n, tn):
            # order (k0, i, k): flatten as k0-major, then i, then k
            k0 = np.arange(0, k, tk)[:, None, None]
            ii = np.arange(i0, i0 + tm)[None, :, None]
            kk_ = (k0 + np.arange(tk)[None, None, :])
            ii, kk_ = np.broadcast_arrays(ii, kk_)
            ii = ii.ravel()
            kk_ = kk_.ravel()
            n_seg = ii.size
            x_lines = ((x_base + (ii * k + kk_) * e) // line)[:, None]
            if kernel == "dense":
                w_lines, w_ok = _segment_lines(w_base + (kk_ * n + j0) * e, tn * e, line)
            elif kernel == "roast":
                cols = np.arange(j0, j0 + tn)
                el = starts[kk_[:, None] // bk, cols[None, :] // bn] + (kk_[:, None] % bk) * bn + cols % bn
                w_lines = (w_base + el * e) // line
                w_ok = np.ones(w_lines.shape, dtype=bool)
                w_ok[:, 1:] = w_lines[:, 1:] != w_lines[:, :-1]
            else:
                w_lines = (w_base + slots[kk_, j0:j0 + tn] * e) // line
                w_ok = np.ones(w_lines.shape, dtype=bool)
                w_ok[:, 1:] = w_lines[:, 1:] != w_lines[:, :-1]
            y_lines, y_ok = _segment_lines(y_base + (ii * n + j0) * e, tn * e, line)
            lines = np.concatenate([x_lines, w_lines, y_lines], axis=1)
            ok = np.concatenate([np.ones((n_seg, 1), bool), w_ok, y_ok], axis=1)
            wr = np.zeros(lines.shape, dtype=bool)
            wr[:, 1 + w_lines.shape[1]:] = True
            yield TraceChunk(lines[ok] * line, None, wr[ok], 0)


@renamed_kwargs(kind="kernel", tiles="loop_tiles")
def simulate_gemm_cpu(kernel="dense", shape="64x64x64", *, target="zen4", loop_tiles="32x32x32",
                      block="32x64x32", dtype="fp32", memory=None, seed=0, family=None) -> CpuTraffic:
    """Replay :func:`gemm_cpu_trace` through a CPU target (``zen4``, ``host``, ``intel-server``)."""
    t = cpu_target(target)
    sh = GemmShape.parse(shape)
    chunks = gemm_cpu_trace(kernel, shape, loop_tiles=loop_tiles, block=block, dtype=dtype, memory=memory,
                            seed=seed, family=family, line_bytes=t.line_bytes)
    return replay_cpu(chunks, t, kernel, sh.flops)
