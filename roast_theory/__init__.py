"""Theory of ROAST hashing: hash mappings, closed-form moments, symbolic derivations, Monte Carlo.

Every name is imported from its submodule on first use (:mod:`roast_theory._lazy`), so ``import
roast_theory`` costs little: numba and scipy load with the moments or Monte Carlo that need them, sympy with
:mod:`roast_theory.symbolic`, torch with the layers of :mod:`roast_theory.torch_layers`.
"""

from ._lazy import lazy_exports
from .errors import RoastTheoryError

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

__getattr__, __dir__ = lazy_exports(__name__, {
    "roast_theory.experiments": ("AccuracySummary", "FamilyGap", "TrainRun", "TrainSharingResult",
                                 "hash_family_gap", "layer_mapping", "train_sharing_experiment"),
    "roast_theory.hashes": ("HashedNetTritonHash", "IdealHash", "RobeZHash", "RzStableHash", "RzV1Hash",
                            "SignHash", "make_family"),
    "roast_theory.layer_moments": ("LayerError", "OutputCovariance", "layer_output_mse",
                                   "output_covariance"),
    "roast_theory.layout": ("ModelLayout", "auto_scales", "local_slots"),
    "roast_theory.mappings": ("ChunkMapping", "ElementMapping", "TileMapping"),
    "roast_theory.moments": ("block_tile_moments", "block_tile_moments_by_align",
                             "element_hashing_moments", "layout_moments", "tile_hashing_moments",
                             "weight_mse"),
    "roast_theory.montecarlo": ("ConfidenceInterval", "KernelIdealGap", "MonteCarloEstimate",
                                "kernel_vs_ideal_gap", "mc_inner_product", "mc_kernel", "mc_module_output",
                                "mc_placement_load", "mc_total_inner_product", "mc_unused_fraction",
                                "mc_weight_mse"),
    "roast_theory.placement": ("kernel_slot_load", "unused_fraction"),
    "roast_theory.results": ("Allocation", "InnerProductMoments", "KernelVariance", "ModuleOutputVariance",
                             "SharingVariance", "SlotLoad", "TileSharingVariance", "UnusedFraction",
                             "WeightError"),
    "roast_theory.sharing": ("kernel_variance", "module_output_variance", "optimal_allocation",
                             "optimal_scales", "sharing_variance"),
    "roast_theory.sharing_theorem": ("PairEnergy", "expected_random_difference",
                                     "limit_global_win_probability", "pair_energy"),
    "roast_theory.tile_sharing": ("tile_module_output_variance", "tile_sharing_variance"),
    "roast_theory.verify": ("VerificationReport", "VerificationRow", "verify"),
})
