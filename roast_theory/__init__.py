"""Theory of ROAST hashing: hash mappings, closed-form moments, symbolic derivations, Monte Carlo.

:mod:`roast_theory.symbolic` (sympy) is imported on first use of ``roast_theory.symbolic``.
"""

from . import torch_layers  # noqa: F401 - layers are created lazily (torch is imported on first use)
from .errors import RoastTheoryError
from .experiments import (
    AccuracySummary,
    FamilyGap,
    TrainRun,
    TrainSharingResult,
    hash_family_gap,
    layer_mapping,
    train_sharing_experiment,
)
from .hashes import (
    HashedNetTritonHash,
    IdealHash,
    RobeZHash,
    RzStableHash,
    RzV1Hash,
    SignHash,
    make_family,
)
from .layer_moments import LayerError, OutputCovariance, layer_output_mse, output_covariance
from .layout import ModelLayout, auto_scales, local_slots
from .mappings import ChunkMapping, ElementMapping, TileMapping
from .moments import (
    block_tile_moments,
    block_tile_moments_by_align,
    element_hashing_moments,
    layout_moments,
    tile_hashing_moments,
    weight_mse,
)
from .montecarlo import (
    ConfidenceInterval,
    KernelIdealGap,
    MonteCarloEstimate,
    kernel_vs_ideal_gap,
    mc_inner_product,
    mc_kernel,
    mc_module_output,
    mc_placement_load,
    mc_total_inner_product,
    mc_unused_fraction,
    mc_weight_mse,
)
from .placement import kernel_slot_load, unused_fraction
from .results import (
    Allocation,
    InnerProductMoments,
    KernelVariance,
    ModuleOutputVariance,
    SharingVariance,
    SlotLoad,
    TileSharingVariance,
    UnusedFraction,
    WeightError,
)
from .sharing import (
    kernel_variance,
    module_output_variance,
    optimal_allocation,
    optimal_scales,
    sharing_variance,
)
from .sharing_theorem import (
    PairEnergy,
    expected_random_difference,
    limit_global_win_probability,
    pair_energy,
)
from .tile_sharing import tile_module_output_variance, tile_sharing_variance
from .verify import VerificationReport, VerificationRow, verify

__all__ = [
    "RoastTheoryError",
    # closed forms
    "element_hashing_moments", "tile_hashing_moments", "block_tile_moments", "block_tile_moments_by_align",
    "layout_moments", "weight_mse",
    "kernel_variance", "module_output_variance", "sharing_variance", "optimal_allocation",
    "optimal_scales", "pair_energy", "PairEnergy", "expected_random_difference",
    "limit_global_win_probability", "layer_output_mse", "LayerError",
    "tile_sharing_variance", "tile_module_output_variance", "TileSharingVariance",
    "output_covariance", "OutputCovariance",
    "kernel_slot_load", "unused_fraction",
    "InnerProductMoments", "WeightError", "KernelVariance", "ModuleOutputVariance", "SharingVariance",
    "Allocation", "SlotLoad", "UnusedFraction",
    "verify", "VerificationReport", "VerificationRow",
    # hash families, mappings, layouts, Monte Carlo
    "make_family", "IdealHash", "RzStableHash", "RzV1Hash", "HashedNetTritonHash", "RobeZHash", "SignHash",
    "ElementMapping", "TileMapping", "ChunkMapping", "ModelLayout", "auto_scales", "local_slots",
    "MonteCarloEstimate", "KernelIdealGap", "ConfidenceInterval",
    "mc_inner_product", "mc_weight_mse", "mc_kernel", "mc_total_inner_product", "mc_module_output",
    "mc_placement_load", "mc_unused_fraction", "kernel_vs_ideal_gap",
    # torch layers and the experiments (torch is imported on first use)
    "torch_layers", "train_sharing_experiment", "TrainSharingResult", "TrainRun", "AccuracySummary",
    "layer_mapping", "hash_family_gap", "FamilyGap",
]


def __getattr__(name: str):
    if name == "symbolic":  # sympy is slow to import: load the module on first use
        import importlib

        return importlib.import_module(".symbolic", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
