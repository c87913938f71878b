"""Status codes the text-trace parsers (:mod:`cachesim._traceio_kernel`) return, kept apart from the numba
kernels so that :mod:`cachesim.traceio` can name them without loading numba."""

OK = 0
MALFORMED = 1
OUT_OF_RANGE = 2
BAD_LABEL = 3
ZERO_SIZE = 4
TOO_LARGE = 5
