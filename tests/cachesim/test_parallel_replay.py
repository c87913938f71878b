"""``replay_parallel`` / ``cachesim replay --workers N``: the same counters as a serial replay, for every
policy, inclusion, write policy and sectoring; serial fallbacks and bad ``workers`` values."""

from __future__ import annotations

import json
import threading
import warnings
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cachesim import (
    CacheSimError,
    HierarchyConfig,
    LevelConfig,
    SerialFallbackWarning,
    parallel,
    plan_shards,
    replay,
    replay_parallel,
)
from cachesim.config import INCLUSIONS, POLICIES, WRITE_POLICIES
from cachesim.trace import make_chunk
from cachesim.traceio import open_trace, write_trace
from roast_toolkit.cli.cachesim_cmd import main

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SPLITTABLE = ("lru", "fifo", "mru", "plru")


@st.composite
def hierarchies(draw, policies=SPLITTABLE, hashes=("modulo",)):
    """1-3 levels; at least 4 sets per level and line sizes at most 2x apart, so that (with modulo
    indexing and no random policy) there are at least 2 independent set groups."""
    inc = draw(st.sampled_from(INCLUSIONS))
    exclusive = inc == "exclusive"
    sectored = not exclusive and draw(st.booleans())
    line = draw(st.sampled_from([16, 32]))
    grown = False
    levels = []
    for k in range(draw(st.integers(1, 3))):
        if k and not exclusive and not grown and draw(st.booleans()):
            line, grown = 2 * line, True
        policy = draw(st.sampled_from(policies))
        ways = draw(st.sampled_from([1, 2, 4] if policy == "plru" else [1, 2, 3, 4]))
        sets = draw(st.sampled_from([4, 8, 16]))
        wp = "write-back" if exclusive else draw(st.sampled_from(WRITE_POLICIES))
        sector = line // draw(st.sampled_from([2, 4])) if sectored and draw(st.booleans()) else None
        levels.append(LevelConfig(f"L{k + 1}", line * ways * sets, line, ways, policy=policy,
                                  seed=draw(st.integers(0, 3)), write_policy=wp, sector=sector,
                                  index_hash=draw(st.sampled_from(hashes))))
    return HierarchyConfig(tuple(levels), inclusion=inc)


@st.composite
def traces(draw):
    n = draw(st.integers(1, 400))
    addr = np.array(draw(st.lists(st.integers(0, 8191), min_size=n, max_size=n)))
    size = draw(st.lists(st.integers(1, 70), min_size=n, max_size=n)) if draw(st.booleans()) else None
    write = draw(st.lists(st.booleans(), min_size=n, max_size=n)) if draw(st.booleans()) else None
    return make_chunk(addr, None if size is None else np.array(size),
                      None if write is None else np.array(write))


#: Both ways of handing the pieces to the workers: each worker selects its own, or one shared sort.
STRATEGIES = {"select": parallel.MAX_WORKERS, "sort": 0}


@SETTINGS
@given(hierarchies(), traces(), st.integers(1, 64), st.sampled_from(sorted(STRATEGIES)),
       st.sampled_from([5, parallel.ROUND]))
def test_workers_1_to_4_give_the_serial_counters(h, ch, chunk, strategy, round_size):
    serial = replay(ch, h, chunk_size=chunk)
    for workers in (1, 2, 3, 4):
        plan = plan_shards(h, workers)
        if workers > 1:  # really split
            assert plan.groups >= 2 and plan.workers == min(workers, plan.groups)
        with warnings.catch_warnings(record=True) as caught, \
                mock.patch.object(parallel, "SELECT_MAX_WORKERS", STRATEGIES[strategy]), \
                mock.patch.object(parallel, "ROUND", round_size):
            warnings.simplefilter("always")
            assert replay_parallel(ch, h, workers=workers, chunk_size=chunk) == serial
        notes = [w for w in caught if issubclass(w.category, SerialFallbackWarning)]
        assert len(notes) == (plan.workers < workers)  # a note only when there are fewer groups


@SETTINGS
@given(hierarchies(POLICIES, ("modulo", "xor")), traces(), st.integers(1, 4))
def test_every_policy_and_index_hash_gives_the_serial_counters(h, ch, workers):
    plan = plan_shards(h, workers)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = replay_parallel(ch, h, workers=workers)
    assert got == replay(ch, h)
    notes = [str(w.message) for w in caught if issubclass(w.category, SerialFallbackWarning)]
    assert notes == ([plan.reason] if plan.reason else [])
    coupled = any(c.policy == "random" or (c.index_hash == "xor" and len(h.levels) > 1) for c in h.levels)
    assert (plan.workers == 1) == (coupled or workers == 1)


def _zen4_trace(n=60_000, seed=3):
    rng = np.random.default_rng(seed)
    return rng.integers(0, (64 << 20) // 4, n, dtype=np.int64) * 4


@pytest.mark.parametrize("workers", [2, 3, 5])  # 5: the shared sort
def test_zen4_loads_then_stores_equal_serial(workers):
    """The loads fast path (compact LRU state), then a switch to the general path at the first store."""
    addr = _zen4_trace()
    write = np.zeros(addr.size, dtype=bool)
    write[40_000::7] = True
    ch = make_chunk(addr, write=write)
    got = replay_parallel(ch, "zen4", workers=workers, chunk_size=7_000)
    assert got == replay(ch, "zen4", chunk_size=7_000)
    sized = make_chunk(addr, size=np.full(addr.size, 100))  # pieces of one access in different groups
    assert replay_parallel(sized, "zen4", workers=workers) == replay(sized, "zen4")


def test_streamed_trace_file_equals_serial(tmp_path):
    addr = _zen4_trace(30_000)
    write = np.random.default_rng(4).random(addr.size) < 0.2
    path = write_trace(tmp_path / "t.bin", make_chunk(addr, size=np.full(addr.size, 8), write=write))
    got = replay_parallel(open_trace(path, chunk_size=4_096), "zen4", workers=2)
    assert got == replay(open_trace(path), "zen4")
    assert got.accesses == addr.size


def test_an_error_of_the_trace_reader_reaches_the_caller():
    def chunks():
        yield make_chunk(_zen4_trace(1_000))
        raise CacheSimError("trace line 1001 is broken")

    with pytest.raises(CacheSimError, match="line 1001 is broken"):
        replay_parallel(chunks(), "zen4", workers=2)


def test_a_failing_worker_stops_the_replay_with_its_error():
    """The caller is blocked on a full queue of rounds when the workers fail: it must wake up and raise."""
    addr = _zen4_trace(2_000)
    outcome: list = []

    def run():
        with mock.patch.object(parallel, "ROUND", 5), \
                mock.patch.object(parallel._Shards, "_select_and_feed", side_effect=RuntimeError("boom")):
            try:
                replay_parallel(addr, "zen4", workers=2)
            except RuntimeError as e:
                outcome.append(str(e))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(60)
    assert not t.is_alive() and outcome == ["boom"]


@pytest.mark.parametrize("bad", [0, -1, 257, 1.5, "2", True, None])
def test_bad_workers_raise_naming_the_value_and_range(bad):
    with pytest.raises(CacheSimError, match=r"workers=.* must be an integer in \[1, 256\]"):
        replay_parallel([0, 64], "zen4", workers=bad)


def test_workers_0_message_is_exact():
    with pytest.raises(CacheSimError) as e:
        plan_shards("zen4", 0)
    assert str(e.value) == "workers=0 must be an integer in [1, 256]"


@pytest.mark.parametrize(
    "levels, phrase",
    [
        ([LevelConfig("L1", 1024, 64, 4, policy="random")], "policy='random'"),
        ([LevelConfig("L1", 1024, 64, 4), LevelConfig("L2", 4096, 64, 4, index_hash="xor")],
         "index_hash='xor'"),
        ([LevelConfig("L1", 1024, 64, "full")], "no set-index bit is common"),
        ([LevelConfig("L1", 1024, 16, 4), LevelConfig("L2", 4096, 256, 4)], "no set-index bit is common"),
    ],
)
def test_coupled_sets_fall_back_to_serial_with_one_warning(levels, phrase):
    h = HierarchyConfig(tuple(levels))
    addr = np.random.default_rng(5).integers(0, 1 << 16, 3_000)
    with pytest.warns(SerialFallbackWarning, match=phrase) as caught:
        got = replay_parallel(addr, h, workers=2)
    assert len(caught) == 1 and "replaying serially" in str(caught[0].message)
    assert plan_shards(h, 2).workers == 1
    assert got == replay(addr, h)


def test_fewer_groups_than_workers_uses_one_worker_per_group():
    h = HierarchyConfig((LevelConfig("L1", 64 * 2 * 2, 64, 2),))  # 2 sets: 2 groups
    addr = np.random.default_rng(6).integers(0, 1 << 14, 2_000)
    with pytest.warns(SerialFallbackWarning, match="has 2 independent set groups; replaying with workers=2"):
        got = replay_parallel(addr, h, workers=4)
    assert plan_shards(h, 4).workers == 2
    assert got == replay(addr, h)


def test_one_xor_indexed_level_splits_by_its_folded_set_index():
    h = HierarchyConfig((LevelConfig("L2", 64 * 4 * 32, 64, 4, index_hash="xor"),))  # 32 sets
    plan = plan_shards(h, 3)
    assert (plan.workers, plan.groups, plan.fold, plan.shift) == (3, 32, 5, 6)
    rng = np.random.default_rng(10)
    addr = rng.integers(0, 1 << 20, 20_000)  # high line bits change the folded set index
    with warnings.catch_warnings():
        warnings.simplefilter("error", SerialFallbackWarning)
        assert replay_parallel(addr, h, workers=3, chunk_size=3_000) == replay(addr, h)


def test_zen4_plan_uses_the_l1_set_bits():
    plan = plan_shards("zen4", 2)
    assert (plan.workers, plan.shift, plan.groups, plan.reason, plan.fold) == (2, 6, 64, "", 0)  # 64 L1 sets


@pytest.mark.nojit
@pytest.mark.parametrize("inclusion", INCLUSIONS)
def test_small_hierarchies_without_jit(inclusion):
    """Small enough for NUMBA_DISABLE_JIT=1: every GIL-free entry point and the partition run."""
    l1 = LevelConfig("L1", 512, 32, 2)
    l2 = LevelConfig("L2", 2048, 32, 4, policy="fifo")
    h = HierarchyConfig((l1, l2), inclusion=inclusion)
    rng = np.random.default_rng(7)
    addr = rng.integers(0, 1 << 13, 300)
    loads = make_chunk(addr)
    mixed = make_chunk(addr, size=rng.integers(1, 64, 300), write=rng.random(300) < 0.3)
    one_xor = HierarchyConfig((LevelConfig("L1", 512, 32, 2, index_hash="xor"),))
    for hier in (h, one_xor):
        for ch in (loads, mixed):
            serial = replay(ch, hier, chunk_size=100)
            for workers in (2, parallel.SELECT_MAX_WORKERS + 1):  # both strategies
                assert replay_parallel(ch, hier, workers=workers, chunk_size=100) == serial


# ----------------------------------------------------------------------------------------- command line
def _cli(capsys, *argv):
    return main(list(argv)), *capsys.readouterr()


@pytest.fixture
def trace_file(tmp_path):
    addr = _zen4_trace(20_000, seed=8)
    return addr, write_trace(tmp_path / "t.bin", addr)


def test_cli_workers_2_prints_the_serial_counters(capsys, trace_file):
    addr, path = trace_file
    runs = {}
    for w in ("1", "2"):
        status, out, err = _cli(capsys, "replay", str(path), "--hierarchy", "zen4", "--workers", w, "--json")
        assert status == 0 and err == ""
        runs[w] = json.loads(out)
    assert runs["1"]["levels"] == runs["2"]["levels"] == replay(addr, "zen4").to_dict()["levels"]
    assert (runs["1"]["workers"], runs["2"]["workers"]) == (1, 2)
    status, out, err = _cli(capsys, "replay", str(path), "--hierarchy", "zen4", "--workers", "2")
    assert status == 0 and out.splitlines()[0].endswith(", workers=2")
    assert str(replay(addr, "zen4")) in out


@pytest.mark.parametrize("bad", ["0", "-3", "1.5", "two"])
def test_cli_bad_workers_exit_2_with_one_line(capsys, trace_file, bad):
    _, path = trace_file
    status, out, err = _cli(capsys, "replay", str(path), "--hierarchy", "zen4", "--workers", bad)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "must be an integer in [1, 256]" in err
    assert err.startswith("cachesim replay: error: workers=")


def test_cli_fallback_note_is_one_stderr_line(capsys, trace_file, tmp_path):
    addr, path = trace_file
    spec = tmp_path / "h.json"
    spec.write_text(json.dumps({"levels": [{"name": "L1", "size": 4096, "line": 64, "ways": 4,
                                            "policy": "random"}]}))
    status, out, err = _cli(capsys, "replay", str(path), "--hierarchy", str(spec), "--workers", "2", "--json")
    assert status == 0
    assert err.count("\n") == 1 and err.startswith("cachesim replay: note: workers=2:")
    assert "replaying serially" in err
    data = json.loads(out)
    assert data["workers"] == 1
    assert data["levels"] == replay(addr, spec).to_dict()["levels"]
