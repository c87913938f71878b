"""CPU timings of the weight gather ``W = M[idx]`` for HashedNet and ROAST index patterns.

The "gather + mm" implementation of a hashed layer first materialises the virtual weight ``W = M[idx]``.
Its cost is a gather whose locality depends on the index pattern and on which cache level holds the
shared array ``M``:

* HashedNet (element hashing): every ``idx`` is an independent uniform slot, so each value read touches a
  random 64 B line of ``M``;
* ROAST (tile hashing): a ``BK x BN`` tile is a contiguous block of ``M``; a row of ``BN`` floats is read
  in order, so one line serves ``64 / 4 = 16`` reads.

:func:`gather_sweep` times the gather (single thread, median of repeats after warm-up) while ``M`` grows
from far below L1 to far above L3, for a fixed-size ``W``. :func:`gather_indices` builds the two index
patterns; :func:`compare_knees` sets the measured knees beside the simulated ones.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from ..errors import CacheSimError

__all__ = ["GatherSweep", "GatherTiming", "gather_indices", "gather_sweep", "PATTERNS", "BACKENDS"]

PATTERNS = ("hashednet", "roast")
BACKENDS = ("torch", "numpy")
VALUE_BYTES = 4  # float32 shared array


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < low:
        raise CacheSimError(f"{name}={value!r} must be an integer >= {low}")
    return int(value)


def gather_indices(pattern: str, m_slots: int, n_rows: int, n_cols: int, *, tile: tuple[int, int] = (32, 64),
                   seed: int = 0) -> np.ndarray:
    """Slots read by ``W = M[idx]`` for a ``(n_rows, n_cols)`` weight, in W's row-major order.

    Parameters
    ----------
    pattern : {"hashednet", "roast"}
        ``"hashednet"``: one independent uniform slot per element (ideal element hash).
        ``"roast"``: ``BK x BN`` tiles, each a contiguous row-major block starting at a uniform slot, with
        circular placement.
    m_slots : int
        Size of the shared array ``M`` in elements.
    n_rows, n_cols : int
        Shape of ``W``; for ``"roast"`` they must be multiples of ``tile``.
    tile : (int, int)
        ``(BK, BN)``, RzLinear's default ``(32, 64)``.
    seed : int
        Seed of the hash draw.

    Returns
    -------
    numpy.ndarray of int64, shape (n_rows * n_cols,)

    Notes
    -----
    ROAST: :math:`idx(k, n) = (s_{k // BK,\\, n // BN} + (k \\bmod BK)\\, BN + (n \\bmod BN)) \\bmod m`,
    :math:`s \\sim U[0, m)`. HashedNet: :math:`idx(k, n) \\sim U[0, m)` independently.
    """
    if pattern not in PATTERNS:
        raise CacheSimError(f"pattern={pattern!r} is not allowed: choose one of {', '.join(PATTERNS)}")
    m_slots = _check_int("m_slots", m_slots, 1)
    n_rows = _check_int("n_rows", n_rows, 1)
    n_cols = _check_int("n_cols", n_cols, 1)
    rng = np.random.default_rng(_check_int("seed", seed, 0))
    if pattern == "hashednet":
        return rng.integers(0, m_slots, size=n_rows * n_cols, dtype=np.int64)
    bk, bn = (_check_int("tile[0]", tile[0], 1), _check_int("tile[1]", tile[1], 1))
    if n_rows % bk or n_cols % bn:
        raise CacheSimError(f"W shape ({n_rows}, {n_cols}) must be a multiple of tile=({bk}, {bn})")
    starts = rng.integers(0, m_slots, size=(n_rows // bk, n_cols // bn), dtype=np.int64)
    # (row block, in-tile row, col block, in-tile col) -> start + row * BN + col
    offs = (np.arange(bk, dtype=np.int64)[:, None] * bn + np.arange(bn, dtype=np.int64)[None, :])
    idx = starts[:, None, :, None] + offs[None, :, None, :]
    return (idx % m_slots).reshape(-1)


@dataclass(frozen=True)
class GatherTiming:
    """One timed gather: pattern, backend, shared-array size and the repeat times (seconds)."""

    pattern: str
    backend: str
    h_bytes: int
    n_elements: int
    times_s: tuple

    @property
    def median_s(self) -> float:
        return float(np.median(self.times_s))

    @property
    def ns_per_element(self) -> float:
        """Median time per gathered element in nanoseconds."""
        return self.median_s / self.n_elements * 1e9

    def to_case(self) -> dict:
        return {"pattern": self.pattern, "backend": self.backend, "h_bytes": self.h_bytes,
                "n_elements": self.n_elements, "times_s": list(self.times_s), "median_s": self.median_s,
                "ns_per_element": self.ns_per_element}

    @classmethod
    def from_case(cls, case: dict) -> GatherTiming:
        try:
            return cls(case["pattern"], case["backend"], int(case["h_bytes"]), int(case["n_elements"]),
                       tuple(case["times_s"]))
        except (KeyError, TypeError) as exc:
            raise CacheSimError(f"gather_sweep case {case!r} lacks a field: {exc}") from None


@dataclass(frozen=True)
class GatherSweep:
    """Timings of ``W = M[idx]`` over shared-array sizes; build with :func:`gather_sweep`.

    Attributes
    ----------
    timings : tuple of GatherTiming
    """

    timings: tuple

    def h_bytes(self) -> np.ndarray:
        """Sorted distinct shared-array sizes (bytes)."""
        return np.array(sorted({t.h_bytes for t in self.timings}), dtype=np.int64)

    def curve(self, pattern: str, backend: str) -> np.ndarray:
        """Median ns per element at each of :meth:`h_bytes` for one pattern and backend."""
        by_h = {t.h_bytes: t.ns_per_element for t in self.timings
                if t.pattern == pattern and t.backend == backend}
        if not by_h:
            raise CacheSimError(f"no timings for pattern={pattern!r}, backend={backend!r}")
        return np.array([by_h.get(int(h), np.nan) for h in self.h_bytes()])

    def ratio(self, backend: str = "torch") -> np.ndarray:
        """HashedNet time / ROAST time at each of :meth:`h_bytes`.

        Notes
        -----
        :math:`r(H) = t_\\text{HashedNet}(H) / t_\\text{ROAST}(H)` (medians).
        """
        return self.curve("hashednet", backend) / self.curve("roast", backend)

    def to_cases(self) -> list:
        return [t.to_case() for t in self.timings]

    @classmethod
    def from_cases(cls, cases) -> GatherSweep:
        return cls(tuple(GatherTiming.from_case(c) for c in cases))


def _timer(backend: str, memory: np.ndarray, index: np.ndarray, out: np.ndarray):
    if backend == "numpy":
        def run():
            np.take(memory, index, out=out)
        return run
    import torch

    m_t, i_t, o_t = torch.from_numpy(memory), torch.from_numpy(index), torch.from_numpy(out)

    def run():
        torch.index_select(m_t, 0, i_t, out=o_t)
    return run


def gather_sweep(h_bytes, *, shape: tuple[int, int] = (2048, 2048), tile: tuple[int, int] = (32, 64),
                 backends=("torch", "numpy"), patterns=PATTERNS, repeats: int = 7, warmup: int = 2,
                 seed: int = 0, progress=None) -> GatherSweep:
    """Time ``W = M[idx]`` (single thread) for each shared-array size in ``h_bytes``.

    Parameters
    ----------
    h_bytes : sequence of int
        Sizes of the float32 shared array ``M`` in bytes (multiples of 4).
    shape : (int, int)
        Shape of ``W`` (fixed over the sweep; default 4M elements).
    tile : (int, int)
        ROAST tile ``(BK, BN)``.
    backends : sequence of {"torch", "numpy"}
        ``torch.index_select(M, 0, idx, out=W)`` with ``torch.set_num_threads(1)``, or
        ``numpy.take(M, idx, out=W)``.
    repeats, warmup : int
        Timed repeats (the median is reported) after untimed warm-up calls.
    seed : int
        Seed of the index draw and of ``M``'s values.
    progress : callable or None
        Called with a short text after each case.

    Returns
    -------
    GatherSweep

    Notes
    -----
    Per element the gather streams one int64 index (8 B) and one float32 output (4 B), and reads one
    float32 from ``M`` at a slot given by the pattern; only the last depends on ``H``.
    """
    sizes = [_check_int("h_bytes", h, VALUE_BYTES) for h in h_bytes]
    for h in sizes:
        if h % VALUE_BYTES:
            raise CacheSimError(f"h_bytes={h} must be a multiple of {VALUE_BYTES} (float32 values)")
    for b in backends:
        if b not in BACKENDS:
            raise CacheSimError(f"backend={b!r} is not allowed: choose one of {', '.join(BACKENDS)}")
    repeats = _check_int("repeats", repeats, 1)
    warmup = _check_int("warmup", warmup, 0)
    if "torch" in backends:
        import torch

        torch.set_num_threads(1)
    n_rows, n_cols = (_check_int("shape[0]", shape[0], 1), _check_int("shape[1]", shape[1], 1))
    out = np.empty(n_rows * n_cols, dtype=np.float32)
    rng = np.random.default_rng(seed)
    timings = []
    for h in sizes:
        m_slots = h // VALUE_BYTES
        memory = rng.standard_normal(m_slots, dtype=np.float32)
        for pattern in patterns:
            index = gather_indices(pattern, m_slots, n_rows, n_cols, tile=tile, seed=seed)
            for backend in backends:
                run = _timer(backend, memory, index, out)
                for _ in range(warmup):
                    run()
                times = []
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    run()
                    times.append(time.perf_counter() - t0)
                timing = GatherTiming(pattern, backend, h, out.size, tuple(times))
                timings.append(timing)
                if progress is not None:
                    progress(f"H={h:>11d} B {pattern:9s} {backend:5s} {timing.ns_per_element:7.3f} ns/elem "
                             f"load={os.getloadavg()[0]:.2f}")
            del index
        del memory
    return GatherSweep(tuple(timings))
