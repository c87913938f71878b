"""CPU loop-nest, gather and embedding traces: hand counts and the engine's replay."""

import numpy as np
import pytest

from cachesim import CacheSimError
from cachesim.kernels._common import Block
from cachesim.kernels.embedding import embedding_trace, simulate_embedding
from cachesim.kernels.gather import gather_cpu, gather_cpu_trace, gather_gpu, gather_indices
from cachesim.kernels.gemm_cpu import gemm_cpu_trace, simulate_gemm_cpu
from roast_theory.hashes import make_family


def test_dense_cpu_hand_count():
    # 16x16x16 fp32, one 16x16x16 tile: 256 (i, k) segments, each X[i,k] (1 line), W[k, 0:16] (64 B =
    # 1 line), Y[i, 0:16] (1 line, write) -> 768 accesses; distinct lines 16 + 16 + 16 = 48 all fit in L1
    r = simulate_gemm_cpu("dense", "16x16x16", loop_tiles="16x16x16")
    assert r.trace_accesses == 768
    assert r.level("L1") == (768, 48)
    assert r.dram_bytes >= 48 * 64


def test_roast_cpu_segments_split_at_tiles():
    # N = 32, TN = 32, ROAST BN = 16: each W segment is two contiguous pieces of 16 floats (one tile
    # row each); a piece at start s covers 1 line when s is a multiple of 16, else 2
    class Starts:
        def tile_starts(self, kb, nb, span):
            return np.asarray(nb) * 21 + np.asarray(kb) * 0

    chunks = list(gemm_cpu_trace("roast", "16x16x32", loop_tiles="16x32x16", block="16x16x16", memory=1000,
                                 family=Starts()))
    n = sum(len(c) for c in chunks)
    # per (i, k): X 1 + W (tile nb=0 at 0: 1 line; nb=1 at 21: floats 21..36 -> 2 lines) + Y 2 lines (128 B)
    # but consecutive equal lines collapse: tile 0 row r spans [16r, 16r+16) -> line r, tile 1 row r spans
    # [21+16r, 37+16r) -> lines (21+16r)//16 .. (36+16r)//16 = r+1, r+2; all distinct from line r
    assert n == 16 * 16 * (1 + 3 + 2)


def test_hashednet_cpu_more_l1_accesses_than_roast():
    kw = dict(shape="64x64x128", loop_tiles="32x32x32", block="32x32x32", memory=1 << 14, family="ideal")
    hn = simulate_gemm_cpu("hashednet", **kw)
    ro = simulate_gemm_cpu("roast", **kw)
    de = simulate_gemm_cpu("dense", shape="64x64x128", loop_tiles="32x32x32")
    assert hn.accesses[0] > 3 * ro.accesses[0]
    assert ro.accesses[0] <= 1.2 * de.accesses[0]


def test_gather_indices_match_mapping():
    blk = Block.parse("32x16x8")
    idx = gather_indices("gather-roast", 16, 32, 1000, block=blk, family="rz-stable", seed=2)
    starts = make_family("rz-stable", 2).tile_starts(np.array([[0], [1]]).repeat(2, 1),
                                                     np.array([[0, 1], [0, 1]]), 1000 - 8 * 16)
    assert idx[9, 17] == starts[1, 1] + 1 * 16 + 1
    assert idx[0, 0] == starts[0, 0]
    h = gather_indices("gather-hashednet", 16, 32, 1000, block=blk, family="hashednet-triton", seed=2)
    kk, nn = np.meshgrid(np.arange(16), np.arange(32), indexing="ij")
    assert np.array_equal(h, make_family("hashednet-triton", 2).element_slots(kk, nn, 1000))


def test_gather_cpu_hand_count():
    # K*N = 16*16 floats; segments of 16 elements (one W line): idx 16 * 8 B = 2 lines, W 1 line,
    # M: a ROAST tile row of 16 contiguous floats at start s -> 1 line if s % 16 == 0 else 2
    class Starts:
        def tile_starts(self, kb, nb, span):
            return np.full(np.broadcast(kb, nb).shape, 16)

    ch = gather_cpu_trace("gather-roast", "8x16x16", 5000, block="8x16x16", family=Starts())
    assert len(ch) == 16 * (2 + 1 + 1)
    g = gather_cpu("gather-hashednet", "8x16x16", 5000, block="8x16x16", family="ideal", loop_tiles="8x16x16")
    assert g.gather.accesses[0] > len(ch)
    assert g.matmul.kernel == "dense"


def test_gather_gpu_counts():
    # 4 warps of 32 elements: idx loads 8 sectors each (32 x 8 B), W stores 4 sectors each (32 x 4 B)
    class Starts:
        def tile_starts(self, kb, nb, span):
            return np.zeros(np.broadcast(kb, nb).shape, dtype=np.int64)

    g = gather_gpu("gather-roast", "32x8x16", 1000, block="32x16x8", family=Starts(), num_sms=1)
    # M reads: tile rows of 16 floats at offset 16 r from 0: a warp covers 2 rows = 32 floats = 4 sectors
    assert g.gather.m_sector_requests == 4 * 4
    assert g.gather.l1_sector_requests == 4 * 8 + 16
    assert g.gather.write_sector_requests == 4 * 4


def test_embedding_robez_hand_count():
    rows = np.arange(50) * 7919
    dim, chunk, mem = 32, 16, 10000
    tr = embedding_trace(rows, mode="robez", dim=dim, chunk=chunk, memory=mem, family="robez", seed=4)
    rr, cc = np.meshgrid(rows, np.arange(2), indexing="ij")
    starts = make_family("robez", 4).tile_starts(rr, cc, mem - chunk + 1)
    # a chunk of 16 floats (64 B) at start s: 1 line if s % 16 == 0 else 2; consecutive equal lines
    # across the two chunks collapse (rare); the output row is 128 B = 2 lines
    first = starts * 4 // 64
    last = (starts * 4 + 63) // 64
    lines = (last - first + 1).sum(axis=1) - (first[:, 1] == last[:, 0])
    assert len(tr) == int(lines.sum()) + 2 * rows.size
    el = simulate_embedding(rows, mode="element", dim=dim, memory=mem, family="ideal")
    rz = simulate_embedding(rows, mode="robez", dim=dim, chunk=chunk, memory=mem)
    assert el.accesses[0] > 4 * rz.accesses[0]


@pytest.mark.parametrize("kw,name", [
    (dict(mode="lsh"), "mode"), (dict(chunk=5), "chunk"), (dict(dim=0), "dim"), (dict(memory=3), "memory"),
])
def test_embedding_bad_inputs(kw, name):
    with pytest.raises(CacheSimError, match=name):
        embedding_trace(np.arange(4), **{"dim": 32, "chunk": 16, **kw})


def test_cpu_bad_inputs():
    with pytest.raises(CacheSimError, match="tiles"):
        simulate_gemm_cpu("dense", "48x48x48", loop_tiles="32x32x32")
    with pytest.raises(CacheSimError, match="GPU"):
        simulate_gemm_cpu("dense", "32x32x32", target="h200")
