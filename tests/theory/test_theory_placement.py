"""Slot-load profile and unused fraction: exact expectations vs an independent Monte Carlo and the notes."""

import math

import numpy as np
import pytest

from roast_theory import RoastTheoryError
from roast_theory.placement import kernel_slot_load, unused_fraction


def simulate_loads(shape, tile_shape, memory, placement, trials, seed=0):
    """Place every tile at a random start and count weights per slot: loads, shape (trials, memory)."""
    k, n = shape
    bk, bn = tile_shape
    kk, nn = np.meshgrid(np.arange(k), np.arange(n), indexing="ij")
    nb = -(-n // bn)
    tid = ((kk // bk) * nb + nn // bn).ravel()
    off = ((kk % bk) * bn + nn % bn).ravel()
    n_tiles = int(tid.max()) + 1
    rng = np.random.default_rng(seed)
    hi = memory - bk * bn if placement == "kernel" else memory
    starts = rng.integers(0, hi, (trials, n_tiles))
    slots = (starts[:, tid] + off) % memory
    flat = np.arange(trials)[:, None] * memory + slots
    return np.bincount(flat.ravel(), minlength=trials * memory).reshape(trials, memory).astype(float)


@pytest.mark.parametrize("shape,tile_shape,memory,placement", [
    ((32, 64), (8, 16), 400, "kernel"),
    ((30, 35), (8, 16), 300, "kernel"),    # partial edge tiles
    ((30, 35), (8, 16), 300, "circular"),
    ((32, 32), (8, 16), 200, "kernel"),    # memory < 2T: strongly non-uniform
])
def test_slot_load_matches_monte_carlo(shape, tile_shape, memory, placement):
    res = kernel_slot_load(shape, tile_shape, memory, placement)
    trials = 8_000
    loads = simulate_loads(shape, tile_shape, memory, placement, trials, seed=memory)
    n = shape[0] * shape[1]
    assert res.profile.sum() == pytest.approx(n)
    # per-slot expected load: every slot within 5 standard errors (slots with no spread must be exact)
    mean, se = loads.mean(0), loads.std(0, ddof=1) / math.sqrt(trials)
    zero = se == 0
    assert np.all(np.abs(mean[zero] - res.profile[zero]) < 1e-12)
    assert np.all(np.abs(mean[~zero] - res.profile[~zero]) < 5 * se[~zero])
    # exact expected number of other weights in a weight's slot: sum_b L(b)(L(b) - 1) / n per trial
    coll = (loads * (loads - 1)).sum(1) / n
    z = (coll.mean() - res.collisions_per_weight) / (coll.std(ddof=1) / math.sqrt(trials))
    assert abs(z) < 5


def test_notes_numbers_1024_square():
    # notes: about 16.3 / 69.7 / 339 at 16x / 64x / 256x (ideal n/H = 16 / 64 / 256)
    n = 1024 * 1024
    for ratio, quoted in ((16, 16.3), (64, 69.7), (256, 339.0)):
        res = kernel_slot_load((1024, 1024), (32, 64), n // ratio)
        assert res.ideal_load == ratio
        assert res.load_at_weight_slot == pytest.approx(quoted, rel=0.01)
    # S = H - T = T at 256x: the profile is a triangle, sum_b c(b)^2 = (T-1)T(2T-1)/3 + T^2 exactly
    t = 2048
    tri = ((t - 1) * t * (2 * t - 1) / 3 + t * t) * (512 / t) ** 2 / n
    assert kernel_slot_load((1024, 1024), (32, 64), n // 256).load_at_weight_slot == pytest.approx(tri)


def test_circular_profile_is_flat_and_ideal():
    res = kernel_slot_load((64, 64), (8, 16), 1024, "circular")
    assert np.allclose(res.profile, 4.0) and res.load_at_weight_slot == pytest.approx(res.ideal_load)


def test_unused_fraction_closed_forms():
    m = 1000
    res = unused_fraction(m, m)
    assert res.fraction == pytest.approx((1 - 1 / m) ** m, rel=1e-12)
    assert res.fraction == pytest.approx(math.exp(-1), rel=1e-3)
    # chunks of Z: (1 - Z/m)^(n/Z) with a shorter last chunk
    assert unused_fraction(1005, 100, 10).fraction == pytest.approx(0.9**100 * 0.95)
    assert unused_fraction(7, 7, 7).fraction == 0.0


@pytest.mark.parametrize("n,m,tile,placement", [(300, 300, 1, "circular"), (305, 100, 10, "circular"),
                                                (300, 120, 10, "kernel"), (95, 60, 7, "kernel")])
def test_unused_fraction_matches_monte_carlo(n, m, tile, placement):
    res = unused_fraction(n, m, tile, placement)
    trials = 20_000
    rng = np.random.default_rng(n + m)
    tid, off = np.arange(n) // tile, np.arange(n) % tile
    hi = m - tile if placement == "kernel" else m
    starts = rng.integers(0, hi, (trials, tid[-1] + 1))
    slots = (starts[:, tid] + off) % m
    used = np.zeros((trials, m), bool)
    used[np.arange(trials)[:, None], slots] = True
    frac = 1.0 - used.mean(1)
    z = (frac.mean() - res.fraction) / (frac.std(ddof=1) / math.sqrt(trials))
    assert abs(z) < 5


@pytest.mark.parametrize("call,needle", [
    (lambda: kernel_slot_load((64, 64), (8, 16), 128), "memory=128"),
    (lambda: kernel_slot_load((64, 0), (8, 16), 1000), "shape[1]=0"),
    (lambda: kernel_slot_load((64, 64), 8, 1000), "tile=8 must be a pair (BK, BN)"),
    (lambda: kernel_slot_load((64, 64), (8, 16), 1000, "random"), "placement='random'"),
    (lambda: unused_fraction(10, 5, 6), "memory=5"),
    (lambda: unused_fraction(-1, 5), "n=-1"),
    (lambda: unused_fraction(10, 5.0), "memory=5.0"),
])
def test_bad_input(call, needle):
    with pytest.raises(RoastTheoryError) as info:
        call()
    assert needle in str(info.value)
