"""Flags of a sector request in the replay (:mod:`cachesim.kernels._replay_kernel`), kept apart from the numba
kernels so that the traffic plans of :mod:`cachesim.kernels.gemm_gpu` can name them without loading numba."""

#: bit 0: marks the sector dirty in the last level
WRITE = 1
#: bit 1: skips level 0 (GPU stores, atomics, ``cp.async.cg``)
BYPASS0 = 2
#: bit 2: a write covering the whole sector (no fill read from below)
FULL = 4
