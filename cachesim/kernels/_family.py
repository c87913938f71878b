"""Resolve a hash family (the exact kernel formulas live in :mod:`roast_theory.hashes`; never here)."""

from __future__ import annotations

from ..errors import CacheSimError

#: Family used by default for each kernel kind (the authors' RzLinear ``stable`` / ``v1_combined`` kernels).
DEFAULT_FAMILY = {"roast": "rz-stable", "hashednet": "hashednet-triton"}
FAMILY_NAMES = ("ideal", "rz-stable", "rz-v1", "hashednet-triton", "robez")


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
        from roast_theory.hashes import make_family
    except ImportError as exc:  # pragma: no cover - only while roast_theory.hashes is missing
        raise CacheSimError(
            f"family={family!r} needs roast_theory.hashes, which is not available: {exc}"
        ) from None
    try:
        fam = make_family(family, seed)
    except ValueError as exc:
        raise CacheSimError(f"family={family!r}, seed={seed!r}: {exc}") from None
    if not callable(getattr(fam, need, None)):
        raise CacheSimError(f"family={family!r} has no {need}() method")
    return fam
