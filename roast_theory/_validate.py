"""Every input check of :mod:`roast_theory`: each raises :class:`RoastTheoryError` naming the argument,
its value and what is allowed (``memory=3 must be an integer >= tile size 8 (circular placement)``).

Also the names that inputs are checked against: :data:`SIGNS`, :data:`PLACEMENTS`, :data:`SHARINGS`.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np

from .errors import RoastTheoryError

#: Sign conventions: a Rademacher sign per element, one per tile, or none (the kernels).
SIGNS = ("element", "tile", "none")
#: Tile placements: ``"circular"`` (start uniform on ``[0, m)``, indices mod ``m``) or ``"kernel"`` (start
#: uniform on ``[0, m - T)``, no wrap, as the RzLinear kernels).
PLACEMENTS = ("circular", "kernel")
#: Weight sharing: one array for every module (``"global"``, ROAST) or one array per module (``"local"``).
SHARINGS = ("global", "local")

#: Largest shared-array size in elements (``2**53``: slot counts stay exact in float64 and int64).
MAX_MEMORY = 1 << 53
#: Most Monte Carlo trials of one estimate (``10**12``; 1e9 trials already take hours).
MAX_TRIALS = 10**12
#: Largest magnitude of an input value: the closed forms sum fourth-order products such as
#: ``x_i^2 w_j^2`` over ``n^2`` pairs, which stay finite in float64 for ``|v| <= 1e60``.
MAX_MAGNITUDE = 1e60
#: Upper bounds ``check_int`` applies to these argument names when the caller gives none.
_DEFAULT_HIGH = {"memory": MAX_MEMORY, "trials": MAX_TRIALS}


def plain(value):
    """``value`` for an error message: numpy scalars (also inside tuples and lists) as Python values.

    numpy 2 writes ``repr(np.float64(1.5))`` as ``np.float64(1.5)``; messages show ``1.5``.
    """
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple | list):
        return type(value)(plain(v) for v in value)
    return value


def check_int(name: str, value, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as int; it must be an integer (not bool) in ``[low, high]``."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if high is None:
        high = _DEFAULT_HIGH.get(name)
    rng = _range_text(low, high)
    if not ok:
        raise RoastTheoryError(f"{name}={plain(value)!r} must be an integer{rng}")
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        raise RoastTheoryError(f"{name}={v} must be an integer{rng}")
    return v


def check_real(name: str, value, *, low: float | None = None, high: float | None = None,
               low_open: bool = False) -> float:
    """Return ``value`` as a finite float in the given range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise RoastTheoryError(f"{name}={plain(value)!r} must be a real number")
    v = float(value)
    if not np.isfinite(v):
        raise RoastTheoryError(f"{name}={v!r} must be finite")
    if low is not None and (v < low or (low_open and v == low)):
        raise RoastTheoryError(f"{name}={v!r} must be {'>' if low_open else '>='} {low}")
    if high is not None and v > high:
        raise RoastTheoryError(f"{name}={v!r} must be <= {high}")
    return v


def as_real_array(name: str, value) -> np.ndarray:
    """``value`` as a float64 array, refusing what would convert silently: complex numbers (their imaginary
    part would be dropped), strings and bytes (``"1.5"`` would parse), and other objects."""
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise RoastTheoryError(f"{name} must be an array of real numbers ({exc})") from None
    kind = raw.dtype.kind
    if kind == "O":
        flat = raw.ravel()
        bad = [v for v in flat if isinstance(v, str | bytes | complex | np.complexfloating)
               or not isinstance(v, numbers.Real)]
        if bad:
            kind = "c" if isinstance(bad[0], complex | np.complexfloating) else "U"
    if kind == "c":
        raise RoastTheoryError(f"{name} must be an array of real numbers, not complex (dtype {raw.dtype})")
    if kind not in "biufO":
        raise RoastTheoryError(f"{name} must be an array of real numbers, not text (dtype {raw.dtype})")
    try:
        return np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise RoastTheoryError(f"{name} must be an array of real numbers ({exc})") from None


def check_array(name: str, value) -> np.ndarray:
    """Return ``value`` as a float64 array (any shape) of finite real entries, ``|v| <= MAX_MAGNITUDE``."""
    arr = as_real_array(name, value)
    flat = arr.ravel()
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(~(np.abs(flat) <= MAX_MAGNITUDE))
    if bad.size:
        i = int(bad[0])
        v = flat[i].item()
        if not np.isfinite(v):
            raise RoastTheoryError(
                f"{name} has a non-finite value {v!r} at flat index {i}: all values must be finite")
        raise RoastTheoryError(f"{name} has the value {v!r} at flat index {i}: magnitudes above "
                               f"{MAX_MAGNITUDE:g} overflow the variance formulas")
    return arr


def check_vector(name: str, value, *, ndim: int = 1, min_size: int = 1) -> np.ndarray:
    """Return a float64 array with ``ndim`` dimensions, finite entries and at least ``min_size`` elements."""
    arr = as_real_array(name, value)
    if arr.ndim != ndim:
        raise RoastTheoryError(f"{name} has shape {arr.shape}: must be {ndim}-dimensional")
    if arr.size < min_size:
        raise RoastTheoryError(f"{name} has {arr.size} elements: must have at least {min_size}")
    return check_array(name, arr)


def check_pair(x, w, *, ndim: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Input ``x`` and weight ``w``: finite float arrays of ``ndim`` dimensions and equal shapes."""
    xv = check_vector("x", x, ndim=ndim)
    wv = check_vector("w", w, ndim=ndim)
    check_same_shape("x", xv, "w", wv)
    return xv, wv


def check_same_shape(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray) -> None:
    """Raise unless ``a`` and ``b`` have equal shapes."""
    if a.shape != b.shape:
        raise RoastTheoryError(f"{name_a} has shape {a.shape} but {name_b} has shape {b.shape}: must match")


def check_choice(name: str, value, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``."""
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise RoastTheoryError(f"{name}={plain(value)!r} is not allowed: choose one of {', '.join(choices)}")
    return value


def check_power_of_two(name: str, value, high: int) -> int:
    """Return ``value`` as int; it must be a power of two in ``[1, high]``."""
    v = check_int(name, value, low=1, high=high)
    if v & (v - 1):
        raise RoastTheoryError(f"{name}={v} must be a power of two in [1, {high}]")
    return v


def check_probability(name: str, value) -> float:
    """A level or probability strictly inside ``(0, 1)``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:
        raise RoastTheoryError(f"{name}={plain(value)!r} must be in (0, 1)")
    return float(value)


def check_seed(value) -> int | None:
    """A seed is ``None`` or a non-negative integer."""
    if value is None:
        return None
    return check_int("seed", value, low=0)


def _range_text(low, high) -> str:
    if low is not None and high is not None:
        return f" in [{low}, {high}]"
    if low is not None:
        return f" >= {low}"
    if high is not None:
        return f" <= {high}"
    return ""


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


# ------------------------------------------------------------------------------------ shapes and tiles
def check_shape(name: str, shape) -> tuple[int, ...]:
    """A weight shape: one or two positive integers (an integer ``n`` means ``(n,)``)."""
    if _is_int(shape):
        shape = (int(shape),)
    try:
        dims = tuple(shape)
    except TypeError:
        raise RoastTheoryError(
            f"{name}={plain(shape)!r} must be a tuple of 1 or 2 positive integers"
        ) from None
    if len(dims) not in (1, 2):
        raise RoastTheoryError(f"{name}={plain(shape)!r} must have 1 or 2 dimensions")
    return tuple(check_int(f"{name}[{i}]", d, low=1) for i, d in enumerate(dims))


def check_matrix_shape(name: str, shape, what: str = "(K, N)") -> tuple[int, int]:
    """A 2-D weight shape: a pair of positive integers."""
    dims = check_shape(name, shape)
    if len(dims) != 2:
        raise RoastTheoryError(f"{name}={plain(shape)!r} must be {what}")
    return dims


def check_tile(tile, name: str = "tile") -> tuple[int, int]:
    """A tile ``(BK, BN)``; an integer ``Z`` means ``(1, Z)`` (a chunk of ``Z`` consecutive values)."""
    if _is_int(tile):
        return (1, check_int(name, tile, low=1))
    return check_tile_pair(tile, name, shorthand=True)


def check_tile_pair(tile, name: str = "tile", *, shorthand: bool = False) -> tuple[int, int]:
    """A tile given as the pair ``(BK, BN)`` of positive integers."""
    try:
        dims = tuple(tile)
    except TypeError:
        dims = ()
    if len(dims) != 2:
        allowed = "an integer Z or a pair (BK, BN)" if shorthand else "a pair (BK, BN)"
        raise RoastTheoryError(f"{name}={plain(tile)!r} must be {allowed}")
    return (check_int(f"{name}[0] (BK)", dims[0], low=1), check_int(f"{name}[1] (BN)", dims[1], low=1))


def check_tile_for_shape(tile, shape: tuple[int, ...], name: str = "tile") -> tuple[int, int]:
    """:func:`check_tile` for a weight of ``shape``: a 1-D weight takes only ``Z`` or ``(1, Z)``."""
    tile_ = check_tile(tile, name)
    if len(shape) == 1 and tile_[0] != 1:
        raise RoastTheoryError(f"{name}={plain(tile)!r}: a 1-D weight needs an integer tile Z or (1, Z)")
    return tile_


def check_memory(memory, t_size: int, placement: str, *, tile_name: str = "tile") -> int:
    """``memory`` must hold a tile of ``t_size`` slots: ``>= T`` (circular placement), ``> T`` (kernel)."""
    low = t_size if placement == "circular" else t_size + 1
    if _is_int(memory) and memory > MAX_MEMORY:
        raise RoastTheoryError(f"memory={int(memory)} must be <= {MAX_MEMORY} (2**53)")
    if not _is_int(memory) or memory < low:
        what = f"{tile_name} size {t_size}" if placement == "circular" else f"{tile_name} size {t_size} + 1"
        raise RoastTheoryError(
            f"memory={plain(memory)!r} must be an integer >= {what} ({placement} placement)"
        )
    return int(memory)


def check_local_memory(module_memory, memory: int, t_size: int, placement: str):
    """Under local sharing every module's own memory (of ``memory`` in all) must hold a tile."""
    low = t_size if placement == "circular" else t_size + 1
    for l, ml in enumerate(module_memory):
        if ml < low:
            raise RoastTheoryError(
                f"memory={memory}: module {l} gets m_l={int(ml)} slots under local sharing, "
                f"fewer than {low} ({placement} placement, tile={t_size})")
    return module_memory


def check_chunk_memory(memory, chunk: int) -> int:
    """``memory`` must hold one chunk: ``>= chunk``."""
    if _is_int(memory) and memory > MAX_MEMORY:
        raise RoastTheoryError(f"memory={int(memory)} must be <= {MAX_MEMORY} (2**53)")
    if not _is_int(memory) or memory < chunk:
        raise RoastTheoryError(f"memory={plain(memory)!r} must be an integer >= chunk={chunk}")
    return int(memory)


def check_layout(tile_id, offset, n: int, tile: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-element tile ids and offsets: ``n`` integers each, offsets in ``[0, tile)``, pairs unique."""
    out = []
    for name, arr in (("tile_id", tile_id), ("offset", offset)):
        a = np.asarray(arr)
        if a.ndim != 1 or a.size != n:
            raise RoastTheoryError(f"{name} has shape {a.shape}: must be ({n},), one entry per element")
        if not np.issubdtype(a.dtype, np.integer):
            raise RoastTheoryError(f"{name} has dtype {a.dtype}: must be integers")
        if a.size and a.min() < 0:
            raise RoastTheoryError(f"{name} has a negative entry {int(a.min())}: must be >= 0")
        out.append(a.astype(np.int64))
    tid, off = out
    if off.size and off.max() >= tile:
        raise RoastTheoryError(f"offset has entry {int(off.max())}: must be in [0, tile_size={tile})")
    key = tid * tile + off
    if np.unique(key).size != key.size:
        raise RoastTheoryError("tile_id/offset pairs must be unique: two elements share a tile slot")
    return tid, off


# ------------------------------------------------------------------------------------ hash inputs
def check_keys(name: str, value) -> np.ndarray:
    """Hash keys: an array of non-negative integers below ``2**63``, returned as int64."""
    arr = np.asarray(value)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise RoastTheoryError(f"{name} must be an array of integers, got dtype {arr.dtype}")
    if arr.size and arr.min() < 0:
        raise RoastTheoryError(f"{name} has a negative key {int(arr.min())}: keys must be >= 0")
    if arr.dtype == np.uint64 and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise RoastTheoryError(f"{name} has a key {int(arr.max())} above 2**63 - 1")
    return arr.astype(np.int64, copy=False)


def check_family_object(family) -> None:
    """A family object must offer the family protocol (``tile_starts``, ``element_slots``, ``signs``)."""
    for need in ("tile_starts", "element_slots", "signs"):
        if not callable(getattr(family, need, None)):
            raise RoastTheoryError(f"family={family!r} must be a family name or provide {need}()")


def check_hashing(memory, tile, sign, placement, family, trials, seed, *, families) -> tuple:
    """The arguments shared by the 1-D Monte Carlo estimators; returns ``(memory, Z, trials, seed)``."""
    z = check_int("tile", tile, low=1)
    check_choice("sign", sign, SIGNS)
    check_choice("placement", placement, PLACEMENTS)
    check_choice("family", family, families)
    trials = check_int("trials", trials, low=2)
    seed = check_seed(seed)
    return check_memory(memory, z, placement), z, trials, seed


# ------------------------------------------------------------------------------------ modules
def check_modules(xs, ws, *, flatten: bool = False) -> tuple[list, list, list]:
    """Per-module inputs and weights: equal numbers (>= 1) of finite arrays, ``xs[l]`` shaped as ``ws[l]``.

    Returns ``(xs, ws, shapes)``: float64 vectors (flattened when ``flatten``, else they must be 1-D) and
    the weights' original shapes.
    """
    if isinstance(xs, np.ndarray) or isinstance(ws, np.ndarray):
        raise RoastTheoryError("xs and ws must be sequences of arrays (one per module), not one array")
    xs, ws = list(xs), list(ws)
    if len(xs) != len(ws):
        raise RoastTheoryError(f"xs has {len(xs)} modules but ws has {len(ws)}: must match")
    if not xs:
        raise RoastTheoryError("xs has 0 modules: need at least 1")
    xo, wo, shapes = [], [], []
    for l, (x, w) in enumerate(zip(xs, ws)):
        shapes.append(np.shape(w))
        if flatten:
            x, w = np.ravel(as_real_array(f"xs[{l}]", x)), np.ravel(as_real_array(f"ws[{l}]", w))
        xv, wv = check_vector(f"xs[{l}]", x), check_vector(f"ws[{l}]", w)
        check_same_shape(f"xs[{l}]", xv, f"ws[{l}]", wv)
        xo.append(xv)
        wo.append(wv)
    return xo, wo, shapes


def check_scales(scales, k: int) -> np.ndarray:
    """Module scales ``lambda_l``: ``None`` (all 1) or ``k`` positive finite numbers."""
    if scales is None:
        return np.ones(k)
    if isinstance(scales, str):
        raise RoastTheoryError(f"scales={scales!r} must be {k} positive numbers or None")
    sc = list(scales) if isinstance(scales, list | tuple) else list(np.asarray(scales, dtype=object).ravel())
    if len(sc) != k:
        raise RoastTheoryError(f"scales has {len(sc)} entries: must have one per module ({k})")
    return np.array([check_real(f"scales[{i}]", s, low=0.0, low_open=True) for i, s in enumerate(sc)])


# ------------------------------------------------------------------------------------ torch layers
def check_index(index, memory: int) -> np.ndarray:
    """Slot indices: an integer array with values in ``[0, memory)`` (no range check when ``memory < 0``)."""
    arr = np.asarray(index)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise RoastTheoryError(f"index has dtype {arr.dtype}: must be an integer array")
    if arr.size and memory >= 0:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi >= memory:
            bad = lo if lo < 0 else hi
            raise RoastTheoryError(f"index contains {bad}: all values must be in [0, {memory - 1}] "
                                   f"(memory={memory})")
    return arr.astype(np.int64, copy=False)


def check_sign(sign, shape) -> np.ndarray:
    """Signs: a numeric array of ``+1``/``-1`` of ``shape``, returned as float64."""
    arr = np.asarray(sign)
    numeric = np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    if arr.dtype == bool or not numeric:
        raise RoastTheoryError(f"sign has dtype {arr.dtype}: must be an array of +1/-1")
    if arr.shape != tuple(shape):
        raise RoastTheoryError(f"sign has shape {arr.shape} but index has shape {tuple(shape)}: must match")
    ok = (arr == 1) | (arr == -1)
    if not np.all(ok):
        bad = arr.ravel()[int(np.flatnonzero(~ok.ravel())[0])].item()
        raise RoastTheoryError(f"sign contains {bad!r}: all values must be +1 or -1")
    return arr.astype(np.float64)


def check_weight_shape(name: str, arr: np.ndarray, in_features: int, out_features: int) -> np.ndarray:
    """``arr`` of shape ``(in_features, out_features)``, or flat (row-major) with as many elements."""
    shape = (in_features, out_features)
    if arr.shape == shape:
        return arr
    if arr.ndim == 1 and arr.size == in_features * out_features:
        return arr.reshape(shape)
    raise RoastTheoryError(f"{name} has shape {arr.shape}: must be (in_features, out_features) = {shape} "
                           f"or flat with {in_features * out_features} elements")


#: Floating dtypes of the torch layers.
DTYPES = ("float32", "float64", "bfloat16", "float16")


def check_dtype(torch, dtype):
    """A torch floating dtype, by name (``"float32"``) or as ``torch.float32``."""
    allowed = tuple(getattr(torch, d) for d in DTYPES)
    if (dtype not in DTYPES) if isinstance(dtype, str) else (dtype not in allowed):
        raise RoastTheoryError(f"dtype={dtype!r} is not allowed: choose one of {', '.join(DTYPES)}")
    return getattr(torch, dtype) if isinstance(dtype, str) else dtype


def check_tensor_input(torch, x, in_features: int, dtype, device) -> None:
    """A layer input: a tensor whose last dimension is ``in_features``, of the layer's dtype and device."""
    if not isinstance(x, torch.Tensor):
        raise RoastTheoryError(f"x has type {type(x).__name__}: must be a torch.Tensor")
    if x.ndim < 1 or x.shape[-1] != in_features:
        raise RoastTheoryError(f"x has shape {tuple(x.shape)}: its last dimension must be in_features="
                               f"{in_features}")
    if x.dtype != dtype:
        raise RoastTheoryError(f"x has dtype {x.dtype}: must be {dtype} (the layer's dtype)")
    if x.device != device:
        raise RoastTheoryError(f"x is on device {x.device}: must be on {device} (the layer's device)")
