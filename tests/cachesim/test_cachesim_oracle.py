"""Cross-checks against pycachesim 0.3.1 (run in a subprocess from .oracle/pycachesim).

Loads-only traces, non-inclusive hierarchies of 1-3 levels, LRU and FIFO: per-level accesses,
hits and misses must agree exactly. Where pycachesim is wrong (MRU; random replacement with
non-power-of-two ways) the tests document its divergence next to a hand-traced right answer.
"""

from __future__ import annotations

import numpy as np
import pytest

from cachesim import HierarchyConfig, LevelConfig, replay
from cachesim._oracle import ORACLE_DIR, oracle_available, pycachesim_levels, run_pycachesim
from cachesim.stackdist import miss_ratio_curve, stack_distance_histogram
from cachesim.trace import make_chunk

pytestmark = [
    pytest.mark.oracle,
    pytest.mark.skipif(
        not oracle_available(),
        reason=f"pycachesim oracle missing: pip install --target {ORACLE_DIR} pycachesim==0.3.1",
    ),
]


def hierarchy(n_levels, policy):
    levels = (
        LevelConfig("L1", "2KiB", 64, 4, policy=policy),
        LevelConfig("L2", "24KiB", 64, 12, policy=policy),  # 32 sets of 12 ways
        LevelConfig("L3", "128KiB", 64, 16, policy=policy),
    )
    return HierarchyConfig(levels=levels[:n_levels])


def random_trace(rng):
    return rng.integers(0, 1 << 18, 60_000)


def strided_trace(rng):
    # three sweeps over 96 KiB with a 72-byte stride (crosses line boundaries unevenly)
    one = np.arange(0, 96 * 1024, 72)
    return np.concatenate([one, one, one[::-1]])


def tiled_matmul_trace(rng, n=48, tile=16, elem=4):
    """Addresses of a tiled C += A @ B (row-major float32), in loop order."""
    base_a, base_b, base_c = 0, 1 << 20, 1 << 21
    out = []
    for i0 in range(0, n, tile):
        for j0 in range(0, n, tile):
            for k0 in range(0, n, tile):
                i, j, k = np.meshgrid(
                    np.arange(i0, i0 + tile),
                    np.arange(j0, j0 + tile),
                    np.arange(k0, k0 + tile),
                    indexing="ij",
                )
                i, j, k = i.ravel(), j.ravel(), k.ravel()
                a = base_a + (i * n + k) * elem
                b = base_b + (k * n + j) * elem
                c = base_c + (i * n + j) * elem
                out.append(np.stack([a, b, c], axis=1).ravel())
    return np.concatenate(out)


TRACES = {"random": random_trace, "strided": strided_trace, "tiled": tiled_matmul_trace}


@pytest.mark.parametrize("trace_name", sorted(TRACES))
@pytest.mark.parametrize("policy", ["lru", "fifo"])
@pytest.mark.parametrize("n_levels", [1, 2, 3])
def test_per_level_counts_equal_pycachesim(trace_name, policy, n_levels):
    addr = TRACES[trace_name](np.random.default_rng(17))
    h = hierarchy(n_levels, policy)
    ours = replay(addr, h)
    theirs = run_pycachesim(addr, h)
    for lv in ours.levels:
        o = theirs.level(lv.name)
        assert (lv.accesses, lv.hits, lv.misses) == (o.accesses, o.hits, o.misses), lv.name
    assert ours.levels[0].misses > 0 and ours.levels[0].hits > 0
    if policy == "lru":  # LRU only: the one-pass histogram gives the same L1 misses
        l1 = h.levels[0]
        hist = stack_distance_histogram(addr, n_sets=l1.sets, line_size=l1.line, max_ways=l1.ways)
        assert hist.misses(l1.ways) == ours.levels[0].misses


def test_peer_bug_pycachesim_store_hit_does_not_refresh_lru():
    """Documents a pycachesim divergence found by this suite: a store hit leaves LRU order alone.

    Hand trace, 4-way fully associative LRU, write-back: loads 0,1,2,3; store 0 (hit, 0 becomes
    most recent); load 4 evicts the least recent line 1; load 0 hits. True LRU: 2 hits (the store
    and the last load), 5 misses, nothing dirty evicted. pycachesim evicts the dirty line 0 at
    load 4 (1 dirty eviction) and misses on the last load: 6 misses.
    """
    addr = np.array([0, 1, 2, 3, 0, 4, 0]) * 64
    w = np.array([0, 0, 0, 0, 1, 0, 0], dtype=bool)
    ours = replay(make_chunk(addr, write=w), LevelConfig("L1", 256, 64, 4)).levels[0]
    assert (ours.hits, ours.misses, ours.writebacks) == (2, 5, 0)
    lv = [{"name": "L1", "sets": 1, "ways": 4, "line": 64, "policy": "LRU"}]
    theirs = run_pycachesim(addr, lv, writes=w).levels[0]
    assert (theirs.misses, theirs.evictions) == (6, 1)  # the peer's answer


# ----------------------------------------------------------------------------- golden counts


GOLDEN_L = (9_995_088, 9_843_693, 5_168_526)


def golden_hierarchy():
    return HierarchyConfig(
        levels=(
            LevelConfig("L1", "32KiB", 64, 8),
            LevelConfig("L2", "1MiB", 64, 16),
            LevelConfig("L3", "32MiB", 64, 16),
        )
    )


@pytest.mark.slow
def test_golden_random_trace_three_ways():
    addr = np.random.default_rng(12345).integers(0, (64 << 20) // 4, 10_000_000, dtype=np.int64) * 4
    assert np.unique(addr >> 6).size == 1_048_492
    h = golden_hierarchy()
    ours = replay(addr, h)
    theirs = run_pycachesim(addr, h)
    assert tuple(lv.misses for lv in ours.levels) == GOLDEN_L
    assert tuple(theirs.level(n).misses for n in ("L1", "L2", "L3")) == GOLDEN_L
    for lv in ours.levels:
        assert lv.hits == theirs.level(lv.name).hits


@pytest.mark.slow
def test_golden_sequential_trace():
    addr = np.arange(10_000_000, dtype=np.int64) * 4
    h = golden_hierarchy()
    ours = replay(addr, h)
    theirs = run_pycachesim(addr, h)
    assert [lv.misses for lv in ours.levels] == [625_000] * 3
    assert [theirs.level(n).misses for n in ("L1", "L2", "L3")] == [625_000] * 3
    assert miss_ratio_curve(addr).misses(512) == 625_000


# ----------------------------------------------------------------------------- documented peer bugs


@pytest.mark.parametrize("ways", [3, 5, 6])
def test_peer_bug_pycachesim_random_replacement_non_power_of_two_ways(ways):
    """Documents a pycachesim bug: ``RR`` with non-power-of-two ways.

    Hand count: ``ways`` distinct lines cycled 50 times through a ``ways``-way fully associative
    cache all fit, so whatever the policy there are exactly ``ways`` cold misses and
    ``49 * ways`` hits. Our random policy gives that; pycachesim evicts valid lines anyway.
    """
    addr = np.tile(np.arange(ways), 50) * 64
    lv = LevelConfig("L1", 64 * ways, 64, ways, policy="random")
    ours = replay(addr, lv).levels[0]
    assert (ours.hits, ours.misses) == (49 * ways, ways)
    theirs = run_pycachesim(addr, [{"name": "L1", "sets": 1, "ways": ways, "line": 64, "policy": "RR"}])
    assert theirs.levels[0].misses > ways  # the peer's wrong answer


def test_peer_bug_pycachesim_mru():
    """Documents a pycachesim bug: MRU.

    Hand trace, 4-way fully associative MRU, lines 0,1,2,3,4,0,1,2,3: 0-3 fill the set (4 misses);
    4 evicts the most recent line 3 (miss); 0, 1, 2 hit (3 hits; 2 is now most recent); 3 misses
    and evicts 2. True MRU: 3 hits, 6 misses. pycachesim reports 0 hits.
    """
    addr = np.array([0, 1, 2, 3, 4, 0, 1, 2, 3]) * 64
    ours = replay(addr, LevelConfig("L1", 256, 64, 4, policy="mru")).levels[0]
    assert (ours.hits, ours.misses) == (3, 6)
    theirs = run_pycachesim(addr, [{"name": "L1", "sets": 1, "ways": 4, "line": 64, "policy": "MRU"}])
    assert (theirs.levels[0].hits, theirs.levels[0].misses) == (0, 9)  # the peer's wrong answer


def test_hierarchy_translation_rejects_what_pycachesim_cannot_model():
    from cachesim import CacheSimError

    with pytest.raises(CacheSimError, match="non-inclusive"):
        pycachesim_levels(HierarchyConfig(levels=golden_hierarchy().levels, inclusion="inclusive"))
    with pytest.raises(CacheSimError, match="plru"):
        pycachesim_levels(LevelConfig("L1", "32KiB", 64, 8, policy="plru"))
    with pytest.raises(CacheSimError, match="unsectored"):
        pycachesim_levels(LevelConfig("L1", "32KiB", 128, 8, sector=32))
