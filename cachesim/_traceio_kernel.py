"""Private numba parsers for text traces (plain Python when ``NUMBA_DISABLE_JIT=1``).

Each parser scans a block of complete lines (a uint8 buffer ending in ``\\n``) and fills address /
size / write arrays. On a bad line it stops and reports the byte offset of that line and an
error code; the Python caller turns that into a message with the file name and line number.
"""

from __future__ import annotations

import numba
import numpy as np

from ._parse_status import BAD_LABEL, MALFORMED, OK, OUT_OF_RANGE, TOO_LARGE, ZERO_SIZE  # noqa: F401
from .trace import MAX_ACCESS_SIZE as _MAX_SIZE
from .trace import MAX_ADDRESS as _MAX_ADDRESS

_NL = 10
_SP = 32
_TAB = 9
_CR = 13


@numba.njit(cache=True)
def _is_space(c):
    return c == _SP or c == _TAB or c == _CR


@numba.njit(cache=True)
def _hexval(c):
    c = np.int64(c)  # a uint8 byte: without the JIT, uint8 arithmetic would wrap around
    if 48 <= c <= 57:
        return c - 48
    if 97 <= c <= 102:
        return c - 87
    if 65 <= c <= 70:
        return c - 55
    return -1


@numba.njit(cache=True)
def _parse_hex(buf, j, end):
    """Hex number (optional ``0x``) at ``buf[j:end]``: returns ``(value, next, status)``."""
    if j + 1 < end and buf[j] == 48 and (buf[j + 1] == 120 or buf[j + 1] == 88):
        j += 2
    v = 0
    n = 0
    while j < end:
        h = _hexval(buf[j])
        if h < 0:
            break
        if v > (_MAX_ADDRESS >> 4):
            return 0, j, OUT_OF_RANGE
        v = v * 16 + h
        n += 1
        j += 1
    if n == 0:
        return 0, j, MALFORMED
    if v > _MAX_ADDRESS:
        return 0, j, OUT_OF_RANGE
    return v, j, OK


@numba.njit(cache=True)
def _parse_dec(buf, j, end):
    v = 0
    n = 0
    while j < end and 48 <= buf[j] <= 57:
        if v > _MAX_SIZE:
            return 0, j, TOO_LARGE
        v = v * 10 + (np.int64(buf[j]) - 48)
        n += 1
        j += 1
    if n == 0:
        return 0, j, MALFORMED
    return v, j, OK


@numba.njit(cache=True)
def _line_end(buf, j):
    while buf[j] != _NL:
        j += 1
    return j


@numba.njit(cache=True)
def _skip_space(buf, j, end):
    while j < end and _is_space(buf[j]):
        j += 1
    return j


@numba.njit(cache=True)
def _label_and_address(buf, j, end):
    """``<label char> <spaces> <hex address>`` at ``j``: returns ``(label, address, j, status)``."""
    c = buf[j]
    j += 1
    if j >= end or not _is_space(buf[j]):
        return c, 0, j, MALFORMED
    a, j, st = _parse_hex(buf, _skip_space(buf, j, end), end)
    return c, a, j, st


@numba.njit(cache=True)
def _check_size(s):
    """Status of an access of ``s`` bytes: ZERO_SIZE, TOO_LARGE or OK."""
    if s == 0:
        return ZERO_SIZE
    if s > _MAX_SIZE:
        return TOO_LARGE
    return OK


@numba.njit(cache=True)
def _put(addr, size, write, n, a, s, w):
    addr[n] = a
    size[n] = s
    write[n] = w
    return n + 1


@numba.njit(cache=True)
def parse_din(buf, include_ifetch, addr, size, write):
    """Dinero ``din`` lines: ``<label> <hexaddr> [<hexsize>]``, label ``0``/``r``/``R`` read,
    ``1``/``w``/``W`` write, ``2`` instruction fetch; nothing may follow the optional size.

    Returns ``(n_records, status, bad_line_offset)``; size 0 in ``size`` means "no size given".
    Empty lines and lines starting with ``#`` are skipped.
    """
    n = 0
    i = 0
    nb = buf.shape[0]
    while i < nb:
        start = i
        end = _line_end(buf, i)
        j = _skip_space(buf, i, end)
        i = end + 1
        if j == end or buf[j] == 35:
            continue
        c, a, j, st = _label_and_address(buf, j, end)
        if st != OK:
            return n, st, start
        if j < end and not _is_space(buf[j]):
            return n, MALFORMED, start
        if not (c == 114 or c == 119 or c == 82 or c == 87 or c == 48 or c == 49 or c == 50):
            return n, BAD_LABEL, start
        s = 0
        j = _skip_space(buf, j, end)
        if j != end:  # the optional size
            s, j, st = _parse_hex(buf, j, end)
            if st != OK:
                return n, st, start
            if _skip_space(buf, j, end) != end:
                return n, MALFORMED, start
            st = _check_size(s)
            if st != OK:
                return n, st, start
        if c == 50 and not include_ifetch:
            continue
        n = _put(addr, size, write, n, a, s, c == 49 or c == 119 or c == 87)
    return n, OK, -1


@numba.njit(cache=True)
def parse_lackey(buf, include_instr, addr, size, write):
    """Valgrind lackey ``--trace-mem=yes`` lines: ``I  addr,size``, `` L``, `` S``, `` M`` (load + store).

    ``==pid==`` lines and empty lines are skipped. Returns ``(n_records, status, bad_line_offset)``;
    ``addr`` etc. need room for two records per line (``M``).
    """
    n = 0
    i = 0
    nb = buf.shape[0]
    while i < nb:
        start = i
        end = _line_end(buf, i)
        j = i
        i = end + 1
        if end - j >= 2 and buf[j] == 61 and buf[j + 1] == 61:  # '=='
            continue
        j = _skip_space(buf, j, end)
        if j == end:
            continue
        c, a, j, st = _label_and_address(buf, j, end)
        if st != OK:
            return n, st, start
        if j >= end or buf[j] != 44:  # ','
            return n, MALFORMED, start
        s, j, st = _parse_dec(buf, j + 1, end)
        if st != OK:
            return n, st, start
        if _skip_space(buf, j, end) != end:
            return n, MALFORMED, start
        st = _check_size(s)
        if st != OK:
            return n, st, start
        if c == 76 or c == 83:  # L S
            n = _put(addr, size, write, n, a, s, c == 83)
        elif c == 77:  # M: load then store
            n = _put(addr, size, write, n, a, s, False)
            n = _put(addr, size, write, n, a, s, True)
        elif c == 73:  # I
            if include_instr:
                n = _put(addr, size, write, n, a, s, False)
        else:
            return n, BAD_LABEL, start
    return n, OK, -1
