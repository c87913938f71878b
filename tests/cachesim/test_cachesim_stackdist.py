"""Stack-distance miss curves: numba kernels vs list-based reference, LRU simulation, libcachesim, golden."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cachesim import CacheSimError
from cachesim.stackdist import (
    MissRatioCurve,
    OlkenProfiler,
    PerSetStackProfiler,
    chunk_lines,
    miss_ratio_curve,
    naive_stack_distances,
    stack_distance_histogram,
    stack_distances,
)
from cachesim.trace import make_chunk


def lru_sim_misses(lines, n_sets, ways):
    """Independent per-access set-associative LRU simulation (OrderedDict per set)."""
    sets = [OrderedDict() for _ in range(n_sets)]
    misses = 0
    for x in lines:
        s = sets[int(x) % n_sets]
        if x in s:
            s.move_to_end(x)
        else:
            misses += 1
            s[x] = None
            if len(s) > ways:
                s.popitem(last=False)
    return misses


def mixed_trace(rng, n, span_lines, hot_lines=64, p_hot=0.5, line=64):
    """Hot set + uniform background + a strided sweep: distances at every scale."""
    hot = rng.integers(0, hot_lines, n)
    cold = rng.integers(0, span_lines, n)
    sweep = np.arange(n) % max(1, span_lines // 4)
    pick = rng.random(n)
    lines = np.where(pick < p_hot, hot, np.where(pick < 0.8, cold, sweep))
    return lines * line + rng.integers(0, line, n)


# ----------------------------------------------------------------------------- kernels vs reference


@settings(max_examples=60, deadline=None)
@given(
    lines=st.lists(st.integers(0, 40), min_size=0, max_size=300),
    n_sets=st.sampled_from([1, 2, 3, 4, 8]),
    max_ways=st.integers(1, 9),
    chunk=st.integers(1, 50),
)
def test_per_set_kernel_matches_list_reference(lines, n_sets, max_ways, chunk):
    addr = np.asarray(lines, dtype=np.int64) * 64 + 5
    got = stack_distances(addr, n_sets=n_sets, max_ways=max_ways, chunk_size=chunk)
    assert got.tolist() == naive_stack_distances(lines, n_sets, max_ways)


def test_grouped_per_set_kernel_equals_direct_kernel():
    from cachesim import _stack_kernel as k

    rng = np.random.default_rng(4)
    lines = rng.integers(0, 5000, 30_000)
    res = []
    for kern in (k.per_set_chunk, k.per_set_chunk_grouped):
        stacks, hist = np.full((64, 6), -1, np.int64), np.zeros(6, np.int64)
        head, fill = np.zeros(64, np.int64), np.zeros(64, np.int64)
        out = np.empty(lines.size, np.int64)
        parts = zip(np.split(lines, 3), np.split(out, 3))
        far = sum(kern(part, 64, stacks, head, fill, hist, o) for part, o in parts)
        res.append((far, hist.tolist(), out.tolist()))
    assert res[0] == res[1]
    assert res[0][2] == naive_stack_distances(lines, 64, 6)
    # the profiler picks the grouped kernel for big stack tables: same histogram as the reference
    h = stack_distance_histogram(lines * 64, n_sets=4096, max_ways=4)
    ref = np.array(naive_stack_distances(lines, 4096, 4))
    assert h.counts.tolist() == [int(np.sum(ref == d)) for d in range(4)]


@settings(max_examples=60, deadline=None)
@given(lines=st.lists(st.integers(0, 60), min_size=0, max_size=400), chunk=st.integers(1, 64))
def test_olken_matches_list_reference(lines, chunk):
    addr = np.asarray(lines, dtype=np.int64) * 32
    got = stack_distances(addr, line_size=32, chunk_size=chunk)
    assert got.tolist() == naive_stack_distances(lines)


def test_olken_compaction_long_trace_few_lines():
    # 200k accesses over 300 lines: the time tree is compacted many times.
    rng = np.random.default_rng(7)
    lines = rng.integers(0, 300, 200_000)
    lines[::7] = rng.integers(0, 20, lines[::7].shape[0])
    got = stack_distances(lines * 64, chunk_size=4096)
    assert got.tolist() == naive_stack_distances(lines.tolist())


@settings(max_examples=40, deadline=None)
@given(
    lines=st.lists(st.integers(0, 30), min_size=1, max_size=250),
    n_sets=st.sampled_from([1, 2, 4, 5]),
)
def test_histogram_misses_equal_lru_simulation_every_ways(lines, n_sets):
    h = stack_distance_histogram(np.asarray(lines) * 64, n_sets=n_sets, max_ways=8, chunk_size=17)
    prev = None
    for w in range(1, 9):
        m = h.misses(w)
        assert m == lru_sim_misses(lines, n_sets, w)
        assert h.hits(w) + m == len(lines)
        if prev is not None:
            assert m <= prev  # LRU inclusion: more ways never miss more
        prev = m
    curve = h.miss_ratio_curve()
    assert curve.misses(3 * n_sets) == h.misses(3)


def test_fully_associative_curve_equals_lru_simulation():
    rng = np.random.default_rng(3)
    addr = mixed_trace(rng, 20_000, 3000)
    lines = (addr >> 6).tolist()
    c = miss_ratio_curve(addr, chunk_size=3001)
    for k in (1, 2, 10, 64, 65, 500, 1000, 4000):
        assert c.misses(k) == lru_sim_misses(lines, 1, k)
    sizes, misses = c.curve()
    assert sizes[0] == 0 and misses[0] == len(lines)
    assert misses[-1] == c.distinct_lines == len(set(lines))
    assert np.all(np.diff(misses) <= 0)
    assert c.miss_ratio(64 * 64) == pytest.approx(c.misses(64) / len(lines))


def test_accesses_spanning_lines_count_each_line():
    ch = make_chunk(np.array([60, 0, 130]), size=np.array([8, 1, 100]))
    assert chunk_lines(ch, 6).tolist() == [0, 1, 0, 2, 3]
    c = miss_ratio_curve(ch)
    assert c.n_accesses == 5 and c.misses(10) == 4


def test_streamed_equals_whole():
    rng = np.random.default_rng(11)
    addr = mixed_trace(rng, 50_000, 5000)
    whole = stack_distance_histogram(addr, n_sets=16, max_ways=12)
    parts = stack_distance_histogram(
        (make_chunk(addr[i : i + 999], start=i) for i in range(0, addr.size, 999)), n_sets=16, max_ways=12
    )
    assert np.array_equal(whole.counts, parts.counts) and whole.n_far == parts.n_far
    p = PerSetStackProfiler(16, 64, 12)
    p.update(make_chunk(addr))
    assert np.array_equal(p.result().counts, whole.counts)


def test_results_are_frozen():
    h = stack_distance_histogram(np.arange(100) * 64, n_sets=4, max_ways=4)
    with pytest.raises(ValueError):
        h.counts[0] = 5
    with pytest.raises(AttributeError):
        h.n_far = 3


# ----------------------------------------------------------------------------- input errors


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: stack_distance_histogram([0], n_sets=4, line_size=48),
            "line_size=48 must be a power of two",
        ),
        (lambda: stack_distance_histogram([0], n_sets=0), "n_sets=0 must be a positive integer"),
        (lambda: stack_distance_histogram([0], n_sets=2, max_ways=0), "max_ways=0"),
        (
            lambda: stack_distance_histogram([0], n_sets=2, max_ways=4).misses(5),
            r"ways=5 must be in \[1, 4\]",
        ),
        (lambda: miss_ratio_curve([0], sampling_rate=0.0), "sampling_rate=0.0 must be in"),
        (lambda: miss_ratio_curve([0], sampling_rate=1.5), "sampling_rate=1.5 must be in"),
        (lambda: miss_ratio_curve([-64]), "index 0 is -64"),
        (lambda: miss_ratio_curve([0, 1.5]), "index 1 is"),
        (lambda: miss_ratio_curve([0]).misses(-1), "lines=-1"),
        (lambda: miss_ratio_curve([0]).miss_ratio(100), "size_bytes=100 must be a multiple"),
        (
            lambda: stack_distance_histogram([0], n_sets=4).miss_ratio_curve().misses(6),
            "multiple of n_sets=4",
        ),
        (
            lambda: stack_distance_histogram([0], n_sets=4, max_ways=2).miss_ratio_curve().misses(12),
            "exact up to max_ways=2",
        ),
        (lambda: OlkenProfiler(sampling_rate=0.5).update(make_chunk([0]), np.zeros(1, np.int64)), "sampling"),
    ],
)
def test_bad_input_raises_named_error(call, match):
    with pytest.raises(CacheSimError, match=match):
        call()


# ----------------------------------------------------------------------------- kernels without JIT


@pytest.mark.slow
def test_kernels_run_without_jit(run_python):
    code = (
        "import numpy as np\n"
        "from cachesim.stackdist import stack_distances, naive_stack_distances\n"
        "rng = np.random.default_rng(5); lines = rng.integers(0, 50, 3000)\n"
        "assert stack_distances(lines * 64, chunk_size=300).tolist() == naive_stack_distances(lines)\n"
        "assert stack_distances(lines * 64, n_sets=4, max_ways=6).tolist() == "
        "naive_stack_distances(lines, 4, 6)\n"
        "print('ok')\n"
    )
    assert run_python(code, jit=False).strip() == "ok"


# ----------------------------------------------------------------------------- libcachesim oracle


@pytest.mark.oracle
def test_fully_associative_curve_matches_libcachesim():
    lcs = pytest.importorskip("libcachesim")
    rng = np.random.default_rng(21)
    addr = mixed_trace(rng, 60_000, 20_000)
    ids = (addr >> 6).tolist()
    curve = miss_ratio_curve(addr)
    req = lcs.Request()
    req.obj_size = 1
    for k in (8, 64, 1000, 5000, 16384):
        cache = lcs.LRU(cache_size=k)
        misses = 0
        for x in ids:
            req.obj_id = x
            misses += not cache.get(req)
        assert curve.misses(k) == misses, k


# ----------------------------------------------------------------------------- public golden numbers


@pytest.mark.slow
def test_golden_random_trace():
    addr = np.random.default_rng(12345).integers(0, (64 << 20) // 4, 10_000_000, dtype=np.int64) * 4
    c = miss_ratio_curve(addr)
    assert [c.misses(k) for k in (512, 16_384, 524_288)] == [9_995_130, 9_843_762, 5_160_874]
    assert c.distinct_lines == 1_048_492
    # per-set: L1 32 KiB / 8 ways / 64 B lines = 64 sets, the first level of the golden hierarchy
    h = stack_distance_histogram(addr, n_sets=64, max_ways=8)
    assert h.misses(8) == 9_995_088


def test_golden_sequential_trace_every_ways():
    addr = np.arange(2_000_000, dtype=np.int64) * 4  # 125,000 lines, each touched 16 times
    h = stack_distance_histogram(addr, n_sets=64, max_ways=16)
    assert all(h.misses(w) == 125_000 for w in range(1, 17))
    assert miss_ratio_curve(addr).misses(1) == 125_000


# ----------------------------------------------------------------------------- SHARDS sampling


@pytest.mark.slow
def test_shards_error_within_derived_bound():
    """Sampled curve vs exact curve, with the bound derived from the sampling.

    A line is kept with probability R (hash), so the sampled miss count is a sum over lines;
    with ratio estimation its standard error is se = sqrt((1-R)/R * sum_l (m_l - r n_l)^2), m_l the
    line's exact misses, n_l its accesses, r the exact miss ratio. Sampled distances d_s estimate
    R d with relative spread ~ sqrt((1-R)/(R d)), which blurs the size axis by delta; the estimate
    at size k must then lie in [M(k(1+delta)) - 5 se, M(k(1-delta)) + 5 se].
    """
    rng = np.random.default_rng(2024)
    n = 1_500_000
    addr = mixed_trace(rng, n, 200_000, hot_lines=2000, p_hot=0.4)
    lines = addr >> 6
    exact_d = stack_distances(addr)
    exact = miss_ratio_curve(addr)
    r_rate = 0.1
    est = miss_ratio_curve(addr, sampling_rate=r_rate, seed=1)
    assert not est.exact and est.sampling_rate == pytest.approx(r_rate, rel=1e-6)
    assert abs(est.n_sampled / n - r_rate) < 0.05  # hash keeps ~R of the accesses
    _, line_id = np.unique(lines, return_inverse=True)
    n_l = np.bincount(line_id)
    for k in (1000, 5000, 20_000, 60_000, 150_000):
        miss = (exact_d < 0) | (exact_d >= k)
        m_l = np.bincount(line_id, weights=miss)
        ratio = exact.misses(k) / n
        se = np.sqrt((1 - r_rate) / r_rate * np.sum((m_l - ratio * n_l) ** 2))
        delta = 5 * np.sqrt((1 - r_rate) / (r_rate * k))
        lo = exact.misses(int(k * (1 + delta))) - 5 * se
        hi = exact.misses(max(0, int(k * (1 - delta)))) + 5 * se
        got = est.misses(k)
        assert lo <= got <= hi, (k, got, exact.misses(k), se, delta)


def test_sampling_rate_one_is_exact():
    addr = mixed_trace(np.random.default_rng(1), 5000, 500)
    a = miss_ratio_curve(addr, sampling_rate=1.0)
    b = miss_ratio_curve(addr)
    assert isinstance(a, MissRatioCurve) and a.exact
    assert np.array_equal(a.hist, b.hist)


# ----------------------------------------------------------------------------- engine replay


@pytest.mark.parametrize("n_sets", [1, 16, 128])
def test_histogram_equals_engine_replay_every_associativity(n_sets):
    from cachesim import LevelConfig, replay

    rng = np.random.default_rng(n_sets)
    addr = mixed_trace(rng, 40_000, 6000)
    size = rng.integers(1, 100, addr.size)  # accesses spanning lines: both count line pieces
    chunk = make_chunk(addr, size=size)
    h = stack_distance_histogram(chunk, n_sets=n_sets, max_ways=16)
    for ways in (1, 2, 3, 4, 8, 12, 16):
        res = replay(chunk, LevelConfig("L1", n_sets * ways * 64, 64, ways)).levels[0]
        assert h.n_accesses == res.accesses
        assert h.misses(ways) == res.misses, ways


def test_fully_associative_curve_equals_engine_replay():
    from cachesim import LevelConfig, replay

    rng = np.random.default_rng(8)
    addr = mixed_trace(rng, 30_000, 4000, line=128)
    curve = miss_ratio_curve(addr, line_size=128)
    for lines in (1, 7, 64, 300, 1024, 4096):
        res = replay(addr, LevelConfig("FA", lines * 128, 128, "full")).levels[0]
        assert curve.misses(lines) == res.misses, lines
