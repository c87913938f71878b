"""Exact kernel hash families against ideal hashing, measured through a real torch ROAST layer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import check_int
from .errors import RoastTheoryError

__all__ = ["FamilyGap", "hash_family_gap"]


@dataclass(frozen=True)
class FamilyGap:
    """Output variance of a torch ROAST layer over hash draws of one family, vs the ideal-hash closed form.

    Attributes
    ----------
    family : str
    draws : int
    empirical_mean, empirical_variance : numpy.ndarray
        Per output unit, over the draws.
    closed_form_mean, closed_form_variance : numpy.ndarray
        :func:`roast_theory.moments.block_tile_moments` per output unit (ideal hashing, kernel placement,
        per-element signs).
    variance_se : numpy.ndarray
        Standard error of ``empirical_variance`` (from the sample fourth moment).
    """

    family: str
    draws: int
    empirical_mean: np.ndarray
    empirical_variance: np.ndarray
    closed_form_mean: np.ndarray
    closed_form_variance: np.ndarray
    variance_se: np.ndarray

    def variance_ratio(self) -> float:
        """Mean over output units of empirical / closed-form variance (1 for an ideal hash)."""
        return float(np.mean(self.empirical_variance / self.closed_form_variance))

    def z_scores(self) -> np.ndarray:
        """``(empirical - closed form) / SE`` of the variance, per output unit."""
        return (self.empirical_variance - self.closed_form_variance) / self.variance_se

    def max_abs_z(self) -> float:
        return float(np.max(np.abs(self.z_scores())))


def hash_family_gap(family: str = "rz-stable", *, shape: tuple[int, int] = (32, 32), tile=(8, 8),
                    memory: int = 256, draws: int = 2000, seed: int = 0) -> FamilyGap:
    """Variance of a real torch :class:`RoastLinear` output over ``draws`` seeds of a hash family.

    Parameters
    ----------
    family : str
        Hash family (``"ideal"``, ``"rz-stable"``, ``"rz-v1"``, ...); tile starts from the family with
        kernel placement (``s`` in ``[0, m - T)``), per-element signs from the family's sign hash.
    shape, tile, memory :
        The layer's ``(in, out)`` shape, ROAST tile and memory size.
    draws : int
        Seeds ``seed .. seed + draws - 1``.
    seed : int
        First seed; also seeds the fixed input ``x`` and weights ``w``.

    Returns
    -------
    FamilyGap

    Notes
    -----
    Each draw sketches the fixed weight ``w`` into the memory, ``M = S w``, and records
    ``y = x @ (g * M[h])``; for an ideal hash ``E y = x^T w`` and ``Var y_j`` is the C1 closed form with the
    kernel-placement lag probability ``p(d) = (S - |d|)_+ / S^2``, ``S = m - T``.
    """
    import torch

    from . import torch_layers as tl
    from .mappings import TileMapping
    from .moments import block_tile_moments

    draws = check_int("draws", draws, low=10)
    k, n = shape
    rng = np.random.default_rng(seed)
    w = (np.cos(np.arange(k * n) / 7.0).reshape(k, n) + 0.5 * rng.standard_normal((k, n))) / np.sqrt(k)
    x = 0.3 + rng.standard_normal(k)
    mem = tl.SharedMemory(memory, dtype="float64")

    def mapping(s):
        return TileMapping((k, n), memory, tile=tile, placement="kernel", sign="element", family=family,
                           seed=s)

    first = mapping(seed)
    layer = tl.RoastLinear.from_mapping(first, k, n, mem, bias=False)
    if layer.sign is None:
        raise RoastTheoryError("the family gave all-positive signs: cannot measure the signed variance")
    x_t = torch.from_numpy(x)
    out = np.empty((draws, n))
    with torch.no_grad():
        for d in range(draws):
            mp = first if d == 0 else mapping(seed + d)
            layer.set_index(mp.index, mp.sign)
            mem.weight.copy_(torch.from_numpy(mp.sketch(w)))
            out[d] = layer(x_t).numpy()
    cf_mean, cf_var = [], []
    for j in range(n):
        x_col = np.zeros((k, n))
        x_col[:, j] = x
        r = block_tile_moments(x_col, w, memory, tuple(tile), sign="element", placement="kernel")
        cf_mean.append(r.mean)
        cf_var.append(r.variance)
    c = out - out.mean(0)
    var = (c**2).sum(0) / (draws - 1)
    se = np.sqrt(np.maximum((c**4).mean(0) - var**2, 1e-300) / draws)
    return FamilyGap(family, draws, out.mean(0), var, np.array(cf_mean), np.array(cf_var), se)
