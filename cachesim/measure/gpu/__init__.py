"""GPU measurement harness: correctness checks, timings and ceilings for the dense / ROAST / HashedNet GEMMs.

Runs where torch sees a CUDA device (the drivers ``drivers/gpu_*.py`` call it); the checks
also run on the CPU under ``TRITON_INTERPRET=1`` at tiny shapes. Every function returns plain dicts that
the scripts store with :func:`cachesim.measure.records.write_record` -- the measuring process writes the
numbers, nothing edits them afterwards.

Implementations timed (``impl``):

* ``cublas_dense``: ``x @ W`` through torch (cuBLAS), autograd backward;
* ``triton_dense`` / ``triton_roast`` / ``triton_hashednet``: the fused kernels of
  :mod:`cachesim.measure.triton_kernels`, identical tiling;
* ``triton_roast_aligned``: diagnostic, ROAST with tile starts rounded down to 16 elements (vector loads);
* ``triton_roast_vec``: ROAST, same hash, B tile loaded with aligned 16-byte vector loads then shifted;
* ``gather_roast`` / ``gather_hashednet``: ``W = lambda M[idx]`` then cuBLAS (``roast_theory.torch_layers``
  ``HashedLinear``), autograd backward (a scatter-add into ``M``).

A training step is forward + input and weight gradients + an SGD update of the stored parameter.

Modules: :mod:`.cases` (:class:`GemmCase`, :data:`IMPLS`), :mod:`.check` (:func:`check_case`),
:mod:`.timing` (:func:`ceilings`, :func:`time_case`), :mod:`.env` (:func:`env_report`).
"""

from .cases import IMPLS, SEED_OFFSET, TOLERANCE, GemmCase
from .check import check_case, reference_index, rel_error
from .env import env_report
from .timing import ceilings, time_case

__all__ = ["IMPLS", "SEED_OFFSET", "TOLERANCE", "GemmCase", "ceilings", "check_case", "env_report",
           "reference_index", "rel_error", "time_case"]
