"""General-n derivations from indicator expectations: symbolic proofs and exact instances."""

import itertools
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

import roast_theory as rt
from roast_theory.symbolic_general import NAMES, NL, N, T, Z, derive


@pytest.mark.parametrize("name", [pytest.param(v, marks=pytest.mark.slow) if v == "C1" else v for v in NAMES])
def test_derivation_proves_the_closed_form(name):
    d = rt.symbolic.derive(name)
    assert d.matches
    sizes = {T, Z} if name == "C1" else ({NL} if name.startswith("B2") else {N})
    assert sizes <= d.derived.free_symbols  # a general expression, not an expansion for one n


def test_a_matches_brute_force_enumeration_exactly():
    # n = 3 elements, m = 2 slots, every hash and sign assignment
    x = [Fraction(1, 2), Fraction(-1, 3), Fraction(2)]
    w = [Fraction(3, 4), Fraction(1), Fraction(-2, 5)]
    vals = []
    for h in itertools.product(range(2), repeat=3):
        for g in itertools.product((-1, 1), repeat=3):
            vals.append(sum(g[i] * g[j] * (h[i] == h[j]) * x[i] * w[j] for i in range(3) for j in range(3)))
    mean = sum(vals, Fraction(0)) / len(vals)
    var = sum((v - mean) ** 2 for v in vals) / len(vals)
    assert derive("A").evaluate({"x": x, "w": w}, 3, 2) == sp.Rational(var.numerator, var.denominator)


def test_unknown_name():
    with pytest.raises(rt.RoastTheoryError, match="C7"):
        derive("C7")


def test_weight_mse_instance():
    w = [Fraction(1, 3), Fraction(2), Fraction(-1, 2), Fraction(5, 7)]
    exact = derive("weight-mse").evaluate({"w": w}, 4, 9)
    assert float(exact) == pytest.approx(rt.weight_mse(np.array(w, dtype=float), 9).mse, rel=1e-12)


def test_b2_global_matches_enumeration_and_a_wrong_closed_form_fails():
    # module l = the first 2 of n = 3 elements, m = 2 slots, scale 3/2: every hash and sign assignment
    x = [Fraction(1, 2), Fraction(-1, 3), Fraction(0)]  # x is zero outside module l
    u = [Fraction(3, 4), Fraction(1), Fraction(-2, 5)]
    lam = Fraction(3, 2)
    vals = []
    for h in itertools.product(range(2), repeat=3):
        for g in itertools.product((-1, 1), repeat=3):
            vals.append(lam * sum(g[i] * g[j] * (h[i] == h[j]) * x[i] * u[j]
                                  for i in range(2) for j in range(3)))
    mean = sum(vals, Fraction(0)) / len(vals)
    var = sum(((v - mean) ** 2 for v in vals), Fraction(0)) / len(vals)
    d = derive("B2-global")
    exact = d.evaluate({"x": x, "u": u}, 3, 2, module=(2, 1, lam))
    assert exact == sp.Rational(var.numerator, var.denominator)
    from roast_theory.symbolic_general import GeneralDerivation

    assert not GeneralDerivation("B2-global", d.derived, 2 * d.closed_form).matches


def test_b3_identity_is_not_vacuous_and_matches_sharing_variance():
    from roast_theory.symbolic_general import NL, GeneralDerivation, M, W, X, _t

    d = derive("B3-identity")
    extra = sp.Sum(X[_t] * W[_t], (_t, 0, NL - 1)) ** 2 / M
    assert not GeneralDerivation("B3-identity", d.derived, d.closed_form + extra).matches
    x = [Fraction(1, 2), Fraction(-1, 3), Fraction(2), Fraction(1, 5)]
    w = [Fraction(3, 4), Fraction(1), Fraction(-2, 5), Fraction(2, 3)]
    res = rt.sharing_variance([np.array(x[:1], float), np.array(x[1:], float)],
                              [np.array(w[:1], float), np.array(w[1:], float)], 9, local_slots=(2, 7))
    exact = d.evaluate({"x": x, "w": w}, 4, 9, module=(1, 2, 1))
    assert float(exact) == pytest.approx(9 * res.difference(), rel=1e-12)
    assert float(derive("B3-local").evaluate({"x": x, "w": w}, 4, 9, module=(1, 2, 1))) == pytest.approx(
        res.local_variance, rel=1e-12)
