"""The application layer of the ROAST toolkit: what combines theory, simulation and measurement.

Layers (imports point one way only, checked by ``tests/app/test_layers.py``)::

    roast_theory            theory: hashes, mappings, closed forms, sympy, Monte Carlo, torch layers
    cachesim (core)         exact cache-hierarchy simulator: engine, config, presets, traces
    cachesim.kernels        kernel traces, traffic and cost models (may use roast_theory's hashes)
    cachesim.measure        real kernels, measurement harness and records (may use both above)
    roast_toolkit           the report and the two command lines (may use everything)

``roast_toolkit.report.build_report`` writes the end-to-end report folder; the command lines
``roast-theory`` and ``cachesim`` are :mod:`roast_toolkit.cli`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("roast-toolkit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
