"""Trace files: round trips in every format, hand-written text, errors, a real valgrind lackey trace."""

from __future__ import annotations

import shutil
import subprocess
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cachesim import CacheSimError
from cachesim.trace import make_chunk
from cachesim.traceio import BIN_MAGIC, FORMATS, TraceWriter, detect_format, open_trace, write_trace


def collect(path, **kw):
    chunks = list(open_trace(path, **kw))
    n = sum(len(c) for c in chunks)
    starts = [c.start for c in chunks]
    assert starts == list(np.cumsum([0] + [len(c) for c in chunks[:-1]])) if chunks else True
    addr = np.concatenate([c.addr for c in chunks]) if chunks else np.empty(0, np.int64)
    size = [c.size if c.size is not None else np.ones(len(c), np.int64) for c in chunks]
    write = [c.write if c.write is not None else np.zeros(len(c), bool) for c in chunks]
    size = np.concatenate(size) if chunks else np.empty(0, np.int64)
    write = np.concatenate(write) if chunks else np.empty(0, bool)
    return n, addr, size, write, chunks


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("chunk", [1, 7, 1000, 1 << 22])
def test_round_trip_every_format(tmp_path, fmt, chunk):
    rng = np.random.default_rng(42)
    n = 5000
    addr = rng.integers(0, 1 << 47, n)
    addr[:3] = [0, (1 << 48) - 1, 64]
    size = rng.integers(1, 200, n)
    write = rng.random(n) < 0.4
    p = write_trace(tmp_path / f"t.{fmt}", make_chunk(addr, size, write), chunk_size=777)
    got_n, a, s, w, chunks = collect(p, chunk_size=chunk)
    assert got_n == n and np.array_equal(a, addr)
    assert all(len(c) <= chunk for c in chunks)
    if fmt != "npy":  # npy holds addresses only
        assert np.array_equal(s, size) and np.array_equal(w, write)
    assert detect_format(p) == fmt


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    addr=st.lists(st.integers(0, (1 << 48) - 1), max_size=60),
    fmt=st.sampled_from(FORMATS),
    chunk=st.integers(1, 70),
)
def test_round_trip_property(tmp_path, addr, fmt, chunk):
    p = write_trace(tmp_path / f"p.{fmt}", np.asarray(addr, dtype=np.int64))
    n, a, s, w, _ = collect(p, chunk_size=chunk)
    assert n == len(addr) and a.tolist() == addr
    assert not w.any() and np.all(s == 1)


def test_din_both_formats_by_hand(tmp_path):
    p = tmp_path / "hand.din"
    # one rule for every label: <label> <hexaddr> [<hexsize>]
    p.write_text("# comment\n0 1000\n1 0x2000 4\n\n2 3000\nr 40 8\nW ABC 10\n   r 0 1\nw 50\n")
    n, a, s, w, _ = collect(p)
    assert a.tolist() == [0x1000, 0x2000, 0x40, 0xABC, 0, 0x50]
    assert w.tolist() == [False, True, False, True, False, True]
    assert s.tolist() == [1, 4, 8, 16, 1, 1]
    n, a, _, _, _ = collect(p, include_instructions=True)
    assert a.tolist() == [0x1000, 0x2000, 0x3000, 0x40, 0xABC, 0, 0x50]


def test_lackey_by_hand(tmp_path):
    p = tmp_path / "hand.lackey"
    p.write_text(
        "==123== Lackey, an example Valgrind tool\n"
        "==123== Command: ./a.out\n"
        "I  04011e0,3\n"
        " L 1ffefffd58,8\n"
        " S 1ffefffd50,8\n"
        " M 0403fd8,4\n"
        "I  04011e3,5\n"
        "==123== \n"
    )
    n, a, s, w, _ = collect(p)
    assert a.tolist() == [0x1FFEFFFD58, 0x1FFEFFFD50, 0x403FD8, 0x403FD8]
    assert s.tolist() == [8, 8, 4, 4] and w.tolist() == [False, True, False, True]
    n, a, s, w, _ = collect(p, include_instructions=True)
    assert a.tolist() == [0x4011E0, 0x1FFEFFFD58, 0x1FFEFFFD50, 0x403FD8, 0x403FD8, 0x4011E3]
    assert s.tolist()[0] == 3 and s.tolist()[-1] == 5
    assert detect_format(p) == "lackey"
    q = tmp_path / "noext"
    q.write_bytes(p.read_bytes())
    assert detect_format(q) == "lackey"


def test_text_without_final_newline_and_crlf(tmp_path):
    p = tmp_path / "x.din"
    p.write_bytes(b"0 10\r\n1 20\r\nr 30 4")
    n, a, s, w, _ = collect(p)
    assert a.tolist() == [0x10, 0x20, 0x30] and w.tolist() == [False, True, False]


@pytest.mark.parametrize(
    ("fmt", "text", "line", "match"),
    [
        ("din", "0 10\n0 zz\n", 2, "malformed line '0 zz'"),
        ("din", "0 10\n1 20\n5 30\n", 3, "unknown access label '5 30'"),
        ("din", "r 10 4 5\n", 1, "malformed line 'r 10 4 5'"),
        ("din", "1 10 extra\n", 1, "malformed line '1 10 extra'"),
        ("din", "0 10 100001\n", 1, "access size larger than the limit"),
        ("lackey", " L 10,100000000000\n", 1, "access size larger than the limit of 1048576"),
        ("lackey", " L 10,1048577\n", 1, "access size larger than the limit"),
        ("din", "r 10 0\n", 1, "access size 0"),
        ("din", "0 1000000000000\n", 1, "out of range"),
        ("din", "0 -10\n", 1, "malformed"),
        ("din", "0 1.5\n", 1, "malformed"),
        ("lackey", " L 10,4\n X 10,4\n", 2, "unknown access label"),
        ("lackey", " L 10\n", 1, "malformed line ' L 10'"),
        ("lackey", " L 10,4 junk\n", 1, "malformed"),
    ],
)
def test_malformed_text_names_file_line_and_content(tmp_path, fmt, text, line, match):
    p = tmp_path / f"bad.{fmt}"
    p.write_text(text)
    with pytest.raises(CacheSimError, match=match) as e:
        list(open_trace(p))
    assert f"{p}:{line}:" in str(e.value)


def test_malformed_line_number_after_many_blocks(tmp_path, monkeypatch):
    import cachesim.traceio as tio

    monkeypatch.setattr(tio, "_TEXT_BLOCK", 64)  # force many small blocks
    p = tmp_path / "many.din"
    p.write_text("".join(f"0 {i:x}\n" for i in range(500)) + "0 0x\n")
    with pytest.raises(CacheSimError, match=r"many\.din:501: malformed line '0 0x'"):
        list(open_trace(p))
    p.write_text("".join(f"1 {i:x}\n" for i in range(500)))
    n, a, _, w, _ = collect(p, chunk_size=33)
    assert a.tolist() == list(range(500)) and w.all()


@pytest.mark.parametrize(
    ("arr", "match"),
    [
        (np.array([0, 64, -1]), "index 2 is -1"),
        (np.array([0.0, 2.5]), "index 1 is"),
        (np.array([0, 1 << 50], dtype=np.uint64), "index 1 is"),
        (np.array([[1, 2]]), "must be 1-D"),
    ],
)
def test_bad_npy_addresses_name_the_index(tmp_path, arr, match):
    p = tmp_path / "bad.npy"
    np.save(p, arr)
    with pytest.raises(CacheSimError, match=match):
        list(open_trace(p, chunk_size=2))


def test_npz_needs_addr_and_matching_lengths(tmp_path):
    p = tmp_path / "a.npz"
    np.savez(p, address=np.arange(3))
    with pytest.raises(CacheSimError, match="no array 'addr'.*address"):
        list(open_trace(p))
    np.savez_compressed(p, addr=np.arange(3), size=np.ones(2, np.int64))
    with pytest.raises(CacheSimError, match="'size' .* 2 entries, 'addr' has 3"):
        list(open_trace(p))
    np.savez_compressed(p, addr=np.arange(4) * 8, write=np.array([0, 1, 0, 1], bool))
    n, a, s, w, _ = collect(p, chunk_size=3)
    assert a.tolist() == [0, 8, 16, 24] and w.tolist() == [False, True, False, True]


def test_bin_header_and_errors(tmp_path):
    p = tmp_path / "t.bin"
    with TraceWriter(p) as wr:
        wr.write(np.array([1, 2, 3]))
        wr.write(make_chunk(np.array([4]), size=np.array([32768]), write=np.array([True])))
    raw = p.read_bytes()
    assert raw[:8] == BIN_MAGIC and len(raw) == 32 + 4 * 8
    rec = np.frombuffer(raw[32:], "<u8")
    assert int(rec[3]) == 4 | (32767 << 48) | (1 << 63)  # by hand from the documented layout
    n, a, s, w, _ = collect(p)
    assert a.tolist() == [1, 2, 3, 4] and s.tolist() == [1, 1, 1, 32768] and w.tolist() == [0, 0, 0, 1]
    p.write_bytes(raw[:-3])
    with pytest.raises(CacheSimError, match="partial record \\(5 trailing bytes\\)"):
        list(open_trace(p))
    p.write_bytes(raw[:-8])
    with pytest.raises(CacheSimError, match="truncated: header says 4 records, file holds 3"):
        list(open_trace(p))
    p.write_bytes(raw + bytes(8))
    with pytest.raises(CacheSimError, match="extra records: header says 4 records, file holds 5"):
        list(open_trace(p))
    p.write_bytes(raw[:10] + b"\x07\x00" + raw[12:])  # flag bit 2 is not defined
    with pytest.raises(CacheSimError, match="flags=0x7: unknown bits"):
        list(open_trace(p))
    p.write_bytes(raw[:10] + b"\x01\x00" + raw[12:])  # a store bit in a trace without stores
    with pytest.raises(CacheSimError, match="record 3 has store bits"):
        list(open_trace(p))
    p.write_bytes(raw[:16] + (2**64 - 1).to_bytes(8, "little") + raw[24:])
    with pytest.raises(CacheSimError, match="not closed"):
        list(open_trace(p))
    p.write_bytes(b"CSTRACE\x00" + b"\x02\x00" + raw[10:])
    with pytest.raises(CacheSimError, match="version 2"):
        list(open_trace(p))
    with pytest.raises(CacheSimError, match="sizes in \\[1, 32768\\]"):
        write_trace(tmp_path / "big.bin", make_chunk([0], size=[40000]))


def test_unknown_format_and_missing_file(tmp_path):
    with pytest.raises(CacheSimError, match="does not exist"):
        open_trace(tmp_path / "nope.bin")
    p = tmp_path / "mystery.dat"
    p.write_text("hello world\n")
    with pytest.raises(CacheSimError, match="cannot tell the format"):
        open_trace(p)
    with pytest.raises(CacheSimError, match="format='csv' is not supported"):
        open_trace(p, format="csv")
    with pytest.raises(CacheSimError, match="chunk_size=0"):
        open_trace(p, format="din", chunk_size=0)


def test_bin_memory_is_bounded_by_chunk(tmp_path):
    # Streaming: chunks are fresh arrays of at most chunk_size, never views of a whole-file array.
    p = write_trace(tmp_path / "s.bin", np.arange(100_000) * 64)
    for c in open_trace(p, chunk_size=4096):
        assert len(c) <= 4096 and (c.addr.base is None or c.addr.base.size <= 4096)


C_PROGRAM = r"""
#include <stdio.h>
static volatile int arr[256];
int main(void) {
    printf("%lx\n", (unsigned long)arr);
    fflush(stdout);
    for (int i = 0; i < 256; i++) arr[i] = i;
    int s = 0;
    for (int i = 0; i < 256; i++) s += arr[i];
    return s == 32640 ? 0 : 1;
}
"""


@pytest.mark.skipif(not (shutil.which("valgrind") and shutil.which("gcc")), reason="needs valgrind and gcc")
def test_real_lackey_trace_from_compiled_program(tmp_path):
    src = tmp_path / "prog.c"
    src.write_text(C_PROGRAM)
    exe = tmp_path / "prog"
    subprocess.run(["gcc", "-O1", "-o", str(exe), str(src)], check=True, capture_output=True)
    log = tmp_path / "trace.lackey"
    r = subprocess.run(
        ["valgrind", "--tool=lackey", "--trace-mem=yes", f"--log-file={log}", str(exe)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    base = int(r.stdout.split()[0], 16)
    n, a, s, w, _ = collect(log)
    assert n > 1000
    in_arr = (a >= base) & (a < base + 4 * 256)
    # the program stores arr[0..255] in order, then loads them in order: 4-byte accesses
    stores = a[in_arr & w]
    loads = a[in_arr & ~w]
    assert stores.tolist() == [base + 4 * i for i in range(256)]
    assert loads.tolist() == [base + 4 * i for i in range(256)]
    assert np.all(s[in_arr] == 4)
    # replayed as fully associative LRU with 64-byte lines: the array is 16 lines, cold misses only
    from cachesim.stackdist import miss_ratio_curve

    arr_trace = make_chunk(a[in_arr], s[in_arr], w[in_arr])
    curve = miss_ratio_curve(arr_trace)
    first = base >> 6
    last = (base + 4 * 256 - 1) >> 6
    assert curve.misses(16) == last - first + 1
    # with instruction fetches included the trace only grows
    n_i, *_ = collect(log, include_instructions=True)
    assert n_i > n


def test_npz_members_are_streamed(tmp_path):
    # a compressed npz is read member-wise through zipfile streams, not loaded whole
    p = tmp_path / "c.npz"
    np.savez_compressed(p, addr=np.arange(50_000) * 8)
    with zipfile.ZipFile(p) as z:
        assert z.getinfo("addr.npy").compress_type == zipfile.ZIP_DEFLATED
    n, a, _, _, chunks = collect(p, chunk_size=10_000)
    assert n == 50_000 and len(chunks) == 5 and a[-1] == 49_999 * 8


@pytest.mark.slow
def test_text_parsers_run_without_jit(tmp_path, run_python):

    p = tmp_path / "t.lackey"
    p.write_text("==1== x\nI  0400,3\n L 10,4\n M 20,8\n S 30,2\n")
    d = tmp_path / "t.din"
    d.write_text("0 10\n1 20\nr 30 4\n")
    code = (
        "from cachesim.traceio import open_trace\n"
        f"c = list(open_trace({str(p)!r}))[0]\n"
        "assert c.addr.tolist() == [0x10, 0x20, 0x20, 0x30] and c.write.tolist() == [0, 0, 1, 1]\n"
        f"c = list(open_trace({str(d)!r}))[0]\n"
        "assert c.addr.tolist() == [0x10, 0x20, 0x30] and c.size.tolist() == [1, 1, 4]\n"
        "print('ok')\n"
    )
    assert run_python(code, jit=False).strip() == "ok"
