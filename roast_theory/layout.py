"""Model layouts: global sharing (one array for all modules, ROAST) or local sharing (HashedNet).

* Global: every module ``l`` is hashed with its own seed into one array of ``m`` slots. The array stores
  ``u_l = w_l / lambda_l`` and module ``l`` reads ``lambda_l * u_hat_l`` (RzLinear's ``init_factor``).
* Local: module ``l`` alone gets ``m_l`` slots, ``m_l = round(p_l m)``, ``p_l = n_l / n`` (largest
  remainder rounding so that ``sum m_l = m``); scales play no role.
"""

from __future__ import annotations

import numpy as np

from ._deprecation import renamed_attribute
from ._validate import SHARINGS, check_choice, check_int, check_real, check_scales, check_shape
from .errors import RoastTheoryError
from .mappings import TileMapping

#: Init scale of the shared array in RzLinear (``init_factor = (1/sqrt(fan_in)) / INIT_STD``).
INIT_STD = 0.04


def auto_scales(shapes, init_std: float = INIT_STD) -> np.ndarray:
    """Module scales ``lambda_l = (1 / sqrt(fan_in_l)) / init_std``.

    Parameters
    ----------
    shapes : sequence of shapes
        ``(K, N)`` for ``Y = X W`` (``fan_in = K``), or ``(n,)`` (``fan_in = n``).
    init_std : float
        Init standard deviation of the shared array (RzLinear: 0.04).

    Notes
    -----
    .. math:: \\lambda_l = \\frac{1/\\sqrt{\\mathrm{fan\\_in}_l}}{\\sigma_{init}}
    """
    init_std = check_real("init_std", init_std, low=0.0, low_open=True)
    fan_in = np.array([check_shape(f"shapes[{l}]", s)[0] for l, s in enumerate(shapes)], dtype=np.float64)
    return 1.0 / np.sqrt(fan_in) / init_std


def local_slots(sizes, memory: int) -> np.ndarray:
    """Per-module slots ``m_l`` with ``sum m_l = memory``, proportional to ``sizes``.

    Notes
    -----
    Largest-remainder rounding: ``m_l = floor(p_l m)``, then the ``m - sum floor`` leftover slots go to
    the largest fractional parts ``p_l m - floor(p_l m)`` (ties: the lower module index).
    """
    n_l = np.array([check_int(f"sizes[{l}]", s, low=1) for l, s in enumerate(sizes)], dtype=np.int64)
    m = check_int("memory", memory, low=1)
    exact = n_l * m  # numerator of p_l m (over n), exact integers
    n = int(n_l.sum())
    base = exact // n
    rem = exact - base * n
    left = m - int(base.sum())
    order = np.lexsort((np.arange(n_l.size), -rem))
    base[order[:left]] += 1
    return base


def resolve_scales(scales, shapes) -> np.ndarray:
    """Module scales for modules of ``shapes``: ``None`` (all 1), ``"auto"`` (:func:`auto_scales`) or one
    positive number per module."""
    if isinstance(scales, str):
        check_choice("scales", scales, ("auto",))
        return auto_scales(shapes)
    return check_scales(scales, len(shapes))


def _module_seed(seed: int, l: int) -> int:
    """Seed of module ``l``: the first 63 bits of ``SeedSequence([seed, l])``."""
    state = np.random.SeedSequence([seed, l]).generate_state(2, np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1]))


class ModelLayout:
    """The mappings of a whole model's modules into global or local memory.

    Build with :meth:`global_` or :meth:`local`. Frozen after construction.

    Attributes
    ----------
    sharing : {"global", "local"}
    module_shapes : tuple of shapes
    memory : int
        Total slots ``m``.
    module_memory : tuple of int
        Slots of each module's array (global: ``m`` each, the same array).
    scales : ndarray
        ``lambda_l`` (all 1 for local sharing).
    mappings : tuple of TileMapping
        Module ``l``'s mapping (seed ``SeedSequence([seed, l])``).
    """

    def __init__(self, sharing, module_shapes, memory, *, tile, sign, placement, scales, family, seed):
        check_choice("sharing", sharing, SHARINGS)
        shapes = tuple(check_shape(f"module_shapes[{l}]", s) for l, s in enumerate(module_shapes))
        if not shapes:
            raise RoastTheoryError("module_shapes is empty: need at least one module")
        m = check_int("memory", memory, low=1)
        seed = check_int("seed", seed, low=0)
        sizes = [int(np.prod(s)) for s in shapes]
        if sharing == "global":
            module_memory = (m,) * len(shapes)
            lam = resolve_scales(scales, shapes)
        else:
            module_memory = tuple(int(v) for v in local_slots(sizes, m))
            lam = np.ones(len(shapes))
        maps = []
        for l, (shape, ml) in enumerate(zip(shapes, module_memory)):
            try:
                maps.append(TileMapping(shape, ml, tile=tile, placement=placement, sign=sign, family=family,
                                        seed=_module_seed(seed, l)))
            except RoastTheoryError as exc:
                raise RoastTheoryError(f"module {l} (shape {shape}, {ml} slots): {exc}") from None
        lam.setflags(write=False)
        for k, v in dict(sharing=sharing, module_shapes=shapes, memory=m, module_memory=module_memory,
                         scales=lam, mappings=tuple(maps), seed=seed).items():
            object.__setattr__(self, k, v)

    m_slots = renamed_attribute("m_slots", "module_memory")

    def __setattr__(self, name, value):
        raise AttributeError(f"ModelLayout is frozen: cannot set {name!r}")

    def __repr__(self) -> str:
        return (f"ModelLayout(sharing={self.sharing!r}, module_shapes={self.module_shapes}, "
                f"memory={self.memory}, module_memory={self.module_memory})")

    @classmethod
    def global_(cls, module_shapes, memory, *, tile=1, sign="element", placement="circular", scales="auto",
                family="ideal", seed=0) -> ModelLayout:
        """All modules share one array of ``memory`` slots; module ``l`` stores ``w_l / lambda_l``."""
        return cls("global", module_shapes, memory, tile=tile, sign=sign, placement=placement,
                   scales=scales, family=family, seed=seed)

    @classmethod
    def local(cls, module_shapes, memory, *, tile=1, sign="element", placement="circular", family="ideal",
              seed=0) -> ModelLayout:
        """Module ``l`` gets its own ``m_l`` slots (:func:`local_slots`)."""
        return cls("local", module_shapes, memory, tile=tile, sign=sign, placement=placement, scales=None,
                   family=family, seed=seed)

    def _weights(self, weights):
        weights = list(weights)
        if len(weights) != len(self.mappings):
            raise RoastTheoryError(
                f"weights has {len(weights)} arrays: the layout has {len(self.mappings)} modules")
        return weights

    def sketch(self, weights):
        """Global: one array ``M = sum_l S_l (w_l / lambda_l)``; local: the list ``[S_l w_l]``."""
        weights = self._weights(weights)
        if self.sharing == "local":
            return [mp.sketch(w) for mp, w in zip(self.mappings, weights)]
        out = np.zeros(self.memory)
        for l, (mp, w, lam) in enumerate(zip(self.mappings, weights, self.scales)):
            try:
                out += mp.sketch(np.asarray(w, dtype=np.float64) / lam)
            except RoastTheoryError as exc:
                raise RoastTheoryError(f"weights[{l}]: {exc}") from None
        return out

    def recover(self, memory):
        """List of recovered weights: global ``lambda_l S_l^T M``; local ``S_l^T M_l``."""
        if self.sharing == "local":
            mems = list(memory)
            if len(mems) != len(self.mappings):
                raise RoastTheoryError(
                    f"memory has {len(mems)} arrays: the layout has {len(self.mappings)} modules")
            return [mp.recover(mm) for mp, mm in zip(self.mappings, mems)]
        return [lam * mp.recover(memory) for mp, lam in zip(self.mappings, self.scales)]
