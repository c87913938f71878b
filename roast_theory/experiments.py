"""The experiments of :mod:`roast_theory`, in one namespace.

* :mod:`roast_theory.training`: global (ROAST) vs local (HashedNet) weight sharing, a compressed MLP
  trained on scikit-learn's digits (:func:`train_sharing_experiment`; results in
  :mod:`roast_theory.training_results`);
* :mod:`roast_theory.layer_mappings`: the mapping of one layer by scheme (:func:`layer_mapping`);
* :mod:`roast_theory.family_gap`: exact kernel hash families against the ideal-hash closed form through a
  real torch layer (:func:`hash_family_gap`).
"""

from __future__ import annotations

from ._validate import SHARINGS
from .family_gap import FamilyGap, hash_family_gap
from .layer_mappings import SCHEMES, layer_mapping
from .training import load_digits_targets, train_sharing_experiment
from .training_results import AccuracySummary, TrainRun, TrainSharingResult

INDEXINGS = SCHEMES  # deprecated name of SCHEMES

__all__ = ["SCHEMES", "SHARINGS", "AccuracySummary", "FamilyGap", "TrainRun", "TrainSharingResult",
           "hash_family_gap", "layer_mapping", "load_digits_targets", "train_sharing_experiment"]
