"""Messages of the input checks in ``roast_theory._validate``: argument, value and what is allowed."""

from __future__ import annotations

import numpy as np
import pytest

from roast_theory import _validate as V
from roast_theory.errors import RoastTheoryError


@pytest.mark.parametrize("call, message", [
    (lambda: V.check_real("lr", 2.0, high=1.0), "lr=2.0 must be <= 1.0"),
    (lambda: V.check_real("lr", float("inf")), "lr=inf must be finite"),
    (lambda: V.check_vector("x", [[1.0]]), "x has shape (1, 1): must be 1-dimensional"),
    (lambda: V.check_vector("x", ["a"]), "x must be an array of real numbers"),
    (lambda: V.check_probability("level", 1.0), "level=1.0 must be in (0, 1)"),
    (lambda: V.check_probability("level", True), "level=True must be in (0, 1)"),
    (lambda: V.check_tile(1.5, "z"), "z=1.5 must be an integer Z or a pair (BK, BN)"),
    (lambda: V.check_tile_pair((2, 3, 4)), "tile=(2, 3, 4) must be a pair (BK, BN)"),
    (lambda: V.check_tile_for_shape((2, 2), (8,)), "tile=(2, 2): a 1-D weight needs an integer tile Z"),
    (lambda: V.check_shape("shape", "ab"), "shape[0]='a' must be an integer >= 1"),
    (lambda: V.check_shape("shape", None), "shape=None must be a tuple of 1 or 2 positive integers"),
    (lambda: V.check_matrix_shape("shape", 5, "(rows, dim)"), "shape=5 must be (rows, dim)"),
    (lambda: V.check_memory(8, 8, "kernel"), "memory=8 must be an integer >= tile size 8 + 1 (kernel"),
    (lambda: V.check_chunk_memory(3, 4), "memory=3 must be an integer >= chunk=4"),
    (lambda: V.check_local_memory([5, 1], 6, 2, "circular"), "memory=6: module 1 gets m_l=1 slots"),
    (lambda: V.check_layout([0, 1], [0, 0.5], 2, 2), "offset has dtype float64: must be integers"),
    (lambda: V.check_layout([0, -1], [0, 1], 2, 2), "tile_id has a negative entry -1: must be >= 0"),
    (lambda: V.check_keys("a", np.array([2**63], dtype=np.uint64)), "a has a key 9223372036854775808 above"),
    (lambda: V.check_keys("a", [-1]), "a has a negative key -1: keys must be >= 0"),
    (lambda: V.check_family_object(object()), "must be a family name or provide tile_starts()"),
    (lambda: V.check_modules(np.ones((2, 3)), np.ones((2, 3))), "xs and ws must be sequences of arrays"),
    (lambda: V.check_modules([], []), "xs has 0 modules: need at least 1"),
    (lambda: V.check_scales("auto", 2), "scales='auto' must be 2 positive numbers or None"),
    (lambda: V.check_scales([1.0], 2), "scales has 1 entries: must have one per module (2)"),
    (lambda: V.check_scales([1.0, 0.0], 2), "scales[1]=0.0 must be > 0.0"),
    (lambda: V.check_index(np.array([0, 5]), 5), "index contains 5: all values must be in [0, 4] (memory=5)"),
    (lambda: V.check_index(np.array([0.5]), 5), "index has dtype float64: must be an integer array"),
    (lambda: V.check_sign(np.array(["a"]), (1,)), "sign has dtype <U1: must be an array of +1/-1"),
    (lambda: V.check_sign(np.array([1, 2]), (2,)), "sign contains 2: all values must be +1 or -1"),
    (lambda: V.check_weight_shape("index", np.zeros(5), 2, 3), "index has shape (5,): must be (in_features"),
])
def test_message_names_argument_value_and_range(call, message):
    with pytest.raises(RoastTheoryError) as info:
        call()
    assert message in str(info.value)


def test_accepted_values_come_back_normalised():
    assert V.check_tile(4) == (1, 4) and V.check_tile([2, 3]) == (2, 3)
    assert V.check_shape("s", np.int64(7)) == (7,)
    assert V.check_probability("p", 0.25) == 0.25
    np.testing.assert_array_equal(V.check_scales(None, 3), np.ones(3))
    np.testing.assert_array_equal(V.check_scales(np.array([2.0, 0.5]), 2), [2.0, 0.5])
    assert V.check_weight_shape("w", np.arange(6), 2, 3).shape == (2, 3)
    xs, ws, shapes = V.check_modules([np.ones((2, 2))], [np.zeros((2, 2))], flatten=True)
    assert xs[0].shape == (4,) and shapes == [(2, 2)]
