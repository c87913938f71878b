"""Contract suite run against every replacement policy class, plus hand-traced examples.

Hand-traced expectations are worked out in the comments, not produced by the code under test.
"""

import numpy as np
import pytest

from cachesim import LevelConfig, Simulator
from cachesim import _kernel as K
from cachesim.policies import FIFO, LRU, MRU, PLRU, POLICY_CLASSES, Random, XorShift64
from cachesim.reference import ReferenceSimulator
from cachesim.trace import make_chunk

ALL = [LRU, FIFO, Random, PLRU, MRU]


def filled(cls, ways, seed=1):
    p = cls(ways, XorShift64(seed))
    for w in range(ways):
        p.fill(w)
    return p


# ----- contract: every policy ------------------------------------------------------------------
@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("ways", [1, 2, 4, 8])
def test_victim_is_a_way_after_any_history(cls, ways):
    rng = np.random.default_rng(ways)
    p = filled(cls, ways)
    for _ in range(200):
        op = rng.integers(3)
        w = int(rng.integers(ways))
        if op == 0:
            p.hit(w)
        elif op == 1:
            v = p.victim()
            assert 0 <= v < ways
            p.invalidate(v)
            p.fill(v)
        else:
            p.invalidate(w)
            p.fill(w)
    assert 0 <= p.victim() < ways


@pytest.mark.parametrize("cls", ALL)
def test_one_way_always_evicts_way_zero(cls):
    p = filled(cls, 1)
    p.hit(0)
    assert p.victim() == 0


@pytest.mark.parametrize("cls", [LRU, FIFO, PLRU, MRU])
def test_deterministic_policies_repeat_their_choice(cls):
    p = filled(cls, 4)
    assert p.victim() == p.victim()


@pytest.mark.parametrize("cls", ALL)
def test_registered_under_its_name(cls):
    assert cls in POLICY_CLASSES.values()


# ----- policy-specific rules -------------------------------------------------------------------
def test_lru_evicts_least_recently_touched():
    p = filled(LRU, 4)  # recency 0,1,2,3
    p.hit(0)  # recency 1,2,3,0
    assert p.victim() == 1


def test_mru_evicts_most_recently_touched():
    p = filled(MRU, 4)
    p.hit(1)
    assert p.victim() == 1


def test_fifo_ignores_hits():
    p = filled(FIFO, 4)
    p.hit(0)
    p.hit(0)
    assert p.victim() == 0


def test_plru_tree_by_hand():
    # 4 ways, bits [root, left, right]; an access points each bit on its path away from the way.
    # fills 0,1,2,3 -> [1,1,0] -> [1,0,0] -> [0,0,1] -> [0,0,0]; hit(0) -> [1,1,0];
    # victim: root=1 -> right subtree, right=0 -> its left leaf = way 2.
    p = filled(PLRU, 4)
    assert p.bits == [0, 0, 0]
    p.hit(0)
    assert p.bits == [1, 1, 0]
    assert p.victim() == 2


def test_xorshift64_by_hand():
    # state 1: x ^= x<<13 -> 8193; x ^= x>>7 -> 8193 ^ 64 = 8257; x ^= x<<17 -> 8257 + 8257*2**17.
    assert XorShift64(1).next() == 8257 + 8257 * 2**17 == 1082269761


def test_kernel_and_reference_share_the_random_stream():
    r = XorShift64(0x9E3779B97F4A7C15)
    x = np.uint64(0x9E3779B97F4A7C15)
    for _ in range(1000):
        x = np.uint64(K.xorshift64(np.uint64(x)))
        assert int(x) == r.next()


def test_random_works_with_any_number_of_ways():
    p = filled(Random, 3, seed=5)
    picks = {p.victim() for _ in range(300)}
    assert picks == {0, 1, 2}


# ----- hand-traced replays (kernel and reference) ------------------------------------------------
def _run(policy, ways, lines, sim_cls):
    cfg = LevelConfig("L1", 64 * ways, 64, "full", policy=policy)
    sim = sim_cls(cfg)
    out = sim.feed(make_chunk(np.asarray(lines) * 64))
    return sim.result().levels[0], out, sim.contents(0)


SIMS = [Simulator, ReferenceSimulator]


@pytest.mark.parametrize("sim_cls", SIMS)
def test_mru_example(sim_cls):
    # 4-way MRU on 0,1,2,3,4,0,1,2,3: fills 0..3; 4 evicts MRU 3; 0,1,2 hit; 3 evicts MRU 2.
    # 3 hits (pycachesim reports 0).
    st, out, contents = _run("mru", 4, [0, 1, 2, 3, 4, 0, 1, 2, 3], sim_cls)
    assert (st.hits, st.misses, st.evictions) == (3, 6, 2)
    assert out.tolist() == [2, 2, 2, 2, 2, 0, 0, 0, 2]
    assert contents == {0, 1, 3, 4}


@pytest.mark.parametrize("sim_cls", SIMS)
def test_fifo_example(sim_cls):
    # 2 ways on 0,1,0,2,0: FIFO evicts 0 (first in) for 2, so the last 0 misses: 1 hit.
    # LRU would evict 1 for 2 and hit the last 0: 2 hits.
    st, _, contents = _run("fifo", 2, [0, 1, 0, 2, 0], sim_cls)
    assert (st.hits, st.misses) == (1, 4)
    assert contents == {2, 0}
    st, _, contents = _run("lru", 2, [0, 1, 0, 2, 0], sim_cls)
    assert (st.hits, st.misses) == (2, 3)
    assert contents == {0, 2}


@pytest.mark.parametrize("sim_cls", SIMS)
def test_plru_example(sim_cls):
    # 4 ways on 0,1,2,3,0,4,2,1,3 (see test_plru_tree_by_hand for the bits):
    # after 0,1,2,3,0 bits [1,1,0]: 4 evicts way 2 (line 2), bits -> [0,1,1];
    # 2 misses: root 0 -> left, left 1 -> way 1 (line 1) evicted, bits -> [1,0,1];
    # 1 misses: root 1 -> right, right 1 -> way 3 (line 3) evicted; 3 misses then evicts... :
    # bits after filling way 3 -> [0,0,0]; 3: root 0 -> left, left 0 -> way 0 (line 0) evicted.
    # Hits: only the second 0. True LRU hits 0 and 2.
    st, out, contents = _run("plru", 4, [0, 1, 2, 3, 0, 4, 2, 1, 3], sim_cls)
    assert out.tolist() == [2, 2, 2, 2, 0, 2, 2, 2, 2]
    assert st.hits == 1
    assert contents == {3, 2, 4, 1}
    st, _, _ = _run("lru", 4, [0, 1, 2, 3, 0, 4, 2, 1, 3], sim_cls)
    assert st.hits == 2
