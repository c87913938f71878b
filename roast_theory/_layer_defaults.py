"""Defaults shared by :mod:`roast_theory.torch_layers` and the torch modules it loads on first use."""

#: Default standard deviation of the shared array's initial values (RzLinear's ``init`` = 0.04).
MEMORY_INIT_STD = 0.04
