"""CPU timings of the weight gather ``W = M[idx]`` for HashedNet and ROAST index patterns, and the simulator.

The "gather + mm" implementation of a hashed layer first materialises the virtual weight ``W = M[idx]``.
Its cost is a gather whose locality depends on the index pattern and on which cache level holds the
shared array ``M``:

* HashedNet (element hashing): every ``idx`` is an independent uniform slot, so each value read touches a
  random 64 B line of ``M``;
* ROAST (tile hashing): a ``BK x BN`` tile is a contiguous block of ``M``; a row of ``BN`` floats is read
  in order, so one line serves ``64 / 4 = 16`` reads.

Modules, one job each: :mod:`.patterns` (:func:`gather_indices`, the two index patterns), :mod:`.timing`
(:func:`gather_sweep`: single-thread median times while ``M`` grows from far below L1 to far above L3),
:mod:`.simulate` (:func:`gather_trace`, :func:`simulate_gather_sweep`: the same gather's misses per cache
level), :mod:`.knees` (:func:`compare_knees`: the measured knees beside the simulated ones).
"""

from .knees import KneeComparison, LevelKnee, MeasuredStep, compare_knees, half_rise_knee, measured_steps
from .patterns import PATTERNS, SCHEMES, VALUE_BYTES, gather_indices
from .simulate import (
    IDX_BASE,
    M_BASE,
    PASS_STRIDE,
    W_BASE,
    SimulatedGather,
    SimulatedGatherSweep,
    gather_trace,
    simulate_gather_sweep,
)
from .timing import BACKENDS, GatherSweep, GatherTiming, gather_sweep

__all__ = [
    "BACKENDS", "IDX_BASE", "M_BASE", "PASS_STRIDE", "PATTERNS", "SCHEMES", "VALUE_BYTES", "W_BASE",
    "GatherSweep", "GatherTiming", "KneeComparison", "LevelKnee", "MeasuredStep", "SimulatedGather",
    "SimulatedGatherSweep", "compare_knees", "gather_indices", "gather_sweep", "gather_trace",
    "half_rise_knee", "measured_steps", "simulate_gather_sweep",
]
