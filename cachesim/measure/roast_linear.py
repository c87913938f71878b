"""``RoastLinear``: a torch layer on the fused, table-driven ROAST-MM kernels (forward, dX, grad into memory).

The layer reads its ``in_features x out_features`` weight from a shared array, tile by tile, exactly as
:class:`roast_theory.torch_layers.RoastLinear` does by gathering, but without materialising the weight:

    y = lambda * x @ W + bias,   W[k, n] = memory[s(k // BK, n // BN) + (k mod BK) BN + (n mod BN)]

with the tile starts ``s`` of the ``roast_theory.hashes`` family ``"rz-aligned"`` (multiples of ``align``;
``align = 1`` is RzLinear ``stable``) in an int32 table computed once per layer. The mapping comes from
``roast_theory`` (:func:`roast_theory.hashes.tile_start_table`), so the theory, the Monte Carlo, the
gather layers and these kernels read the same slots (:meth:`slot_index`).

Autograd: the forward runs the fast fused kernel of :mod:`cachesim.measure.triton_fast` when a launch
configuration of it covers the shape (``M, K, N`` multiples of its blocks), otherwise the reference forward
of :mod:`cachesim.measure.triton_fast_bwd`; the backward runs :func:`~.triton_fast_bwd.roast_dx` and
:func:`~.triton_fast_bwd.roast_grad_memory` (a float32 buffer, cast to the memory's dtype). Layers that
share one memory (global sharing) each return their gradient and autograd sums them.

Importing this module needs neither torch nor triton: the torch classes live in a private module that is
imported on first access to ``RoastLinear`` / ``RoastMatmul``; the checks and the start table live in
the private ``_roast_linear_common`` module that both import.
"""

from __future__ import annotations

from ._roast_linear_common import _check_layout, _fast_forward, _int, _torch, start_table  # noqa: F401

__all__ = ["RoastLinear", "RoastMatmul", "start_table"]  # noqa: F822 - classes imported lazily


def __getattr__(name: str):
    if name in ("RoastLinear", "RoastMatmul"):
        _torch()
        from . import _roast_linear_torch

        return getattr(_roast_linear_torch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
