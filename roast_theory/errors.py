"""The one exception type of :mod:`roast_theory`."""


class RoastTheoryError(ValueError):
    """Bad input or an impossible request to :mod:`roast_theory`.

    Messages name the argument, show its value and say what is allowed, e.g.
    ``memory=3 must be an integer >= tile=8``.
    """
