"""Resolve a hash family (the exact kernel formulas live in :mod:`roast_theory.hashes`; never here)."""

from __future__ import annotations

from roast_theory.hashes import FAMILY_NAMES, make_family

from ..errors import CacheSimError

__all__ = ["DEFAULT_FAMILY", "FAMILY_NAMES", "resolve_family"]

#: Family used by default for each kernel (the authors' RzLinear ``stable`` / ``v1_combined`` kernels).
DEFAULT_FAMILY = {"roast": "rz-stable", "hashednet": "hashednet-triton"}


def resolve_family(family, seed: int, *, need: str):
    """Return an object with ``tile_starts(kb, nb, span)`` / ``element_slots(k, n, m)``.

    ``family`` is a name understood by :func:`roast_theory.hashes.make_family` or any object that already
    provides the method named by ``need`` (tests pass small hand-made families this way).
    """
    if not isinstance(family, str):
        if not callable(getattr(family, need, None)):
            raise CacheSimError(f"family={family!r} must be a family name or provide a {need}() method")
        return family
    if family not in FAMILY_NAMES:
        raise CacheSimError(f"family={family!r} is not known: choose one of {', '.join(FAMILY_NAMES)}")
    try:
        fam = make_family(family, seed)
    except ValueError as exc:
        raise CacheSimError(f"family={family!r}, seed={seed!r}: {exc}") from None
    if not callable(getattr(fam, need, None)):
        raise CacheSimError(f"family={family!r} has no {need}() method")
    return fam
