"""Embedding lookups from a hashed shared array: element hashing vs ROBE-Z chunks, on a CPU target.

A batch of row ids ``r`` each reads ``d`` values:

* ``element``: value ``j`` of row ``r`` lives at ``h(r, j)`` (one hash per value, HashedNet-style);
* ``robez``: the row is cut into chunks of ``Z`` values; chunk ``c`` starts at
  ``((r R3 + c R2 + R1) mod P) mod (m - Z + 1)`` (:func:`roast_theory.hashes.make_family` ``"robez"``,
  ``tile_starts(r, c, m - Z + 1)``) and is read contiguously.

Each lookup emits the distinct lines of its reads in order (consecutive equal lines collapsed), then the
line(s) of the output row it writes; the trace is replayed through the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import CacheSimError
from ..trace import TraceChunk
from ._common import check_choice, check_int, dtype_bytes
from ._family import resolve_family
from .gemm_cpu import CpuTraffic, cpu_target, replay_cpu

MODES = ("element", "robez")


@dataclass(frozen=True)
class EmbeddingPlan:
    mode: str
    dim: int
    chunk: int
    memory: int
    elem_bytes: int


def embedding_trace(rows, *, mode="robez", dim=128, chunk=32, memory=1 << 20, dtype="fp32", seed=0,
                    family=None, line_bytes: int = 64) -> TraceChunk:
    """Line-access trace of looking up ``rows`` (see the module notes)."""
    mode = check_choice("mode", mode, MODES)
    dim = check_int("dim", dim, low=1)
    e = dtype_bytes(dtype)
    rows = np.asarray(rows)
    if rows.ndim != 1 or rows.dtype.kind not in "iu" or (rows.size and rows.min() < 0):
        raise CacheSimError("rows must be a 1-D array of non-negative integer row ids")
    rows = rows.astype(np.int64)
    if mode == "robez":
        chunk = check_int("chunk", chunk, low=1, high=dim)
        if dim % chunk:
            raise CacheSimError(f"chunk={chunk} must divide dim={dim}")
        memory = check_int("memory", memory, low=chunk)
        fam = resolve_family(family or "robez", seed, need="tile_starts")
        c = np.arange(dim // chunk)
        rr, cc = np.meshgrid(rows, c, indexing="ij")
        starts = np.asarray(fam.tile_starts(rr, cc, memory - chunk + 1), dtype=np.int64)
        slots = (starts[:, :, None] + np.arange(chunk)[None, None, :]).reshape(rows.size, dim)
    else:
        memory = check_int("memory", memory, low=1)
        fam = resolve_family(family or "hashednet-triton", seed, need="element_slots")
        rr, jj = np.meshgrid(rows, np.arange(dim), indexing="ij")
        slots = np.asarray(fam.element_slots(rr, jj, memory), dtype=np.int64)
    out_base = -(-memory * e // 4096) * 4096
    m_lines = slots * e // line_bytes
    ok = np.ones(m_lines.shape, bool)
    ok[:, 1:] = m_lines[:, 1:] != m_lines[:, :-1]
    out_first = (out_base + np.arange(rows.size)[:, None] * dim * e) // line_bytes
    n_out = -(-dim * e // line_bytes)
    out_lines = out_first + np.arange(n_out)[None, :]
    lines = np.concatenate([m_lines, out_lines], axis=1)
    keep = np.concatenate([ok, np.ones(out_lines.shape, bool)], axis=1)
    wr = np.zeros(lines.shape, bool)
    wr[:, dim:] = True
    return TraceChunk(lines[keep] * line_bytes, None, wr[keep], 0)


def simulate_embedding(rows, *, target="zen4", mode="robez", dim=128, chunk=32, memory=1 << 20, dtype="fp32",
                       seed=0, family=None) -> CpuTraffic:
    """Replay :func:`embedding_trace` through a CPU target."""
    t = cpu_target(target)
    ch = embedding_trace(rows, mode=mode, dim=dim, chunk=chunk, memory=memory, dtype=dtype, seed=seed,
                         family=family, line_bytes=t.line_bytes)
    return replay_cpu(iter([ch]), t, f"embedding-{mode}", 0)
