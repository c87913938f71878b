"""Limits checked before allocating, atomic trace writers, and bounded line pieces."""

from __future__ import annotations

import numpy as np
import pytest

from cachesim import CacheSimError
from cachesim.config import LevelConfig
from cachesim.engine import Cache, Simulator, replay
from cachesim.stackdist import miss_ratio_curve, stack_distances
from cachesim.trace import MAX_ACCESS_SIZE, MAX_CHUNK_BYTES, byte_bounded, make_chunk
from cachesim.traceio import TraceWriter, open_trace, write_trace


def test_access_size_limit_in_arrays_and_files(tmp_path):
    with pytest.raises(CacheSimError, match=r"index 1 is 100000000000: must be in \[1, 1048576\]"):
        make_chunk([0, 64], size=[4, 10**11])
    with pytest.raises(CacheSimError, match="must be integers"):
        make_chunk([0], size=[1.5])
    make_chunk([0], size=[MAX_ACCESS_SIZE])  # the limit itself is allowed
    p = tmp_path / "big.npz"
    np.savez(p, addr=np.array([4096]), size=np.array([10**11]))
    with pytest.raises(CacheSimError, match="1048576"):
        list(open_trace(p))
    q = tmp_path / "big.lackey"
    q.write_text(" L 1000,100000000000\n")
    with pytest.raises(CacheSimError, match=r"big\.lackey:1: access size larger than the limit"):
        list(open_trace(q))


def test_float_address_out_of_range_names_its_value():
    with pytest.raises(CacheSimError, match=r"index 0 is 1e\+300"):
        make_chunk(np.array([1e300]))
    with pytest.raises(CacheSimError, match=r"index 1 is -1.0"):
        make_chunk(np.array([0.0, -1.0]))
    with pytest.raises(CacheSimError, match="must be integers"):
        make_chunk(np.array([1 + 1j]))
    with pytest.raises(CacheSimError, match="must be integers"):
        make_chunk(np.array(["64"]))


@pytest.mark.parametrize("max_bytes", [1, 100, 1000])
def test_byte_bounded_split_is_exact(max_bytes):
    rng = np.random.default_rng(0)
    ch = make_chunk(rng.integers(0, 1 << 20, 300), size=rng.integers(1, 300, 300))
    parts = list(byte_bounded(ch, max_bytes))
    assert np.array_equal(np.concatenate([p.addr for p in parts]), ch.addr)
    assert [p.start for p in parts] == list(np.cumsum([0] + [len(p) for p in parts[:-1]]))
    # each part is within the budget unless it is a single access
    assert all(int(p.size.sum()) <= max_bytes or len(p) == 1 for p in parts)


def test_large_accesses_replay_in_bounded_pieces_with_the_same_counts():
    # 64 accesses of 1 MiB = 64 MiB: more than MAX_CHUNK_BYTES, replayed in sub-chunks
    addr = np.arange(64, dtype=np.int64) * (1 << 20)
    size = np.full(64, MAX_ACCESS_SIZE)
    assert int(size.sum()) > MAX_CHUNK_BYTES
    lvl = LevelConfig("L1", 32 * 1024, 64, 8)
    res = replay(make_chunk(addr, size=size), lvl)
    lines = 64 * (MAX_ACCESS_SIZE // 64)  # every line touched once: all compulsory misses
    assert res.levels[0].accesses == lines and res.levels[0].misses == lines
    out = Cache(lvl).access_detailed(addr[:20], size=size[:20])
    assert out.outcome.shape == (20,) and np.all(out.outcome == 2)
    assert out.down_addr.shape[0] == 20 * (MAX_ACCESS_SIZE // 64)  # requests below: one per missed line
    curve = miss_ratio_curve(make_chunk(addr, size=size), line_size=64)
    assert curve.n_accesses == lines
    d = stack_distances(make_chunk(addr[:20], size=size[:20]), line_size=64)
    assert d.shape == (20 * (MAX_ACCESS_SIZE // 64),) and np.all(d == -1)


def test_huge_cache_level_is_refused_before_allocating():
    with pytest.raises(CacheSimError, match=r"L1=1099511627776 bytes/64 B lines needs 17179869184 lines"):
        Simulator({"levels": [{"name": "L1", "size": "1 TiB", "line": 64, "ways": 8}]})


@pytest.mark.parametrize("field", ["latency_cycles", "bandwidth_gbs"])
def test_non_finite_cost_fields_are_rejected(field):
    with pytest.raises(CacheSimError, match=f"{field}=inf must be a positive finite number"):
        LevelConfig("L1", 1024, 64, 2, **{field: float("inf")})


@pytest.mark.parametrize("fmt", ["bin", "din", "lackey", "npy", "npz"])
def test_failed_write_keeps_the_previous_file(tmp_path, fmt):
    p = tmp_path / f"t.{fmt}"
    write_trace(p, make_chunk(np.arange(10) * 64, size=np.full(10, 4)))
    before = p.read_bytes()

    def bad_stream():
        yield make_chunk(np.arange(5) * 64, size=np.full(5, 4))
        raise KeyboardInterrupt  # Ctrl-C in the middle of a write

    with pytest.raises(KeyboardInterrupt):
        write_trace(p, bad_stream())
    assert p.read_bytes() == before
    assert sorted(x.name for x in tmp_path.iterdir()) == [p.name]  # no temporary left behind


def test_bin_writer_abort_and_header_matches_records(tmp_path):
    p = tmp_path / "t.bin"
    with pytest.raises(CacheSimError, match="sizes in"):
        with TraceWriter(p) as w:
            w.write(np.arange(4))
            w.write(make_chunk([0], size=[40000]))
    assert not p.exists() and not list(tmp_path.iterdir())
    with TraceWriter(p) as w:
        w.write(np.arange(4))
    assert len(p.read_bytes()) == 32 + 4 * 8
    assert int.from_bytes(p.read_bytes()[16:24], "little") == 4


def test_write_into_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(CacheSimError, match="folder .*nope.* does not exist"):
        write_trace(tmp_path / "nope" / "t.bin", np.arange(3))
