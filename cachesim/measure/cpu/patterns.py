"""Index patterns of the CPU weight gather ``W = M[idx]`` (HashedNet elements, ROAST tiles)."""

from __future__ import annotations

import numpy as np

from ..._deprecate import renamed_kwargs
from ..._validate import check_choice, check_int
from ...errors import CacheSimError

__all__ = ["PATTERNS", "SCHEMES", "VALUE_BYTES", "gather_indices"]

#: Hashing schemes of the gather (``scheme``; the records' JSON key is ``pattern``).
SCHEMES = ("hashednet", "roast")
PATTERNS = SCHEMES  # the old name
VALUE_BYTES = 4  # float32 shared array


@renamed_kwargs(pattern="scheme", m_slots="memory")
def gather_indices(scheme: str, memory: int, n_rows: int, n_cols: int, *, tile: tuple[int, int] = (32, 64),
                   seed: int = 0) -> np.ndarray:
    """Slots read by ``W = M[idx]`` for a ``(n_rows, n_cols)`` weight, in W's row-major order.

    Parameters
    ----------
    scheme : {"hashednet", "roast"}
        ``"hashednet"``: one independent uniform slot per element (ideal element hash).
        ``"roast"``: ``BK x BN`` tiles, each a contiguous row-major block starting at a uniform slot, with
        circular placement.
    memory : int
        Size of the shared array ``M`` in elements (``m`` below).
    n_rows, n_cols : int
        Shape of ``W``; for ``"roast"`` they must be multiples of ``tile``.
    tile : (int, int)
        ``(BK, BN)``, RzLinear's default ``(32, 64)``.
    seed : int
        Seed of the hash draw.

    Returns
    -------
    numpy.ndarray of int64, shape (n_rows * n_cols,)

    Notes
    -----
    ``pattern=`` and ``m_slots=`` are deprecated spellings of ``scheme=`` and ``memory=``.

    ROAST: :math:`idx(k, n) = (s_{k // BK,\\, n // BN} + (k \\bmod BK)\\, BN + (n \\bmod BN)) \\bmod m`,
    :math:`s \\sim U[0, m)`. HashedNet: :math:`idx(k, n) \\sim U[0, m)` independently.

    This is the idealised pattern the CPU records were made with (uniform draws from
    ``numpy.random.default_rng(seed)``, circular placement). :func:`cachesim.kernels.gather.gather_indices`
    is a different construction -- the kernels' hash families, tile starts in ``[0, m - BK BN]`` without
    wrap-around -- used by the kernel traces: the same kind of access pattern, not the same draw.
    """
    scheme = check_choice("scheme", scheme, SCHEMES)
    memory = check_int("memory", memory, low=1)
    n_rows = check_int("n_rows", n_rows, low=1)
    n_cols = check_int("n_cols", n_cols, low=1)
    rng = np.random.default_rng(check_int("seed", seed, low=0))
    if scheme == "hashednet":
        return rng.integers(0, memory, size=n_rows * n_cols, dtype=np.int64)
    bk, bn = (check_int("tile[0]", tile[0], low=1), check_int("tile[1]", tile[1], low=1))
    if n_rows % bk or n_cols % bn:
        raise CacheSimError(f"W shape ({n_rows}, {n_cols}) must be a multiple of tile=({bk}, {bn})")
    starts = rng.integers(0, memory, size=(n_rows // bk, n_cols // bn), dtype=np.int64)
    # (row block, in-tile row, col block, in-tile col) -> start + row * BN + col
    offs = (np.arange(bk, dtype=np.int64)[:, None] * bn + np.arange(bn, dtype=np.int64)[None, :])
    idx = starts[:, None, :, None] + offs[None, :, None, :]
    return (idx % memory).reshape(-1)
