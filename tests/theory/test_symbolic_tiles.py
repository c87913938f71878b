"""General-size derivations of C2/C3 (circular and kernel placement) against exhaustive enumeration.

The enumeration lists every tuple of tile starts and every tile-sign vector with exact fractions, so the
derived expectation must match it exactly.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

import roast_theory as rt
from roast_theory.errors import RoastTheoryError
from roast_theory.symbolic_tiles import TILE_NAMES, TileDerivation, derive_tiles


def enumerate_exact(x, w, memory, placement, signed, align=1):
    """Exact ``(E Y, Var Y, E |w_hat - w|^2)`` over all starts (and tile signs) for ``(T, Z)`` fractions."""
    n_t, z = len(x), len(x[0])
    starts = range(memory) if placement == "circular" else range(0, memory - z, align)
    if signed == "element":
        signs = [tuple(tuple(g[a * z:(a + 1) * z]) for a in range(n_t))
                 for g in itertools.product([-1, 1], repeat=n_t * z)]
    else:
        signs = [tuple((v,) * z for v in g) for g in itertools.product([-1, 1], repeat=n_t)] if signed \
            else [((1,) * z,) * n_t]
    ys, errs = [], []
    for st in itertools.product(starts, repeat=n_t):
        for g in signs:
            mem = [Fraction(0)] * memory
            slot = [[(st[a] + o) % memory for o in range(z)] for a in range(n_t)]
            for a in range(n_t):
                for o in range(z):
                    mem[slot[a][o]] += g[a][o] * w[a][o]
            ys.append(sum(g[a][o] * mem[slot[a][o]] * x[a][o] for a in range(n_t) for o in range(z)))
            errs.append(sum((g[a][o] * mem[slot[a][o]] - w[a][o]) ** 2 for a in range(n_t) for o in range(z)))
    mean = sum(ys) / len(ys)
    return mean, sum((y - mean) ** 2 for y in ys) / len(ys), sum(errs) / len(errs)


def rational(rng, shape, den):
    return [[Fraction(int(v), den) for v in rng.integers(-9, 10, shape[1])] for _ in range(shape[0])]


@pytest.mark.parametrize("name,memory,align", [
    ("C1-kernel", 6, 1), ("C1-kernel", 7, 2), ("C2", 3, 1), ("C3", 4, 1), ("C3-mean", 3, 1),
    ("C2-kernel", 6, 1), ("C3-kernel", 7, 2), ("C3-kernel", 4, 1), ("C3-kernel-mean", 6, 2),
    ("C4", 3, 1), ("C4-nosign", 4, 1), ("C4-kernel", 6, 2), ("C4-kernel-nosign", 7, 2),
    ("C4-kernel-nosign", 4, 1),
])
def test_derivation_equals_enumeration_and_closed_form(name, memory, align):
    rng = np.random.default_rng(len(name) + memory)
    x, w = rational(rng, (3, 2), 7), rational(rng, (3, 2), 5)
    d = derive_tiles(name)
    derived, closed = d.evaluate(x, w, memory, align)
    signed = "element" if name.startswith("C1") else \
        name.startswith("C2") or (name.startswith("C4") and not name.endswith("nosign"))
    mean, var, err = enumerate_exact(x, w, memory, d.placement, signed, align)
    assert derived == closed
    assert derived == (err if name.startswith("C4") else mean if name.endswith("mean") else var)


def test_reachable_from_rt_symbolic():
    d = rt.symbolic.derive("C3-kernel")
    assert isinstance(d, TileDerivation) and d.name == "C3-kernel" and d.placement == "kernel"
    assert {"C2", "C3-kernel", "C4-kernel-nosign"} <= set(TILE_NAMES)


def test_bad_names_and_memory():
    with pytest.raises(RoastTheoryError, match="name='C9'"):
        rt.symbolic.derive("C9")
    x = [[Fraction(1), Fraction(2)]] * 2
    with pytest.raises(RoastTheoryError, match="memory=2 must be >= 2 \\* tile - 1 = 3"):
        derive_tiles("C2").evaluate(x, x, 2)
    with pytest.raises(RoastTheoryError, match="memory=2 leaves no start"):
        derive_tiles("C2-kernel").evaluate(x, x, 2)
