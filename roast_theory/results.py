"""Named frozen result objects returned by the closed forms (scipy.stats style)."""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np


def _ratio(num: float, den: float) -> float:
    """``num / den``, or ``nan`` when ``den`` is not positive."""
    return num / den if den > 0 else float("nan")


class DerivedValue(float):
    """A derived statistic (a ``float``) that may still be called like the method it used to be.

    ``res.std`` is a property; ``res.std()`` keeps working for one release and emits a
    ``DeprecationWarning``.
    """

    def __new__(cls, value: float, name: str):
        obj = super().__new__(cls, value)
        obj._name = name
        return obj

    def __call__(self) -> float:
        warnings.warn(f"{self._name}() is deprecated: {self._name} is a property, drop the parentheses",
                      DeprecationWarning, stacklevel=2)
        return float(self)


class _Result:
    """Shared helpers: ``to_dict`` gives plain Python numbers/lists (JSON-ready)."""

    def to_dict(self) -> dict:
        out = {}
        for key, value in asdict(self).items():
            if isinstance(value, np.ndarray):
                out[key] = value.tolist()
            elif isinstance(value, np.generic):
                out[key] = value.item()
            elif isinstance(value, tuple):
                out[key] = [v.item() if isinstance(v, np.generic) else v for v in value]
            else:
                out[key] = value
        return out


@dataclass(frozen=True)
class InnerProductMoments(_Result):
    """Exact mean and variance of the hashed inner product ``<w_hat, x>``.

    Attributes
    ----------
    mean : float
        ``E <w_hat, x>``.
    variance : float
        ``Var <w_hat, x>`` (``nan`` where no closed form is available).
    bias : float
        ``mean - exact_inner_product`` (0 with random signs).
    exact_inner_product : float
        ``<w, x>``.
    memory, tile : int
        Number of slots ``m`` and tile (chunk) size ``Z``.
    sign, placement : str
        Sign convention and tile placement.
    formula : str
        Which closed form this is (``"A"``, ``"C1"``, ..., labels explained in :mod:`roast_theory.moments`).
    align : int
        Tile starts are multiples of ``align`` (kernel placement; 1 = any start).
    """

    mean: float
    variance: float
    bias: float
    exact_inner_product: float
    memory: int
    tile: int
    sign: str
    placement: str
    formula: str
    align: int = 1

    @property
    def std(self) -> float:
        """Standard deviation ``sqrt(variance)`` (a property, as :attr:`MonteCarloEstimate.std`)."""
        return DerivedValue(math.sqrt(self.variance), "std")

    @property
    def mse(self) -> float:
        """Mean squared error around ``<w, x>``: ``variance + bias**2`` (a property)."""
        return DerivedValue(self.variance + self.bias**2, "mse")


@dataclass(frozen=True)
class WeightError(_Result):
    """Exact expected squared reconstruction error ``E |w_hat - w|^2``."""

    mse: float
    norm_sq: float
    memory: int
    tile: int
    sign: str
    formula: str

    def relative(self) -> float:
        """``E|w_hat - w|^2 / |w|^2`` (``nan`` for ``w = 0``)."""
        return _ratio(self.mse, self.norm_sq)


@dataclass(frozen=True)
class _GlobalLocal(_Result):
    """A variance under global sharing (one array for all modules) and under local sharing."""

    global_variance: float
    local_variance: float

    def ratio(self) -> float:
        """``local_variance / global_variance`` (``nan`` when the global variance is 0)."""
        return _ratio(self.local_variance, self.global_variance)


@dataclass(frozen=True)
class KernelVariance(_GlobalLocal):
    """B1: variance of a hashed kernel ``<phi x, phi x2>`` under global and local sharing.

    ``ratio()`` is ``n_total / module_size`` when the variances are nonzero.
    """

    memory: int
    local_memory: float
    n_total: int
    module_size: int


@dataclass(frozen=True)
class ModuleOutputVariance(_GlobalLocal):
    """B2: variance of one module's output under global and local sharing (module scales ``lambda``)."""

    module: int
    memory: int
    local_memory: float
    scale: float


@dataclass(frozen=True)
class SharingVariance(_Result):
    """B3: variance of the total inner product ``sum_l <x_l, w_l>`` under global and local sharing.

    ``covariance_term + alignment_term + diagonal_term == memory * (local_variance - global_variance)``;
    ``local_slots`` are the whole-slot local budgets ``m_l`` (summing to ``memory``).
    """

    global_variance: float
    local_variance: float
    covariance_term: float
    alignment_term: float
    diagonal_term: float
    memory: int
    module_sizes: tuple
    local_slots: tuple = ()

    def difference(self) -> float:
        """``local_variance - global_variance`` (> 0: global sharing wins)."""
        return self.local_variance - self.global_variance

    def decomposition_residual(self) -> float:
        """``m (V_L - V_G) - (covariance + alignment + diagonal)``; zero up to rounding."""
        total = self.covariance_term + self.alignment_term + self.diagonal_term
        return self.memory * self.difference() - total

    def global_wins(self) -> bool:
        """True when ``global_variance < local_variance``."""
        return self.global_variance < self.local_variance


@dataclass(frozen=True)
class Allocation(_Result):
    """Per-module slot budgets ``m_l`` for local sharing and the variances they achieve.

    ``slots``/``variance``: the exact integer optimum; ``proportional_*``: budgets by size;
    ``norm_*``: budgets proportional to ``|x_l| |w_l|``; ``exact_optimal_variance``: the real relaxation.
    """

    slots: tuple
    variance: float
    proportional_slots: tuple
    proportional_variance: float
    exact_optimal_variance: float
    memory: int
    norm_slots: tuple = ()
    norm_variance: float = float("nan")

    def gain(self) -> float:
        """``proportional_variance / variance`` (> 1: the optimal allocation helps)."""
        return _ratio(self.proportional_variance, self.variance)


@dataclass(frozen=True)
class SlotLoad(_Result):
    """Expected slot loads under a placement of weight tiles into ``memory`` slots.

    ``load_at_weight_slot = sum_b (E L(b))^2 / n`` (the profile's own load) differs from the expected load
    seen from a random weight, ``E[sum_b L(b)^2] / n = 1 + collisions_per_weight`` (what Monte Carlo
    estimates): see :func:`roast_theory.kernel_slot_load`.
    """

    profile: np.ndarray = field(repr=False)
    load_at_weight_slot: float
    ideal_load: float
    collisions_per_weight: float
    ideal_collisions_per_weight: float
    n_weights: int
    memory: int
    tile_size: int
    placement: str

    def overload(self) -> float:
        """``load_at_weight_slot / ideal_load``."""
        return self.load_at_weight_slot / self.ideal_load

    def expected_load_seen_by_weight(self) -> float:
        """``E[sum_b L(b)^2] / n = 1 + collisions_per_weight``: the Monte Carlo-estimable load."""
        return 1.0 + self.collisions_per_weight


@dataclass(frozen=True)
class UnusedFraction(_Result):
    """Exact expected fraction of the ``memory`` slots that no weight maps to."""

    fraction: float
    n: int
    memory: int
    tile: int
    placement: str

    def unused_slots(self) -> float:
        """Expected number of unused slots."""
        return self.fraction * self.memory


@dataclass(frozen=True)
class TileSharingVariance(_Result):
    """B2/B3 under tile hashing: the hashed total (or one module's output) under global and local sharing.

    ``global_*``: every module's tiles in one array of ``memory`` slots (stored values ``w_l / lambda_l``,
    read back times ``lambda_l``); ``local_*``: module ``l`` alone in its ``local_slots[l]`` slots. Without
    signs both estimators are biased, so :meth:`global_mse` / :meth:`local_mse` (bias squared plus variance)
    are the fair comparison.
    """

    global_mean: float
    global_variance: float
    local_mean: float
    local_variance: float
    exact_inner_product: float
    memory: int
    module_sizes: tuple
    local_slots: tuple
    tile: int
    sign: str
    placement: str
    align: int
    formula: str
    module: int | None = None

    def difference(self) -> float:
        """``local_variance - global_variance`` (> 0: global sharing has the smaller variance)."""
        return self.local_variance - self.global_variance

    def global_mse(self) -> float:
        """``(global_mean - exact)^2 + global_variance``."""
        return (self.global_mean - self.exact_inner_product) ** 2 + self.global_variance

    def local_mse(self) -> float:
        """``(local_mean - exact)^2 + local_variance``."""
        return (self.local_mean - self.exact_inner_product) ** 2 + self.local_variance

    def global_wins(self) -> bool:
        """True when the global mean squared error is below the local one."""
        return self.global_mse() < self.local_mse()
