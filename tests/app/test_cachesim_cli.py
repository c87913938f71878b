"""``cachesim`` CLI: replay and misscurve against the library on the same data, errors, streaming memory."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from cachesim import HierarchyConfig, LevelConfig, replay
from cachesim.trace import make_chunk
from cachesim.traceio import write_trace
from roast_toolkit.cli.cachesim_cmd import SUBCOMMANDS, build_parser, main


def run_cli(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def small_trace(tmp_path):
    rng = np.random.default_rng(9)
    addr = np.concatenate([rng.integers(0, 1 << 20, 20_000), np.arange(0, 1 << 16, 8)])
    write = rng.random(addr.size) < 0.25
    return addr, write, tmp_path


@pytest.mark.parametrize("fmt", ["bin", "din", "lackey", "npz"])
def test_replay_json_equals_library_replay(capsys, small_trace, fmt):
    addr, write, tmp = small_trace
    chunk = make_chunk(addr, size=np.full(addr.size, 4), write=write)
    path = write_trace(tmp / f"t.{fmt}", chunk)
    status, out, err = run_cli(
        capsys, "replay", str(path), "--hierarchy", "zen4", "--json", "--chunk-size", "5000"
    )
    assert status == 0
    data = json.loads(out)  # stdout is exactly one JSON object
    expected = replay(chunk, "zen4")
    assert [lv["name"] for lv in data["levels"]] == ["L1", "L2", "L3"]
    for got, exp in zip(data["levels"], expected.levels):
        assert (got["accesses"], got["hits"], got["misses"]) == (exp.accesses, exp.hits, exp.misses)
        assert got["accesses"] == got["hits"] + got["misses"] + got["sector_misses"]
    assert data["format"] == fmt


def test_replay_progress_bar_goes_to_stderr(capsys, small_trace):
    addr, _, tmp = small_trace
    path = write_trace(tmp / "t.bin", addr)
    status, out, err = run_cli(capsys, "replay", str(path), "--hierarchy", "zen4", "--json", "--progress")
    assert status == 0
    json.loads(out)
    assert "replay" in err  # tqdm's bar, on stderr only


@pytest.mark.slow
def test_replay_hierarchy_from_json_and_toml(capsys, small_trace):
    addr, _, tmp = small_trace
    path = write_trace(tmp / "t.npy", addr)
    levels = [
        {"name": "L1", "size": "4KiB", "line": 64, "ways": 4},
        {"name": "L2", "size": 65536, "ways": 16},
    ]
    (tmp / "h.json").write_text(json.dumps({"levels": levels}))
    (tmp / "h.toml").write_text(
        textwrap.dedent(
            """
            [[levels]]
            name = "L1"
            size = "4KiB"
            line = 64
            ways = 4
            [[levels]]
            name = "L2"
            size = 65536
            ways = 16
            """
        )
    )
    expected = replay(addr, HierarchyConfig(levels=tuple(LevelConfig(**lv) for lv in levels)))
    for h in ("h.json", "h.toml"):
        status, out, _ = run_cli(capsys, "replay", str(path), "--hierarchy", str(tmp / h), "--json")
        assert status == 0
        got = [(lv["hits"], lv["misses"]) for lv in json.loads(out)["levels"]]
        assert got == [(lv.hits, lv.misses) for lv in expected.levels]


def test_replay_text_output(capsys, small_trace):
    addr, _, tmp = small_trace
    path = write_trace(tmp / "t.bin", addr)
    status, out, _ = run_cli(capsys, "replay", str(path), "--hierarchy", "zen4")
    assert status == 0 and "L3" in out and "miss_ratio" in out


@pytest.mark.parametrize(
    ("setup", "argv", "match"),
    [
        (None, ["replay", "{tmp}/missing.bin", "--hierarchy", "zen4"], "does not exist"),
        (
            "0 10\n1 zz\n",
            ["replay", "{tmp}/bad.din", "--hierarchy", "zen4"],
            r"bad\.din:2: malformed line '1 zz'",
        ),
        ("0 10\n", ["replay", "{tmp}/bad.din", "--hierarchy", "nosuch"], "hierarchy='nosuch'"),
        ("0 10\n", ["replay", "{tmp}/bad.din", "--hierarchy", "zen4", "--chunk-size", "0"], "chunk_size=0"),
        (
            "0 10\n",
            ["misscurve", "{tmp}/bad.din", "--line-size", "48"],
            "line_size=48 must be a power of two",
        ),
        ("0 10\n", ["misscurve", "{tmp}/bad.din", "--sizes", "1000"], "multiple of 64"),
        ("0 10\n", ["misscurve", "{tmp}/bad.din", "--sampling-rate", "2"], "sampling_rate=2.0"),
    ],
)
def test_errors_exit_2_with_message_and_no_traceback(capsys, tmp_path, setup, argv, match):
    import re

    if setup is not None:
        (tmp_path / "bad.din").write_text(setup)
    argv = [a.format(tmp=tmp_path) for a in argv]
    status, out, err = run_cli(capsys, *argv)
    assert status == 2 and out == ""
    assert err.startswith(f"cachesim {argv[0]}: error: ") and re.search(match, err), err
    assert "Traceback" not in err


def test_console_script_error_has_no_traceback(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "roast_toolkit.cli.cachesim_cmd", "replay", str(tmp_path / "x.bin"),
         "--hierarchy", "zen4"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr


def test_misscurve_per_set_equals_replay_at_each_associativity(capsys, small_trace):
    addr, _, tmp = small_trace
    path = write_trace(tmp / "t.bin", addr)
    status, out, _ = run_cli(capsys, "misscurve", str(path), "--sets", "16", "--max-ways", "8", "--json")
    assert status == 0
    data = json.loads(out)
    assert data["mode"] == "per-set" and [p["ways"] for p in data["points"]] == list(range(1, 9))
    for p in data["points"]:
        lv = LevelConfig("L1", 16 * 64 * p["ways"], 64, p["ways"])
        assert p["misses"] == replay(addr, lv).levels[0].misses


def test_misscurve_level_geometry_from_preset(capsys, small_trace):
    addr, _, tmp = small_trace
    path = write_trace(tmp / "t.bin", addr)
    status, out, _ = run_cli(capsys, "misscurve", str(path), "--level", "zen4", "L1", "--json")
    assert status == 0
    data = json.loads(out)
    assert data["sets"] == 64 and len(data["points"]) == 32
    eight = next(p for p in data["points"] if p["ways"] == 8)
    assert eight["misses"] == replay(addr, "zen4").levels[0].misses  # zen4 L1 = 64 sets x 8 ways
    status, _, err = run_cli(capsys, "misscurve", str(path), "--level", "zen4", "L9")
    assert status == 2 and "no level named 'L9'" in err


def test_misscurve_fully_associative_sizes_equal_replay(capsys, small_trace):
    addr, _, tmp = small_trace
    path = write_trace(tmp / "t.npy", addr)
    status, out, _ = run_cli(capsys, "misscurve", str(path), "--sizes", "4KiB,64KiB", "--json")
    assert status == 0
    pts = json.loads(out)["points"]
    assert [p["size_bytes"] for p in pts] == [4096, 65536]
    for p in pts:
        lv = LevelConfig("FA", p["size_bytes"], 64, "full")
        assert p["misses"] == replay(addr, lv).levels[0].misses
    status, out, _ = run_cli(capsys, "misscurve", str(path))
    assert status == 0 and "fully-associative" in out


def test_misscurve_sampled_is_marked_approximate(capsys, small_trace):
    addr, _, tmp = small_trace
    path = write_trace(tmp / "t.bin", addr)
    status, out, _ = run_cli(capsys, "misscurve", str(path), "--sampling-rate", "0.5", "--json")
    data = json.loads(out)
    assert status == 0 and data["exact"] is False and data["sampling_rate"] == pytest.approx(0.5)


def test_subcommand_table_is_one_row_per_command(monkeypatch):
    import types

    fake = types.ModuleType("fake_cmd")
    fake.add_parser = lambda sub: sub.add_parser("hello", help="test")
    fake.run = lambda args: 7
    monkeypatch.setitem(sys.modules, "fake_cmd", fake)
    monkeypatch.setattr("roast_toolkit.cli.cachesim_cmd.SUBCOMMANDS", SUBCOMMANDS + [("hello", "fake_cmd")])
    assert main(["hello"]) == 7
    assert "hello" in build_parser().format_help()


RSS_CHILD = r"""
import json, resource, sys
from roast_toolkit.cli.cachesim_cmd import main
status = main(sys.argv[1:])
print(json.dumps({"status": status, "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}),
      file=sys.stderr)
"""


def _peak_rss_kib(path, chunk):
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            RSS_CHILD,
            "replay",
            str(path),
            "--hierarchy",
            "zen4",
            "--json",
            "--no-progress",
            "--chunk-size",
            str(chunk),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    stats = json.loads(r.stderr.strip().splitlines()[-1])
    assert stats["status"] == 0
    return json.loads(r.stdout), stats["maxrss_kib"]


@pytest.mark.slow
def test_streamed_replay_memory_is_bounded(tmp_path):
    """5e7 accesses (400 MB of binary trace) stream through the CLI with bounded peak RSS.

    Baseline: the same command on a 1,000-access trace. Holding the trace (or one int64 array of
    it) would add >= 400 MB; chunks of 2**20 accesses need a few tens of MB.
    """
    from cachesim.traceio import TraceWriter

    n_total, step = 50_000_000, 5_000_000
    big = tmp_path / "big.bin"
    with TraceWriter(big) as w:
        for lo in range(0, n_total, step):
            i = np.arange(lo, lo + step, dtype=np.int64)
            w.write((i * 8) % (48 << 20))  # sweeps over 48 MiB: misses at every level
    small = write_trace(tmp_path / "small.bin", np.arange(1000) * 8)
    data_small, rss_small = _peak_rss_kib(small, 1 << 20)
    data_big, rss_big = _peak_rss_kib(big, 1 << 20)
    assert data_big["accesses"] == n_total and data_small["accesses"] == 1000
    growth_mib = (rss_big - rss_small) / 1024
    assert growth_mib < 150, (rss_small, rss_big)
