"""The engine's API: replay, Simulator, Cache; hand counts, streaming, errors, pure-Python kernels."""


import numpy as np
import pytest

from cachesim import (
    Cache,
    CacheSimError,
    HierarchyConfig,
    LevelConfig,
    LevelStats,
    ReplayResult,
    Simulator,
    replay,
)
from cachesim.reference import ReferenceSimulator, reference_replay
from cachesim.trace import TraceChunk, make_chunk

THREE = {
    "levels": [
        {"name": "L1", "size": 4096, "line": 64, "ways": 4},
        {"name": "L2", "size": 16384, "line": 64, "ways": 8},
        {"name": "L3", "size": 65536, "line": 64, "ways": 16},
    ]
}


def test_sequential_scan_hand_count():
    # 4-byte stride over 40,000 ints = 160,000 bytes = 2,500 lines of 64 B; each line is missed
    # once at every level (nothing is reused), the other 15 accesses per line hit in L1.
    r = replay(np.arange(40_000) * 4, THREE)
    assert [s.misses for s in r.levels] == [2500, 2500, 2500]
    assert r.level("L1").hits == 40_000 - 2500
    assert [s.accesses for s in r.levels] == [40_000, 2500, 2500]
    assert r.memory_bytes_read == 2500 * 64


def test_cyclic_scan_that_fits_and_that_does_not():
    # 64 lines cyclically through a 64-line fully associative LRU cache: only cold misses;
    # 65 lines: LRU misses on every access (classic LRU pathology).
    fits = replay(np.tile(np.arange(64) * 64, 10), LevelConfig("L", 4096, 64, "full"))
    assert fits.levels[0].misses == 64
    over = replay(np.tile(np.arange(65) * 64, 10), LevelConfig("L", 4096, 64, "full"))
    assert over.levels[0].misses == 650


def test_accesses_spanning_lines_are_split():
    # 8 bytes at 60 touch lines 0 and 1: two first-level accesses.
    sim = Simulator(LevelConfig("L1", 1024, 64, 2))
    out = sim.feed(make_chunk([60, 0, 64], size=[8, 4, 4]))
    st = sim.result().levels[0]
    assert (st.accesses, st.misses, st.hits) == (4, 2, 2)
    assert out.tolist() == [2, 0, 0]
    assert sim.result().accesses == 3


def test_write_back_hand_count():
    # One 64-byte line: store 0 (miss, allocate, dirty), load 64 (miss; dirty 0 written back).
    sim = Simulator(LevelConfig("L1", 64, 64, 1))
    sim.feed(make_chunk([0, 64], write=[True, False]))
    r = sim.result()
    st = r.levels[0]
    assert (st.misses, st.evictions, st.writebacks, st.bytes_written, st.bytes_read) == (2, 1, 1, 64, 128)
    assert (r.memory_bytes_read, r.memory_bytes_written) == (128, 64)


def test_write_through_no_allocate_hand_count():
    c = Cache(LevelConfig("L1", 1024, 64, 2, write_policy="write-through"))
    d = c.access_detailed([0, 0, 64, 64], write=[True, False, False, True], size=4)
    # store 0: miss, not allocated, forwarded; load 0: miss, filled; load 64: miss; store 64: hit, forwarded
    assert d.outcome.tolist() == [2, 2, 2, 0]
    assert d.down_addr.tolist() == [0, 0, 64, 64]
    assert d.down_size.tolist() == [4, 64, 64, 4]
    assert d.down_write.tolist() == [True, False, False, True]
    assert c.contents() == {0, 1}
    assert c.stats.writebacks == 0


def test_sectored_cache_outcomes():
    # 128 B lines of 32 B sectors: 0 -> tag miss (fills sector 0); 32 -> sector miss; 8 -> hit;
    # 100 with 8 bytes -> sector 3 missing -> sector miss; 200 -> tag miss of line 1.
    c = Cache(LevelConfig("L1", 1024, 128, 2, sector=32))
    assert c.outcome([0, 32, 8, 100, 200], size=[4, 4, 4, 8, 4]).tolist() == [2, 1, 0, 1, 2]
    st = c.stats
    assert (st.hits, st.sector_misses, st.misses, st.bytes_read) == (1, 2, 2, 4 * 32)
    assert c.sector_contents() == {0: (0b1011, 0), 1: (0b0100, 0)}
    # a 64-byte request over sectors 1 and 2 of line 0: sector 2 missing -> one 32 B fill below
    d = c.access_detailed([32], size=64)
    assert d.outcome.tolist() == [1]
    assert (d.down_addr.tolist(), d.down_size.tolist()) == ([64], [32])


def test_cache_line_unit_and_state_across_calls():
    c = Cache({"name": "L1", "size": 128, "line": 64, "ways": 2})  # one set of two lines
    assert c.access([0, 1, 2], unit="line").tolist() == [False, False, False]
    assert c.access([1, 2, 0], unit="line").tolist() == [True, True, False]
    assert c.stats.accesses == 6
    with pytest.raises(CacheSimError, match="unit='word'"):
        c.access([0], unit="word")
    with pytest.raises(CacheSimError, match="LevelConfig or a dict"):
        Cache("L1")


def test_streaming_chunks_equal_one_shot():
    rng = np.random.default_rng(3)
    addr = rng.integers(0, 1 << 16, 5000)
    w = rng.random(5000) < 0.3
    size = rng.integers(1, 100, 5000)
    h = dict(THREE, inclusion="inclusive")
    one = replay(make_chunk(addr, size, w), h)
    assert replay(make_chunk(addr, size, w), h, chunk_size=333) == one
    gen = (
        make_chunk(addr[i : i + 700], size[i : i + 700], w[i : i + 700], start=i) for i in range(0, 5000, 700)
    )
    assert replay(gen, h) == one
    assert replay(addr, THREE, chunk_size=97) == replay(addr, THREE)


def test_progress_bar(capsys):
    r = replay(np.arange(1000), THREE, progress=True, chunk_size=100)
    assert r.accesses == 1000
    assert "replay" in capsys.readouterr().err


def test_result_objects():
    r = replay(np.arange(100) * 64, THREE)
    assert isinstance(r, ReplayResult) and isinstance(r.levels[0], LevelStats)
    d = r.to_dict()
    assert d["levels"][0]["misses"] == 100 and d["levels"][0]["miss_ratio"] == 1.0
    assert r["L2"] is r.level("L2")
    text = str(r)
    assert "L3" in text and "100" in text
    with pytest.raises(CacheSimError, match="no level named 'L4'"):
        r.level("L4")
    assert LevelStats("x").miss_ratio == 0.0
    with pytest.raises(AttributeError):
        r.levels[0].hits = 3


def test_bad_traces_name_the_index():
    with pytest.raises(CacheSimError, match="index 2 is -5"):
        replay([0, 64, -5], THREE)
    with pytest.raises(CacheSimError, match="index 1 is 0"):
        replay(make_chunk([0, 8], size=[4, 0]), THREE)
    with pytest.raises(CacheSimError, match="chunk_size=0"):
        replay([0], THREE, chunk_size=0)
    with pytest.raises(CacheSimError, match="not supported"):
        replay(12, THREE)
    with pytest.raises(CacheSimError, match="level=5"):
        Simulator(THREE).contents(5)


def test_exclusive_moves_lines_up_and_down():
    # L1 1 line, L2 1 line, exclusive: 0 (miss, L1={0}); 64 (miss, 0 -> L2); 0 (L2 hit: moves up,
    # 64 -> L2); 64 (L2 hit).
    h = HierarchyConfig((LevelConfig("L1", 64, 64, 1), LevelConfig("L2", 64, 64, 1)), inclusion="exclusive")
    for cls in (Simulator, ReferenceSimulator):
        sim = cls(h)
        sim.feed(make_chunk([0, 64, 0, 64]))
        r = sim.result()
        assert [(s.hits, s.misses) for s in r.levels] == [(0, 4), (2, 2)]
        assert sim.contents(0) == {1} and sim.contents(1) == {0}
        assert r.memory_bytes_read == 128


def test_inclusive_back_invalidation_hand_count():
    # L1 2 lines FA, L2 2 lines FA, inclusive LRU: 0, 1, 2 -> L2 evicts 0 and invalidates it in L1.
    h = HierarchyConfig(
        (LevelConfig("L1", 128, 64, "full"), LevelConfig("L2", 128, 64, "full")), inclusion="inclusive"
    )
    sim = Simulator(h)
    sim.feed(make_chunk([0, 64, 128]))
    assert sim.contents(0) == {1, 2} == sim.contents(1)
    assert sim.result().levels[0].invalidations == 1
    nonincl = Simulator(HierarchyConfig(h.levels))
    nonincl.feed(make_chunk([0, 64, 128]))
    assert nonincl.contents(0) == {1, 2}


@pytest.mark.slow
def test_kernels_run_without_jit(run_python):
    # The same small mixed case in a subprocess with NUMBA_DISABLE_JIT=1 must give the jitted counts.
    code = (
        "import numpy as np, json; from cachesim import replay; from cachesim.trace import make_chunk\n"
        "rng = np.random.default_rng(1); a = rng.integers(0, 4096, 400); w = rng.random(400) < .3\n"
        "out = []\n"
        "for inc in ('non-inclusive', 'inclusive', 'exclusive'):\n"
        "    for pol in ('lru', 'fifo', 'random', 'plru', 'mru'):\n"
        "        h = {'inclusion': inc, 'levels': [{'name': 'L1', 'size': 256, 'line': 32, 'ways': 2,\n"
        "             'policy': pol}, {'name': 'L2', 'size': 1024, 'line': 32, 'ways': 4}]}\n"
        "        r = replay(make_chunk(a, 8, w), h); out.append([s.misses for s in r.levels])\n"
        "        out.append([s.misses for s in replay(a, h).levels])\n"
        "print(json.dumps(out))\n"
    )
    assert run_python(code, jit=False) == run_python(code)


def test_reference_replay_agrees_on_a_mixed_trace():
    rng = np.random.default_rng(11)
    ch = make_chunk(rng.integers(0, 1 << 14, 3000), rng.integers(1, 70, 3000), rng.random(3000) < 0.4)
    for inc in ("non-inclusive", "inclusive"):
        h = dict(THREE, inclusion=inc)
        assert replay(ch, h) == reference_replay(ch, h)


def test_trace_chunk_input():
    ch = TraceChunk(np.arange(10, dtype=np.int64) * 64)
    assert replay(ch, THREE).levels[0].misses == 10


def test_loads_after_stores_still_write_back():
    # A store chunk then a loads-only chunk: the dirty line must be written back when evicted.
    chunks = [make_chunk([0], write=[True]), make_chunk([64, 128])]
    for cls in (Simulator, ReferenceSimulator):
        sim = cls(LevelConfig("L1", 64, 64, 1))
        for c in chunks:
            sim.feed(c)
        assert sim.result().levels[0].writebacks == 1
        assert sim.result().memory_bytes_written == 64


def test_large_lru_level_set_by_set_path_matches_reference():
    # A level with >= 4096 sets takes the set-by-set (bucketed) LRU path; compare counts,
    # per-access outcomes and contents with the reference, over two chunks.
    h = HierarchyConfig((LevelConfig("L1", 512, 64, 2), LevelConfig("L2", 4096 * 2 * 64, 64, 2)))
    rng = np.random.default_rng(5)
    chunks = [
        make_chunk(rng.integers(0, 1 << 21, 20_000), start=0),
        make_chunk(rng.integers(0, 1 << 21, 20_000)),
    ]
    a, b = Simulator(h), ReferenceSimulator(h)
    for ch in chunks:
        assert a.feed(ch).tolist() == b.feed(ch).tolist()
    assert a.result() == b.result()
    assert a.contents(1) == b.contents(1)
    big = Simulator(LevelConfig("L", 4096 * 4 * 64, 64, 4))
    ref = ReferenceSimulator(LevelConfig("L", 4096 * 4 * 64, 64, 4))
    assert big.feed(chunks[0]).tolist() == ref.feed(chunks[0]).tolist()
    assert big.result() == ref.result() and big.contents() == ref.contents()
