"""The in-memory form of a memory trace: chunks of addresses with optional sizes and write flags.

Every trace source (numpy arrays, trace files, kernel trace generators) yields
:class:`TraceChunk` objects; the engine consumes any iterable of them, so a trace larger than
memory replays chunk by chunk.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from ._validate import check_positive_int, plain  # noqa: F401 (plain: re-exported, it lived here)
from .errors import CacheSimError

DEFAULT_CHUNK = 1 << 22

#: Largest byte address accepted (48-bit virtual address space, and safe in int64 arithmetic).
MAX_ADDRESS = (1 << 48) - 1

#: Largest size of one access in bytes (1 MiB). Larger accesses are rejected when a trace is read, so a
#: single trace line can never ask for more than ``MAX_ACCESS_SIZE / line`` line pieces.
MAX_ACCESS_SIZE = 1 << 20

#: The engine and the profilers cut sized accesses into line pieces chunk by chunk; a chunk whose sizes
#: add up to more than this many bytes is processed in sub-chunks (bounded memory, same results).
MAX_CHUNK_BYTES = 1 << 24


@dataclass(frozen=True)
class TraceChunk:
    """A run of accesses.

    Attributes
    ----------
    addr : ndarray of int64
        Byte addresses, each in ``[0, MAX_ADDRESS]``.
    size : ndarray of int64 or None
        Bytes touched by each access (``None``: every access touches one byte). An access that
        spans a line boundary is split by the engine.
    write : ndarray of bool or None
        ``True`` for stores (``None``: all loads).
    start : int
        Index of the first access of this chunk in the whole trace (for error messages).
    """

    addr: np.ndarray
    size: np.ndarray | None = None
    write: np.ndarray | None = None
    start: int = 0

    def __len__(self) -> int:
        return int(self.addr.shape[0])


def _check_addresses(addr: np.ndarray, start: int) -> np.ndarray:
    a = np.asarray(addr)
    if a.ndim != 1:
        raise CacheSimError(f"trace addresses must be one-dimensional, got shape {a.shape}")
    if a.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            bad = np.flatnonzero(~np.isfinite(a) | (a != np.floor(a)) | (a < 0) | (a > MAX_ADDRESS))
        if bad.size:
            i = int(bad[0])
            raise CacheSimError(
                f"trace address at index {start + i} is {a[i].item()!r}: addresses must be integers "
                f"in [0, {MAX_ADDRESS}]"
            )
        a = a.astype(np.int64)
    elif a.dtype.kind == "u":
        if a.size and int(a.max()) > MAX_ADDRESS:
            i = int(np.argmax(a > MAX_ADDRESS))
            raise CacheSimError(
                f"trace address at index {start + i} is {int(a[i])}: addresses must be in "
                f"[0, {MAX_ADDRESS}]"
            )
        a = a.astype(np.int64)
    elif a.dtype.kind == "i":
        a = a.astype(np.int64, copy=False)
    elif a.size == 0:
        a = a.astype(np.int64)
    else:
        raise CacheSimError(f"trace addresses must be integers, got dtype {a.dtype}")
    # One pass, no temporaries: every address is in [0, MAX_ADDRESS] = [0, 2**48) iff the bitwise
    # OR of all of them is (a negative int64 sets the sign bit). Only a failing chunk is searched.
    if a.size and not 0 <= int(np.bitwise_or.reduce(a)) <= MAX_ADDRESS:
        i = int(np.flatnonzero((a < 0) | (a > MAX_ADDRESS))[0])
        raise CacheSimError(
            f"trace address at index {start + i} is {int(a[i])}: addresses must be in "
            f"[0, {MAX_ADDRESS}]"
        )
    return a


def _size_message(index: int, value: int) -> str:
    return (f"access size at index {index} is {value}: must be in [1, {MAX_ACCESS_SIZE}] bytes "
            f"(MAX_ACCESS_SIZE = 1 MiB)")


def check_sizes(addr: np.ndarray, size: np.ndarray, start: int = 0) -> None:
    """Raise unless every size is in ``[1, MAX_ACCESS_SIZE]``.

    With ``addr`` in ``[0, MAX_ADDRESS]`` this keeps ``addr + size`` far inside int64 (an access may end
    up to 1 MiB past ``MAX_ADDRESS``; its line numbers are still exact).
    """
    if not size.size:
        return
    lo, hi = int(size.min()), int(size.max())
    if lo < 1 or hi > MAX_ACCESS_SIZE:
        i = int(np.flatnonzero((size < 1) | (size > MAX_ACCESS_SIZE))[0])
        raise CacheSimError(_size_message(start + i, int(size[i])))


def byte_bounded(ch: TraceChunk, max_bytes: int = MAX_CHUNK_BYTES) -> Iterator[TraceChunk]:
    """``ch`` cut into consecutive sub-chunks of at most ``max_bytes`` bytes in total (one access at least).

    Consumers that expand accesses into line pieces iterate over this, so their memory is bounded by
    ``max_bytes / line + len(ch)`` pieces whatever the sizes.
    """
    if ch.size is None or len(ch) == 0:
        yield ch
        return
    csum = np.cumsum(ch.size)
    if int(csum[-1]) <= max_bytes:
        yield ch
        return
    lo, n = 0, len(ch)
    while lo < n:
        base = int(csum[lo - 1]) if lo else 0
        hi = max(int(np.searchsorted(csum, base + max_bytes, side="right")), lo + 1)
        yield TraceChunk(ch.addr[lo:hi], ch.size[lo:hi], None if ch.write is None else ch.write[lo:hi],
                         ch.start + lo)
        lo = hi


def make_chunk(addr, size=None, write=None, start: int = 0) -> TraceChunk:
    """Validate arrays and build a :class:`TraceChunk` (errors name the offending index)."""
    a = _check_addresses(addr, start)
    s = None
    if size is not None:
        s = np.asarray(size)
        if s.ndim == 0:
            s = np.full(a.shape, s)
        if s.shape != a.shape:
            raise CacheSimError(f"size has shape {s.shape}, must match addresses {a.shape}")
        if s.dtype.kind not in "iu":
            raise CacheSimError(f"size must be integers, got dtype {s.dtype}")
        if s.dtype.kind == "u" and s.size and int(s.max()) > MAX_ACCESS_SIZE:
            i = int(np.argmax(s > MAX_ACCESS_SIZE))
            raise CacheSimError(_size_message(start + i, int(s[i])))
        s = s.astype(np.int64, copy=False)
        check_sizes(a, s, start)
    w = None
    if write is not None:
        w = np.asarray(write)
        if w.ndim == 0:
            w = np.full(a.shape, bool(w))
        if w.shape != a.shape:
            raise CacheSimError(f"write has shape {w.shape}, must match addresses {a.shape}")
        w = w.astype(bool, copy=False)
    return TraceChunk(a, s, w, start)


def iter_chunks(trace, chunk_size: int = DEFAULT_CHUNK) -> Iterator[TraceChunk]:
    """Normalise ``trace`` into validated chunks of at most ``chunk_size`` accesses.

    ``trace`` may be a 1-D integer array (or list) of addresses, a :class:`TraceChunk`, or an
    iterable of :class:`TraceChunk` (e.g. a streaming file reader).
    """
    chunk_size = check_positive_int("chunk_size", chunk_size)
    if isinstance(trace, TraceChunk):
        yield from _split(trace, chunk_size)
        return
    if isinstance(trace, np.ndarray | list | tuple | range):
        arr = np.asarray(trace)
        for lo in range(0, max(arr.shape[0], 0), chunk_size):
            yield make_chunk(arr[lo : lo + chunk_size], start=lo)
        return
    if isinstance(trace, Iterable):
        pos = 0
        for ch in trace:
            if not isinstance(ch, TraceChunk):
                ch = make_chunk(ch, start=pos)
            yield from _split(ch, chunk_size)
            pos += len(ch)
        return
    raise CacheSimError(
        f"trace of type {type(trace).__name__} is not supported: pass an integer array of "
        "addresses, a TraceChunk or an iterable of TraceChunk"
    )


def _split(ch: TraceChunk, chunk_size: int) -> Iterator[TraceChunk]:
    n = len(ch)
    if n <= chunk_size:
        yield ch
        return
    for lo in range(0, n, chunk_size):
        hi = lo + chunk_size
        yield TraceChunk(
            ch.addr[lo:hi],
            None if ch.size is None else ch.size[lo:hi],
            None if ch.write is None else ch.write[lo:hi],
            ch.start + lo,
        )
