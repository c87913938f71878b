"""Tile advisor: closed-form variance against predicted kernel time for ROAST tile shapes and alignments.

:func:`advise` combines the theory (:func:`roast_theory.block_tile_moments`, kernel placement) with the
cost model (:func:`cachesim.kernels.predict`, kernel ``"roast"``), so it lives in the application layer.
"""

from ._advice import Advice, AdviceRow, advise

__all__ = ["Advice", "AdviceRow", "advise"]
