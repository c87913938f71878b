"""Set-sharded replay of an on-disk trace: the merged counts equal a single-process replay."""

from __future__ import annotations

import time

import numpy as np
import pytest

import cachesim
from cachesim.trace import make_chunk
from roast_toolkit.sweep import SweepError, replay_sharded
from roast_toolkit.sweep._sharded import plan_groups

ONE_LEVEL = {"name": "one", "levels": [{"name": "L1", "size": "32 KiB", "ways": 8, "line": 64}]}
HIERARCHIES = {
    "one-level-lru": ONE_LEVEL,
    "zen4": "zen4",
    "xor-sectored": {"levels": [{"name": "L2", "size": "2 MiB", "ways": 16, "line": 128, "sector": 32,
                                 "index_hash": "xor"}]},
    "inclusive-plru-fifo": {"inclusion": "inclusive", "levels": [
        {"name": "L1", "size": "8 KiB", "ways": 4, "policy": "plru"},
        {"name": "L2", "size": "256 KiB", "ways": 8, "line": 128, "policy": "fifo"}]},
    "exclusive-mru": {"inclusion": "exclusive", "levels": [
        {"name": "L1", "size": "8 KiB", "ways": 4, "policy": "mru"},
        {"name": "L2", "size": "64 KiB", "ways": 8}]},
}


@pytest.fixture(scope="module")
def trace_file(tmp_path_factory):
    """Loads and stores of 1-100 bytes (some span lines) over 16 MiB, written as an .npz trace."""
    rng = np.random.default_rng(7)
    n = 60_000
    hot = rng.integers(0, 1 << 11, n) * 8  # a hot 16 KiB region, so that lines hit and get evicted
    cold = rng.integers(0, 1 << 21, n) * 8
    addr = np.where(rng.random(n) < 0.7, hot, cold)
    chunk = make_chunk(addr, rng.choice([1, 4, 8, 64, 100], n), rng.random(n) < 0.3)
    path = tmp_path_factory.mktemp("trace") / "trace.npz"
    cachesim.write_trace(path, chunk)
    return path


@pytest.mark.parametrize("name", sorted(HIERARCHIES))
@pytest.mark.parametrize("groups", [1, 3, 8])
def test_set_groups_give_the_single_process_counts(trace_file, name, groups):
    h = HIERARCHIES[name]
    want = cachesim.replay(cachesim.open_trace(trace_file), h)
    got = replay_sharded(trace_file, h, groups=groups, chunk_size=7_000)
    assert got.result.to_dict() == want.to_dict()
    assert want.levels[0].misses > 1000 and want.levels[0].hits > 1000
    assert len(got.group_pieces) == groups and sum(got.group_pieces) == want.levels[0].accesses
    if groups > 1:  # every group did a share of the work
        assert min(got.group_pieces) > 0.5 * want.levels[0].accesses / groups


def test_the_number_of_independent_groups():
    assert plan_groups(cachesim.get_preset("zen4")).fine == 64  # L1: 64 sets of 64-byte lines
    h = cachesim.load_hierarchy({"levels": [{"name": "L1", "size": "4 KiB", "ways": 4, "line": 64},
                                            {"name": "L2", "size": "64 KiB", "ways": 4, "line": 256}]})
    assert plan_groups(h).fine == 4  # L1 set bits 6..9; L2 lines start at bit 8: bits 8..9 are shared


@pytest.mark.parametrize("hierarchy, groups, words", [
    ("zen4", 0, ["groups=0"]),
    ("zen4", 65, ["groups=65", "<= 64"]),
    ("h200", 2, ["XOR-indexed"]),
    ({"levels": [{"name": "L1", "size": "4 KiB", "ways": 4, "policy": "random"}]}, 2, ["'L1'", "random"]),
])
def test_what_set_groups_cannot_do_is_refused(trace_file, hierarchy, groups, words):
    with pytest.raises(SweepError) as info:
        replay_sharded(trace_file, hierarchy, groups=groups)
    assert all(w in str(info.value) for w in words)


def test_random_policy_with_one_group_and_a_missing_trace(trace_file, tmp_path):
    h = {"levels": [{"name": "L1", "size": "4 KiB", "ways": 4, "policy": "random", "seed": 3}]}
    assert replay_sharded(trace_file, h, groups=1).result.to_dict() == cachesim.replay(
        cachesim.open_trace(trace_file), h).to_dict()
    with pytest.raises(cachesim.CacheSimError, match="does not exist"):
        replay_sharded(tmp_path / "none.npz", "zen4")


@pytest.mark.slow
def test_on_a_local_cluster(trace_file):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        for h in (ONE_LEVEL, "zen4"):
            want = cachesim.replay(cachesim.open_trace(trace_file), h)
            got = replay_sharded(trace_file, h, scheduler=client, groups=4)
            assert got.result.to_dict() == want.to_dict()
            # nothing left on the cluster (results are released asynchronously: allow a few seconds)
            deadline = time.monotonic() + 10
            while client.who_has() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert len(client.who_has()) == 0
