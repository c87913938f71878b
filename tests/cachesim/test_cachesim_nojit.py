"""Small cases for every numba kernel of the core, checked against independent pure-Python code.

Marked ``nojit``: CI also runs them with ``NUMBA_DISABLE_JIT=1`` (the kernels then run as plain Python,
so line coverage of ``_kernel.py``, ``_stack_kernel.py`` and ``_traceio_kernel.py`` is measured). Each
case is a few hundred accesses so that the pure-Python run takes well under a second.
"""

from __future__ import annotations

import numpy as np
import pytest

from cachesim import HierarchyConfig, LevelConfig, Simulator, replay
from cachesim import _kernel as K
from cachesim.config import POLICIES
from cachesim.reference import ReferenceSimulator
from cachesim.stackdist import (
    OlkenProfiler,
    PerSetStackProfiler,
    miss_ratio_curve,
    naive_stack_distances,
    stack_distances,
)
from cachesim.trace import make_chunk
from cachesim.traceio import open_trace

pytestmark = [
    pytest.mark.nojit,
    # without the JIT, the uint64 hash arithmetic (meant to wrap around) warns on overflow
    pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning"),
]


def _same_as_reference(h, chunks, *, sectors=False):
    """Feed every chunk to the engine and to the reference; counts, outcomes and contents agree."""
    a, b = Simulator(h), ReferenceSimulator(h)
    for ch in chunks:
        assert a.feed(ch).tolist() == b.feed(ch).tolist()
        assert a.result() == b.result()
    for k in range(len(h.levels)):
        assert a.contents(k) == b.contents(k)
        if sectors:
            assert a.sector_contents(k) == b.sector_contents(k)
    return a


def _mixed(seed, n=300, span=1 << 12, sizes=True):
    rng = np.random.default_rng(seed)
    size = rng.integers(1, 40, n) if sizes else None
    return make_chunk(rng.integers(0, span, n), size, rng.random(n) < 0.3)


@pytest.mark.parametrize("inclusion", ["non-inclusive", "inclusive", "exclusive"])
@pytest.mark.parametrize("policy", POLICIES)
def test_generic_paths_every_policy_and_inclusion(inclusion, policy):
    ways = 4 if policy == "plru" else 3
    h = HierarchyConfig((LevelConfig("L1", 32 * ways * 2, 32, ways, policy=policy, seed=1),
                         LevelConfig("L2", 32 * 8 * 4, 32, 8, policy="plru" if policy == "lru" else "lru")),
                        inclusion=inclusion)
    _same_as_reference(h, [_mixed(1, sizes=inclusion != "exclusive"), make_chunk(np.arange(0, 2048, 16))])


@pytest.mark.parametrize("inclusion", ["non-inclusive", "inclusive"])
def test_sectors_write_through_and_xor_index(inclusion):
    h = HierarchyConfig((LevelConfig("L1", 64 * 2 * 4, 64, 2, sector=16, write_policy="write-through"),
                         LevelConfig("L2", 128 * 4 * 8, 128, 4, sector=32, index_hash="xor", policy="fifo")),
                        inclusion=inclusion)
    _same_as_reference(h, [_mixed(2), _mixed(3, sizes=False)], sectors=True)


def test_fully_associative_and_record_memory():
    h = HierarchyConfig((LevelConfig("L1", 256, 32, "full"), LevelConfig("L2", 1024, 64, 4, sector=32)))
    a = _same_as_reference(h, [_mixed(4)], sectors=True)
    rec = Simulator(h, record_memory=True)
    rec.feed(_mixed(4))
    r = a.result()
    reqs = rec._last_requests
    assert int((reqs[:, 1] - reqs[:, 0])[reqs[:, 2] == 0].sum()) == r.memory_bytes_read


def test_loads_fast_path_compact_canonical_and_bucketed():
    # L1: compact (LRU, 4 ways); L2: LRU with 32 ways (canonical loads path); L3: 4096 sets
    # (bucketed loads path). Loads first, then a store (switch to the generic path), then loads.
    h = HierarchyConfig((LevelConfig("L1", 64 * 4 * 4, 64, 4), LevelConfig("L2", 64 * 32 * 2, 64, 32),
                         LevelConfig("L3", 64 * K.BUCKET_MIN_SETS, 64, 1)))
    rng = np.random.default_rng(5)
    loads = [make_chunk(rng.integers(0, 1 << 20, 400)),
             make_chunk(np.repeat(rng.integers(0, 1 << 14, 80), 2))]
    store = make_chunk(rng.integers(0, 1 << 14, 50), None, np.ones(50, bool))
    sim = _same_as_reference(h, loads + [store] + loads)
    assert sim._compact[0] is not None and sim._compact[1] is None


def test_compact_tags_widen_past_32_bits():
    h = HierarchyConfig((LevelConfig("L1", 64 * 2 * 4, 64, 2),))
    big = (np.arange(40, dtype=np.int64) % 5) * (1 << 40) + np.arange(40) * 64
    sim = _same_as_reference(h, [make_chunk(np.arange(0, 4096, 64)), make_chunk(big),
                                 make_chunk(np.arange(0, 4096, 64), None, np.arange(64) % 3 == 0),
                                 make_chunk(big)])
    assert sim._compact[0][0].dtype == np.int64


def test_cache_object_outcomes_by_hand():
    # 2 sets x 2 ways LRU, 64 B lines: lines 0, 2, 4 map to set 0; the third evicts line 0
    r = replay(np.array([0, 128, 256, 0, 128]), LevelConfig("L1", 256, 64, 2))
    assert (r.levels[0].misses, r.levels[0].hits, r.levels[0].evictions) == (5, 0, 3)


def test_stack_distances_per_set_and_fully_associative():
    rng = np.random.default_rng(6)
    addr = rng.integers(0, 64 * 40, 400)
    lines = addr // 64
    assert stack_distances(addr).tolist() == naive_stack_distances(lines)
    assert stack_distances(addr, n_sets=4, max_ways=6).tolist() == naive_stack_distances(lines, 4, 6)
    # the grouped per-set kernel (tables larger than 64 KiB)
    prof = PerSetStackProfiler(256, 64, 64)
    out = np.empty(400, dtype=np.int64)
    prof.update(make_chunk(addr), out)
    assert out.tolist() == naive_stack_distances(lines, 256, 64)


def test_olken_table_growth_compaction_and_sampling():
    rng = np.random.default_rng(7)
    addr = np.concatenate([np.arange(6000) * 64, rng.integers(0, 64 * 300, 600)])
    prof = OlkenProfiler(64)
    out = np.empty(addr.size, dtype=np.int64)
    prof.update(make_chunk(addr), out)
    assert out.tolist() == naive_stack_distances(addr // 64)
    curve = prof.result()
    d = np.array(naive_stack_distances(addr // 64))
    for lines in (1, 100, 5000):
        assert curve.misses(lines) == int(np.sum((d < 0) | (d >= lines)))
    sampled = miss_ratio_curve(addr, sampling_rate=0.5, seed=3)
    assert 0 < sampled.n_sampled < addr.size


def test_din_and_lackey_parsers(tmp_path):
    din = tmp_path / "t.din"
    din.write_text("# comment\n0 10\n1 0x20\n\n2 30\nr 4a0f 4\nW 50 8\n  0 fedcba98 2\nw 60\n")
    ch = list(open_trace(din, include_instructions=True))
    addr = np.concatenate([c.addr for c in ch]).tolist()
    assert addr == [0x10, 0x20, 0x30, 0x4A0F, 0x50, 0xFEDCBA98, 0x60]
    assert np.concatenate([c.write for c in ch]).tolist() == [False, True, False, False, True, False, True]
    assert np.concatenate([c.size for c in ch]).tolist() == [1, 1, 1, 4, 8, 2, 1]
    lk = tmp_path / "t.lackey"
    lk.write_text("==1== start\nI  0400,4\n L 1000,8\n S 2000,4\n M 3000,2\n")
    recs = list(open_trace(lk))
    assert np.concatenate([c.addr for c in recs]).tolist() == [0x1000, 0x2000, 0x3000, 0x3000]
    assert np.concatenate([c.write for c in recs]).tolist() == [False, True, False, True]
    recs = list(open_trace(lk, include_instructions=True))
    assert np.concatenate([c.addr for c in recs]).tolist()[0] == 0x400


@pytest.mark.parametrize("text,fmt", [("0 zz\n", "din"), ("r 10 0\n", "din"), ("q 10\n", "din"),
                                      ("0x10\n", "din"), ("r 10 4 x\n", "din"), (" L 10\n", "lackey"),
                                      (" L 10,0\n", "lackey"), (" Q 10,4\n", "lackey"),
                                      (" L 10,4 x\n", "lackey"), (" L 10,x\n", "lackey"),
                                      ("L10,4\n", "lackey"), ("0 10 4 x\n", "din"), ("1 10 junk\n", "din"),
                                      ("0 10 100001\n", "din"), (" L 10,1048577\n", "lackey")])
def test_parser_errors_name_the_line(tmp_path, text, fmt):
    from cachesim import CacheSimError

    p = tmp_path / f"bad.{fmt}"
    p.write_text("0 10\n" + text if fmt == "din" else " L 10,4\n" + text)
    with pytest.raises(CacheSimError, match=r"bad\.\w+:2"):
        list(open_trace(p))


def test_bucketed_loads_of_a_wide_level_with_many_sets():
    # LRU, more than 16 ways (canonical form) and BUCKET_MIN_SETS sets: with >= 4 accesses per set
    # in a chunk, the level is replayed set by set
    sets = K.BUCKET_MIN_SETS
    h = HierarchyConfig((LevelConfig("L1", 64 * sets * 17, 64, 17),))
    rng = np.random.default_rng(8)
    chunk = make_chunk(rng.integers(0, 64 * sets * 20, 4 * sets))
    _same_as_reference(h, [chunk])
    rec = Simulator(h, record_memory=True)  # the bucketed path emitting its misses
    rec.feed(chunk)
    assert rec._last_requests.shape[0] == rec.result().levels[0].misses


def test_loads_fast_path_of_other_policies_and_record():
    h = HierarchyConfig((LevelConfig("L1", 64 * 4 * 4, 64, 4, policy="fifo"),
                         LevelConfig("L2", 64 * 8 * 8, 64, 8, policy="plru", index_hash="xor")))
    rng = np.random.default_rng(9)
    chunks = [make_chunk(rng.integers(0, 1 << 15, 300)), make_chunk(rng.integers(0, 1 << 13, 300))]
    _same_as_reference(h, chunks)
    rec = Simulator(h, record_memory=True)
    for ch in chunks:
        rec.feed(ch)
    assert rec.result().memory_bytes_read == 64 * rec.result().levels[1].misses


@pytest.mark.parametrize("ways", [8, 16])
def test_compact_rebuilt_from_canonical_state(ways):
    # loads on the compact form; write it to the canonical arrays; rebuild the compact form from them
    # (one level with high tags, so the rebuild widens it); compare with the reference all along
    h = HierarchyConfig((LevelConfig("L1", 64 * 4 * ways, 64, ways),
                         LevelConfig("L2", 64 * 64 * ways, 64, ways)))
    rng = np.random.default_rng(ways)
    high = (rng.integers(0, 4, 200) << 40) + rng.integers(0, 1 << 14, 200)
    loads = [make_chunk(rng.integers(0, 1 << 14, 300)), make_chunk(high)]
    a, b = Simulator(h), ReferenceSimulator(h)
    a.feed(loads[0]), b.feed(loads[0])
    a._sync_canonical()
    for k in range(2):
        ctags, perm = a._compact[k][:2]
        a._set_compact(k, np.full(ctags.shape, K.NARROW_EMPTY, dtype=np.uint32), perm)
        a._compact_live[k] = False
    for ch in (loads[1], loads[0]):
        assert a.feed(ch).tolist() == b.feed(ch).tolist()
    assert a.result() == b.result()
    assert all(a.contents(k) == b.contents(k) for k in range(2))


def test_inclusive_record_memory_requests():
    h = HierarchyConfig((LevelConfig("L1", 32 * 2 * 2, 32, 2), LevelConfig("L2", 32 * 4 * 4, 32, 4)),
                        inclusion="inclusive")
    sim = Simulator(h, record_memory=True)
    sim.feed(_mixed(10))
    reqs = sim._last_requests
    r = sim.result()
    w = reqs[:, 2] != 0
    assert int((reqs[:, 1] - reqs[:, 0])[~w].sum()) == r.memory_bytes_read
    assert int((reqs[:, 1] - reqs[:, 0])[w].sum()) == r.memory_bytes_written


def test_perm_to_front_by_hand():
    # a recency word holds one way per 4-bit nibble, most recent first; an empty set lists its ways
    # so that way 0 is the least recent (filled first)
    p = K.perm_identity(4)
    assert [(int(p) >> (4 * j)) & 15 for j in range(4)] == [3, 2, 1, 0]
    q = int(K._perm_to_front(np.uint64(p), 2))
    assert [(q >> (4 * j)) & 15 for j in range(4)] == [2, 3, 1, 0]
    q = int(K._perm_to_front(np.uint64(q), 0))
    assert [(q >> (4 * j)) & 15 for j in range(4)] == [0, 2, 3, 1]


def test_olken_time_compaction_on_a_long_cyclic_trace():
    # more accesses than the 2**14 time stamps the profiler starts with: the times are renumbered.
    # A cycle over L lines reuses every line at distance L - 1.
    n_lines, n = 100, (1 << 14) + 1000
    addr = (np.arange(n) % n_lines) * 64
    d = stack_distances(addr)
    assert d[:n_lines].tolist() == [-1] * n_lines
    assert set(d[n_lines:].tolist()) == {n_lines - 1}
