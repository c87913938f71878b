"""The global-vs-local theorem: pair-energy condition, sufficient condition, random inputs, limit law."""

import itertools

import numpy as np
import pytest
from scipy import stats

from roast_theory import RoastTheoryError, sharing_variance
from roast_theory.sharing_theorem import (
    expected_random_difference,
    limit_global_win_probability,
    pair_energy,
)


def brute_pair_energies(xs, ws):
    x, w = np.concatenate(xs), np.concatenate(ws)
    module = np.concatenate([np.full(v.size, l) for l, v in enumerate(xs)])
    within, cross = np.zeros(len(xs)), 0.0
    for i, j in itertools.combinations(range(x.size), 2):
        c = (x[i] * w[j] + x[j] * w[i]) ** 2
        if module[i] == module[j]:
            within[module[i]] += c
        else:
            cross += c
    return within, cross


def test_pair_energy_matches_pair_sums_and_sharing_variance():
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal(5), rng.standard_normal(7) * 2, rng.standard_normal(4)]
    ws = [rng.standard_normal(5), rng.standard_normal(7), rng.standard_normal(4) * 3]
    within, cross = brute_pair_energies(xs, ws)
    pe = pair_energy(xs, ws)
    assert np.allclose(pe.within_energy, within) and pe.cross_energy == pytest.approx(cross)
    res = sharing_variance(xs, ws, 32, local_slots=(10, 14, 8))
    pe = pair_energy(xs, ws, [10 / 32, 14 / 32, 8 / 32])
    assert pe.margin() == pytest.approx(32 * res.difference(), rel=1e-12)
    assert pe.global_wins == res.global_wins()


def test_sufficient_condition_is_sufficient():
    rng = np.random.default_rng(2)
    hits = 0
    for _ in range(200):
        k = int(rng.integers(2, 4))
        xs = [rng.standard_normal(int(rng.integers(2, 7))) * rng.uniform(0.1, 3) for _ in range(k)]
        ws = [rng.standard_normal(x.size) * rng.uniform(0.1, 3) for x in xs]
        pe = pair_energy(xs, ws)
        hits += pe.sufficient
        assert not pe.sufficient or pe.global_wins
    assert hits > 10


def test_rademacher_x_equals_w_difference_is_exactly_minus_2_k_minus_1_n():
    rng = np.random.default_rng(3)
    sizes = (6, 10, 16)
    xs = [rng.choice([-1.0, 1.0], s) for s in sizes]
    pe = pair_energy(xs, xs)
    assert pe.margin() == pytest.approx(expected_random_difference(sizes)) == -2 * 2 * 32
    assert limit_global_win_probability(3, 1.0) == 0.0


def test_random_expectation_and_limit_monte_carlo():
    rng = np.random.default_rng(4)
    sizes = (8, 12)
    draws = [pair_energy(*(2 * [[rng.uniform(-np.sqrt(3), np.sqrt(3), s) for s in sizes]])).margin()
             for _ in range(4000)]
    se = np.std(draws) / np.sqrt(len(draws))
    assert abs(np.mean(draws) - expected_random_difference(sizes)) < 5 * se
    assert limit_global_win_probability(2, 3.0) == pytest.approx(stats.chi2.sf(1.5, 1))
    assert limit_global_win_probability(2, 3.0) == pytest.approx(0.2207, abs=1e-4)


def test_bad_fractions():
    with pytest.raises(RoastTheoryError, match="fractions"):
        pair_energy([np.ones(2)] * 2, [np.ones(2)] * 2, [0.3, 0.3])
    with pytest.raises(RoastTheoryError, match="mu4"):
        limit_global_win_probability(2, 0.5)
