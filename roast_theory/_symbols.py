"""The sympy symbols the general-size derivations share.

Sizes ``n``, ``T`` tiles, ``Z`` offsets, memory ``m``, and the vectors ``x``, ``w`` as ``IndexedBase``
(``x[t]`` element-wise, ``x[a, o]`` tile ``a``, offset ``o``).
"""

from __future__ import annotations

import sympy as sp

N, T, Z = sp.symbols("n T Z", integer=True, positive=True)
M = sp.Symbol("m", positive=True)
X, W = sp.IndexedBase("x"), sp.IndexedBase("w")
