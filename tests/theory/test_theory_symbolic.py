"""sympy derivations reproduce the closed forms, the B3 identity is exactly 0, dropped terms are caught."""

import numpy as np
import pytest
import sympy as sp

from roast_theory import RoastTheoryError
from roast_theory.moments import tile_hashing_moments
from roast_theory.symbolic import (
    M_SYM,
    derive_element_variance,
    derive_moments,
    derive_sharing_identity,
    derive_tile_variance,
    q_expr,
    symbolic_moments,
    symbols,
)


def test_element_hashing_variance_is_q_over_m():
    d = derive_element_variance(4)
    assert d.matches and d.difference == 0


def test_element_mean_and_no_sign_bias():
    x, w = symbols(3)
    mean, _ = derive_moments(3, 1, "element")
    assert sp.expand(mean - sum(a * b for a, b in zip(x, w))) == 0
    mean_ns, var_ns = derive_moments(3, 1, "none")
    bias = sum(x[i] * w[j] for i in range(3) for j in range(3) if i != j) / M_SYM
    assert sp.expand(mean_ns - sum(a * b for a, b in zip(x, w)) - bias) == 0
    assert sp.simplify(var_ns - q_expr(x, w) * (M_SYM - 1) / M_SYM**2) == 0


def test_tile_c1_variance():
    assert derive_tile_variance(6, 3).matches
    assert derive_tile_variance(5, 2).matches  # short last chunk


def test_dropping_the_diagonal_term_breaks_the_match():
    x, w = symbols(4)
    _, var = derive_moments(4, 1, "element")
    q_wrong = sum(a * a for a in x) * sum(b * b for b in w) + sum(a * b for a, b in zip(x, w)) ** 2
    assert sp.simplify(var - q_wrong / M_SYM) != 0
    # and the missing piece is exactly -2 sum x_i^2 w_i^2 / m
    assert sp.simplify(var - q_wrong / M_SYM + 2 * sum((a * b) ** 2 for a, b in zip(x, w)) / M_SYM) == 0


def test_dropping_the_in_tile_term_breaks_c1():
    x, w = symbols(4)
    _, var = derive_moments(4, 2, "element")
    assert sp.simplify(var - q_expr(x, w) / M_SYM) != 0


def test_sharing_identity_is_zero():
    for sizes in ((2, 2), (1, 3), (2, 1, 2)):
        d = derive_sharing_identity(sizes)
        assert d.matches, sizes


def test_sharing_identity_needs_all_three_terms():
    d = derive_sharing_identity((2, 3))
    x, w = symbols(5)
    diag = sum((a * b) ** 2 for a, b in zip(x, w))
    # the closed form with the diagonal term removed no longer equals the derivation
    d_l = [sum((x[i] * w[i]) ** 2 for i in idx) for idx in (range(2), range(2, 5))]
    dropped = d.closed_form + 2 * (d_l[0] * sp.Rational(5, 2) + d_l[1] * sp.Rational(5, 3) - diag)
    assert sp.simplify(d.derived - sp.expand(dropped)) != 0


@pytest.mark.parametrize("n,tile,sign", [(5, 1, "element"), (5, 1, "none"), (6, 3, "element"),
                                         (6, 3, "tile"), (7, 3, "tile"), (6, 2, "none"), (7, 3, "none")])
def test_lambdified_equals_fft_closed_form(n, tile, sign):
    rng = np.random.default_rng(n * 10 + tile)
    for _ in range(3):
        x, w = rng.standard_normal(n), rng.standard_normal(n)
        m = int(rng.integers(4 * tile, 60))
        mean, var = symbolic_moments(x, w, m, tile, sign)
        res = tile_hashing_moments(x, w, m, tile, sign)
        assert mean == pytest.approx(res.mean, rel=1e-10, abs=1e-12)
        assert var == pytest.approx(res.variance, rel=1e-10, abs=1e-12)


def test_bad_input():
    with pytest.raises(RoastTheoryError, match="x has 9 elements"):
        symbolic_moments(np.ones(9), np.ones(9), 40)
    with pytest.raises(RoastTheoryError, match="memory=5"):
        symbolic_moments(np.ones(4), np.ones(4), 5, tile=2)
    with pytest.raises(RoastTheoryError, match="sign='x'"):
        symbolic_moments(np.ones(4), np.ones(4), 40, sign="x")


def test_symbolic_is_an_attribute_of_the_package():
    import importlib

    import roast_theory as rt

    assert rt.symbolic is importlib.import_module("roast_theory.symbolic")
    assert rt.symbolic.derive_element_variance(3).matches  # loaded on first use: see test_torch_layers
    with pytest.raises(AttributeError, match="no attribute 'symbolc'"):
        rt.symbolc  # noqa: B018
