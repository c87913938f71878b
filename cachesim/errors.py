"""The one exception type of :mod:`cachesim`."""


class CacheSimError(ValueError):
    """Bad input, an impossible cache configuration or a malformed trace.

    Messages name the argument (or the trace line / index), show its value and say what is
    allowed, e.g. ``line_size=48 must be a power of two``.
    """
