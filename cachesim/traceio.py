"""Trace files: streaming readers (bounded memory) and atomic writers.

Formats
-------
``npy``
    One 1-D integer array of byte addresses (read in chunks from the file, never whole).
``npz``
    Arrays ``addr`` and optionally ``size`` (bytes per access) and ``write`` (bool); plain or
    compressed, streamed member by member.
``din``
    Dinero IV text (rules below).
``lackey``
    ``valgrind --tool=lackey --trace-mem=yes`` output (rules below).
``bin``
    This package's compact binary format, described in :data:`BIN_FORMAT_DOC`.

Parsing rules (one per format; any other line is an error naming the file, the line number and the line)

======== ================================================= ==========================================
format   accepted                                          rejected
======== ================================================= ==========================================
din      ``<label> <hexaddr> [<hexsize>]``; label ``0``,   a fourth field, a non-hex field, label not
         ``r``, ``R`` read, ``1``, ``w``, ``W`` write,     in the list, size 0 or > 1 MiB, address
         ``2`` instruction fetch; ``0x`` prefixes; blank   > 2**48-1
         lines and ``#`` comments skipped; no size: 1 B
lackey   ``I  addr,size``, `` L``, `` S``, `` M`` (a load  any other label, a missing size, anything
         then a store) with hex address, decimal size;     after the size, size 0 or > 1 MiB, address
         ``==pid==`` lines and blank lines skipped         out of range as for din
bin      a header with the magic, version 1, known flag    a trailing partial record, records beyond
         bits, and exactly ``count`` 8-byte records        or short of ``count``, unknown flag bits,
                                                           size / store bits set without their flag
npy/npz  integer (or integral float) addresses in range;   non-integers, negatives, complex, strings,
         sizes in ``[1, MAX_ACCESS_SIZE]``                 sizes out of range, mismatched lengths
======== ================================================= ==========================================

Every reader stops at the first bad access, before allocating anything for it; the largest access is
:data:`cachesim.trace.MAX_ACCESS_SIZE` (1 MiB). Text is parsed by a compiled scanner over blocks of whole
lines (no Python loop per line). Every writer writes a temporary file in the target's folder and renames
it over the target at the end: an error or Ctrl-C leaves the previous file intact.
"""

from __future__ import annotations

import os
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from . import _parse_status as _status
from ._atomic import atomic_output, check_output_folder
from ._validate import check_positive_int
from .errors import CacheSimError
from .trace import (
    DEFAULT_CHUNK,
    MAX_ACCESS_SIZE,
    MAX_ADDRESS,
    TraceChunk,
    check_sizes,
    iter_chunks,
    make_chunk,
)

__all__ = ["TraceFile", "TraceWriter", "open_trace", "write_trace", "FORMATS", "BIN_MAGIC", "BIN_FORMAT_DOC"]

FORMATS = ("npy", "npz", "din", "lackey", "bin")

BIN_MAGIC = b"CSTRACE\x00"
BIN_VERSION = 1
_BIN_HEADER = struct.Struct("<8sHHIQQ")  # magic, version, flags, reserved, count, reserved
_FLAG_SIZE = 1
_FLAG_WRITE = 2
_KNOWN_FLAGS = _FLAG_SIZE | _FLAG_WRITE
_UNKNOWN_COUNT = (1 << 64) - 1
_ADDR_MASK = (1 << 48) - 1
_MAX_BIN_SIZE = 1 << 15

BIN_FORMAT_DOC = """\
cachesim binary trace, version 1 (little-endian throughout)

header (32 bytes):
  0  8 bytes  magic  b"CSTRACE\\0"
  8  uint16   version = 1
 10  uint16   flags: bit 0 = records carry sizes, bit 1 = trace contains stores
 12  uint32   reserved (0)
 16  uint64   record count (equal to the number of records that follow)
 24  uint64   reserved (0)
records (8 bytes each, uint64):
  bits  0..47  byte address (0 .. 2**48-1)
  bits 48..62  access size - 1 (sizes 1 .. 32768; 0 when the trace has no sizes)
  bit  63      1 = store, 0 = load (0 when the trace has no stores)
A reader rejects unknown flag bits, a body that is not exactly count * 8 bytes, and size or store bits
in a trace whose flags say it has none.
"""

_EXT = {
    ".npy": "npy",
    ".npz": "npz",
    ".din": "din",
    ".dinero": "din",
    ".lackey": "lackey",
    ".lk": "lackey",
    ".bin": "bin",
    ".cst": "bin",
    ".cstrace": "bin",
}

_TEXT_BLOCK = 1 << 23  # bytes of text parsed per kernel call

#: Largest ``chunk_size`` of a trace reader (2**26 accesses, about 1.1 GiB of arrays per chunk).
MAX_READ_CHUNK = 1 << 26

_ERR_TEXT = {
    _status.MALFORMED: "malformed line",
    _status.OUT_OF_RANGE: f"address or size out of range [0, {MAX_ADDRESS}]",
    _status.BAD_LABEL: "unknown access label",
    _status.ZERO_SIZE: "access size 0 (must be >= 1)",
    _status.TOO_LARGE: f"access size larger than the limit of {MAX_ACCESS_SIZE} bytes (1 MiB)",
}
_EXPECT = {
    "din": "expected '<label> <hexaddr> [<hexsize>]' (label 0|r read, 1|w write, 2 ifetch)",
    "lackey": "expected lackey 'I  addr,size', ' L addr,size', ' S addr,size' or ' M addr,size'",
}


def _check_format(fmt):
    if fmt is not None and fmt not in FORMATS:
        raise CacheSimError(f"format={fmt!r} is not supported: choose one of {', '.join(FORMATS)} or None")
    return fmt


def detect_format(path) -> str:
    """Trace format from the file extension, else from the first bytes (magic / first lines)."""
    p = Path(path)
    ext = p.suffix.lower()
    if ext in _EXT:
        return _EXT[ext]
    try:
        with open(p, "rb") as f:
            head = f.read(4096)
    except OSError as e:
        raise CacheSimError(f"cannot read trace {str(p)!r}: {e.strerror or e}") from e
    if head.startswith(BIN_MAGIC):
        return "bin"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"PK\x03\x04"):
        return "npz"
    for raw in head.split(b"\n")[:-1] or head.split(b"\n"):
        line = raw.strip()
        if not line or line.startswith(b"#"):
            continue
        if line.startswith(b"==") or raw[:1] == b" " or raw[:3] == b"I  ":
            return "lackey"
        if line[:1] in b"012rwRW" and len(line) > 1 and line[1:2] in b" \t":
            return "din"
        break
    raise CacheSimError(
        f"cannot tell the format of trace {str(p)!r} from its extension or contents: pass "
        f"format= one of {', '.join(FORMATS)}"
    )


class TraceFile:
    """A trace file as a re-iterable stream of :class:`~cachesim.trace.TraceChunk`.

    Parameters
    ----------
    path : str or Path
    format : {"npy", "npz", "din", "lackey", "bin"} or None
        ``None``: detected from the extension or the file's first bytes.
    chunk_size : int
        Accesses per chunk, at most :data:`MAX_READ_CHUNK` (memory use is O(chunk_size)).
    include_instructions : bool
        Keep instruction fetches (din label 2, lackey ``I``) as loads; default: data only.
    """

    def __init__(self, path, format=None, *, chunk_size=DEFAULT_CHUNK, include_instructions=False):
        self.path = Path(path)
        self.chunk_size = check_positive_int("chunk_size", chunk_size, high=MAX_READ_CHUNK)
        self.include_instructions = bool(include_instructions)
        if not self.path.exists():
            raise CacheSimError(f"trace file {str(self.path)!r} does not exist")
        self.format = _check_format(format) or detect_format(self.path)

    def __repr__(self):
        return f"TraceFile({str(self.path)!r}, format={self.format!r}, chunk_size={self.chunk_size})"

    def __iter__(self) -> Iterator[TraceChunk]:
        reader = {
            "npy": self._iter_npy,
            "npz": self._iter_npz,
            "din": self._iter_text,
            "lackey": self._iter_text,
            "bin": self._iter_bin,
        }[self.format]
        try:
            yield from reader()
        except CacheSimError:
            raise
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
            raise CacheSimError(f"cannot read {self.format} trace {str(self.path)!r}: {e}") from e

    # -- numpy ---------------------------------------------------------------------------------

    def _npy_stream(self, f, what):
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        if len(shape) != 1:
            raise CacheSimError(f"{what} in trace {str(self.path)!r} has shape {shape}: must be 1-D")
        if dtype.hasobject or dtype.kind not in "iufb":
            raise CacheSimError(f"{what} in trace {str(self.path)!r} has dtype {dtype}: must be numeric")
        return shape[0], dtype

    def _read_exact(self, f, dtype, count, what):
        nbytes = count * dtype.itemsize
        buf = f.read(nbytes)
        if len(buf) != nbytes:
            raise CacheSimError(f"{what} in trace {str(self.path)!r} is truncated")
        return np.frombuffer(buf, dtype=dtype)

    def _iter_npy(self):
        with open(self.path, "rb") as f:
            n, dtype = self._npy_stream(f, "array")
            for lo in range(0, n, self.chunk_size):
                m = min(self.chunk_size, n - lo)
                yield make_chunk(self._read_exact(f, dtype, m, "array"), start=lo)

    def _iter_npz(self):
        with zipfile.ZipFile(self.path) as z:
            names = set(z.namelist())
            if "addr.npy" not in names:
                raise CacheSimError(
                    f"npz trace {str(self.path)!r} has no array 'addr' (has: "
                    f"{', '.join(sorted(s.removesuffix('.npy') for s in names)) or 'none'})"
                )
            streams = {}
            try:
                for key in ("addr", "size", "write"):
                    if key + ".npy" in names:
                        f = z.open(key + ".npy")
                        streams[key] = (f, *self._npy_stream(f, f"array {key!r}"))
                n = streams["addr"][1]
                for key, (_, m, _) in streams.items():
                    if m != n:
                        raise CacheSimError(
                            f"array {key!r} in trace {str(self.path)!r} has {m} entries, 'addr' has {n}"
                        )
                for lo in range(0, n, self.chunk_size):
                    m = min(self.chunk_size, n - lo)
                    parts = {
                        k: self._read_exact(f, dt, m, f"array {k!r}") for k, (f, _, dt) in streams.items()
                    }
                    yield make_chunk(parts["addr"], parts.get("size"), parts.get("write"), start=lo)
            finally:
                for f, _, _ in streams.values():
                    f.close()

    # -- text ----------------------------------------------------------------------------------

    def _iter_text(self):
        from . import _traceio_kernel as _k  # numba: loaded when a text trace is first read

        parse = _k.parse_din if self.format == "din" else _k.parse_lackey
        cap = self.chunk_size
        addr = np.empty(0, np.int64)
        size = np.empty(0, np.int64)
        write = np.empty(0, np.bool_)
        pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        n_pending = 0
        pos = 0  # accesses yielded so far
        line_no = 0  # lines before the current block
        with open(self.path, "rb") as f:
            tail = b""
            while True:
                data = f.read(_TEXT_BLOCK)
                eof = not data
                block = tail + data
                if eof:
                    if block and not block.endswith(b"\n"):
                        block += b"\n"
                    tail = b""
                else:
                    cut = block.rfind(b"\n")
                    if cut < 0:
                        tail = block
                        continue
                    tail = block[cut + 1 :]
                    block = block[: cut + 1]
                buf = np.frombuffer(block, dtype=np.uint8)
                n_lines = block.count(b"\n")
                need = 2 * n_lines
                if addr.shape[0] < need:
                    addr = np.empty(need, np.int64)
                    size = np.empty(need, np.int64)
                    write = np.empty(need, np.bool_)
                n, status, bad = parse(buf, self.include_instructions, addr, size, write)
                if status != _status.OK:
                    lineno = line_no + block.count(b"\n", 0, bad) + 1
                    end = block.find(b"\n", bad)
                    text = block[bad:end].decode("utf-8", "replace").rstrip("\r")
                    raise CacheSimError(
                        f"{self.path}:{lineno}: {_ERR_TEXT[status]} {text!r}; {_EXPECT[self.format]}"
                    )
                line_no += n_lines
                if n:
                    pending.append((addr[:n].copy(), size[:n].copy(), write[:n].copy()))
                    n_pending += n
                if n_pending >= cap or (eof and n_pending):
                    a, s, w = (np.concatenate(x) for x in zip(*pending))
                    full = n_pending if eof else n_pending - n_pending % cap
                    for lo in range(0, full, cap):
                        hi = min(lo + cap, full)
                        yield self._text_chunk(a[lo:hi], s[lo:hi], w[lo:hi], pos)
                        pos += hi - lo
                    pending = [(a[full:], s[full:], w[full:])] if full < n_pending else []
                    n_pending -= full
                if eof:
                    break

    @staticmethod
    def _text_chunk(a, s, w, start):
        sizes = None if not s.any() else np.where(s == 0, 1, s)
        writes = w if w.any() else None
        return TraceChunk(a, sizes, writes, start)

    # -- binary --------------------------------------------------------------------------------

    def _iter_bin(self):
        file_size = os.path.getsize(self.path)
        with open(self.path, "rb") as f:
            head = f.read(_BIN_HEADER.size)
            if len(head) < _BIN_HEADER.size or not head.startswith(BIN_MAGIC):
                raise CacheSimError(f"{str(self.path)!r} is not a cachesim binary trace (bad magic)")
            _, version, flags, _, count, _ = _BIN_HEADER.unpack(head)
            if version != BIN_VERSION:
                raise CacheSimError(
                    f"binary trace {str(self.path)!r} has version {version}: this reader knows {BIN_VERSION}"
                )
            count = self._bin_check(flags, count, file_size - _BIN_HEADER.size)
            dtype = np.dtype("<u8")
            for lo in range(0, count, self.chunk_size):
                m = min(self.chunk_size, count - lo)
                rec = np.fromfile(f, dtype=dtype, count=m)
                if rec.shape[0] != m:
                    raise CacheSimError(f"binary trace {str(self.path)!r} is truncated at record {lo}")
                yield self._bin_chunk(rec, flags, lo)

    def _bin_check(self, flags, count, body) -> int:
        name = str(self.path)
        if flags & ~_KNOWN_FLAGS:
            raise CacheSimError(
                f"binary trace {name!r} has flags={flags:#x}: unknown bits (known: {_KNOWN_FLAGS:#x})"
            )
        if count == _UNKNOWN_COUNT:
            raise CacheSimError(f"binary trace {name!r} was not closed by its writer (no record count)")
        if body % 8:
            raise CacheSimError(
                f"binary trace {name!r} ends in a partial record ({body % 8} trailing bytes)"
            )
        if body != 8 * count:
            what = "is truncated" if body < 8 * count else "has extra records"
            raise CacheSimError(
                f"binary trace {name!r} {what}: header says {count} records, file holds {body // 8}"
            )
        return count

    def _bin_chunk(self, rec, flags, lo) -> TraceChunk:
        addr = (rec & np.uint64(_ADDR_MASK)).astype(np.int64)
        size_bits = (rec >> np.uint64(48)) & np.uint64(0x7FFF)
        store_bits = rec >> np.uint64(63)
        for flag, bits, what in ((_FLAG_SIZE, size_bits, "size"), (_FLAG_WRITE, store_bits, "store")):
            if not flags & flag and bits.any():
                i = int(np.flatnonzero(bits)[0])
                raise CacheSimError(
                    f"binary trace {str(self.path)!r}: record {lo + i} has {what} bits but the header "
                    f"flags={flags:#x} say the trace has none"
                )
        size = size_bits.astype(np.int64) + 1 if flags & _FLAG_SIZE else None
        if size is not None:
            check_sizes(addr, size, lo)
        write = store_bits.astype(bool) if flags & _FLAG_WRITE else None
        return TraceChunk(addr, size, write, lo)


def open_trace(path, format=None, *, chunk_size=DEFAULT_CHUNK, include_instructions=False) -> TraceFile:
    """Open a trace file as a stream of chunks (see :class:`TraceFile`)."""
    return TraceFile(path, format, chunk_size=chunk_size, include_instructions=include_instructions)


class TraceWriter:
    """Streaming writer of the binary format (:data:`BIN_FORMAT_DOC`); use as a context manager.

    Records go to a temporary file in the target's folder; :meth:`close` writes the header's record
    count and flags and renames the file over ``path``. Leaving the ``with`` block by an exception (or
    calling :meth:`abort`) removes the temporary file and keeps any previous ``path`` intact.
    """

    def __init__(self, path):
        self.path = check_output_folder(path, "trace")
        self._ctx = atomic_output(self.path, "wb", "trace")
        self._f = self._ctx.__enter__()
        self._f.write(_BIN_HEADER.pack(BIN_MAGIC, BIN_VERSION, 0, 0, _UNKNOWN_COUNT, 0))
        self.count = 0
        self._flags = 0
        self._done = False

    def write(self, trace, chunk_size=DEFAULT_CHUNK) -> None:
        """Append accesses: an address array, a TraceChunk or an iterable of chunks."""
        for ch in iter_chunks(trace, chunk_size):
            rec = ch.addr.astype(np.uint64)
            if ch.size is not None:
                big = np.flatnonzero(ch.size > _MAX_BIN_SIZE)
                if big.size:
                    i = int(big[0])
                    raise CacheSimError(
                        f"access size at index {ch.start + i} is {int(ch.size[i])}: the binary format "
                        f"holds sizes in [1, {_MAX_BIN_SIZE}]"
                    )
                rec |= (ch.size - 1).astype(np.uint64) << np.uint64(48)
                self._flags |= _FLAG_SIZE
            if ch.write is not None and ch.write.any():
                rec |= ch.write.astype(np.uint64) << np.uint64(63)
                self._flags |= _FLAG_WRITE
            rec.astype("<u8", copy=False).tofile(self._f)
            self.count += len(ch)

    def close(self) -> None:
        """Write the header and move the file into place."""
        if self._done:
            return
        self._done = True
        self._f.seek(0)
        self._f.write(_BIN_HEADER.pack(BIN_MAGIC, BIN_VERSION, self._flags, 0, self.count, 0))
        self._ctx.__exit__(None, None, None)

    def abort(self, exc: BaseException | None = None) -> None:
        """Drop what was written; ``path`` keeps its previous content."""
        if self._done:
            return
        self._done = True
        exc = exc or CacheSimError("trace writer aborted")
        try:
            self._ctx.__exit__(type(exc), exc, exc.__traceback__)
        except BaseException as e:  # the context re-raises ``exc``: swallow only that one
            if e is not exc:
                raise

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort(exc)


def _npz_arrays(chunks) -> dict:
    arrays = {"addr": np.concatenate([c.addr for c in chunks]) if chunks else np.empty(0, np.int64)}
    if any(c.size is not None for c in chunks):
        arrays["size"] = np.concatenate(
            [np.ones(len(c), np.int64) if c.size is None else c.size for c in chunks]
        )
    if any(c.write is not None for c in chunks):
        arrays["write"] = np.concatenate(
            [np.zeros(len(c), bool) if c.write is None else c.write for c in chunks]
        )
    return arrays


def _text_lines(ch: TraceChunk, fmt: str) -> list[str]:
    w = np.zeros(len(ch), bool) if ch.write is None else ch.write
    if fmt == "din":
        if ch.size is None:
            return [f"{int(wr)} {a:x}" for a, wr in zip(ch.addr.tolist(), w.tolist())]
        return [
            f"{'w' if wr else 'r'} {a:x} {s:x}"
            for a, s, wr in zip(ch.addr.tolist(), ch.size.tolist(), w.tolist())
        ]
    s = np.ones(len(ch), np.int64) if ch.size is None else ch.size
    return [f" {'S' if wr else 'L'} {a:08x},{sz}"
            for a, sz, wr in zip(ch.addr.tolist(), s.tolist(), w.tolist())]


def write_trace(path, trace, format=None, *, chunk_size=DEFAULT_CHUNK) -> Path:
    """Write a trace (array, TraceChunk or iterable of chunks) in any of :data:`FORMATS`, atomically.

    ``npy`` keeps addresses only; ``din`` writes ``r|w <hexaddr> <hexsize>`` when sizes are
    present, else ``<label> <hexaddr>``; ``lackey`` writes `` L``/`` S`` lines (size 1 if absent).
    Text writers are for tests and interchange (about 1 M lines/s), ``bin`` for speed. The file is
    written under a temporary name in the same folder and renamed at the end: on an error (or Ctrl-C)
    ``path`` keeps its previous content. A missing folder is a :class:`CacheSimError`.
    """
    path = Path(path)
    fmt = _check_format(format) or _EXT.get(path.suffix.lower())
    if fmt is None:
        raise CacheSimError(
            f"cannot tell the format from {str(path)!r}: pass format= one of {', '.join(FORMATS)}"
        )
    check_output_folder(path, "trace")
    if fmt == "bin":
        with TraceWriter(path) as w:
            w.write(trace, chunk_size)
        return path
    if fmt in ("npy", "npz"):
        chunks = list(iter_chunks(trace, chunk_size))
        with atomic_output(path, "wb", "trace") as f:
            if fmt == "npy":
                np.save(f, np.concatenate([c.addr for c in chunks]) if chunks else np.empty(0, np.int64))
            else:
                np.savez(f, **_npz_arrays(chunks))
        return path
    with atomic_output(path, "w", "trace") as f:
        for ch in iter_chunks(trace, chunk_size):
            lines = _text_lines(ch, fmt)
            if lines:
                f.write("\n".join(lines) + "\n")
    return path
