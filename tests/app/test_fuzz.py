"""Property-based fuzz of both command lines and the public API, plus the cases of the reliability issue.

Every bad input must end in exit status 2 with a one-line ``<prog> <command>: error: ...`` message on
stderr, no traceback, and no file changed; a valid input must give a finite, standard-JSON result. The
cases that used to allocate gigabytes run in one subprocess under a 6 GB address-space cap.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cachesim import CacheSimError
from cachesim.trace import make_chunk
from roast_theory import RoastTheoryError
from roast_toolkit.cli import cachesim_cmd, theory_cmd

FUZZ = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
AS_CAP = 6 << 30


def _snapshot(folder) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _cli(capsys, main, argv):
    """(status, stdout, stderr) of ``main(argv)`` in this process (argparse errors included)."""
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:  # argparse: usage line + error line, status 2
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


def _assert_clean_error(rc, err, prog):
    assert rc == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines and lines[-1].startswith(prog) and "error:" in lines[-1], err
    if not lines[0].startswith("usage:"):  # our own errors are exactly one line
        assert len(lines) == 1, err


def _assert_ok_or_clean_error(rc, out, err, prog):
    if rc == 0:
        assert "Traceback" not in err
        if out.lstrip().startswith("{"):
            json.loads(out, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    else:
        _assert_clean_error(rc, err, prog)


# ------------------------------------------------------------------------------------ generated inputs
_TOKENS = st.sampled_from(["0", "1", "2", "r", "w", "R", "q", "I", " L", " S", " M", "==1==", "#", "0x",
                           "10", "ffff", "ffffffffffffffff", "1e300", "-5", "4", "100000000000", ",",
                           "1048577", "zz", "\t", " ", "1.5", "x"])


@FUZZ
@given(lines=st.lists(st.lists(_TOKENS, min_size=1, max_size=5).map(" ".join), min_size=1, max_size=6),
       fmt=st.sampled_from(["din", "lackey"]))
def test_fuzz_text_traces(tmp_path, capsys, lines, fmt):
    p = tmp_path / f"t.{fmt}"
    p.write_text("\n".join(lines) + "\n")
    before = _snapshot(tmp_path)
    rc, out, err = _cli(capsys, cachesim_cmd.main, ["replay", p, "--hierarchy", "zen4", "--json"])
    _assert_ok_or_clean_error(rc, out, err, "cachesim replay")
    assert _snapshot(tmp_path) == before


def _bin_header(flags: int, count: int) -> bytes:
    """The 32-byte header of the documented binary trace format, written out by hand."""
    return (b"CSTRACE\x00" + (1).to_bytes(2, "little") + flags.to_bytes(2, "little") + bytes(4)
            + count.to_bytes(8, "little") + bytes(8))


@FUZZ
@given(body=st.binary(max_size=40), flags=st.integers(0, 0xFFFF), count=st.integers(0, 2**64 - 1))
def test_fuzz_binary_traces(tmp_path, capsys, body, flags, count):
    p = tmp_path / "t.bin"
    p.write_bytes(_bin_header(flags, count) + body)
    rc, out, err = _cli(capsys, cachesim_cmd.main, ["replay", p, "--hierarchy", "zen4", "--json"])
    _assert_ok_or_clean_error(rc, out, err, "cachesim replay")
    if rc == 0:  # only a consistent file is accepted
        assert len(body) == 8 * count and not flags & ~3


_BAD_VALUES = st.sampled_from([float("inf"), float("nan"), 1e160, -1e300, 1e61, 1 + 1j, "1.5", "abc", b"7"])


@FUZZ
@given(bad=_BAD_VALUES, where=st.integers(0, 7), which=st.sampled_from(["--x", "--w"]),
       cmd=st.sampled_from(["variance", "montecarlo"]))
def test_fuzz_theory_arrays(tmp_path, capsys, bad, where, which, cmd):
    good = np.linspace(-1, 1, 8)
    vals = list(good)
    vals[where] = bad
    arr = np.array(vals) if not isinstance(bad, str | bytes) else np.array([str(v) for v in vals])
    np.save(tmp_path / "x.npy", arr if which == "--x" else good)
    np.save(tmp_path / "w.npy", arr if which == "--w" else good)
    before = _snapshot(tmp_path)
    argv = [cmd, "--x", tmp_path / "x.npy", "--w", tmp_path / "w.npy", "--memory", "4", "--json"]
    if cmd == "montecarlo":
        argv += ["--trials", "200", "--no-progress"]
    rc, out, err = _cli(capsys, theory_cmd.main, argv)
    _assert_clean_error(rc, err, f"roast-theory {cmd}")
    assert _snapshot(tmp_path) == before


_BAD_COUNT_TEXT = st.sampled_from(["1e400", "nan", "inf", "-inf", "1.5", "1e-3", "abc", "", "1e", "--"])


@FUZZ
@given(opt=st.sampled_from(["--trials", "--memory"]), data=st.data())
def test_fuzz_montecarlo_counts(tmp_path, capsys, opt, data):
    high = 10**12 if opt == "--trials" else 2**53
    low = 2 if opt == "--trials" else 1  # the smallest valid value (memory >= tile size 1)
    value = data.draw(st.one_of(st.integers(-2**70, low - 1), st.integers(high + 1, 2**90),
                                st.integers(10 * high, 10**30).map(lambda v: f"{v:.3e}"), _BAD_COUNT_TEXT))
    np.save(tmp_path / "x.npy", np.ones(8))
    argv = ["montecarlo", "--x", tmp_path / "x.npy", "--w", tmp_path / "x.npy", "--memory", "4",
            "--trials", "100", "--no-progress", opt, value]
    rc, out, err = _cli(capsys, theory_cmd.main, argv)
    _assert_clean_error(rc, err, "roast-theory montecarlo")


@FUZZ
@given(field=st.sampled_from(["latency_cycles", "bandwidth_gbs", "size", "line", "ways"]),
       value=st.one_of(st.sampled_from(["Infinity", "NaN", "-Infinity", "1e309", "-1", "0", "\"x\"",
                                        "\"1 TiB\"", "true", "null", "[1]", "3.5"]),
                       st.integers(-2**70, 2**70).map(str)))
def test_fuzz_hierarchy_files(tmp_path, capsys, field, value):
    level = {"name": "L1", "size": 32768, "line": 64, "ways": 8}
    text = json.dumps({"levels": [level]}).replace(f'"{field}": ', f'"{field}": {value}, "_x": ') \
        if field in level else json.dumps({"levels": [level]})[:-3] + f', "{field}": {value}' + "}]}"
    h = tmp_path / "h.json"
    h.write_text(text)
    t = tmp_path / "t.din"
    t.write_text("r 40 8\n")
    rc, out, err = _cli(capsys, cachesim_cmd.main, ["replay", t, "--hierarchy", h, "--json"])
    _assert_ok_or_clean_error(rc, out, err, "cachesim replay")


@FUZZ
@given(opt=st.sampled_from(["--num-warps", "--num-stages", "--group-m", "--memory", "--seed", "--shape",
                            "--block", "--dtype"]),
       value=st.one_of(st.integers(-2**65, 2**65).map(str),
                       st.sampled_from(["3", "0", "-1", "1e3", "abc", "", "9223372036854775808x8x8",
                                        "float16", "bfloat16", "tf32", "fp64", "64x64", "8x8x8"])))
def test_fuzz_kernel_options(capsys, opt, value):
    argv = ["kernel", "--kernel", "roast", "--shape", "256x256x256", "--block", "64x64x32",
            "--memory", "10000", "--analytic", "--json", opt, value]
    rc, out, err = _cli(capsys, cachesim_cmd.main, argv)
    _assert_ok_or_clean_error(rc, out, err, "cachesim kernel")
    if rc == 0 and opt == "--num-warps":
        assert int(value) in (1, 2, 4, 8, 16, 32)


@FUZZ
@given(addr=st.one_of(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=5),
                      st.lists(st.integers(-2**64, 2**64), min_size=1, max_size=5),
                      st.lists(st.complex_numbers(), min_size=1, max_size=3),
                      st.lists(st.text(max_size=3), min_size=1, max_size=3)),
       size=st.one_of(st.none(), st.integers(-5, 2**40)))
def test_fuzz_make_chunk_api(addr, size):
    try:
        arr = np.asarray(addr)
    except OverflowError:
        assume(False)
    try:
        ch = make_chunk(arr, size=None if size is None else np.full(arr.shape, size))
    except CacheSimError as e:
        assert "\n" not in str(e)
        return
    assert ch.addr.dtype == np.int64 and np.all((ch.addr >= 0) & (ch.addr < 2**48))
    assert np.array_equal(ch.addr, np.asarray(addr, dtype=np.float64).astype(np.int64))
    assert ch.size is None or np.all((ch.size >= 1) & (ch.size <= 1 << 20))


@FUZZ
@given(x=st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                            st.complex_numbers(max_magnitude=10), st.sampled_from(["1", "2.5"])),
                  min_size=2, max_size=6),
       memory=st.one_of(st.integers(-3, 2**80), st.floats(allow_nan=True)))
def test_fuzz_theory_api(x, memory):
    import roast_theory as rt

    w = np.ones(len(x))
    try:
        res = rt.tile_hashing_moments(x, w, memory, 1, "element", "circular")
    except RoastTheoryError as e:
        assert "\n" not in str(e)
        return
    assert np.isfinite(res.mean) and np.isfinite(res.variance)
    assert all(isinstance(v, float) and abs(v) <= 1e60 for v in x)


# ------------------------------------------------------------------------- the cases of the issue
def test_issue_cases_text_and_values(tmp_path, capsys):
    """Each ``(argv, message)`` exits 2 with a one-line message containing ``message``."""
    np.save(tmp_path / "x.npy", np.ones(8))
    np.save(tmp_path / "w.npy", np.arange(8.0))
    np.save(tmp_path / "xh.npy", np.full(8, 1e160))
    np.save(tmp_path / "xc.npy", np.ones(8) + 1j)
    np.save(tmp_path / "xs.npy", np.array(list("12345678")))
    np.save(tmp_path / "a300.npy", np.array([1e300]))
    np.savez(tmp_path / "mods.npz", x0=np.ones(8), w0=np.ones(8), x1=np.ones(4), w1=np.ones(4))
    (tmp_path / "inf.json").write_text(
        '{"levels": [{"name": "L1", "size": 32768, "line": 64, "ways": 8, "latency_cycles": Infinity}]}')
    (tmp_path / "extra.din").write_text("0 1000\n1 2000 extra fields\n")
    (tmp_path / "ok.din").write_text("r 40 8\n")
    (tmp_path / "old.md").write_text("previous table\n")
    (tmp_path / "partial.bin").write_bytes(_bin_header(0, 1) + bytes(8) + b"\x01\x02\x03")
    (tmp_path / "flags.bin").write_bytes(_bin_header(4, 1) + bytes(8))
    t = tmp_path
    theory = [
        (["sharing", "--modules", t / "mods.npz", "--memory", "1000000000000000000000000"], "memory="),
        (["sharing", "--modules", t / "mods.npz", "--memory", "1e24"], "memory="),
        (["variance", "--x", t / "xh.npy", "--w", t / "xh.npy", "--memory", "4"], "1e+160"),
        (["montecarlo", "--x", t / "xh.npy", "--w", t / "w.npy", "--memory", "4", "--trials", "100"],
         "1e+160"),
        (["variance", "--x", t / "xc.npy", "--w", t / "w.npy", "--memory", "4"], "complex"),
        (["variance", "--x", t / "xs.npy", "--w", t / "w.npy", "--memory", "4"], "not text"),
        (["montecarlo", "--x", t / "x.npy", "--w", t / "w.npy", "--memory", "4", "--trials", "1e20"],
         "trials="),
        (["montecarlo", "--x", t / "x.npy", "--w", t / "w.npy", "--memory", "1e20", "--trials", "10"],
         "memory="),
    ]
    cachesim = [
        (["replay", t / "ok.din", "--hierarchy", t / "inf.json", "--json"], "latency_cycles=inf"),
        (["replay", t / "a300.npy", "--hierarchy", "zen4"], "1e+300"),
        (["replay", t / "extra.din", "--hierarchy", "zen4"], "extra.din:2: malformed line"),
        (["replay", t / "partial.bin", "--hierarchy", "zen4"], "partial record"),
        (["replay", t / "flags.bin", "--hierarchy", "zen4"], "unknown bits"),
        (["kernel", "--kernel", "roast", "--shape", "256x256x256", "--memory", "10000", "--num-warps", "3"],
         "num_warps=3 must be a power of two"),
        (["measure", "check", "--device", "tpu"], "--device='tpu'"),
        (["measure", "compare", "--dir", t / "no-records", "--markdown", t / "old.md"], ""),
        (["measure", "compare", "--markdown", t / "missing" / "table.md"], "does not exist"),
    ]
    before = _snapshot(tmp_path)
    for main, prog, cases in ((theory_cmd.main, "roast-theory", theory),
                              (cachesim_cmd.main, "cachesim", cachesim)):
        for argv, message in cases:
            rc, out, err = _cli(capsys, main, argv)
            _assert_clean_error(rc, err, f"{prog} {argv[0]}")
            assert message in err, (argv, err)
            assert not out.strip(), (argv, out)
    assert _snapshot(tmp_path) == before  # old.md included: a failed compare leaves it as it was


def test_dtype_aliases_give_the_same_prediction(capsys):
    outs = []
    for dt in ("fp16", "float16", "half"):
        rc, out, err = _cli(capsys, cachesim_cmd.main, [
            "kernel", "--kernel", "dense", "--shape", "256x256x256", "--block", "64x64x32", "--analytic",
            "--json", "--dtype", dt])
        assert rc == 0, err
        outs.append(json.loads(out))
    assert outs[0] == outs[1] == outs[2] and outs[0]["dtype"] == "fp16"


_CAPPED = r"""
import contextlib, io, json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap}))
from roast_toolkit.cli import cachesim_cmd, theory_cmd
results = []
for prog, argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = (cachesim_cmd if prog == "cachesim" else theory_cmd).main(argv)
        except SystemExit as e:
            rc = e.code
        except MemoryError:
            rc = "MemoryError"
    results.append([rc, err.getvalue()])
print(json.dumps(results))
"""


def test_issue_cases_that_used_to_allocate_gigabytes(tmp_path):
    """Under a 6 GB address-space cap: one-line errors, and no MemoryError, for the allocation cases."""
    (tmp_path / "big.lackey").write_text(" L 1000,100000000000\n")
    np.savez(tmp_path / "big.npz", addr=np.array([4096]), size=np.array([10**11]))
    (tmp_path / "tib.json").write_text('{"levels": [{"name": "L1", "size": "1 TiB", "line": 64, "ways": 8}]}')
    (tmp_path / "ok.din").write_text("r 40 8\n")
    t = str(tmp_path)
    cases = [
        ("cachesim", ["replay", f"{t}/big.lackey", "--hierarchy", "zen4"], "1048576"),
        ("cachesim", ["replay", f"{t}/big.npz", "--hierarchy", "zen4"], "1048576"),
        ("cachesim", ["replay", f"{t}/ok.din", "--hierarchy", f"{t}/tib.json"], "17179869184 lines"),
        ("cachesim", ["kernel", "--kernel", "dense", "--shape", "4611686018427387904x64x64"], "2**31"),
        ("cachesim", ["explain", "--shape", "1000000000000x768x3072"], "limit"),
        ("cachesim", ["explain", "--shape", "2097152x65536x32768"], "elements"),
        ("cachesim", ["explain", "--shape", "1048576x65536x65536"], "HashedNet slot table"),
        ("roast-theory", ["montecarlo", "--x", f"{t}/x.npy", "--w", f"{t}/x.npy", "--memory", "4",
                          "--trials", "100000000000000000000"], "trials="),
    ]
    np.save(tmp_path / "x.npy", np.ones(8))
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(
        os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p))
    proc = subprocess.run([sys.executable, "-c", _CAPPED.replace("{cap}", str(AS_CAP)),
                           json.dumps([[p, a] for p, a, _ in cases])],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    for (prog, argv, message), (rc, err) in zip(cases, json.loads(proc.stdout)):
        _assert_clean_error(rc, err, f"{prog} {argv[0]}")
        assert message in err, (argv, err)


@pytest.mark.parametrize("argv", [
    ["roast-theory", "montecarlo", "--memory", "64", "--trials", "1e12", "--no-progress"],
])
def test_ctrl_c_prints_one_line_and_exits_130(tmp_path, argv):
    np.save(tmp_path / "x.npy", np.ones(64))
    module = {"roast-theory": "roast_toolkit.cli.theory_cmd", "cachesim": "roast_toolkit.cli.cachesim_cmd"}
    cmd = [sys.executable, "-m", module[argv[0]], argv[1], "--x", str(tmp_path / "x.npy"),
           "--w", str(tmp_path / "x.npy"), *argv[2:]]
    before = _snapshot(tmp_path)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env=env)
    time.sleep(6)  # imports, then well inside the trial loop
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip() == f"{argv[0]} {argv[1]}: interrupted"
    assert not out and _snapshot(tmp_path) == before
