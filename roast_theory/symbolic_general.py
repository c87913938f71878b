"""General-``n`` symbolic derivations: moments as sympy ``Sum`` expressions from indicator expectations.

The square of ``Y = sum_{i,j} g_i g_j [h(i) = h(j)] x_i w_j`` is a sum over index tuples ``(i, j, k, l)``.
Group the tuples by their *coincidence pattern* (the set partition ``pi`` of the four positions saying
which indices are equal): inside one pattern the expectation ``E[g g g g] E[[h(i)=h(j)][h(k)=h(l)]]`` is a
constant ``e(pi)`` (signs: every sign variable an even number of times; collisions: pairwise independent
uniform slots, so a collision of two distinct elements has probability ``1/m``). Hence

    ``E[Y^2] = sum_pi e(pi) S_pi``, ``S_pi`` = the sum of ``x_i w_j x_k w_l`` over tuples of pattern pi.

Sums over *distinct* blocks are turned into unrestricted sums by Moebius inversion on the partition lattice,
``S_pi = sum_{sigma >= pi} mu(pi, sigma) T_sigma``, ``mu = prod_blocks (-1)^(c-1) (c-1)!``, and an
unrestricted sum factorises into power sums ``Sum(prod_p v_p[t], (t, 0, n-1))``. Tiles (result ``C1``) add
one level: elements are ``(a, o)`` (tile ``a < T``, offset ``o < Z``) and the collision probability also
depends on whether two distinct elements share a tile (then they never collide), handled the same way on
the tile indices. The results are exact expressions in symbolic ``n`` (or ``T``, ``Z``) and ``m``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sympy as sp

from ._symbols import M, N, T, W, X, Z
from .errors import RoastTheoryError
from .symbolic_tiles import TILE_NAMES, derive_tiles

_t, _a, _o = sp.symbols("t a o", integer=True)


def _partitions(items):
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in _partitions(rest):
        for i in range(len(part)):
            yield part[:i] + [[first] + part[i]] + part[i + 1:]
        yield [[first]] + part


def _coarsenings(pi):
    """All ``sigma >= pi`` (unions of blocks of ``pi``) with the Moebius factor ``mu(pi, sigma)``."""
    for grouping in _partitions(list(range(len(pi)))):
        mu = math.prod((-1) ** (len(g) - 1) * math.factorial(len(g) - 1) for g in grouping)
        yield [sum((pi[b] for b in g), []) for g in grouping], mu


#: Module ``l`` of result B2: its ``n_l`` elements are the first ones, ``m_l`` its local slots, ``lambda``
#: its scale; ``u`` the stored values of every module (``u_l = w_l / lambda_l``).
NL, ML, LAM = sp.Symbol("n_l", integer=True, positive=True), sp.Symbol("m_l", positive=True), \
    sp.Symbol("lambda", positive=True)
U = sp.IndexedBase("u")


@dataclass(frozen=True)
class _Module:
    """A vector supported on one module only (indices ``lo <= t < hi``; default module ``l``: ``t < n_l``)."""

    base: sp.IndexedBase
    lo: sp.Expr = sp.S.Zero
    hi: sp.Expr = NL


def _power_sum(vectors, positions):
    """``Sum_t prod_{p} v_p[t]`` (element level; over the module's range when a factor lives on one module,
    every restricted factor of one product lying on the same module)."""
    mods = [vectors[p] for p in positions if isinstance(vectors[p], _Module)]
    lo, hi = (mods[0].lo, mods[0].hi) if mods else (sp.S.Zero, N)
    return sp.Sum(sp.Mul(*[_at(vectors[p]) for p in positions]), (_t, lo, hi - 1))


def _at(v):
    """``v[t]`` for an indexed vector, the constant itself otherwise (the all-ones vector is ``1``)."""
    if isinstance(v, _Module):
        return v.base[_t]
    return v[_t] if isinstance(v, sp.IndexedBase) else v


def _distinct_sum(pi, vectors):
    """Sum of ``prod_p v_p[index_p]`` over tuples whose coincidence pattern is exactly ``pi``."""
    return sp.Add(*[mu * sp.Mul(*[_power_sum(vectors, blk) for blk in sigma])
                    for sigma, mu in _coarsenings(pi)])


def _sign_even(pi, pairs_with_signs):
    return all(sum(1 for blk in pi for p in blk if p in group) % 2 == 0 for group in pairs_with_signs)


def _collision(pi, pairs):
    """``E prod [h(u) = h(v)]`` for element hashing: ``m^-r``, ``r`` = distinct-element pairs (rank)."""
    block = {p: b for b, blk in enumerate(pi) for p in blk}
    parent = list(range(len(pi)))

    def find(u):
        while parent[u] != u:
            u = parent[u]
        return u

    rank = 0
    for u, v in pairs:
        a, b = find(block[u]), find(block[v])
        if a != b:
            parent[a] = b
            rank += 1
    return M ** (-rank)


def _element_second_moment(vectors, signed: bool):
    """``E[Y^2]`` for ``Y = sum_{i,j} g_i g_j [h(i)=h(j)] v0_i v1_j``, ``vectors = (v0, v1, v0, v1)``."""
    total = 0
    for pi in _partitions([0, 1, 2, 3]):
        if signed and not all(len([p for p in blk]) % 2 == 0 for blk in pi):
            continue
        total += _collision(pi, [(0, 1), (2, 3)]) * _distinct_sum(pi, vectors)
    return total


def _element_mean(v0, v1, signed: bool):
    total = 0
    for pi in _partitions([0, 1]):
        if signed and len(pi) == 2:
            continue
        total += _collision(pi, [(0, 1)]) * _distinct_sum(pi, (v0, v1))
    return total


def _q_closed(x, w):
    s = lambda *vs: sp.Sum(sp.Mul(*[v[_t] for v in vs]), (_t, 0, N - 1))  # noqa: E731
    return s(x, x) * s(w, w) + s(x, w) ** 2 - 2 * s(x, x, w, w)


def _weight_mse_derived():
    """``E|w_hat - w|^2 = sum_i E[(sum_{j != i} g_i g_j [h_i = h_j] w_j)^2]`` (patterns of ``(i, j, k)``)."""
    total = 0
    for pi in _partitions([0, 1, 2]):  # positions: i (unit weight), j, k; j != i, k != i; signs g_j g_k even
        block = {p: b for b, blk in enumerate(pi) for p in blk}
        if block[1] == block[0] or block[2] == block[0] or block[1] != block[2]:
            continue
        total += M ** (-1) * _distinct_sum(pi, (sp.S.One, W, W))
    return total


@dataclass(frozen=True)
class GeneralDerivation:
    """``derived`` (from indicator expectations) and the package's ``closed_form``, both for general ``n``."""

    name: str
    derived: sp.Expr
    closed_form: sp.Expr

    @property
    def matches(self) -> bool:
        """True when :meth:`difference` is exactly 0 (a symbolic proof for every ``n`` and ``m``)."""
        return self.difference() == 0

    def difference(self) -> sp.Expr:
        """``derived - closed_form`` after expanding the products of sums (0 when the proof goes through)."""
        e = (self.derived - self.closed_form).doit()
        for _ in range(3):  # split sums of terms, pull constants out, evaluate sums of constants
            e = sp.expand(e).replace(lambda z: isinstance(z, sp.Sum),
                                     lambda z: sp.Sum(sp.expand(z.function), *z.limits).expand().doit())
        return sp.simplify(e)

    def evaluate(self, values: dict, n: int, memory, module=None) -> sp.Rational:
        """Exact value for concrete ``n`` and vectors (``values = {"x": [...], "w": [...], ...}``).

        For ``C1`` the vectors are ``(T, Z)`` nested lists (tile ``a``, offset ``o``) and ``n`` is ignored.
        For ``B2-*`` ``module = (n_l, m_l, lambda)``: module ``l`` is the first ``n_l`` elements.
        """
        first = next(iter(values.values()))
        if self.name == "C1":
            sizes = {T: len(first), Z: len(first[0])}
        else:
            sizes = {N: n}
        if module is not None:
            sizes.update({NL: module[0], ML: sp.nsimplify(module[1]), LAM: sp.nsimplify(module[2])})
        expr = self.derived.subs({**sizes, M: sp.Integer(memory)}).doit()
        subs = {}
        for name, vals in values.items():
            base = sp.IndexedBase(name)
            if self.name == "C1":
                subs.update({base[a, o]: sp.Rational(v)
                             for a, row in enumerate(vals) for o, v in enumerate(row)})
            else:
                subs.update({base[i]: sp.Rational(v) for i, v in enumerate(vals)})
        return sp.nsimplify(expr.subs(subs))


def derive(name: str) -> GeneralDerivation:
    """Derive result ``name`` for general ``n`` from indicator expectations.

    Parameters
    ----------
    name : str
        One of :data:`NAMES` (proved symbolically) or :data:`TILE_NAMES` (``"C2"``, ``"C3"``, ``"C3-mean"``
        and their ``-kernel`` versions, checked on exact-rational instances).
        ``A``: ``Var <w_hat, x>`` with signs (closed form ``Q(x, w)/m``); ``A-mean-nosign``: the mean without
        signs; ``weight-mse``: ``E|w_hat - w|^2 = (n - 1)|w|^2/m``; ``B1``: the hashed kernel ``Q(x, x2)/m``;
        ``B3-global``: ``V_G = Q(x, w)/m`` for the concatenated modules (``V_L``: ``A`` summed per module).
        ``B2-global``: module ``l``'s output ``lambda <x_l, u_hat_l>`` with every module's stored values ``u``
        in ``m`` slots, ``(lambda^2/m)[|x_l|^2 |u|^2 + <x_l, u_l>^2 - 2 sum_l x_i^2 u_i^2]`` (sums over
        ``t < n_l`` for module ``l``); ``B2-local``: the module alone in ``m_l`` slots, ``Q(x_l, w_l)/m_l``.
        ``B3-local``: two modules (``t < n_l``, ``n_l <= t < n``) in ``m_l`` and ``m - m_l`` slots;
        ``B3-identity``: ``m (V_L - V_G)`` = covariance + alignment + diagonal terms (``q_l = m_l / m``).
        The tiled results ``C2``, ``C3``, ``C3-mean`` and their ``-kernel`` versions come from
        :func:`roast_theory.symbolic_tiles.derive_tiles` (checked on exact-rational instances).

    Returns
    -------
    GeneralDerivation or TileDerivation
    """
    s = lambda *vs: sp.Sum(sp.Mul(*[v[_t] for v in vs]), (_t, 0, N - 1))  # noqa: E731
    if name in ("A", "B3-global"):
        second = _element_second_moment((X, W, X, W), True)
        derived = second - _element_mean(X, W, True) ** 2
        return GeneralDerivation(name, derived, _q_closed(X, W) / M)
    if name == "B1":
        x2 = sp.IndexedBase("x2")
        derived = _element_second_moment((X, x2, X, x2), True) - _element_mean(X, x2, True) ** 2
        return GeneralDerivation(name, derived, _q_closed(X, x2) / M)
    if name == "A-mean-nosign":
        return GeneralDerivation(name, _element_mean(X, W, False), s(X, W) + (s(X) * s(W) - s(X, W)) / M)
    if name == "weight-mse":
        return GeneralDerivation(name, _weight_mse_derived(), (N - 1) * s(W, W) / M)
    if name == "C1":
        return GeneralDerivation(name, _tile_variance_c1(), _c1_closed())
    if name in ("B2-global", "B2-local"):
        return _b2(name)
    if name in ("B3-local", "B3-identity"):
        return _b3(name)
    if name in TILE_NAMES:
        return derive_tiles(name)
    raise RoastTheoryError(f"name={name!r} is not derived here: choose one of "
                           f"{', '.join(NAMES + TILE_NAMES)}")


def _b2(name: str) -> GeneralDerivation:
    """B2: module ``l``'s output ``lambda <x_l, u_hat_l>``; globally ``u`` is every module's stored values in
    ``m`` slots, locally the module alone (``w_l``) in ``m_l`` slots."""
    xl = _Module(X)
    if name == "B2-global":
        var = _element_second_moment((xl, U, xl, U), True) - _element_mean(xl, U, True) ** 2
        s = lambda *vs: _power_sum(vs, range(len(vs)))  # noqa: E731
        closed = LAM**2 / M * (s(xl, xl) * s(U, U) + s(xl, U) ** 2 - 2 * s(xl, xl, U, U))
        return GeneralDerivation(name, LAM**2 * var, closed)
    wl = _Module(W)
    var = _element_second_moment((xl, wl, xl, wl), True) - _element_mean(xl, wl, True) ** 2
    s = lambda *vs: _power_sum(vs, range(len(vs)))  # noqa: E731
    closed = (s(xl, xl) * s(wl, wl) + s(xl, wl) ** 2 - 2 * s(xl, xl, wl, wl)) / ML
    return GeneralDerivation(name, var.subs(M, ML), closed)


def _module_variance(xl, wl, memory):
    """Element-hashing ``Var <x_l, w_hat_l>`` of one module hashed alone into ``memory`` slots."""
    var = _element_second_moment((xl, wl, xl, wl), True) - _element_mean(xl, wl, True) ** 2
    return var.subs(M, memory)


def _split_full_sums(expr):
    """Write every ``Sum`` over ``0 <= t < n`` as the sum over module 1 (``t < n_l``) plus module 2."""
    def split(z):
        (var, lo, hi), = z.limits
        if lo == 0 and hi == N - 1:
            return sp.Sum(z.function, (var, 0, NL - 1)) + sp.Sum(z.function, (var, NL, N - 1))
        return z
    return expr.replace(lambda z: isinstance(z, sp.Sum) and len(z.limits) == 1, split)


def _b3(name: str) -> GeneralDerivation:
    """B3 with two modules (``t < n_l`` and ``n_l <= t < n``), local budgets ``m_l`` and ``m - m_l``.

    ``B3-local``: ``V_L = Q(x_1, w_1)/m_1 + Q(x_2, w_2)/m_2``. ``B3-identity``: ``m (V_L - V_G)`` equals
    the covariance + alignment + diagonal decomposition of :func:`roast_theory.sharing_variance` with
    ``q_l = m_l / m``.
    """
    mods = [(_Module(X), _Module(W)), (_Module(X, NL, N), _Module(W, NL, N))]
    budgets = (ML, M - ML)
    v_l = sum(_module_variance(xl, wl, b) for (xl, wl), b in zip(mods, budgets))
    s = lambda *vs: _power_sum(vs, range(len(vs)))  # noqa: E731
    q = [s(xl, xl) * s(wl, wl) + s(xl, wl) ** 2 - 2 * s(xl, xl, wl, wl) for xl, wl in mods]
    if name == "B3-local":
        return GeneralDerivation(name, v_l, q[0] / ML + q[1] / (M - ML))
    v_g = _split_full_sums((_element_second_moment((X, W, X, W), True) - _element_mean(X, W, True) ** 2)
                           .doit())
    frac = [b / M for b in budgets]
    xx, ww, xw, dd = ([s(*[mod[i] for i in idx]) for mod in mods]
                      for idx in ((0, 0), (1, 1), (0, 1), (0, 0, 1, 1)))
    cov = sum(a * b / f for a, b, f in zip(xx, ww, frac)) - sum(xx) * sum(ww)
    align = sum(c**2 / f for c, f in zip(xw, frac)) - sum(xw) ** 2
    diag = -2 * (sum(d / f for d, f in zip(dd, frac)) - sum(dd))
    return GeneralDerivation(name, M * (v_l - v_g), cov + align + diag)


def _offset_sum(pi_block, vectors):
    """``F_B(a)``: sum over offsets of the elements of one tile block, distinct per element block."""
    total = 0
    for sigma, mu in _coarsenings(pi_block):
        total += mu * sp.Mul(*[sp.Sum(sp.Mul(*[vectors[p][_a, _o] for p in blk]), (_o, 0, Z - 1))
                               for blk in sigma])
    return total


def _tile_distinct_sum(pi, tau, vectors):
    """Sum of ``prod_p v_p[a_p, o_p]`` over tuples of element pattern exactly ``pi``, tile pattern ``tau``."""
    inner = {}
    for b, tblk in enumerate(tau):
        inner[b] = [eblk for eblk in pi if eblk[0] in tblk]
    total = 0
    for sigma, mu in _coarsenings([[b] for b in range(len(tau))]):
        term = 1
        for group in sigma:
            term *= sp.Sum(sp.Mul(*[_offset_sum(inner[b], vectors) for b in group]), (_a, 0, T - 1))
        total += mu * term
    return total


def _tile_variance_c1():
    """``Var <w_hat, x>``: tiles, per-element signs, circular placement (one tile's pairs never meet)."""
    vectors = (X, W, X, W)
    second, mean = 0, 0
    for pi in _partitions([0, 1, 2, 3]):
        if not all(len(blk) % 2 == 0 for blk in pi):
            continue
        for tau_groups in _partitions(list(range(len(pi)))):
            tau = [sum((pi[b] for b in g), []) for g in tau_groups]
            tile_of = {p: t for t, blk in enumerate(tau) for p in blk}
            elem_of = {p: e for e, blk in enumerate(pi) for p in blk}
            if any(elem_of[u] != elem_of[v] and tile_of[u] == tile_of[v] for u, v in ((0, 1), (2, 3))):
                continue  # two distinct elements of one tile never share a slot
            second += _collision(pi, [(0, 1), (2, 3)]) * _tile_distinct_sum(pi, tau, vectors)
    for pi in _partitions([0, 1]):  # the mean: only i = j survives the signs
        if len(pi) == 1:
            mean += _tile_distinct_sum(pi, pi, (X, W))
    return second - mean**2


def _c1_closed():
    s = lambda *vs: sp.Sum(sp.Sum(sp.Mul(*[v[_a, _o] for v in vs]), (_o, 0, Z - 1)), (_a, 0, T - 1))  # noqa: E731
    q_all = s(X, X) * s(W, W) + s(X, W) ** 2 - 2 * s(X, X, W, W)
    so = lambda *vs: sp.Sum(sp.Mul(*[v[_a, _o] for v in vs]), (_o, 0, Z - 1))  # noqa: E731
    q_tiles = sp.Sum(so(X, X) * so(W, W) + so(X, W) ** 2 - 2 * so(X, X, W, W), (_a, 0, T - 1))
    return (q_all - q_tiles) / M


#: Results :func:`derive` knows.
NAMES = ("A", "A-mean-nosign", "weight-mse", "B1", "B2-global", "B2-local", "B3-global", "B3-local",
         "B3-identity", "C1")
