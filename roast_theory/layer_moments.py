"""Layer-level error of a hashed weight matrix: ``E ||X W_hat - X W||_F^2`` over a batch.

Per-element Rademacher signs, ``W`` of shape ``(K, N)`` cut into ``(BK, BN)`` tiles, circular placement
with independent uniform tile starts (``tile=(1, 1)``: element hashing). The error of one entry is
``e_kn = W_hat_kn - W_kn = sum_{(k', n') in another tile} g g' [h = h'] W_k'n'``, so

* ``E e_kn^2 = (|W|^2 - |W_t(kn)|^2) / m`` (elements of the same tile never share a slot);
* ``E e_kn e_k'n = W_kn W_k'n / m`` when ``(k, n)`` and ``(k', n)`` lie in different tiles, else 0 (the
  signs leave only the term where the two elements collide with each other);
* entries of different columns contribute to different outputs, so only same-column pairs matter.

Summed over the batch rows ``x_b`` and the outputs ``n``:
``m E||X W_hat - X W||^2 = sum_k |X_:k|^2 sum_n (|W|^2 - |W_t(kn)|^2) + ||X W||^2 - sum_{kb} ||X_kb W_kb||^2``
where ``X_kb W_kb`` is the product restricted to row block ``kb`` (the rows of one tile row), because two
rows of one column lie in different tiles iff they lie in different row blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import check_int, check_tile_pair
from .errors import RoastTheoryError
from .results import _Result


@dataclass(frozen=True)
class LayerError(_Result):
    """``E ||X W_hat - X W||_F^2`` and its relative size ``/ ||X W||_F^2``."""

    mse: float
    exact_norm_sq: float
    memory: int
    tile: tuple
    batch: int

    def relative(self) -> float:
        return self.mse / self.exact_norm_sq if self.exact_norm_sq > 0 else float("nan")


def layer_output_mse(X, W, memory, tile=(1, 1)) -> LayerError:
    """Expected squared Frobenius error of the layer output ``X W_hat`` (see the module notes).

    Parameters
    ----------
    X : array_like, shape (B, K)
        A batch of inputs.
    W : array_like, shape (K, N)
        The weight matrix.
    memory : int
        Slots ``m >= BK * BN``.
    tile : (int, int)
        ROAST tile ``(BK, BN)``; ``(1, 1)`` is element hashing.

    Returns
    -------
    LayerError
    """
    x = np.asarray(X, dtype=np.float64)
    w = np.asarray(W, dtype=np.float64)
    if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[0]:
        raise RoastTheoryError(f"X {x.shape} and W {w.shape} must be (B, K) and (K, N)")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(w))):
        raise RoastTheoryError("X and W must be finite")
    bk, bn = check_tile_pair(tile)
    m = check_int("memory", memory, low=bk * bn)
    k, n = w.shape
    kb, nb = -(-k // bk), -(-n // bn)
    pad = np.zeros((kb * bk, nb * bn))
    pad[:k, :n] = w
    tile_energy = (pad.reshape(kb, bk, nb, bn) ** 2).sum(axis=(1, 3))  # (kb, nb)
    per_col = np.repeat(tile_energy, bn, axis=1)[:, :n]  # energy of the tile of (row block, column)
    total = float((w * w).sum())
    col_sq = (x * x).sum(axis=0)  # |X_:k|^2
    first = float(col_sq @ (n * total - np.repeat(per_col.sum(axis=1), bk)[:k]))
    y = x @ w
    within = 0.0
    for b in range(kb):
        part = x[:, b * bk:(b + 1) * bk] @ w[b * bk:(b + 1) * bk]
        within += float((part * part).sum())
    mse = (first + float((y * y).sum()) - within) / m
    return LayerError(mse=mse, exact_norm_sq=float((y * y).sum()), memory=m, tile=(bk, bn), batch=x.shape[0])


@dataclass(frozen=True)
class OutputCovariance(_Result):
    """Covariance matrix of the hashed outputs ``y_hat = x W_hat`` of one input row (``N x N``)."""

    covariance: np.ndarray
    exact_output: np.ndarray
    memory: int
    tile: tuple

    def correlation(self) -> np.ndarray:
        """``cov[n, n'] / sqrt(var[n] var[n'])`` (``nan`` where a variance is 0)."""
        sd = np.sqrt(np.diag(self.covariance))
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.covariance / np.outer(sd, sd)


def output_covariance(x, W, memory, tile=(1, 1)) -> OutputCovariance:
    """Covariance of the outputs ``y_hat_n = sum_k x_k W_hat_kn`` under per-element signs, circular tiles.

    Parameters
    ----------
    x : array_like, shape (K,)
        One input row.
    W : array_like, shape (K, N)
    memory : int
    tile : (int, int)
        ROAST tile ``(BK, BN)``.

    Returns
    -------
    OutputCovariance

    Notes
    -----
    For distinct elements the errors satisfy ``E e_kn e_k'n' = W_kn W_k'n' / m`` when they lie in different
    tiles and 0 otherwise, so with ``y = x W`` and ``P_kb = x_kb W_kb`` (the part of ``y`` from row block
    ``kb``):
    ``m Cov(y_hat_n, y_hat_n') = y_n y_n' - [nb(n) = nb(n')] sum_kb P_kb,n P_kb,n'`` plus, on the diagonal,
    ``sum_k x_k^2 (|W|^2 - |W_t(kn)|^2)``. Outputs in *different* column blocks are correlated through
    ``y_n y_n' / m`` alone; outputs sharing a tile column lose the within-tile part.
    """
    xv = np.asarray(x, dtype=np.float64)
    w = np.asarray(W, dtype=np.float64)
    if xv.ndim != 1 or w.ndim != 2 or xv.size != w.shape[0]:
        raise RoastTheoryError(f"x {xv.shape} and W {w.shape} must be (K,) and (K, N)")
    bk, bn = check_tile_pair(tile)
    m = check_int("memory", memory, low=bk * bn)
    k, n = w.shape
    kb = -(-k // bk)
    y = xv @ w
    parts = np.stack([xv[b * bk:(b + 1) * bk] @ w[b * bk:(b + 1) * bk] for b in range(kb)])  # (kb, N)
    same = (np.arange(n)[:, None] // bn) == (np.arange(n)[None, :] // bn)
    cov = np.outer(y, y) - same * (parts.T @ parts)
    nb = -(-n // bn)
    pad = np.zeros((kb * bk, nb * bn))
    pad[:k, :n] = w
    energy = (pad.reshape(kb, bk, nb, bn) ** 2).sum(axis=(1, 3))  # (kb, nb)
    xk_sq = np.add.reduceat(np.pad(xv * xv, (0, kb * bk - k)), np.arange(0, kb * bk, bk))  # per row block
    diag = xk_sq @ (float((w * w).sum()) - energy)  # (nb,)
    cov[np.diag_indices(n)] += np.repeat(diag, bn)[:n]
    return OutputCovariance(covariance=cov / m, exact_output=y, memory=m, tile=(bk, bn))
