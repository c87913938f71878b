"""The compact LRU form of the loads fast path (uint32 / int64 tags, 4-bit recency words, prefetch)
against the pure-Python reference: counts, per-access outcomes and contents, across chunks, across
the switch to the canonical state (stores, ``contents``) and back, and for tags that do not fit 32 bits."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cachesim import HierarchyConfig, LevelConfig, Simulator
from cachesim import _kernel as K
from cachesim.reference import ReferenceSimulator
from cachesim.trace import MAX_ADDRESS, make_chunk


def _lru(name, sets, ways, line=64):
    return LevelConfig(name, sets * ways * line, line, ways)


def _check(h, chunks, *, contents_between=False):
    """Feed ``chunks`` to the simulator and the reference; compare after every chunk."""
    a, b = Simulator(h), ReferenceSimulator(h)
    for ch in chunks:
        assert a.feed(ch).tolist() == b.feed(ch).tolist()
        assert a.result() == b.result()
        if contents_between:
            for k in range(len(h.levels)):
                assert a.contents(k) == b.contents(k)
    for k in range(len(h.levels)):
        assert a.contents(k) == b.contents(k)
    return a


@pytest.mark.parametrize("ways", [1, 2, 3, 4, 5, 8, 12, 16])
def test_compact_levels_match_reference(ways):
    # every way count of the compact form (the 16-way recency word uses all 64 bits); the second
    # level is larger than PREFETCH_MIN_BYTES, so it prefetches
    h = HierarchyConfig((_lru("L1", 4, ways, 32), _lru("L2", 1024, max(ways, 12))))
    sim = Simulator(h)
    assert all(c is not None for c in sim._compact)
    assert sim._compact[0][4] == 0 and sim._compact[1][4] == K.PREFETCH_AHEAD
    rng = np.random.default_rng(ways)
    chunks = [make_chunk(rng.integers(0, 1 << 17, 3000)), make_chunk(rng.integers(0, 1 << 12, 2000)),
              make_chunk(np.repeat(rng.integers(0, 1 << 15, 500), 3))]
    _check(h, chunks, contents_between=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.sampled_from([1, 2, 4, 8]), st.integers(1, 16), st.sampled_from([16, 64])),
             min_size=1, max_size=3),
    st.lists(st.lists(st.integers(0, 1 << 13), min_size=1, max_size=120), min_size=1, max_size=3),
    st.booleans(),
)
def test_compact_property(levels, chunks, contents_between):
    lines = sorted(ln for _, _, ln in levels)  # a level's line is at least the line above it
    h = HierarchyConfig(
        tuple(_lru(f"L{k}", s, w, ln) for k, ((s, w, _), ln) in enumerate(zip(levels, lines)))
    )
    _check(h, [make_chunk(np.array(c)) for c in chunks], contents_between=contents_between)


def test_tags_that_do_not_fit_32_bits_widen_the_level():
    # L1: 64 B lines, 4 sets -> tag = addr >> 8, far above 2**32 near the top of the address space.
    # L2: 64 B lines, 1024 sets -> tag = addr >> 16: 2**32 - 1 (the uint32 "invalid" mark) only for
    # the last 64 KiB of the 48-bit space.
    h = HierarchyConfig((_lru("L1", 4, 2), _lru("L2", 1024, 2)))
    rng = np.random.default_rng(3)
    low = rng.integers(0, 1 << 20, 4000)
    top = MAX_ADDRESS - rng.integers(0, 1 << 17, 4000)
    mixed = np.where(rng.random(4000) < 0.5, low, top)
    sim = _check(h, [make_chunk(low), make_chunk(low[:100]), make_chunk(mixed), make_chunk(low)],
                 contents_between=True)
    assert [c[0].dtype for c in sim._compact] == [np.int64, np.int64]
    # the exact border: only the tag 2**32 - 1 itself does not fit
    edge = _check(HierarchyConfig((_lru("L2", 1024, 2),)),
                  [make_chunk(low), make_chunk(np.array([MAX_ADDRESS - 64 * 1024 - 1, MAX_ADDRESS, 0]))])
    assert edge._compact[0][0].dtype == np.int64
    below = _check(HierarchyConfig((_lru("L2", 1024, 2),)), [make_chunk(np.array([MAX_ADDRESS - 64 * 1024]))])
    assert below._compact[0][0].dtype == np.uint32


def test_compact_state_survives_canonical_round_trips():
    fifo = LevelConfig("L3", 64 * 64 * 4, 64, 4, policy="fifo")
    h = HierarchyConfig((_lru("L1", 8, 4), _lru("L2", 64, 8), fifo))
    rng = np.random.default_rng(7)
    loads = [make_chunk(rng.integers(0, 1 << 16, 3000)) for _ in range(3)]
    a, b = Simulator(h), ReferenceSimulator(h)
    for ch in loads[:2]:
        a.feed(ch), b.feed(ch)
    # the canonical arrays written from the compact form, then the compact form rebuilt from them
    a._sync_canonical()
    for k, c in enumerate(a._compact):
        if c is not None:
            c[0][:] = 12345
            c[1][:] = 0
            a._compact_live[k] = False
    assert a.feed(loads[2]).tolist() == b.feed(loads[2]).tolist()
    assert a.result() == b.result()
    # stores move the hierarchy to the canonical path for good: LRU order must carry over
    st_chunk = make_chunk(rng.integers(0, 1 << 16, 2000), write=rng.random(2000) < 0.3)
    for ch in (st_chunk, loads[0]):
        assert a.feed(ch).tolist() == b.feed(ch).tolist()
    assert a.result() == b.result()
    for k in range(3):
        assert a.contents(k) == b.contents(k)


def test_canonical_to_compact_widens_high_tags():
    h = HierarchyConfig((_lru("L1", 4, 2),))
    top = make_chunk(MAX_ADDRESS - np.arange(0, 64 * 40, 64))
    a, b = Simulator(h), ReferenceSimulator(h)
    a.feed(top), b.feed(top)
    a._sync_canonical()
    ctags, perm = a._compact[0][:2]
    a._set_compact(0, np.full(ctags.shape, K.NARROW_EMPTY, dtype=np.uint32), perm)
    a._compact_live[0] = False
    assert a.feed(top).tolist() == b.feed(top).tolist()
    assert a.result() == b.result() and a.contents() == b.contents()
    assert a._compact[0][0].dtype == np.int64


def test_perm_to_front_moves_each_way():
    for ways in (1, 2, 5, 8, 16):
        order = list(np.random.default_rng(ways).permutation(ways))
        p = np.uint64(sum(int(w) << (4 * j) for j, w in enumerate(order)))
        for way in range(ways):
            got = int(K._perm_to_front(p, way))
            want = [way] + [w for w in order if w != way]
            assert [(got >> (4 * j)) & 15 for j in range(ways)] == want
            assert got >> (4 * ways) == 0


@pytest.mark.slow
def test_compact_kernels_run_without_jit(run_python):
    code = (
        "import json, numpy as np\n"
        "from cachesim import HierarchyConfig, LevelConfig, Simulator\n"
        "from cachesim.trace import MAX_ADDRESS, make_chunk\n"
        "rng = np.random.default_rng(2)\n"
        "h = HierarchyConfig((LevelConfig('L1', 4 * 16 * 64, 64, 16),\n"
        "                     LevelConfig('L2', 64 * 8 * 64, 64, 8),\n"
        "                     LevelConfig('L3', 1024 * 4 * 64, 64, 4)))\n"
        "sim = Simulator(h); out = []\n"
        "for ch in (rng.integers(0, 1 << 18, 1500), MAX_ADDRESS - rng.integers(0, 1 << 18, 500)):\n"
        "    out.append(sim.feed(make_chunk(ch)).tolist())\n"
        "out.append([[s.hits, s.misses, s.evictions] for s in sim.result().levels])\n"
        "out.append([sorted(sim.contents(k)) for k in range(3)])\n"
        "sim.feed(make_chunk([0, 64], write=[True, False]))\n"
        "out.append([[s.hits, s.misses, s.writebacks] for s in sim.result().levels])\n"
        "print(json.dumps(out))\n"
    )
    slow = run_python(code, jit=False, timeout=300)
    fast = run_python(code, timeout=300)
    assert slow == fast
    assert json.loads(fast)[2][0][1] > 0


def test_wide_lru_levels_keep_the_canonical_paths():
    # > 16 ways: the canonical loads kernels (set by set from 4096 sets on), next to compact levels
    h = HierarchyConfig((_lru("L1", 2, 4), _lru("L2", 4096, 18)))
    sim = Simulator(h)
    assert sim._compact[0] is not None and sim._compact[1] is None
    rng = np.random.default_rng(9)
    chunks = [make_chunk(rng.integers(0, 1 << 25, 20_000)), make_chunk(rng.integers(0, 1 << 22, 20_000))]
    _check(h, chunks)
