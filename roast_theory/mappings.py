"""Weight-to-memory mappings: HashedNet element hashing, ROAST tiles, ROBE-Z chunks.

A mapping of a weight of ``n`` elements into ``m`` slots is a slot ``h(i)`` and a sign ``g(i)`` per
element; it defines the sketch matrix ``S[b, i] = g_i [h(i) = b]``:

* ``sketch(w) = S w``: ``M[b] = sum_{i: h(i) = b} g_i w_i``;
* ``recover(M) = S^T M``: ``w_hat_i = g_i M[h(i)]``.

All mappings are frozen; ``index`` (int64, the weight's shape) and ``sign`` (int8) are read-only arrays.
The family may be a name (see :func:`roast_theory.hashes.make_family`, seeded with ``seed``) or any
object with the family protocol (``tile_starts``, ``element_slots``, ``signs``).
"""

from __future__ import annotations

import numpy as np

from ._deprecation import renamed_attribute
from ._validate import (  # noqa: F401 - check_memory, check_shape, check_tile are re-exported
    PLACEMENTS,
    SIGNS,
    check_array,
    check_choice,
    check_chunk_memory,
    check_family_object,
    check_int,
    check_matrix_shape,
    check_memory,
    check_shape,
    check_tile,
    check_tile_for_shape,
    plain,
)
from .errors import RoastTheoryError
from .hashes import make_family


def _resolve_family(family, seed):
    if isinstance(family, str):
        return make_family(family, seed)
    check_family_object(family)
    return family


def tile_coordinates(shape: tuple[int, ...], tile: tuple[int, int]):
    """Block coordinates and in-tile offsets of every element of a weight of ``shape``.

    Returns ``(k, n, kb, nb, offset)`` int64 arrays of ``shape``; a 1-D weight is the row ``(1, n)``.

    Notes
    -----
    ``kb = k // BK``, ``nb = n // BN``, ``offset = (k mod BK) * BN + (n mod BN)`` (row-major in a full
    tile). Partial edge tiles keep this offset (the kernels pad and mask): their elements occupy a subset
    of a full tile's block, and masked positions are simply absent.
    """
    bk, bn = tile
    if len(shape) == 1:
        k = np.zeros(shape, np.int64)
        n = np.arange(shape[0], dtype=np.int64)
    else:
        k, n = np.meshgrid(np.arange(shape[0], dtype=np.int64), np.arange(shape[1], dtype=np.int64),
                           indexing="ij")
    return k, n, k // bk, n // bn, (k % bk) * bn + (n % bn)


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


# ------------------------------------------------------------------------------------------ base
class _Mapping:
    """Sketch / recover shared by every mapping (subclasses set ``shape``, ``memory``, ``index``, ``sign``).

    Instances are frozen: attributes are set once in ``__init__`` and arrays are read-only.
    """

    _fields: tuple[str, ...] = ()
    m_slots = renamed_attribute("m_slots", "memory")

    def _set(self, **values):
        for k, v in values.items():
            object.__setattr__(self, k, v)

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is frozen: cannot set {name!r}")

    def __repr__(self) -> str:
        args = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"{type(self).__name__}({args})"

    @property
    def n_weights(self) -> int:
        return int(np.prod(self.shape))

    def sketch(self, weight) -> np.ndarray:
        """Memory ``M = S w``: ``M[b] = sum_{i: h(i)=b} g_i w_i`` (float64, length ``memory``)."""
        w = check_array("weight", weight)
        if w.shape != self.shape:
            raise RoastTheoryError(f"weight has shape {w.shape} but the mapping's shape is {self.shape}")
        return np.bincount(self.index.ravel(), weights=(self.sign * w).ravel(), minlength=self.memory)

    def recover(self, memory) -> np.ndarray:
        """Weight ``w_hat = S^T M``: ``w_hat_i = g_i M[h(i)]`` (the mapping's shape)."""
        mem = check_array("memory", memory)
        if mem.shape != (self.memory,):
            raise RoastTheoryError(f"memory has shape {mem.shape}: must be ({self.memory},)")
        return self.sign * mem[self.index]

    def matrix(self) -> np.ndarray:
        """The dense sketch matrix ``S`` (``memory x n_weights``; for small cases and tests)."""
        s = np.zeros((self.memory, self.n_weights))
        s[self.index.ravel(), np.arange(self.n_weights)] = self.sign.ravel()
        return s


def _signs(fam, sign: str, shape, element_keys, tile_keys) -> np.ndarray:
    if sign == "element":
        g = fam.signs(*element_keys)
    elif sign == "tile":
        g = fam.signs(*tile_keys)
    else:
        g = np.ones(shape, np.int8)
    return np.asarray(g, np.int8).reshape(shape)


# ------------------------------------------------------------------------------------------ element
class ElementMapping(_Mapping):
    """HashedNet: one slot and one sign per element.

    Parameters
    ----------
    shape : int or (K, N)
        Weight shape; a 1-D weight of ``n`` elements uses keys ``(0, i)``.
    memory : int
        Number of slots ``m >= 1``.
    family : str or family object
        Hash family (default ``"ideal"``); ``"hashednet-triton"`` is the authors' Triton baseline.
    seed : int
        Seed of the family when given by name.
    sign : {"element", "none"}
        Per-element Rademacher sign (HashedNet paper) or none (the Triton kernel).

    Notes
    -----
    ``h(k, n) = family.element_slots(k, n, m)``, ``g(k, n) = family.signs(k, n)`` or 1.
    """

    _fields = ("shape", "memory", "sign_mode", "family", "seed")

    def __init__(self, shape, memory, *, family="ideal", seed=0, sign="element"):
        shape = check_shape("shape", shape)
        m = check_int("memory", memory, low=1)
        check_choice("sign", sign, ("element", "none"))
        check_int("seed", seed, low=0)
        fam = _resolve_family(family, seed)
        k, n, *_ = tile_coordinates(shape, (1, 1))
        idx = np.asarray(fam.element_slots(k, n, m), dtype=np.int64).reshape(shape)
        g = fam.signs(k, n) if sign == "element" else np.ones(shape, np.int8)
        self._set(shape=shape, memory=m, sign_mode=sign, family=family, seed=seed, hash_family=fam,
                  index=_readonly(idx), sign=_readonly(np.asarray(g, np.int8).reshape(shape)))


# ------------------------------------------------------------------------------------------ tiles
class TileMapping(_Mapping):
    """ROAST: each ``BK x BN`` tile maps to one contiguous row-major block of memory.

    Parameters
    ----------
    shape : int or (K, N)
        Weight shape; a 1-D vector of ``n`` values is cut into consecutive chunks of ``Z`` (tile ``(1, Z)``).
    memory : int
        Number of slots ``m``: ``m >= T`` (circular) or ``m > T`` (kernel), ``T = BK * BN``.
    tile : int or (BK, BN)
        Tile shape; an integer ``Z`` means ``(1, Z)``; ``tile=1`` is element hashing.
    placement : {"circular", "kernel"}
        ``circular``: ``s`` uniform in ``[0, m)``, indices taken mod ``m``. ``kernel``: ``s`` in
        ``[0, m - T)``, no wrap (as RzLinear).
    sign : {"none", "element", "tile"}
        No sign (the kernels), a Rademacher sign per element (FakeRoast) or one per tile.
    family : str or family object
        Hash family for the tile starts (default ``"ideal"``; ``"rz-stable"`` / ``"rz-v1"`` exact kernels).
    seed : int
        Seed of the family when given by name.

    Notes
    -----
    .. math:: h(k, n) = s(kb, nb) + (k \\bmod BK) BN + (n \\bmod BN)  \\quad(\\bmod m \\text{ if circular})

    with ``s = family.tile_starts(kb, nb, m)`` (circular) or ``family.tile_starts(kb, nb, m - T)``
    (kernel). Partial edge tiles keep the full-tile offset formula; masked elements are absent.
    """

    _fields = ("shape", "memory", "tile", "placement", "sign_mode", "family", "seed")

    def __init__(self, shape, memory, *, tile=1, placement="circular", sign="element", family="ideal",
                 seed=0):
        shape = check_shape("shape", shape)
        tile_ = check_tile_for_shape(tile, shape)
        check_choice("placement", placement, PLACEMENTS)
        check_choice("sign", sign, SIGNS)
        check_int("seed", seed, low=0)
        t_size = tile_[0] * tile_[1]
        m = check_memory(memory, t_size, placement)
        fam = _resolve_family(family, seed)
        k, n, kb, nb, off = tile_coordinates(shape, tile_)
        span = m if placement == "circular" else m - t_size
        s = np.asarray(fam.tile_starts(kb, nb, span), dtype=np.int64).reshape(shape)
        idx = s + off
        if placement == "circular":
            idx %= m
        g = _signs(fam, sign, shape, (k, n), (kb, nb))
        self._set(shape=shape, memory=m, tile=tile_, placement=placement, sign_mode=sign, family=family,
                  seed=seed, hash_family=fam, starts=_readonly(s), index=_readonly(idx), sign=_readonly(g))

    @property
    def tile_size(self) -> int:
        return self.tile[0] * self.tile[1]


# ------------------------------------------------------------------------------------------ chunks
class ChunkMapping(_Mapping):
    """ROBE-Z: each embedding row is cut into chunks of ``Z`` values, each chunk contiguous in memory.

    Parameters
    ----------
    shape : (rows, dim)
        Embedding table shape.
    memory : int
        Number of slots ``m >= Z``.
    chunk : int
        Chunk size ``Z``.
    placement : {"kernel", "circular"}
        ``kernel`` (ROBE-Z): start in ``[0, m - Z + 1)``, no wrap.
        ``circular``: start in ``[0, m)``, indices mod ``m``.
    sign : {"none", "element", "tile"}
        ROBE-Z has none; ``tile`` means one sign per chunk.
    family : str or family object
        Default ``"robez"``.
    seed : int
        Seed of the family when given by name.

    Notes
    -----
    .. math:: h(r, j) = ((r R_3 + c R_2 + R_1) \\bmod P) \\bmod (m - Z + 1) + (j \\bmod Z),\\quad c = j // Z
    """

    _fields = ("shape", "memory", "chunk", "placement", "sign_mode", "family", "seed")

    def __init__(self, shape, memory, *, chunk=1, placement="kernel", sign="none", family="robez", seed=0):
        shape = check_matrix_shape("shape", shape, "(rows, dim)")
        z = check_int("chunk", chunk, low=1)
        check_choice("placement", placement, PLACEMENTS)
        check_choice("sign", sign, SIGNS)
        check_int("seed", seed, low=0)
        m = check_chunk_memory(memory, z)
        fam = _resolve_family(family, seed)
        r, j, _, c, off = tile_coordinates(shape, (1, z))
        span = m - z + 1 if placement == "kernel" else m
        idx = np.asarray(fam.tile_starts(r, c, span), dtype=np.int64) + off
        if placement == "circular":
            idx %= m
        g = _signs(fam, sign, shape, (r, j), (r, c))
        self._set(shape=shape, memory=m, chunk=z, placement=placement, sign_mode=sign, family=family,
                  seed=seed, hash_family=fam, index=_readonly(idx), sign=_readonly(g))

