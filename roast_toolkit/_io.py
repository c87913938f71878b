"""Input and output helpers of the application layer: arrays from files, strict JSON values."""

from __future__ import annotations

import numpy as np

from roast_theory.errors import RoastTheoryError

__all__ = ["jsonable", "load_array", "load_modules"]


def load_array(option: str, path: str) -> np.ndarray:
    """Load a ``.npy`` file given to ``option``; any failure becomes a :class:`RoastTheoryError`."""
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise RoastTheoryError(f"{option} {path!r}: cannot read a .npy array ({exc})") from None
    if not isinstance(arr, np.ndarray):
        raise RoastTheoryError(f"{option} {path!r}: expected a .npy array, got an archive")
    return arr


def load_modules(path: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Load ``x0, w0, x1, w1, ...`` from an ``.npz`` file."""
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise RoastTheoryError(f"--modules {path!r}: expected an .npz archive of x0, w0, x1, w1, ...")
        with data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError) as exc:
        if isinstance(exc, RoastTheoryError):
            raise
        raise RoastTheoryError(f"--modules {path!r}: cannot read an .npz archive ({exc})") from None
    xs, ws = [], []
    while f"x{len(xs)}" in arrays or f"w{len(xs)}" in arrays:
        l = len(xs)
        if f"x{l}" not in arrays or f"w{l}" not in arrays:
            raise RoastTheoryError(f"--modules {path!r}: module {l} needs both x{l} and w{l}")
        xs.append(arrays.pop(f"x{l}"))
        ws.append(arrays.pop(f"w{l}"))
    if not xs:
        raise RoastTheoryError(f"--modules {path!r}: no arrays named x0, w0 (found {sorted(arrays)})")
    if arrays:
        raise RoastTheoryError(f"--modules {path!r}: unexpected arrays {sorted(arrays)}: use x0, w0, ...")
    return xs, ws


def jsonable(value):
    """Non-finite floats become ``None`` so that the output is strict JSON."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    return value


