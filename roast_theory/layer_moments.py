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

Other sign conventions and the kernel placement (``sign="tile"``/``"none"``, ``placement="kernel"``, any
``align``) go through the exact single-output moments of :func:`roast_theory.block_tile_moments`: one output
``y_hat_bn = <x_b e_n^T, W_hat>`` has mean squared error ``E <x_b e_n^T, W_hat - W>^2``, a quadratic form in
``x_b``, so the batch sum is ``sum_r lambda_r MSE(v_r e_n^T)`` over the eigenpairs of ``X^T X``; covariances
of two outputs follow by polarization, ``Cov(y_n, y_n') = (Var(y_n + y_n') - Var y_n - Var y_n') / 2``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import PLACEMENTS, SIGNS, check_choice, check_memory, check_tile_pair
from .errors import RoastTheoryError
from .moments import _check_align, block_tile_moments
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


def _hashing(sign, placement, align, tile, memory) -> tuple:
    """Checked ``(sign, placement, align, (bk, bn), m)``."""
    sign = check_choice("sign", sign, SIGNS)
    placement = check_choice("placement", placement, PLACEMENTS)
    bk, bn = check_tile_pair(tile)
    m = check_memory(memory, bk * bn, placement)
    return sign, placement, _check_align(align, placement), (bk, bn), m


def _output_moments(xcol, n, w, opts) -> tuple[float, float]:
    """``(bias, variance)`` of ``<xcol e_n^T, W_hat>`` (column ``n`` of ``x W_hat``; a tuple of columns:
    the sum of those outputs)."""
    sign, placement, align, tile, m = opts
    xt = np.zeros_like(w)
    xt[:, [n] if np.ndim(n) == 0 else list(n)] = np.asarray(xcol)[:, None]
    res = block_tile_moments(xt, w, m, tile, sign, placement, align=align)
    return res.bias, res.variance


def _general_layer_mse(x, w, opts) -> float:
    """``sum_{b, n} MSE(x_b e_n^T)`` as ``sum_r lambda_r sum_n MSE(v_r e_n^T)`` (eigenpairs of ``X^T X``)."""
    lam, vecs = np.linalg.eigh(x.T @ x)
    keep = lam > 1e-13 * max(float(lam.max()), 0.0) if lam.size else lam > 0
    total = 0.0
    for lr, v in zip(lam[keep], vecs.T[keep]):
        for n in range(w.shape[1]):
            bias, var = _output_moments(v, n, w, opts)
            total += lr * (var + bias * bias)
    return total


def layer_output_mse(X, W, memory, tile=(1, 1), sign: str = "element", placement: str = "circular",
                     align: int = 1) -> LayerError:
    """Expected squared Frobenius error of the layer output ``X W_hat`` (see the module notes).

    Parameters
    ----------
    X : array_like, shape (B, K)
        A batch of inputs.
    W : array_like, shape (K, N)
        The weight matrix.
    memory : int
        Slots ``m >= BK * BN`` (kernel placement: ``> BK * BN``).
    tile : (int, int)
        ROAST tile ``(BK, BN)``; ``(1, 1)`` is element hashing.
    sign : {"element", "tile", "none"}
    placement : {"circular", "kernel"}
    align : int
        Kernel placement: tile starts are multiples of ``align``.

    Returns
    -------
    LayerError

    Notes
    -----
    Per-element signs, circular: the closed form of the module notes (``O(B K N)``). Otherwise
    ``E ||X W_hat - X W||^2 = sum_r lambda_r sum_n [Var + bias^2](v_r e_n^T)`` with ``(lambda_r, v_r)`` the
    eigenpairs of ``X^T X`` and each term from :func:`roast_theory.block_tile_moments` (``rank(X) * N``
    single-output closed forms: meant for layers up to a few hundred outputs).
    """
    x = np.asarray(X, dtype=np.float64)
    w = np.asarray(W, dtype=np.float64)
    if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[0]:
        raise RoastTheoryError(f"X {x.shape} and W {w.shape} must be (B, K) and (K, N)")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(w))):
        raise RoastTheoryError("X and W must be finite")
    opts = _hashing(sign, placement, align, tile, memory)
    (bk, bn), m = opts[3], opts[4]
    if opts[:2] != ("element", "circular"):
        y = x @ w
        return LayerError(mse=_general_layer_mse(x, w, opts), exact_norm_sq=float((y * y).sum()), memory=m,
                          tile=(bk, bn), batch=x.shape[0])
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


def _general_covariance(xv, w, opts) -> np.ndarray:
    """Polarization: ``Cov(y_n, y_n') = (Var(y_n + y_n') - Var y_n - Var y_n') / 2``."""
    n = w.shape[1]
    var = np.array([_output_moments(xv, j, w, opts)[1] for j in range(n)])
    cov = np.diag(var)
    for a in range(n):
        for b in range(a + 1, n):
            cov[a, b] = cov[b, a] = 0.5 * (_output_moments(xv, (a, b), w, opts)[1] - var[a] - var[b])
    return cov


def output_covariance(x, W, memory, tile=(1, 1), sign: str = "element", placement: str = "circular",
                      align: int = 1) -> OutputCovariance:
    """Covariance of the outputs ``y_hat_n = sum_k x_k W_hat_kn`` of one input row.

    Parameters
    ----------
    x : array_like, shape (K,)
        One input row.
    W : array_like, shape (K, N)
    memory : int
    tile : (int, int)
        ROAST tile ``(BK, BN)``.
    sign : {"element", "tile", "none"}
    placement : {"circular", "kernel"}
    align : int
        Kernel placement: tile starts are multiples of ``align``.

    Returns
    -------
    OutputCovariance
        ``memory`` is ``m``; for per-element signs and circular placement the closed form below, otherwise
        ``N (N + 1) / 2`` single-output closed forms of :func:`roast_theory.block_tile_moments` combined by
        polarization (outputs that share a tile column are the strongly correlated ones).

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
    opts = _hashing(sign, placement, align, tile, memory)
    (bk, bn), m = opts[3], opts[4]
    if opts[:2] != ("element", "circular"):
        return OutputCovariance(covariance=_general_covariance(xv, w, opts), exact_output=xv @ w, memory=m,
                                tile=(bk, bn))
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
