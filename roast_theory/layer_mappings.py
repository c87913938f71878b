"""The mapping of one layer's weight in the training experiment, by hashing scheme."""

from __future__ import annotations

from ._deprecation import renamed_kwargs
from ._validate import check_choice

__all__ = ["SCHEMES", "layer_mapping"]

#: Hashing schemes of the experiment: ``"element"`` (HashedNet, one slot per weight) and ``"tile"``
#: (ROAST tiles). These are the labels of the recorded runs (``measurements/cpu/train_sharing.json``).
SCHEMES = ("element", "tile")


@renamed_kwargs(indexing="scheme", m_slots="memory")
def layer_mapping(scheme: str, k: int, n: int, memory: int, *, tile: tuple[int, int] = (2, 4),
                  seed: int = 0, family: str = "ideal"):
    """The :mod:`roast_theory.mappings` object that hashes a ``(k, n)`` weight into ``memory`` values.

    Parameters
    ----------
    scheme : {"element", "tile"}
        ``"element"``: :class:`~roast_theory.mappings.ElementMapping` (HashedNet);
        ``"tile"``: :class:`~roast_theory.mappings.TileMapping` with ``tile``, circular placement (ROAST).
    k, n : int
        Weight shape ``(in_features, out_features)``.
    memory : int
        Memory size (``>= BK * BN`` for tiles).
    tile : (int, int)
        ``(BK, BN)``.
    seed : int
        Seed of the hash family (use a different seed per layer that shares a memory).
    family : str
        A :func:`roast_theory.hashes.make_family` name.

    Returns
    -------
    ElementMapping or TileMapping
        With per-element signs.

    Notes
    -----
    element: :math:`h(k, n) = F(k, n) \\bmod m`; tile: :math:`h(k, n) = (s(k // BK, n // BN)
    + (k \\bmod BK) BN + n \\bmod BN) \\bmod m`; sign :math:`g(k, n) = \\pm 1`.
    """
    from .mappings import ElementMapping, TileMapping

    check_choice("scheme", scheme, SCHEMES)
    if scheme == "element":
        return ElementMapping((k, n), memory, family=family, seed=seed, sign="element")
    return TileMapping((k, n), memory, tile=tuple(tile), placement="circular", sign="element", family=family,
                       seed=seed)
