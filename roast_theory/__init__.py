"""Theory of ROAST hashing: hash mappings, closed-form moments, symbolic derivations, Monte Carlo."""

from .errors import RoastTheoryError

__all__ = ["RoastTheoryError"]
