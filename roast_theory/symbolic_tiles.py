"""General-size symbolic derivations of C2 and C3 (one sign per tile, or none), circular and kernel placement.

Elements are ``(a, o)``: tile ``a < T``, offset ``o < Z``; ``h(a, o) = s_a + o`` (circular: modulo ``m``). The
estimator is ``Y = sum g_a1 g_a2 [h(a1, o1) = h(a2, o2)] x[a1, o1] w[a2, o2]`` and

    ``E[Y^2] = sum_{a1..a4, o1..o4} x[a1,o1] w[a2,o2] x[a3,o3] w[a4,o4] E[g g g g] E[[coll 12] [coll 34]]``

with the expectations written as indicator algebra in the index symbols (``KroneckerDelta`` on tiles and
offsets). A collision of two elements of one tile needs ``o1 = o2``; of tiles ``a1 != a2`` it fixes the start
difference ``s_a1 - s_a2 = o2 - o1``. Two such constraints are the same one (same or swapped tile pair: the
lags must agree), share one tile (three-tile law ``P3``), or involve four tiles (independent). Circular
placement with ``m >= 2Z - 1``: ``p(d) = 1/m`` and ``P3 = 1/m^2``. Kernel placement (``S`` starts,
multiples of ``A``): ``p(A i) = (S - |i|)_+ / S^2``,
``P3(A i1, A i2) = (S - (max(0, i1, i2) - min(0, i1, i2)))_+ / S^3``.

The closed forms are the package's formulas (:func:`roast_theory.moments.tile_hashing_moments`, Notes)
written with the lag correlations ``C_ab(d) = sum_{o' - o = d} x[a, o] w[b, o']``. Sympy cannot reduce the
eight-fold indicator sums to lag correlations for symbolic ``T`` and ``Z``, so :meth:`TileDerivation.evaluate`
checks the identity on concrete exact-rational instances: both sides are evaluated as Python loops over
:class:`fractions.Fraction` values (no rounding), and must be exactly equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import sympy as sp

from ._symbols import M, T, W, X, Z
from .errors import RoastTheoryError

S, A = sp.symbols("S A", integer=True, positive=True)
_a = sp.symbols("a1:5", integer=True)
_o = sp.symbols("o1:5", integer=True)
_b, _c, _e, _d, _d2, _p, _q = sp.symbols("b c e d d2 p q", integer=True)
_KD = sp.KroneckerDelta

#: Results :func:`derive_tiles` knows: ``C2``/``C3`` circular (``m >= 2Z - 1``) and ``-kernel``, variance
#: (``C2``, ``C3``) and mean (``C3-mean``); the weight error ``C4`` with one sign per tile or none.
TILE_NAMES = ("C1-kernel", "C2", "C3", "C3-mean", "C2-kernel", "C3-kernel", "C3-kernel-mean",
              "C4", "C4-nosign", "C4-kernel", "C4-kernel-nosign")


def _on_grid(d, body):
    """``body`` where ``A`` divides every lag in ``d``, else 0 (an indicator product, not a ``Piecewise``:
    sympy would fold a ``Piecewise`` in the lag out of the ``Sum`` over that lag)."""
    return sp.Mul(*[_KD(sp.Mod(v, A), 0) for v in d]) * body


def _laws(kernel: bool):
    """``(p(d), P3(d1, d2))`` for the placement."""
    if not kernel:
        return (lambda d: 1 / M), (lambda d1, d2: 1 / M**2)

    def p(d):
        return _on_grid([d], sp.Max(S - sp.Abs(d) / A, 0) / S**2)

    def p3(d1, d2):
        spread = (sp.Max(0, d1, d2) - sp.Min(0, d1, d2)) / A
        return _on_grid([d1, d2], sp.Max(S - spread, 0) / S**3)

    return p, p3


def _joint_collision(kernel: bool):
    """``E [h(a1,o1) = h(a2,o2)] [h(a3,o3) = h(a4,o4)]`` as an indicator expression in the index symbols."""
    p, p3 = _laws(kernel)
    a1, a2, a3, a4 = _a
    o1, o2, o3, o4 = _o
    e = {(i, j): _KD(_a[i - 1], _a[j - 1]) for i in range(1, 5) for j in range(i + 1, 5)}
    d12, d34 = o2 - o1, o4 - o3
    both_cross = (e[1, 3] * e[2, 4] * _KD(d12, d34) * p(d12) + e[1, 4] * e[2, 3] * _KD(d12, -d34) * p(d12)
                  + e[1, 3] * (1 - e[2, 4]) * p3(d12, d34) + e[1, 4] * (1 - e[2, 3]) * p3(d12, -d34)
                  + e[2, 3] * (1 - e[1, 4]) * p3(-d12, d34) + e[2, 4] * (1 - e[1, 3]) * p3(-d12, -d34)
                  + (1 - e[1, 3]) * (1 - e[1, 4]) * (1 - e[2, 3]) * (1 - e[2, 4]) * p(d12) * p(d34))
    return (e[1, 2] * e[3, 4] * _KD(o1, o2) * _KD(o3, o4)
            + e[1, 2] * (1 - e[3, 4]) * _KD(o1, o2) * p(d34)
            + (1 - e[1, 2]) * e[3, 4] * _KD(o3, o4) * p(d12)
            + (1 - e[1, 2]) * (1 - e[3, 4]) * both_cross)


def _sum_all(expr, count: int):
    limits = [(_o[i], 0, Z - 1) for i in range(count)] + [(_a[i], 0, T - 1) for i in range(count)]
    return sp.Sum(expr, *limits)


def _sign_expectations(sign: str):
    """``(E[g_1 g_2], E[g_1 g_2 g_3 g_4])`` for the four positions: a sign per element, per tile, or none."""
    if sign == "none":
        return 1, 1

    def e(i, j):  # positions i, j carry the same sign variable
        same = _KD(_a[i], _a[j])
        return same * _KD(_o[i], _o[j]) if sign == "element" else same

    return e(0, 1), (e(0, 1) * e(2, 3) + e(0, 2) * e(1, 3) + e(0, 3) * e(1, 2)
                     - 2 * e(0, 1) * e(0, 2) * e(0, 3))


def _derived(kernel: bool, sign: str):
    """``(E[Y], Var Y)`` from the indicator expectations."""
    p, _ = _laws(kernel)
    a1, a2, a3, a4 = _a
    o1, o2 = _o[:2]
    sign2, sign4 = _sign_expectations(sign)
    coll2 = _KD(a1, a2) * _KD(o1, o2) + (1 - _KD(a1, a2)) * p(o2 - o1)
    mean = _sum_all(X[a1, o1] * W[a2, o2] * sign2 * coll2, 2)
    second = _sum_all(X[a1, _o[0]] * W[a2, _o[1]] * X[a3, _o[2]] * W[a4, _o[3]] * sign4
                      * _joint_collision(kernel), 4)
    return mean, second - mean**2


def _lag(u, v, a, b, d):
    """``sum_{o' - o = d} u[a, o] v[b, o']``."""
    return sp.Sum(u[a, _p] * v[b, _q] * _KD(_q - _p, d), (_p, 0, Z - 1), (_q, 0, Z - 1))


def _pair_lags(a, b, d):
    """``S_ab(d) = C_ab(d) + D_ab(d)``."""
    return _lag(X, W, a, b, d) + _lag(W, X, a, b, d)


def _closed(kernel: bool, sign: str):
    """``(mean, variance)`` of the package's closed forms."""
    p, p3 = _laws(kernel)
    a, b, c, d, d2 = _b, _c, _e, _d, _d2
    lags = (d, -(Z - 1), Z - 1)
    inner = sp.Sum(X[a, _p] * W[a, _p], (_p, 0, Z - 1), (a, 0, T - 1))
    cross = (1 - _KD(a, b))
    c_ab = _lag(X, W, a, b, d)
    mean = inner + sp.Sum(cross * p(d) * c_ab, lags, (a, 0, T - 1), (b, 0, T - 1))
    tile_sign = sp.Sum(cross * p(d) * (c_ab**2 + c_ab * _lag(W, X, a, b, d)), lags, (a, 0, T - 1),
                       (b, 0, T - 1))
    if sign == "element":
        xw2 = X[a, _p] ** 2 * W[b, _q] ** 2 + X[a, _p] * W[a, _p] * X[b, _q] * W[b, _q]
        return inner, sp.Sum(cross * p(_q - _p) * xw2, (_p, 0, Z - 1), (_q, 0, Z - 1), (a, 0, T - 1),
                             (b, 0, T - 1))
    if sign == "tile":
        return inner, tile_sign
    s_ab = _pair_lags(a, b, d)
    pair = sp.Sum(sp.Sum(p(d) * s_ab**2, lags) - sp.Sum(p(d) * s_ab, lags) ** 2, (b, a + 1, T - 1),
                  (a, 0, T - 1))
    cov = _pair_lags(a, b, d) * _pair_lags(a, c, d2) * (p3(d, d2) - p(d) * p(d2))
    three = sp.Sum((1 - _KD(a, b)) * (1 - _KD(a, c)) * (1 - _KD(b, c)) * cov, lags, (d2, -(Z - 1), Z - 1),
                   (a, 0, T - 1), (b, 0, T - 1), (c, 0, T - 1))
    return mean, pair + three


def _weight_error(kernel: bool, signed: bool):
    """``(derived, closed)`` ``E |w_hat - w|^2``: ``e_i = sum_{j != i} g_i g_j [h_i = h_j] w_j``, so
    ``E e_i^2 = sum_{j, k != i} E[g_j g_k] E[[h_i = h_j][h_i = h_k]] w_j w_k`` (the joint law with
    ``(a3, o3) = (a1, o1)``). Closed form: ``sum_i sum_{t(j) != t(i)} w_j^2 p(o_j - o_i)`` plus, without
    signs, ``sum_i sum_{b != c, both != t(i)} sum w_b[o'] w_c[o''] P3(o' - o_i, o'' - o_i)``."""
    p, p3 = _laws(kernel)
    a1, a2, _, a4 = _a
    o1, o2, _, o4 = _o
    at_i = {_a[2]: a1, _o[2]: o1}
    sign = _KD(a2, a4) if signed else 1
    other = (1 - _KD(a1, a2) * _KD(o1, o2)) * (1 - _KD(a1, a4) * _KD(o1, o4))
    summand = W[a2, o2] * W[a4, o4] * sign * other * _joint_collision(kernel).subs(at_i)
    derived = sp.Sum(summand, (o1, 0, Z - 1), (o2, 0, Z - 1), (o4, 0, Z - 1), (a1, 0, T - 1),
                     (a2, 0, T - 1), (a4, 0, T - 1))
    a, b, c, q, q2 = _b, _c, _e, _p, _q
    sq = sp.Sum((1 - _KD(a, b)) * W[b, q] ** 2 * p(q - o1), (o1, 0, Z - 1), (q, 0, Z - 1), (a, 0, T - 1),
                (b, 0, T - 1))
    if signed:
        return derived, sq
    cross = sp.Sum((1 - _KD(a, b)) * (1 - _KD(a, c)) * (1 - _KD(b, c)) * W[b, q] * W[c, q2]
                   * p3(q - o1, q2 - o1), (o1, 0, Z - 1), (q, 0, Z - 1), (q2, 0, Z - 1), (a, 0, T - 1),
                   (b, 0, T - 1), (c, 0, T - 1))
    return derived, sq + cross


@dataclass(frozen=True)
class TileDerivation:
    """A tiled result derived from indicator expectations (``derived``) and the package's ``closed_form``."""

    name: str
    derived: sp.Expr
    closed_form: sp.Expr

    @property
    def placement(self) -> str:
        return "kernel" if "kernel" in self.name else "circular"

    def evaluate(self, x, w, memory: int, align: int = 1) -> tuple[Fraction, Fraction]:
        """``(derived, closed form)`` as exact fractions for ``(T, Z)`` arrays ``x``, ``w`` of rationals.

        ``memory`` is ``m`` (circular: ``m >= 2Z - 1`` so lags do not wrap); for kernel placement the
        starts are the ``S = ceil((m - Z) / A)`` multiples of ``align`` below ``m - Z``.
        """
        xv = np.array([[Fraction(v) for v in row] for row in x], dtype=object)
        wv = np.array([[Fraction(v) for v in row] for row in w], dtype=object)
        n_t, z = xv.shape
        if self.placement == "circular" and memory < 2 * z - 1:
            raise RoastTheoryError(f"memory={memory} must be >= 2 * tile - 1 = {2 * z - 1} "
                                   "(lags must not wrap)")
        if self.placement == "kernel" and memory <= z:
            raise RoastTheoryError(f"memory={memory} leaves no start for tile size {z}")
        n_s = Fraction(-(-(memory - z) // align))
        values = {T: n_t, Z: z, M: Fraction(memory), A: Fraction(align), S: n_s}
        return tuple(_exact(e, values, xv, wv) for e in (self.derived, self.closed_form))


_OPS = [{"KroneckerDelta": lambda i, j: int(i == j)}, "math"]


def _exact(expr, values, xv, wv) -> Fraction:
    syms = [X, W, T, Z, M, A, S]
    f = sp.lambdify(syms, expr, modules=_OPS)
    return Fraction(f(xv, wv, *(values[s] for s in syms[2:])))


def derive_tiles(name: str) -> TileDerivation:
    """Derive ``C1``-``C4`` (circular or ``-kernel``) for general ``T`` tiles of ``Z`` offsets.

    Parameters
    ----------
    name : str
        One of :data:`TILE_NAMES`. ``C1-kernel``: ``Var <w_hat, x>`` with a sign per element; ``C2``: with
        one sign per tile; ``C3``: without signs; ``-mean``: ``E <w_hat, x>`` without signs (with signs it
        is ``<x, w>``); ``C4``: ``E |w_hat - w|^2`` with one sign per tile (``-nosign``: none;
        :meth:`TileDerivation.evaluate` ignores ``x``).

    Returns
    -------
    TileDerivation

    Notes
    -----
    Closed forms (``p``, ``P3`` as in the module notes; circular ``p = 1/m``, ``P3 = 1/m^2``):
    ``C1: sum_{a != b} sum_{o, o'} p(o' - o) [x_ao^2 w_bo'^2 + x_ao w_ao x_bo' w_bo']``;
    ``C2: sum_{a != b} sum_d p(d) [C_ab(d)^2 + C_ab(d) D_ab(d)]``;
    ``C3 mean: <x, w> + sum_{a != b} sum_d p(d) C_ab(d)``;
    ``C3: (1/2) sum_{a != b} Var_p S_ab + sum_{a, b != c distinct} sum_{d1, d2} S_ab(d1) S_ac(d2)
    [P3(d1, d2) - p(d1) p(d2)]``, ``S_ab = C_ab + D_ab``, ``D_ab(d) = C_ba(-d)``.
    """
    if name not in TILE_NAMES:
        raise RoastTheoryError(f"name={name!r} is not a tiled derivation: choose one of "
                               f"{', '.join(TILE_NAMES)}")
    kernel = "kernel" in name
    if name.startswith("C4"):
        return TileDerivation(name, *_weight_error(kernel, not name.endswith("nosign")))
    sign = {"C1": "element", "C2": "tile", "C3": "none"}[name[:2]]
    d_mean, d_var = _derived(kernel, sign)
    c_mean, c_var = _closed(kernel, sign)
    if name.endswith("mean"):
        return TileDerivation(name, d_mean, c_mean)
    return TileDerivation(name, d_var, c_var)
