"""Hash families: exact kernel formulas against a pure-Python big-int loop, ranges, seeds, uniformity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roast_theory.errors import RoastTheoryError
from roast_theory.hashes import (
    FAMILY_NAMES,
    HashedNetTritonHash,
    IdealHash,
    RobeZHash,
    RzStableHash,
    RzV1Hash,
    SignHash,
    family_class,
    make_family,
)

P_S, P_L = 45007, 2038074743


# ------------------------------------------------------------- independent reference (Python big ints)
def ref_start(fam, a: int, b: int, span: int) -> int:
    r = fam.r
    if isinstance(fam, RzStableHash):
        R1, R2, R3, R4, R5, _, R7 = r
        return (((a * R3 + b * R2 + R1) % P_S) * P_S + ((a * R7 + b * R5 + R4) % P_S)) % span
    if isinstance(fam, RzV1Hash | RobeZHash):
        R1, R2, R3 = r
        return ((a * R3 + b * R2 + R1) % P_L) % span
    if isinstance(fam, HashedNetTritonHash):
        R1, R2, R3 = r
        return ((a * R1 + b * R2 + R3) % P_L) % span
    raise TypeError(fam)


KERNELS = ["rz-stable", "rz-v1", "hashednet-triton", "robez"]


@pytest.mark.parametrize("name", KERNELS)
@pytest.mark.parametrize("seed", [0, 7, 123456])
def test_kernel_formula_matches_bigint_loop(name, seed):
    fam = make_family(name, seed)
    rng = np.random.default_rng(seed + 1)
    small, big = rng.integers(0, 1000, (2, 200)), rng.integers(0, 10**6 + 1, (2, 200))
    a = np.concatenate([small[0], big[0], [0, 10**6, 2**62, 2**63 - 1]])
    b = np.concatenate([small[1], big[1], [10**6, 0, 2**63 - 1, 2**61]])
    for span in (1, 97, 2**20 - 2048, 10**9 + 7):
        got = fam.tile_starts(a, b, span)
        want = [ref_start(fam, int(x), int(y), span) for x, y in zip(a, b)]
        assert got.dtype == np.int64
        assert got.tolist() == want
        assert np.array_equal(fam.element_slots(a, b, span), got)


def test_explicit_r_is_used_and_stable_formula_by_hand():
    fam = RzStableHash(r=(1, 2, 3, 4, 5, 6, 7))
    # kb = 2, nb = 5: hi = (2*3 + 5*2 + 1) = 17, lo = (2*7 + 5*5 + 4) = 43 -> 17 * 45007 + 43 = 765162
    assert int(fam.raw(np.array([2]), np.array([5]))[0]) == 765162
    assert int(fam.tile_starts(2, 5, 1000)) == 765162 % 1000
    hn = HashedNetTritonHash(r=(10, 20, 30))
    assert int(hn.element_slots(3, 4, 50)) == (3 * 10 + 4 * 20 + 30) % 50


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_ranges_and_reproducibility(name):
    kb, nb = np.meshgrid(np.arange(40), np.arange(30), indexing="ij")
    span = 1013
    a = make_family(name, 5).tile_starts(kb, nb, span)
    assert a.shape == kb.shape and a.dtype == np.int64
    assert a.min() >= 0 and a.max() < span
    assert np.array_equal(a, make_family(name, 5).tile_starts(kb, nb, span))
    c = make_family(name, 6).tile_starts(kb, nb, span)
    assert np.mean(a != c) > 0.9
    s = make_family(name, 5).signs(kb, nb)
    assert s.dtype == np.int8 and set(np.unique(s).tolist()) <= {-1, 1}
    assert np.array_equal(s, make_family(name, 5).signs(kb, nb))
    assert not np.array_equal(s, make_family(name, 6).signs(kb, nb))


def _chi2_z(counts: np.ndarray) -> float:
    """Standardised chi-square statistic against the uniform distribution: (X2 - df) / sqrt(2 df)."""
    e = counts.sum() / counts.size
    x2 = float(((counts - e) ** 2 / e).sum())
    df = counts.size - 1
    return (x2 - df) / np.sqrt(2 * df)


def test_ideal_uniform_chi_square():
    fam = IdealHash(11)
    kb, nb = np.meshgrid(np.arange(500), np.arange(400), indexing="ij")
    span = 1000
    counts = np.bincount(fam.tile_starts(kb, nb, span).ravel(), minlength=span)
    assert abs(_chi2_z(counts)) < 5
    # pairs of neighbouring keys look independent: joint distribution of (start mod 10, next start mod 10)
    s = fam.tile_starts(np.arange(200_000), 0, 10)
    joint = np.bincount(s[:-1] * 10 + s[1:], minlength=100)
    assert abs(_chi2_z(joint)) < 5


def test_ideal_values_of_nearby_keys_are_uncorrelated_across_seeds():
    """Starts of a small key grid, over 2,000 seeds: no pair of keys may be correlated (|z| < 5).

    This catches weak key mixing such as ``F(0, 1) == F(1, 0)`` for some seeds.
    """
    a, b = np.meshgrid(np.arange(4), np.arange(4), indexing="ij")
    seeds = 2_000
    v = np.array([IdealHash(s).tile_starts(a.ravel(), b.ravel(), 1000) for s in range(seeds)], float)
    g = np.array([SignHash(s).signs(a.ravel(), b.ravel()) for s in range(seeds)], float)
    for arr in (v, g, np.hstack([v, g])):
        c = np.corrcoef(arr.T)
        np.fill_diagonal(c, 0)
        assert np.abs(c).max() * np.sqrt(seeds) < 5


@pytest.mark.parametrize("name", KERNELS)
def test_kernel_uniform_over_parameters(name):
    """For a fixed key, the start is uniform over the family's random parameters R (drawn from seeds)."""
    cls = family_class(name)
    rng = np.random.default_rng(3)
    span = 997
    r = cls.draw_params(rng, 200_000)
    params = [r[:, j] for j in range(cls.n_params)]
    for kb, nb in [(1, 0), (17, 3), (10**6, 10**6)]:
        raw = cls.formula(params, np.full(r.shape[0], kb, np.int64), np.full(r.shape[0], nb, np.int64))
        counts = np.bincount(raw % span, minlength=span)
        assert abs(_chi2_z(counts)) < 5


def test_signs_balanced_and_pairwise_independent():
    g = SignHash(4).signs(np.arange(400_000)).astype(np.float64)
    se = 1 / np.sqrt(g.size)
    assert abs(g.mean()) < 5 * se
    assert abs(np.mean(g[:-1] * g[1:])) < 5 * se
    h = SignHash(4, 2).signs(np.arange(400_000)).astype(np.float64)
    assert abs(np.mean(g * h)) < 5 * se  # separate streams are independent


def test_sign_grid_matches_signs_and_mappings():
    fam = make_family("rz-v1", 3)
    k, n = np.meshgrid(np.arange(4), np.arange(5), indexing="ij")
    assert np.array_equal(fam.sign_grid((4, 5)), fam.signs(k, n))
    assert np.array_equal(fam.sign_grid(7), fam.signs(np.zeros(7, np.int64), np.arange(7)))
    with pytest.raises(RoastTheoryError, match=r"shape\[1\]=0"):
        fam.sign_grid((3, 0))


def test_kernel_families_have_no_kernel_sign():
    for name in KERNELS:
        assert make_family(name, 0).has_kernel_sign is False
    assert make_family("ideal", 0).has_kernel_sign is True


@settings(max_examples=60, deadline=None)
@given(a=st.integers(0, 2**63 - 1), b=st.integers(0, 2**63 - 1), span=st.integers(1, 2**40),
       seed=st.integers(0, 2**32))
def test_property_no_overflow_any_int64_key(a, b, span, seed):
    for name in KERNELS:
        fam = make_family(name, seed)
        assert int(fam.tile_starts(np.int64(a), np.int64(b), span)) == ref_start(fam, a, b, span)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: make_family("murmur", 0), "family='murmur'"),
        (lambda: make_family("ideal", -1), "seed=-1"),
        (lambda: IdealHash(0).tile_starts(np.array([-1]), 0, 5), "negative"),
        (lambda: IdealHash(0).tile_starts(np.array([1.5]), 0, 5), "integers"),
        (lambda: RzV1Hash(0).tile_starts(1, 1, 0), "span=0"),
        (lambda: RzV1Hash(0).element_slots(1, 1, 2.5), "memory=2.5"),
        (lambda: RzStableHash(r=(1, 2, 3)), "must have 7"),
        (lambda: RzV1Hash(r=(1, 2, P_L)), "R3"),
    ],
)
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(RoastTheoryError, match=match):
        call()


@pytest.mark.parametrize("name", FAMILY_NAMES)
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint64])
def test_broadcast_keys_equal_meshgrid(name, dtype):
    """Keys of shapes (n, 1) and (1, m) broadcast: every method gives the meshgrid values, shape (n, m)."""
    fam = make_family(name, 11)
    a = np.array([0, 1, 5, 17, 2**20 + 3], dtype=dtype)
    b = np.array([0, 2, 3, 10**6, 7, 123457], dtype=dtype)
    ka, kb = np.meshgrid(a, b, indexing="ij")
    col, row = a[:, None], b[None, :]
    shape = (a.size, b.size)
    for span in (1, 97, 2**20 - 2048):
        for method in ("tile_starts", "element_slots"):
            f = getattr(fam, method)
            want = f(ka, kb, span)
            for x, y in ((col, row), (ka, row), (col, kb), (col, b)):
                got = f(x, y, span)
                assert got.shape == shape and got.dtype == np.int64, (method, x.shape, y.shape)
                assert np.array_equal(got, want), (method, x.shape, y.shape)
            # a scalar key against a vector (and the other way round)
            assert np.array_equal(f(a[2], b, span), want[2])
            assert np.array_equal(f(a, b[3], span), want[:, 3])
    assert np.array_equal(fam.raw(col, row), fam.raw(ka, kb))
    assert fam.raw(col, row).shape == shape
    assert np.array_equal(fam.signs(col, row), fam.signs(ka, kb))
    grid = np.meshgrid(np.arange(5), np.arange(6), indexing="ij")
    assert np.array_equal(fam.sign_grid(shape), fam.signs(*grid))
