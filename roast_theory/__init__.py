"""Theory of ROAST hashing: hash mappings, closed-form moments, symbolic derivations, Monte Carlo."""

from .errors import RoastTheoryError
from .moments import (
    block_tile_moments,
    element_hashing_moments,
    layout_moments,
    tile_hashing_moments,
    weight_mse,
)
from .placement import kernel_slot_load, unused_fraction
from .results import (
    Allocation,
    InnerProductMoments,
    KernelVariance,
    ModuleOutputVariance,
    SharingVariance,
    SlotLoad,
    UnusedFraction,
    WeightError,
)
from .sharing import kernel_variance, module_output_variance, optimal_allocation, sharing_variance
from .verify import VerificationReport, VerificationRow, verify

__all__ = [
    "RoastTheoryError",
    # closed forms (H2)
    "element_hashing_moments", "tile_hashing_moments", "block_tile_moments", "layout_moments", "weight_mse",
    "kernel_variance", "module_output_variance", "sharing_variance", "optimal_allocation",
    "kernel_slot_load", "unused_fraction",
    "InnerProductMoments", "WeightError", "KernelVariance", "ModuleOutputVariance", "SharingVariance",
    "Allocation", "SlotLoad", "UnusedFraction",
    "verify", "VerificationReport", "VerificationRow",
]
