"""Aligned ROAST starts (``rz-aligned``) and the multiply-shift element hash (``hashednet-mulshift``).

Expected values are computed here with Python integers from the formulas in the docstrings, not with the
code under test.
"""

from __future__ import annotations

import numpy as np
import pytest

from roast_theory.errors import RoastTheoryError
from roast_theory.hashes import (
    FAMILY_NAMES,
    KERNEL_FAMILY_NAMES,
    P_STABLE,
    MulShiftHash,
    RzAlignedHash,
    make_family,
    tile_slot_index,
    tile_start_table,
)


def _stable_start_by_hand(r, kb, nb, span, align):
    r1, r2, r3, r4, r5, _r6, r7 = r
    hi = (kb * r3 + nb * r2 + r1) % P_STABLE
    lo = (kb * r7 + nb * r5 + r4) % P_STABLE
    return align * ((hi * P_STABLE + lo) % (span // align))


@pytest.mark.parametrize("align", [1, 8, 64])
@pytest.mark.parametrize("tile", [(32, 64), (64, 128)])
def test_table_equals_per_tile_formula(align, tile):
    k, n, memory = 768, 3072, 768 * 3072 // 8
    fam = make_family("rz-aligned", 4, align=align)
    table = fam.start_table(k, n, tile, memory)
    span = memory - tile[0] * tile[1]
    assert table.shape == (k // tile[0], n // tile[1]) and table.dtype == np.int64
    for kb in range(table.shape[0]):
        for nb in range(0, table.shape[1], 7):
            assert table[kb, nb] == _stable_start_by_hand(fam.r, kb, nb, span, align)
    assert np.all(table % align == 0)
    assert table.min() >= 0 and table.max() + tile[0] * tile[1] <= memory
    t32 = tile_start_table(fam, k, n, tile, memory, dtype=np.int32)
    assert t32.dtype == np.int32 and np.array_equal(t32, table)


def test_align_one_is_rz_stable_and_same_draw():
    for seed in (0, 5, 99):
        a, s = make_family("rz-aligned", seed, align=1), make_family("rz-stable", seed)
        assert a.r == s.r
        kb, nb = np.meshgrid(np.arange(50), np.arange(70), indexing="ij")
        for span in (1, 1013, 2**20 - 2048):
            np.testing.assert_array_equal(a.tile_starts(kb, nb, span), s.tile_starts(kb, nb, span))


def test_aligned_starts_cover_every_aligned_slot():
    fam = RzAlignedHash(seed=2, align=8)
    kb, nb = np.meshgrid(np.arange(200), np.arange(200), indexing="ij")
    s = fam.tile_starts(kb, nb, 8 * 50)
    assert set(np.unique(s).tolist()) == set(range(0, 400, 8))


def test_slot_index_rows_are_contiguous_runs():
    fam = RzAlignedHash(seed=1, align=64)
    starts = fam.start_table(96, 256, (32, 64), 40960)
    idx = tile_slot_index(starts, 96, 256, (32, 64))
    assert idx.shape == (96, 256)
    assert idx[33, 70] == starts[1, 1] + 1 * 64 + 6
    assert np.all(idx[:, ::64] % 64 == 0)
    assert idx.max() < 40960


@pytest.mark.parametrize("call, match", [
    (lambda: RzAlignedHash(align=3), "align=3 must be a power of two"),
    (lambda: RzAlignedHash(align=0), "align=0"),
    (lambda: RzAlignedHash(align=64).tile_starts(0, 0, 1000), "align=64 does not divide span=1000"),
    (lambda: RzAlignedHash(align=64).tile_starts(0, 0, 32), "align=64 does not divide span=32"),
    (lambda: RzAlignedHash(align=8).start_table(64, 64, (32, 64), 2048), "memory=2048 must exceed"),
    (lambda: RzAlignedHash(align=8).start_table(64, 64, 32, 4096), "tile=32 must be a \\(BK, BN\\) pair"),
    (lambda: tile_start_table(RzAlignedHash(align=1), 64, 64, (32, 64), 2**31 + 8, np.int32), "int32"),
    (lambda: MulShiftHash().element_slots(1, 2, 1000), "memory=1000 must be a power of two"),
    (lambda: MulShiftHash(r=(2, 3, 4)), "r\\[0\\]=2 must be odd"),
    (lambda: make_family("rz-aligned", 0, align=5), "align=5"),
])
def test_bad_input(call, match):
    with pytest.raises(RoastTheoryError, match=match):
        call()


def test_mulshift_formula_by_hand_and_range():
    fam = MulShiftHash(seed=9)
    a1, a2, c = fam.r
    assert a1 % 2 == 1 and a2 % 2 == 1
    for m_log in (1, 10, 20, 32):
        for k, n in ((0, 0), (5, 7), (10239, 10239), (2**40 + 3, 17)):
            want = ((a1 * k + a2 * n + c) % 2**32) >> (32 - m_log)
            assert int(fam.element_slots(k, n, 2**m_log)) == want
    k, n = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    slots = fam.element_slots(k, n, 1024)
    counts = np.bincount(slots.ravel(), minlength=1024)
    assert slots.min() >= 0 and slots.max() < 1024
    # 65536 keys into 1024 bins: mean 64; multiply-shift spreads them nearly evenly (sd ~ 8 if random)
    assert counts.min() > 64 - 5 * 8 and counts.max() < 64 + 5 * 8


def test_kernel_families_are_made_but_not_in_monte_carlo_names():
    assert set(KERNEL_FAMILY_NAMES).isdisjoint(FAMILY_NAMES)
    assert make_family("hashednet-mulshift", 3) == MulShiftHash(seed=3)
    assert make_family("rz-aligned", 3, align=64).align == 64
