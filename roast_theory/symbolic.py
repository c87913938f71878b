"""Symbolic derivations (sympy) of results A, C1, C2 and the B3 identity from hash expectations.

The estimator is expanded as ``<w_hat, x> = sum_{i,j} g(i) g(j) [h(i) = h(j)] x_i w_j`` and its square as a
sum over ``i, j, k, l``. Expectations are taken term by term with two rules:

* signs: ``E[g(i) g(j) g(k) g(l)] = 1`` when every sign variable appears an even number of times, else 0
  (a sign variable is the element for ``sign="element"``, its tile for ``"tile"``; ``"none"`` has none);
* collisions: ``[h(i) = h(j)]`` with ``h(i) = s_t(i) + o(i)`` is the linear constraint
  ``s_a - s_b = o(j) - o(i)`` between independent uniform tile starts. A product of indicators is a system of
  such constraints; its probability is ``m^-r`` with ``r`` the number of independent constraints, or 0 if the
  system is inconsistent (solved by a weighted union-find). Same-tile pairs collide iff ``i = j``.

This is exact for circular placement when ``m`` exceeds every lag that can arise (``m >= 4Z`` suffices); the
results are polynomials in ``1/m`` and are compared with the closed forms for symbolic ``x``, ``w``, ``m``.
Numeric versions are made once with :func:`sympy.lambdify` and cached.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np
import sympy as sp

from ._validate import check_choice, check_int, check_same_shape, check_vector
from .errors import RoastTheoryError
from .symbolic_general import NAMES, GeneralDerivation, derive  # noqa: F401 - general-n derivations

MAX_SYMBOLIC_N = 8
M_SYM = sp.Symbol("m", positive=True)


@dataclass(frozen=True)
class SymbolicDerivation:
    """A derived expression, the closed form it is compared with, and their simplified difference."""

    derived: sp.Expr
    closed_form: sp.Expr
    difference: sp.Expr

    @property
    def matches(self) -> bool:
        """True when ``derived - closed_form`` simplifies to 0."""
        return self.difference == 0


def symbols(n: int) -> tuple[tuple[sp.Symbol, ...], tuple[sp.Symbol, ...]]:
    """Symbols ``x0..x{n-1}`` and ``w0..w{n-1}``."""
    return sp.symbols(f"x0:{n}", real=True), sp.symbols(f"w0:{n}", real=True)


def q_expr(x, w) -> sp.Expr:
    """``Q(x, w) = |x|^2 |w|^2 + <x, w>^2 - 2 sum_i x_i^2 w_i^2`` as a sympy expression."""
    sx = sum(a * a for a in x)
    sw = sum(b * b for b in w)
    xw = sum(a * b for a, b in zip(x, w))
    return sx * sw + xw**2 - 2 * sum(a * a * b * b for a, b in zip(x, w))


def _layout(n: int, tile: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    return tuple(i // tile for i in range(n)), tuple(i % tile for i in range(n))


def _collision_rank(pairs, tile_of, offset) -> int | None:
    """Number of independent start constraints imposed by the pairs, or None if inconsistent."""
    parent: dict[int, int] = {}
    pot: dict[int, int] = {}  # pot[a] = s_a - s_parent(a)

    def find(a):
        p = 0
        while parent.get(a, a) != a:
            p += pot[a]
            a = parent[a]
        return a, p

    rank = 0
    for i, j in pairs:
        a, b = tile_of[i], tile_of[j]
        lag = offset[j] - offset[i]  # need s_a - s_b = lag
        if a == b:
            if lag != 0:
                return None
            continue
        ra, pa = find(a)
        rb, pb = find(b)
        if ra == rb:
            if pa - pb != lag:
                return None
            continue
        parent[ra] = rb
        pot[ra] = lag - pa + pb
        rank += 1
    return rank


def _sign_mean(keys) -> int:
    counts: dict[int, int] = {}
    for k in keys:
        counts[k] = counts.get(k, 0) ^ 1
    return 0 if any(counts.values()) else 1


@functools.lru_cache(maxsize=64)
def derive_moments(n: int, tile: int = 1, sign: str = "element") -> tuple[sp.Expr, sp.Expr]:
    """``(E <w_hat, x>, Var <w_hat, x>)`` for ``n`` symbolic elements in chunks of ``tile`` (circular).

    Notes
    -----
    ``E[Y] = sum_{ij} E[g g] P(h_i = h_j) x_i w_j``,
    ``E[Y^2] = sum_{ijkl} E[g g g g] P(h_i = h_j, h_k = h_l) x_i w_j x_k w_l``, ``Var = E[Y^2] - E[Y]^2``.
    """
    n = check_int("n", n, low=1, high=MAX_SYMBOLIC_N)
    tile = check_int("tile", tile, low=1)
    sign = check_choice("sign", sign, ("element", "tile", "none"))
    x, w = symbols(n)
    tile_of, offset = _layout(n, tile)
    key = {"element": lambda i: (i,), "tile": lambda i: (tile_of[i],), "none": lambda i: ()}[sign]
    inv_m = 1 / M_SYM
    mean_terms = []
    for i, j in itertools.product(range(n), repeat=2):
        if _sign_mean(key(i) + key(j)):
            r = _collision_rank([(i, j)], tile_of, offset)
            if r is not None:
                mean_terms.append(x[i] * w[j] * inv_m**r)
    sq_terms = []
    for i, j, k, l in itertools.product(range(n), repeat=4):
        if _sign_mean(key(i) + key(j) + key(k) + key(l)):
            r = _collision_rank([(i, j), (k, l)], tile_of, offset)
            if r is not None:
                sq_terms.append(x[i] * w[j] * x[k] * w[l] * inv_m**r)
    mean = sp.expand(sp.Add(*mean_terms))
    var = sp.expand(sp.Add(*sq_terms) - mean**2)
    return mean, var


def derive_element_variance(n: int = 4) -> SymbolicDerivation:
    """Result A: derived ``Var`` for element hashing with signs against ``Q(x, w) / m``."""
    x, w = symbols(n)
    _, var = derive_moments(n, 1, "element")
    closed = q_expr(x, w) / M_SYM
    return SymbolicDerivation(var, closed, sp.simplify(sp.expand(var - closed)))


def derive_tile_variance(n: int = 6, tile: int = 3) -> SymbolicDerivation:
    """Result C1: derived ``Var`` for per-element signs in chunks against ``(Q - sum_t Q_t) / m``."""
    x, w = symbols(n)
    _, var = derive_moments(n, tile, "element")
    tiles = [range(s, min(s + tile, n)) for s in range(0, n, tile)]
    closed = (q_expr(x, w) - sum(q_expr([x[i] for i in t], [w[i] for i in t]) for t in tiles)) / M_SYM
    return SymbolicDerivation(var, closed, sp.simplify(sp.expand(var - closed)))


def derive_sharing_identity(sizes=(2, 2)) -> SymbolicDerivation:
    """B3 for k modules of the given sizes: derive ``m (V_L - V_G)`` and compare with the decomposition.

    ``V_G`` is the derived element-hashing variance of all ``n`` elements in ``m`` slots; ``V_L`` the sum of
    the derived per-module variances with ``m`` replaced by ``m_l = p_l m``. The closed form is
    ``n^2 Cov_p(a, b) + [sum_l <x_l, w_l>^2 / p_l - <x, w>^2] - 2 [sum_l D_l / p_l - D]``.
    """
    sizes = tuple(check_int("sizes[i]", s, low=1) for s in sizes)
    n = sum(sizes)
    if n > MAX_SYMBOLIC_N:
        raise RoastTheoryError(f"sum(sizes)={n} must be <= {MAX_SYMBOLIC_N} for the symbolic derivation")
    x, w = symbols(n)
    _, v_g = derive_moments(n, 1, "element")
    bounds = np.cumsum((0,) + sizes)
    v_l = 0
    cov_ab, pa, pb, align, diag = 0, 0, 0, 0, 0
    xw_all = sum(a * b for a, b in zip(x, w))
    d_all = sum(a * a * b * b for a, b in zip(x, w))
    for l, n_l in enumerate(sizes):
        idx = range(bounds[l], bounds[l + 1])
        xl, wl = [x[i] for i in idx], [w[i] for i in idx]
        _, v_mod = derive_moments(n_l, 1, "element")
        xm, wm = symbols(n_l)
        p_l = sp.Rational(n_l, n)
        renamed = v_mod.subs({**dict(zip(xm, xl)), **dict(zip(wm, wl))}, simultaneous=True)
        v_l += renamed.subs(M_SYM, p_l * M_SYM)
        a_l = sum(v * v for v in xl) / n_l
        b_l = sum(v * v for v in wl) / n_l
        cov_ab += p_l * a_l * b_l
        pa += p_l * a_l
        pb += p_l * b_l
        align += sum(a * b for a, b in zip(xl, wl)) ** 2 / p_l
        diag += sum(a * a * b * b for a, b in zip(xl, wl)) / p_l
    derived = sp.expand(M_SYM * (v_l - v_g))
    closed = n**2 * (cov_ab - pa * pb) + (align - xw_all**2) - 2 * (diag - d_all)
    return SymbolicDerivation(derived, sp.expand(closed), sp.simplify(derived - sp.expand(closed)))


@functools.lru_cache(maxsize=64)
def _lambdified(n: int, tile: int, sign: str):
    x, w = symbols(n)
    mean, var = derive_moments(n, tile, sign)
    args = (*x, *w, M_SYM)
    return sp.lambdify(args, mean, "math"), sp.lambdify(args, var, "math")


def symbolic_moments(x, w, memory, tile: int = 1, sign: str = "element") -> tuple[float, float]:
    """Numeric ``(mean, variance)`` from the symbolic derivation (small ``n <= 8``, circular placement).

    Notes
    -----
    Valid when ``memory`` is large enough that lags cannot wrap (``memory >= 4 * tile`` is enforced).
    """
    xv, wv = check_vector("x", x), check_vector("w", w)
    check_same_shape("x", xv, "w", wv)
    if xv.size > MAX_SYMBOLIC_N:
        raise RoastTheoryError(f"x has {xv.size} elements: the symbolic route allows <= {MAX_SYMBOLIC_N}")
    tile = check_int("tile", tile, low=1)
    m = check_int("memory", memory, low=max(4 * tile, 1))
    f_mean, f_var = _lambdified(xv.size, tile, check_choice("sign", sign, ("element", "tile", "none")))
    args = (*xv.tolist(), *wv.tolist(), m)
    return float(f_mean(*args)), float(f_var(*args))
