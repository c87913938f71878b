"""Hash families: an ideal keyed random hash and the exact linear hashes of the ROAST / HashedNet kernels.

Every family is a frozen object reproducible from ``seed`` and offers the same small protocol, so any
family can drive any mapping (:mod:`roast_theory.mappings`):

``family.tile_starts(kb, nb, span)``
    int64 start in ``[0, span)`` of the tile with block coordinates ``(kb, nb)``.
``family.element_slots(k, n, memory)``
    int64 slot in ``[0, memory)`` of the element ``(k, n)`` (element hashing, HashedNet).
``family.signs(a, b=0)`` / ``family.sign_grid(shape)``
    int8 sign ``+-1`` for the keys ``(a, b)`` / for every element of a weight shape.
``family.raw(a, b)``
    the value before the final reduction: ``tile_starts(kb, nb, span) == raw(kb, nb) % span``.

The kernel families are linear modulo a prime ``P`` and have no sign: the authors' kernels multiply by
no sign at all. ``signs`` of a kernel family comes from a *separate* seeded Rademacher hash
(:class:`SignHash`, seeded from ``seed``), which is not part of any kernel; it lets a kernel placement be
combined with any sign convention. ``family.has_kernel_sign`` is ``False`` for every kernel family.

Kernel parameters: unless given explicitly (``r=(R1, ..., Rk)``), ``R1..Rk`` are
``numpy.random.default_rng(seed).integers(0, P, size=k)`` read in order (the authors draw theirs from
torch's generator; only the law, uniform on ``[0, P)``, is reproduced, not their values).

Keys are non-negative integer arrays (numpy broadcasting applies). All kernel arithmetic is exact for
every non-negative int64 key: keys are reduced modulo ``P`` before each multiplication, so each product
is below ``P**2 < 2**63`` (``P = 2038074743``: ``P**2 ~ 4.15e18``; ``P = 45007``: ``P**2 ~ 2.03e9``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._deprecation import renamed_kwargs
from ._validate import (
    check_choice,
    check_int,
    check_keys,
    check_power_of_two,
    check_shape,
    check_tile_pair,
    plain,
)
from .errors import RoastTheoryError

#: Prime of RzLinear's ``stable`` tile hash.
P_STABLE = 45007
#: Prime of RzLinear ``v1_combined``, the HashedNet Triton baseline and ROBE-Z.
P_LARGE = 2038074743

FAMILY_NAMES = ("ideal", "rz-stable", "rz-v1", "hashednet-triton", "robez")

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


# ----------------------------------------------------------------------------------------------- helpers
def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser on uint64 arrays (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = np.asarray(x, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _prf64(key: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Keyed pseudo-random 64-bit value of the key pair ``(a, b)``.

    ``F_key(a, b) = mix(mix(K xor mix(a + c1)) + mix(b xor c2))``, ``K = mix(key)``, ``mix`` the
    splitmix64 finaliser, ``c1, c2`` fixed odd constants (asymmetric in ``a`` and ``b``: no pair of
    distinct keys can meet by construction).
    """
    k = _splitmix64(np.uint64(key & 0xFFFFFFFFFFFFFFFF))
    with np.errstate(over="ignore"):
        h = _splitmix64(k ^ _splitmix64(a.astype(np.uint64) + np.uint64(0x632BE59BD9B4E019)))
        return _splitmix64(h + _splitmix64(b.astype(np.uint64) ^ np.uint64(0x8CB92BA72F3D8DD7)))


def _lin3(P: int, c: np.ndarray, ra: np.ndarray, rb: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(a*ra + b*rb + c) mod P`` exactly in int64 (``ra, rb, c`` in ``[0, P)``, ``a, b >= 0``)."""
    P64 = np.int64(P)
    # No in-place ops: the operands may only broadcast together (keys (n, 1) and (1, m), or per-trial
    # parameters against per-tile keys), and the sum must take the full broadcast shape.
    t = ((a % P64) * ra) % P64 + ((b % P64) * rb) % P64 + c
    return t % P64


# ----------------------------------------------------------------------------------------------- signs
@dataclass(frozen=True)
class SignHash:
    """Seeded Rademacher sign hash ``g(a, b) in {-1, +1}``.

    Parameters
    ----------
    seed : int
        Non-negative seed; ``stream`` separates independent sign hashes of one seed.
    stream : int
        Stream number (default 1; the ideal family's positions use stream 0).

    Notes
    -----
    ``g(a, b) = 1 - 2 * top_bit(F_key(a, b))`` with ``F`` the keyed splitmix64 function of
    :class:`IdealHash`, key ``= seed * 2**8 + stream``. Values for distinct keys behave as independent
    fair signs (checked by tests for balance and pairwise independence).
    """

    seed: int = 0
    stream: int = 1

    def __post_init__(self):
        check_int("seed", self.seed, low=0)
        check_int("stream", self.stream, low=0, high=255)

    @property
    def key(self) -> int:
        return (self.seed * 256 + self.stream) & 0xFFFFFFFFFFFFFFFF

    def signs(self, a, b=0) -> np.ndarray:
        """int8 signs ``+-1`` of the keys ``(a, b)`` (broadcast)."""
        a_, b_ = np.broadcast_arrays(check_keys("a", a), check_keys("b", b))
        bit = (_prf64(self.key, a_, b_) >> np.uint64(63)).astype(np.int8)
        return (1 - 2 * bit).astype(np.int8)


# ----------------------------------------------------------------------------------------------- base
class _Family:
    """Shared protocol; subclasses define ``raw(a, b)`` (non-negative int64/uint64)."""

    name: str = ""
    has_kernel_sign: bool = False

    def raw(self, a, b) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def tile_starts(self, kb, nb, span) -> np.ndarray:
        """Start in ``[0, span)`` of tile ``(kb, nb)``: ``raw(kb, nb) mod span``."""
        span = check_int("span", span, low=1)
        r = self.raw(check_keys("kb", kb), check_keys("nb", nb))
        return (r % r.dtype.type(span)).astype(np.int64)

    @renamed_kwargs(m="memory")
    def element_slots(self, k, n, memory) -> np.ndarray:
        """Slot in ``[0, m)`` of element ``(k, n)``: ``raw(k, n) mod m`` (``m = memory``)."""
        memory = check_int("memory", memory, low=1)
        r = self.raw(check_keys("k", k), check_keys("n", n))
        return (r % r.dtype.type(memory)).astype(np.int64)

    @property
    def sign_hash(self) -> SignHash:
        """Stream 1 of the family's ``seed`` (every family has one)."""
        return SignHash(self.seed, 1)

    def signs(self, a, b=0) -> np.ndarray:
        """int8 Rademacher signs of keys ``(a, b)`` from :attr:`sign_hash` (not part of any kernel)."""
        return self.sign_hash.signs(a, b)

    def sign_grid(self, shape) -> np.ndarray:
        """Signs of every element of a weight of ``shape``: keys ``(k, n)``, or ``(0, i)`` when 1-D."""
        dims = check_shape("shape", shape)
        if len(dims) == 1:
            return self.signs(0, np.arange(dims[0]))
        return self.signs(np.arange(dims[0])[:, None], np.arange(dims[1])[None, :])


# ----------------------------------------------------------------------------------------------- ideal
@dataclass(frozen=True)
class IdealHash(_Family):
    """Ideal hashing: independent uniform positions and fair signs, reproducible from ``seed``.

    Parameters
    ----------
    seed : int
        Non-negative seed.

    Notes
    -----
    Positions are a keyed pseudo-random function: ``raw(a, b) = F_key(a, b)``, a 64-bit value from
    splitmix64 chained over ``(key, a, b)`` with ``key = seed * 2**8`` (see ``_prf64``); the start / slot is
    ``raw mod span`` (modulo bias at most ``span / 2**64``). The same key always gives the same value,
    distinct keys give (pseudo-)independent uniform values. Signs use stream 1 of the same seed.
    For bulk independent draws (Monte Carlo), :meth:`generator` gives ``numpy.random.default_rng(seed)``.
    """

    seed: int = 0
    name: str = field(default="ideal", init=False)
    has_kernel_sign: bool = field(default=True, init=False)

    def __post_init__(self):
        check_int("seed", self.seed, low=0)

    def generator(self) -> np.random.Generator:
        """A fresh ``numpy.random.default_rng(seed)``."""
        return np.random.default_rng(self.seed)

    def raw(self, a, b) -> np.ndarray:
        a_, b_ = np.broadcast_arrays(check_keys("a", a), check_keys("b", b))
        return _prf64((self.seed * 256) & 0xFFFFFFFFFFFFFFFF, a_, b_)


# ----------------------------------------------------------------------------------------------- kernels
@dataclass(frozen=True)
class _KernelFamily(_Family):
    """A linear hash mod ``P`` with parameters ``r = (R1, ..., Rk)`` in ``[0, P)``.

    ``r`` defaults to ``numpy.random.default_rng(seed).integers(0, P, size=k)`` read as ``R1..Rk``.
    """

    seed: int = 0
    r: tuple | None = None
    P = 0
    n_params = 0

    def __post_init__(self):
        self._init_params()

    def _init_params(self):
        check_int("seed", self.seed, low=0)
        if self.r is None:
            r = self.draw_params(np.random.default_rng(self.seed), None)
            object.__setattr__(self, "r", tuple(int(v) for v in r))
        else:
            r = tuple(self.r)
            if len(r) != self.n_params:
                raise RoastTheoryError(
                    f"r={plain(self.r)!r} must have {self.n_params} values R1..R{self.n_params}"
                )
            for i, v in enumerate(r):
                check_int(f"r[{i}] (R{i + 1})", v, low=0, high=self.P - 1)
            object.__setattr__(self, "r", tuple(int(v) for v in r))

    @classmethod
    def draw_params(cls, rng: np.random.Generator, size) -> np.ndarray:
        """Draw ``R1..Rk`` uniformly in ``[0, P)``: shape ``(k,)`` or ``(size, k)`` int64."""
        shape = (cls.n_params,) if size is None else (int(size), cls.n_params)
        return rng.integers(0, cls.P, size=shape, dtype=np.int64)

    @classmethod
    def formula(cls, r, a: np.ndarray, b: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def raw(self, a, b) -> np.ndarray:
        r = [np.int64(v) for v in self.r]
        return self.formula(r, check_keys("a", a), check_keys("b", b))


@dataclass(frozen=True)
class RzStableHash(_KernelFamily):
    """RzLinear ``stable`` tile hash (P = 45007).

    Parameters
    ----------
    seed : int
        Seed for ``R1..R7`` (when ``r`` is not given) and for the separate sign hash.
    r : tuple of 7 int, optional
        Explicit ``(R1, ..., R7)`` in ``[0, P)``; ``R6`` is unused by the kernel formula.

    Notes
    -----
    .. math:: s(kb, nb) = [((kb R_3 + nb R_2 + R_1) \\bmod P) P + ((kb R_7 + nb R_5 + R_4) \\bmod P)]
              \\bmod (m - BK\\,BN)

    ``raw(kb, nb)`` is the bracket (in ``[0, P^2)``); ``tile_starts(kb, nb, m - BK*BN)`` is ``s``.
    """

    name: str = field(default="rz-stable", init=False)
    P = P_STABLE
    n_params = 7

    @classmethod
    def formula(cls, r, a, b):
        R1, R2, R3, R4, R5, _R6, R7 = r
        hi = _lin3(cls.P, R1, R3, R2, a, b)
        lo = _lin3(cls.P, R4, R7, R5, a, b)
        return hi * np.int64(cls.P) + lo


class _Linear3Family(_KernelFamily):
    """``raw(a, b) = (a R_a + b R_b + R_c) mod P`` with ``(R_c, R_a, R_b)`` picked from ``r`` by ``lin3``."""

    n_params = 3
    lin3 = (0, 2, 1)  # indices of (R_c, R_a, R_b) in r: (R1, R3, R2)

    @classmethod
    def formula(cls, r, a, b):
        c, ra, rb = (r[i] for i in cls.lin3)
        return _lin3(cls.P, c, ra, rb, a, b)


@dataclass(frozen=True)
class RzV1Hash(_Linear3Family):
    """RzLinear ``v1_combined`` tile hash (P = 2038074743).

    Notes
    -----
    .. math:: s(kb, nb) = ((kb R_3 + nb R_2 + R_1) \\bmod P) \\bmod (m - BK\\,BN)

    ``r = (R1, R2, R3)``.
    """

    name: str = field(default="rz-v1", init=False)
    P = P_LARGE


@dataclass(frozen=True)
class HashedNetTritonHash(_Linear3Family):
    """HashedNet Triton baseline element hash (P = 2038074743, no sign).

    Notes
    -----
    .. math:: h(k, n) = ((k R_1 + n R_2 + R_3) \\bmod P) \\bmod m

    ``r = (R1, R2, R3)``; ``element_slots(k, n, m)`` is ``h``.
    """

    name: str = field(default="hashednet-triton", init=False)
    P = P_LARGE
    lin3 = (2, 0, 1)  # (R3, R1, R2)


@dataclass(frozen=True)
class RobeZHash(_Linear3Family):
    """ROBE-Z chunk hash (P = 2038074743).

    Notes
    -----
    Chunk ``c`` of row ``r`` starts at

    .. math:: ((r R_3 + c R_2 + R_1) \\bmod P) \\bmod (m - Z + 1)

    i.e. ``tile_starts(row, chunk, m - Z + 1)``; ``r = (R1, R2, R3)``.
    """

    name: str = field(default="robez", init=False)
    P = P_LARGE


FAMILIES = {
    "ideal": IdealHash,
    "rz-stable": RzStableHash,
    "rz-v1": RzV1Hash,
    "hashednet-triton": HashedNetTritonHash,
    "robez": RobeZHash,
}


def make_family(name: str, seed: int = 0, **params):
    """Return the hash family called ``name`` seeded with ``seed``.

    Parameters
    ----------
    name : {"ideal", "rz-stable", "rz-v1", "hashednet-triton", "robez", "rz-aligned", "hashednet-mulshift"}
    seed : int
        Non-negative seed.
    **params
        Further fields of the family's class (e.g. ``align=8`` for ``"rz-aligned"``).
    """
    check_choice("family", name, FAMILY_NAMES + KERNEL_FAMILY_NAMES)
    return FAMILIES[name](check_int("seed", seed, low=0), **params)


def family_class(name: str):
    """The class of the family called ``name``."""
    return FAMILIES[check_choice("family", name, FAMILY_NAMES + KERNEL_FAMILY_NAMES)]


# ----------------------------------------------------------------------------------------------- fast kernels
#: Families whose reduction is not ``raw mod span`` (aligned starts, top bits of a multiply-shift): made by
#: :func:`make_family` but kept out of :data:`FAMILY_NAMES`, whose Monte Carlo draws reduce ``raw mod span``.
KERNEL_FAMILY_NAMES = ("rz-aligned", "hashednet-mulshift")

_U32 = np.uint64(0xFFFFFFFF)


def _check_tile(tile) -> tuple[int, int]:
    """:func:`check_tile_pair` for a kernel table (which refuses the shorthand ``Z`` in its own words)."""
    if isinstance(tile, int | np.integer) or len(tuple(tile)) != 2:
        raise RoastTheoryError(f"tile={plain(tile)!r} must be a (BK, BN) pair")
    return check_tile_pair(tile)


@dataclass(frozen=True)
class RzAlignedHash(RzStableHash):
    """RzLinear ``stable`` tile hash with tile starts on multiples of ``align`` elements.

    Parameters
    ----------
    seed : int
        Seed for ``R1..R7`` (the same draw as ``"rz-stable"``) and for the separate sign hash.
    r : tuple of 7 int, optional
        Explicit ``(R1, ..., R7)`` in ``[0, P)``.
    align : int
        Power of two (elements): 1 is RzLinear ``stable`` exactly; 8 puts bf16 starts on 16-byte
        boundaries (vector loads), 64 on 128-byte cache lines.

    Notes
    -----
    With :math:`r(kb, nb)` the ``stable`` bracket (:class:`RzStableHash`, in :math:`[0, P^2)`) and
    :math:`a` = ``align``, the start in a span :math:`S = H - B_K B_N` is

    .. math:: s(kb, nb) = a \\, (r(kb, nb) \\bmod (S / a)),

    so every start is a multiple of :math:`a` and :math:`s + B_K B_N \\le H - a`; :math:`a` must divide
    :math:`S`. For :math:`a = 1` this is :math:`r \\bmod S`, the ``stable`` start. A kernel computes the
    table :meth:`start_table` once per layer instead of the two modulos inside its k-loop.
    """

    name: str = field(default="rz-aligned", init=False)
    align: int = 8

    def __post_init__(self):
        super().__post_init__()
        check_power_of_two("align", self.align, 1 << 20)

    def n_starts(self, span) -> int:
        """Number of allowed starts ``span / align`` (``align`` must divide ``span``)."""
        span = check_int("span", span, low=1)
        if span % self.align:
            raise RoastTheoryError(f"align={self.align} does not divide span={span}: choose memory so that "
                                   f"memory - BK*BN is a multiple of {self.align}")
        return span // self.align

    def tile_starts(self, kb, nb, span) -> np.ndarray:
        """Start ``align * (raw(kb, nb) mod (span / align))`` (a multiple of ``align`` in ``[0, span)``)."""
        n = self.n_starts(span)
        r = self.raw(check_keys("kb", kb), check_keys("nb", nb))
        return (r % np.int64(n)).astype(np.int64) * np.int64(self.align)

    @renamed_kwargs(m="memory")
    def element_slots(self, k, n, memory) -> np.ndarray:
        """Element hashing as 1 x 1 tiles over ``m = memory`` slots: ``tile_starts(k, n, memory)``."""
        return self.tile_starts(k, n, memory)

    def start_table(self, in_features: int, out_features: int, tile, memory: int,
                    dtype=np.int64) -> np.ndarray:
        """Start of every tile of a ``(in_features, out_features)`` weight: ``(ceil(K/BK), ceil(N/BN))``."""
        return tile_start_table(self, in_features, out_features, tile, memory, dtype)


def tile_start_table(family, in_features: int, out_features: int, tile, memory: int,
                     dtype=np.int64) -> np.ndarray:
    """Tile starts ``family.tile_starts(kb, nb, memory - BK*BN)`` of every tile of a weight.

    Parameters
    ----------
    family : tile family (``"rz-stable"``, ``"rz-v1"``, ``"rz-aligned"``, ...)
    in_features, out_features : int
        Weight shape ``(K, N)``.
    tile : (int, int)
        ROAST tile ``(BK, BN)``.
    memory : int
        Shared-array size ``m`` (elements); must exceed ``BK*BN``.
    dtype : numpy integer dtype
        ``int64`` or ``int32`` (a kernel's table; needs ``memory < 2**31``).

    Returns
    -------
    numpy.ndarray, shape ``(ceil(K/BK), ceil(N/BN))``
    """
    k = check_int("in_features", in_features, low=1)
    n = check_int("out_features", out_features, low=1)
    bk, bn = _check_tile(tile)
    memory = check_int("memory", memory, low=1)
    if memory <= bk * bn:
        raise RoastTheoryError(f"memory={memory} must exceed the tile size BK*BN={bk * bn}")
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.int64), np.dtype(np.int32)):
        raise RoastTheoryError(f"dtype={dtype} must be int64 or int32")
    if dtype == np.int32 and memory >= 2**31:
        raise RoastTheoryError(f"memory={memory} does not fit an int32 table: use dtype=int64")
    kb, nb = np.meshgrid(np.arange(-(-k // bk)), np.arange(-(-n // bn)), indexing="ij")
    return family.tile_starts(kb, nb, memory - bk * bn).astype(dtype)


def tile_slot_index(starts, in_features: int, out_features: int, tile) -> np.ndarray:
    """Slot ``s(k // BK, n // BN) + (k mod BK) BN + (n mod BN)`` of every weight ``(k, n)`` (int64)."""
    k = check_int("in_features", in_features, low=1)
    n = check_int("out_features", out_features, low=1)
    bk, bn = _check_tile(tile)
    s = np.asarray(starts, dtype=np.int64)
    if s.shape != (-(-k // bk), -(-n // bn)):
        raise RoastTheoryError(f"starts has shape {s.shape}: must be {(-(-k // bk), -(-n // bn))}")
    kk, nn = np.arange(k), np.arange(n)
    return s[kk // bk][:, nn // bn] + ((kk % bk) * bn)[:, None] + (nn % bn)[None, :]


@dataclass(frozen=True)
class MulShiftHash(_Family):
    """Multiply-shift element hash for power-of-two memory (no division).

    Parameters
    ----------
    seed : int
        Seed of ``(A1, A2, B)``: ``A1, A2`` odd in ``[1, 2**32)``, ``B`` in ``[0, 2**32)``.
    r : tuple of 3 int, optional
        Explicit ``(A1, A2, B)``.

    Notes
    -----
    .. math:: \\mathrm{raw}(k, n) = (A_1 k + A_2 n + B) \\bmod 2^{32}, \\qquad
              h(k, n) = \\lfloor \\mathrm{raw}(k, n) / 2^{32 - L} \\rfloor, \\; m = 2^L,

    the top ``L`` bits of a 32-bit multiply-add (Dietzfelbinger's multiply-add-shift); a kernel computes it
    with two 32-bit multiplies, two adds and a shift. ``element_slots`` and ``tile_starts`` both take the
    top bits, so the range ``m`` (or ``span``) must be a power of two ``<= 2**32``.
    """

    seed: int = 0
    r: tuple | None = None
    name: str = field(default="hashednet-mulshift", init=False)

    def __post_init__(self):
        check_int("seed", self.seed, low=0)
        if self.r is None:
            rng = np.random.default_rng(self.seed)
            a = rng.integers(0, 1 << 31, size=2, dtype=np.int64) * 2 + 1
            r = (int(a[0]), int(a[1]), int(rng.integers(0, 1 << 32, dtype=np.int64)))
        else:
            r = tuple(self.r)
            if len(r) != 3:
                raise RoastTheoryError(f"r={plain(self.r)!r} must have 3 values (A1, A2, B)")
            for i, v in enumerate(r):
                check_int(f"r[{i}]", v, low=0, high=(1 << 32) - 1)
            for i in (0, 1):
                if r[i] % 2 == 0:
                    raise RoastTheoryError(f"r[{i}]={r[i]} must be odd (a multiplier of multiply-shift)")
        object.__setattr__(self, "r", tuple(int(v) for v in r))

    def raw(self, a, b) -> np.ndarray:
        a_, b_ = np.broadcast_arrays(check_keys("a", a), check_keys("b", b))
        a1, a2, c = (np.uint64(v) for v in self.r)
        with np.errstate(over="ignore"):
            return (a_.astype(np.uint64) * a1 + b_.astype(np.uint64) * a2 + c) & _U32

    def _top_bits(self, a, b, name, m) -> np.ndarray:
        m = check_power_of_two(name, m, 1 << 32)
        shift = np.uint64(32 - (m.bit_length() - 1))
        return (self.raw(a, b) >> shift).astype(np.int64)

    @renamed_kwargs(m="memory")
    def element_slots(self, k, n, memory) -> np.ndarray:
        """Slot: the top ``log2(m)`` bits of ``raw(k, n)`` (``m = memory``, a power of two)."""
        return self._top_bits(k, n, "memory", memory)

    def tile_starts(self, kb, nb, span) -> np.ndarray:
        """Start: the top ``log2(span)`` bits of ``raw(kb, nb)`` (``span`` a power of two)."""
        return self._top_bits(kb, nb, "span", span)


FAMILIES.update({"rz-aligned": RzAlignedHash, "hashednet-mulshift": MulShiftHash})
