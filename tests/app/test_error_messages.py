"""Error messages show plain values: numpy scalars appear as ``1.5``, not numpy 2's ``np.float64(1.5)``."""

from __future__ import annotations

import re

import numpy as np
import pytest

from cachesim.errors import CacheSimError
from cachesim.stackdist import OlkenProfiler, stack_distances
from cachesim.trace import iter_chunks, make_chunk, plain
from roast_theory import _validate as V
from roast_theory.errors import RoastTheoryError
from roast_theory.hashes import make_family
from roast_theory.mappings import check_memory, check_shape


def _message(exc_type, fn, *args, **kwargs) -> str:
    with pytest.raises(exc_type) as info:
        fn(*args, **kwargs)
    text = str(info.value)
    assert "np." not in text and "array(" not in text, text
    return text


@pytest.mark.parametrize(
    "value, want",
    [(np.float64(1.5), 1.5), (np.int64(48), 48), (np.str_("q"), "q"), (np.bool_(True), True),
     ((np.int64(3), 4), (3, 4)), ([np.float32(0.5)], [0.5]), ("x", "x"), (None, None)],
)
def test_plain_values(value, want):
    got = plain(value)
    assert got == want and type(got) is type(want)
    assert V.plain(value) == want


def test_cachesim_messages_show_plain_values():
    text = _message(CacheSimError, make_chunk, np.array([1.0, 1.5]))
    assert text == "trace address at index 1 is 1.5: addresses must be integers in [0, 281474976710655]"
    text = _message(CacheSimError, make_chunk, np.array([2.0, 4.0, np.nan]), start=10)
    assert text.startswith("trace address at index 12 is nan:")
    text = _message(CacheSimError, lambda: list(iter_chunks([1, 2], chunk_size=np.int64(0))))
    assert text == "chunk_size=0 must be a positive integer"
    assert _message(CacheSimError, OlkenProfiler, np.int64(48)) == "line_size=48 must be a power of two"
    text = _message(CacheSimError, OlkenProfiler, 64, sampling_rate=np.float64(1.5))
    assert text == "sampling_rate=1.5 must be in (0, 1]"
    text = _message(CacheSimError, stack_distances, np.arange(10), max_ways=np.int64(4))
    assert text.startswith("max_ways=4 needs n_sets")


def test_theory_messages_show_plain_values():
    assert _message(RoastTheoryError, V.check_int, "x", np.float64(1.5)) == "x=1.5 must be an integer"
    assert _message(RoastTheoryError, V.check_real, "x", np.str_("a")) == "x='a' must be a real number"
    text = _message(RoastTheoryError, V.check_vector, "v", [1.0, np.nan])
    assert text == "v has a non-finite value nan at flat index 1: all values must be finite"
    text = _message(RoastTheoryError, V.check_choice, "family", np.str_("q"), ["a", "b"])
    assert text == "family='q' is not allowed: choose one of a, b"
    text = _message(RoastTheoryError, check_memory, np.int64(3), 8, "circular")
    assert text == "memory=3 must be an integer >= tile size 8 (circular placement)"
    text = _message(RoastTheoryError, check_shape, "shape", (np.int64(3), np.int64(4), np.int64(5)))
    assert text == "shape=(3, 4, 5) must have 1 or 2 dimensions"
    text = _message(RoastTheoryError, make_family("ideal").sign_grid, (np.int64(2),) * 3)
    assert re.fullmatch(r"shape=\(2, 2, 2\) must have 1 or 2 dimensions", text)
