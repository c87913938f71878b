"""Mappings: tile contiguity, exact kernel indices, sketch/recover adjointness, exact recovery, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roast_theory.errors import RoastTheoryError
from roast_theory.hashes import IdealHash, make_family
from roast_theory.mappings import ChunkMapping, ElementMapping, TileMapping

P_S, P_L = 45007, 2038074743


def test_full_tiles_are_contiguous_row_major_blocks():
    K, N, BK, BN = 8, 12, 2, 4
    for placement, m in (("kernel", 50), ("circular", 20)):
        mp = TileMapping((K, N), m, tile=(BK, BN), placement=placement, family="rz-v1", seed=4)
        for kb in range(K // BK):
            for nb in range(N // BN):
                block = mp.index[kb * BK:(kb + 1) * BK, nb * BN:(nb + 1) * BN].ravel()
                s = int(block[0])
                assert block.tolist() == [(s + o) % m for o in range(BK * BN)]
                if placement == "kernel":
                    assert 0 <= s and s + BK * BN <= m - 1 + 1 and s < m - BK * BN


def test_kernel_placement_equals_rzlinear_stable_formula():
    """Independent re-implementation: RzLinear `stable` tile start with Python ints, element by element."""
    K, N, BK, BN, H = 70, 130, 32, 64, 5000
    mp = TileMapping((K, N), H, tile=(BK, BN), placement="kernel", sign="none", family="rz-stable", seed=9)
    R1, R2, R3, R4, R5, _, R7 = mp.hash_family.r
    want = np.empty((K, N), np.int64)
    for k in range(K):
        for n in range(N):
            kb, nb = k // BK, n // BN
            s = (((kb * R3 + nb * R2 + R1) % P_S) * P_S + ((kb * R7 + nb * R5 + R4) % P_S)) % (H - BK * BN)
            want[k, n] = s + (k % BK) * BN + (n % BN)
    assert np.array_equal(mp.index, want)
    assert np.all(mp.sign == 1)
    assert mp.index.max() < H


def test_kernel_placement_equals_rz_v1_formula_large_blocks():
    K, N, BK, BN, H = 3000, 3, 1, 3, 10**6
    mp = TileMapping((K, N), H, tile=(BK, BN), placement="kernel", sign="none", family="rz-v1", seed=2)
    R1, R2, R3 = mp.hash_family.r
    for k in (0, 1, 999, 2999):
        s = ((k * R3 + 0 * R2 + R1) % P_L) % (H - 3)
        assert mp.index[k].tolist() == [s, s + 1, s + 2]


def test_hashednet_triton_element_mapping_formula():
    mp = ElementMapping((9, 11), 37, family="hashednet-triton", seed=5, sign="none")
    R1, R2, R3 = mp.hash_family.r
    want = [[((k * R1 + n * R2 + R3) % P_L) % 37 for n in range(11)] for k in range(9)]
    assert mp.index.tolist() == want
    assert np.all(mp.sign == 1)


def test_robez_chunk_mapping_formula():
    rows, dim, Z, m = 6, 10, 4, 33
    mp = ChunkMapping((rows, dim), m, chunk=Z, seed=1)
    R1, R2, R3 = mp.hash_family.r
    for r in range(rows):
        for j in range(dim):
            c = j // Z
            assert mp.index[r, j] == ((r * R3 + c * R2 + R1) % P_L) % (m - Z + 1) + j % Z
    assert mp.index.max() < m


def test_partial_edge_tiles_keep_full_tile_offsets():
    K, N, BK, BN, m = 5, 7, 2, 4, 23
    mp = TileMapping((K, N), m, tile=(BK, BN), placement="circular", family="ideal", seed=3)
    for k in range(K):
        for n in range(N):
            assert mp.index[k, n] == (mp.starts[k, n] + (k % BK) * BN + (n % BN)) % m
    # the starts are constant on each (possibly partial) tile
    for k in range(K):
        for n in range(N):
            assert mp.starts[k, n] == mp.starts[(k // BK) * BK, (n // BN) * BN]


class _DistinctBlocks:
    """A hand-made family placing tile (kb, nb) at block kb * n_nb + nb: no two tiles collide."""

    def __init__(self, n_nb: int, t_size: int):
        self.n_nb, self.t_size = n_nb, t_size
        self._signs = IdealHash(1)

    def tile_starts(self, kb, nb, span):
        return (np.asarray(kb) * self.n_nb + np.asarray(nb)) * self.t_size

    def element_slots(self, k, n, m):  # pragma: no cover - not used
        raise NotImplementedError

    def signs(self, a, b=0):
        return self._signs.signs(a, b)


@pytest.mark.parametrize("sign", ["none", "element", "tile"])
def test_recover_of_sketch_is_exact_without_collisions(sign):
    K, N, BK, BN = 6, 8, 2, 4
    fam = _DistinctBlocks(N // BN, BK * BN)
    mp = TileMapping((K, N), K * N, tile=(BK, BN), placement="circular", sign=sign, family=fam)
    assert len(np.unique(mp.index)) == K * N
    w = np.random.default_rng(0).normal(size=(K, N))
    np.testing.assert_array_equal(mp.recover(mp.sketch(w)), w)


def _any_mapping(draw_kind, shape, m, tile, sign, placement, family, seed):
    if draw_kind == "element":
        return ElementMapping(shape, m, family=family, seed=seed, sign="element" if sign == "tile" else sign)
    if draw_kind == "chunk":
        return ChunkMapping((3, shape[-1]), max(m, tile), chunk=tile, sign=sign, placement=placement,
                            family=family, seed=seed)
    return TileMapping(shape, m + tile, tile=tile, sign=sign, placement=placement, family=family, seed=seed)


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(["element", "tile", "chunk"]), n=st.integers(1, 40), m=st.integers(1, 30),
       tile=st.integers(1, 6), sign=st.sampled_from(["none", "element", "tile"]),
       placement=st.sampled_from(["circular", "kernel"]),
       family=st.sampled_from(["ideal", "rz-stable", "rz-v1", "hashednet-triton", "robez"]),
       seed=st.integers(0, 1000), data_seed=st.integers(0, 1000))
def test_property_adjoint_and_matrix(kind, n, m, tile, sign, placement, family, seed, data_seed):
    mp = _any_mapping(kind, (n,) if kind != "chunk" else (3, n), m, tile, sign, placement, family, seed)
    rng = np.random.default_rng(data_seed)
    w = rng.normal(size=mp.shape)
    mem = rng.normal(size=mp.memory)
    sw = mp.sketch(w)
    # <S w, M> == <w, S^T M>
    assert np.isclose(sw @ mem, np.sum(w * mp.recover(mem)), rtol=1e-10, atol=1e-10)
    # sketch is the dense matrix product (independent path: explicit S)
    S = mp.matrix()
    np.testing.assert_allclose(sw, S @ w.ravel(), atol=1e-12)
    np.testing.assert_allclose(mp.recover(mem).ravel(), S.T @ mem, atol=1e-12)
    assert mp.index.min() >= 0 and mp.index.max() < mp.memory
    assert set(np.unique(mp.sign).tolist()) <= {-1, 1}


def test_frozen_and_reproducible():
    a = TileMapping(50, 20, tile=4, family="rz-stable", seed=3)
    b = TileMapping(50, 20, tile=4, family="rz-stable", seed=3)
    assert np.array_equal(a.index, b.index) and np.array_equal(a.sign, b.sign)
    with pytest.raises(AttributeError):
        a.memory = 3
    with pytest.raises(ValueError):
        a.index[0] = 1
    assert "TileMapping(shape=(50,)" in repr(a)


def test_element_signs_and_tile_signs():
    mp = TileMapping((4, 8), 40, tile=(2, 4), sign="tile", seed=2)
    for kb in range(2):
        for nb in range(2):
            assert len(np.unique(mp.sign[2 * kb:2 * kb + 2, 4 * nb:4 * nb + 4])) == 1
    fam = make_family("ideal", 2)
    k, n = np.meshgrid(np.arange(4), np.arange(8), indexing="ij")
    assert np.array_equal(TileMapping((4, 8), 40, tile=(2, 4), sign="element", seed=2).sign, fam.signs(k, n))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: TileMapping(10, 3, tile=4), r"memory=3 must be an integer >= tile size 4"),
        (lambda: TileMapping(10, 4, tile=4, placement="kernel"), r"memory=4 .* tile size 4 \+ 1"),
        (lambda: TileMapping(10, 20.0, tile=4), "memory=20.0"),
        (lambda: TileMapping(10, -5), "memory=-5"),
        (lambda: TileMapping(10, 20, sign="rademacher"), "sign='rademacher'"),
        (lambda: TileMapping(10, 20, placement="wrap"), "placement='wrap'"),
        (lambda: TileMapping(10, 20, tile=(2, 2)), "tile=\\(2, 2\\)"),
        (lambda: TileMapping((3, 3), 20, tile=(0, 2)), "BK"),
        (lambda: TileMapping((3, 0), 20), r"shape\[1\]=0"),
        (lambda: ElementMapping(10, 0), "memory=0"),
        (lambda: ElementMapping(10, 5, sign="tile"), "sign='tile'"),
        (lambda: ElementMapping(10, 5, family="md5"), "family='md5'"),
        (lambda: ChunkMapping((3, 8), 3, chunk=4), "memory=3 must be an integer >= chunk=4"),
        (lambda: ChunkMapping(8, 30, chunk=4), "rows, dim"),
    ],
)
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(RoastTheoryError, match=match):
        call()


def test_sketch_and_recover_check_shape_and_nan():
    mp = TileMapping(10, 20, tile=2)
    with pytest.raises(RoastTheoryError, match="weight has shape"):
        mp.sketch(np.zeros(9))
    with pytest.raises(RoastTheoryError, match="weight has a non-finite value nan at flat index 3"):
        mp.sketch(np.where(np.arange(10) == 3, np.nan, 1.0))
    with pytest.raises(RoastTheoryError, match="memory has shape"):
        mp.recover(np.zeros(10))
    with pytest.raises(RoastTheoryError, match="memory has a non-finite value inf"):
        mp.recover(np.full(20, np.inf))
