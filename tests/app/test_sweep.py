"""Sweeps: spec validation, serial runs, failures, resume, atomic writes, CSV round trip, Dask == serial."""

from __future__ import annotations

import json
import socket
import warnings
from pathlib import Path

import numpy as np
import pytest

import roast_toolkit.sweep._run as sweep_run
from roast_toolkit.sweep import SweepError, load_spec, read_table, run_sweep
from roast_toolkit.sweep._cli import main as sweep_main

KERNEL_SPEC = """
command = "kernel"
[grid]
kernel = ["dense", "roast"]
target = ["h200", "zen4"]
memory = [1024, 4096]
[defaults]
shape = "64x64x64"
block = "32x32x32"
loop_tiles = "16x16x16"
"""

THEORY_SPEC = """
command = "variance"
[grid]
n = [64, 256]
memory = [16, 32]
tile = [1, 4]
sign = ["element", "tile"]
"""


def write(tmp_path: Path, text: str, name: str = "spec.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def without_time(rows) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ----------------------------------------------------------------------------------------- the spec
def test_grid_is_the_cartesian_product_in_grid_order(tmp_path):
    spec = load_spec(write(tmp_path, THEORY_SPEC))
    assert len(spec.points) == 16
    assert [(p["n"], p["memory"]) for p in spec.points[:5]] == [(64, 16)] * 4 + [(64, 32)]
    assert {p["placement"] for p in spec.points} == {"circular"}  # defaults fill the rest


@pytest.mark.parametrize("body, words", [
    ('[grid]\nkernal = ["dense"]\nshape = "64x64x64"', ["grid.kernal", "kernel"]),
    ('[grid]\nkernel = ["dense", "sparse"]\nshape = "64x64x64"', ["kernel='sparse'", "gather-roast"]),
    ('[grid]\nkernel = "dense"\nshape = ["64x64"]', ["shape='64x64'"]),
    ('[grid]\nkernel = "dense"\nshape = "64x64x64"\ntarget = ["h300"]', ["target='h300'", "zen4"]),
    ('[grid]\nkernel = "dense"\nshape = "64x64x64"\nmemory = [0]', ["memory=0", ">= 1"]),
    ('[grid]\nkernel = "dense"\nshape = "64x64x64"\nbackward = ["yes"]', ["backward='yes'"]),
    ('[grid]\nkernel = "dense"\nshape = "64x64x64"\nblock = "48x64x32"', ["BLOCK_M=48"]),
    ('[grid]\nkernel = "dense"\nshape = "64x64x64"\nseed = []', ["grid.seed=[]"]),
    ('[grid]\nkernel = "dense"\nshape = "64x64x64"\nseed = [1, 1]', ["grid.seed", "twice"]),
    ('[grid]\nkernel = "dense"\n', ["shape"]),
    ('[grid]\nkernel = "roast"\nshape = "64x64x64"', ["memory is required", "roast"]),
    ('[grid]\nkernel = "dense"\nshape = "64x64x64"\ntarget = "zen4"\nanalytic = true', ["analytic", "zen4"]),
    ('[grid]\nkernel = "dense"\nshape = "100x64x64"', ["M=100", "BLOCK_M=128"]),
    ('[grid]\nkernel = "dense"\nshape = "64x64x64"\n[other]\na = 1', ["'other'"]),
    ('command = "train"\n[grid]\nn = 1', ["command='train'"]),
    ('[grid]\nkernel = "dense"\nshape = "64x64x64"\n[defaults]\nkernel = "roast"', ["'kernel'", "twice"]),
    ('[grid\n', ["not valid TOML"]),
])
def test_a_bad_spec_names_the_key_and_value_and_writes_nothing(tmp_path, body, words):
    spec = write(tmp_path, body)
    out = tmp_path / "out.csv"
    with pytest.raises(SweepError) as info:
        run_sweep(spec, out=out, command="kernel")
    for w in words:
        assert w in str(info.value)
    assert files_in(tmp_path) == ["spec.toml"]


def test_theory_spec_checks(tmp_path):
    with pytest.raises(SweepError, match="n is required"):
        load_spec({"command": "variance", "grid": {"memory": 16}})
    with pytest.raises(SweepError, match="memory=4 must be >= tile=8"):
        load_spec({"command": "variance", "grid": {"n": 64, "memory": 4, "tile": 8}})
    with pytest.raises(SweepError, match="x='nope.npy'"):
        load_spec({"command": "variance", "grid": {"x": "nope.npy", "w": "nope.npy", "memory": 4}})
    with pytest.raises(SweepError, match="level=1.5"):
        load_spec({"command": "montecarlo", "grid": {"n": 8, "memory": 4, "level": 1.5}})
    with pytest.raises(SweepError, match="command is missing"):
        load_spec({"grid": {"n": 8, "memory": 4}})


def test_hyphens_none_and_a_deprecated_key(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grid = {"kernel": "dense", "shape": [[64, 64, 64]], "target": "zen4", "group-m": [4, 8],
                "memory": ["none", 128], "tiles": "16x16x16"}
        spec = load_spec({"command": "kernel", "grid": grid})
    assert any(issubclass(w.category, DeprecationWarning) and "loop_tiles" in str(w.message) for w in caught)
    assert [(p["shape"], p["group_m"], p["memory"], p["loop_tiles"]) for p in spec.points] == [
        ("64x64x64", 4, None, "16x16x16"), ("64x64x64", 4, 128, "16x16x16"),
        ("64x64x64", 8, None, "16x16x16"), ("64x64x64", 8, 128, "16x16x16")]


@pytest.mark.parametrize("scheduler", ["", "local:0", "local:two", "http://x", "threads", 3])
def test_a_bad_scheduler_is_refused_before_running(tmp_path, scheduler):
    out = tmp_path / "out.csv"
    with pytest.raises(SweepError, match="scheduler="):
        run_sweep(write(tmp_path, THEORY_SPEC), scheduler=scheduler, out=out)
    assert not out.exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_scheduler_is_an_error_and_writes_nothing(tmp_path):
    pytest.importorskip("distributed")
    out = tmp_path / "out.csv"
    address = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(SweepError, match="unreachable") as info:
        run_sweep(write(tmp_path, THEORY_SPEC), scheduler=address, out=out, connect_timeout=1.0)
    assert address in str(info.value)
    assert files_in(tmp_path) == ["spec.toml"]


@pytest.mark.parametrize("name, words", [("out.txt", ["out.txt", ".csv"]),
                                         ("no/out.csv", ["does not exist"])])
def test_a_bad_out_path(tmp_path, name, words):
    with pytest.raises(SweepError) as info:
        run_sweep(write(tmp_path, THEORY_SPEC), out=tmp_path / name)
    assert all(w in str(info.value) for w in words)


def test_parquet_without_pyarrow_is_a_clear_error(tmp_path):
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        with pytest.raises(SweepError, match="pyarrow"):
            run_sweep(write(tmp_path, THEORY_SPEC), out=tmp_path / "out.parquet")
        assert files_in(tmp_path) == ["spec.toml"]
    else:
        res = run_sweep(write(tmp_path, THEORY_SPEC), out=tmp_path / "out.parquet")
        assert read_table(tmp_path / "out.parquet") == list(res.rows)
        assert run_sweep(write(tmp_path, THEORY_SPEC), out=tmp_path / "out.parquet").skipped == 16
        kernel = run_sweep(write(tmp_path, KERNEL_SPEC, "k.toml"), out=tmp_path / "k.parquet")
        assert read_table(tmp_path / "k.parquet") == list(kernel.rows)  # None in numeric columns, booleans


# ------------------------------------------------------------------------------------- serial runs
def test_variance_rows_are_the_closed_forms(tmp_path):
    from roast_theory import tile_hashing_moments

    res = run_sweep(write(tmp_path, THEORY_SPEC), out=tmp_path / "out.csv")
    assert (res.ran, res.skipped, res.failed, len(res.rows)) == (16, 0, 0, 16)
    for row in res.rows:
        rng = np.random.default_rng(0)
        x, w = rng.standard_normal(row["n"]), rng.standard_normal(row["n"])
        want = tile_hashing_moments(x, w, row["memory"], row["tile"], row["sign"])
        assert (row["mean"], row["variance"], row["std"]) == (want.mean, want.variance, want.std)
        assert row["status"] == "ok" and row["error"] is None and row["seconds"] >= 0
        assert row["version"] and row["formula"] == want.formula


def test_kernel_rows_are_the_kernel_command_and_a_failed_point_is_recorded(tmp_path):
    from roast_toolkit.cli.cachesim_cmd import main as cachesim_main

    res = run_sweep(write(tmp_path, KERNEL_SPEC), out=tmp_path / "out.csv")
    assert len(res.rows) == 8 and res.failed == 2  # a ROAST tile of 32x32 does not fit in memory=1024
    bad = [r for r in res.rows if r["status"] == "error"]
    assert [(r["kernel"], r["target"], r["memory"]) for r in bad] == [("roast", "h200", 1024),
                                                                      ("roast", "zen4", 1024)]
    assert "memory=1024" in bad[0]["error"] and bad[0]["predicted_time_s"] is None
    row = next(r for r in res.rows if (r["kernel"], r["target"], r["memory"]) == ("roast", "zen4", 4096))
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        cachesim_main(["kernel", "--kernel", "roast", "--shape", "64x64x64", "--target", "zen4", "--memory",
                       "4096", "--block", "32x32x32", "--tiles", "16x16x16", "--json"])
    want = json.loads(buf.getvalue())
    assert want["l1_misses"] > 0
    for k, v in want.items():
        assert row[k] == v, k


def test_resume_skips_done_points_and_reruns_failed_ones(tmp_path):
    out = tmp_path / "out.csv"
    run_sweep(write(tmp_path, THEORY_SPEC.replace("n = [64, 256]", "n = [64]")), out=out)
    text = out.read_text().replace(",C1,", ",MARK,", 1)  # a done point: it must be kept, not recomputed
    out.write_text(text)
    res = run_sweep(write(tmp_path, THEORY_SPEC), out=out)
    assert (res.ran, res.skipped, len(res.rows)) == (8, 8, 16)
    assert sum(r["formula"] == "MARK" for r in read_table(out)) == 1
    again = run_sweep(write(tmp_path, THEORY_SPEC), out=out)
    assert (again.ran, again.skipped) == (0, 16)
    kernel = write(tmp_path, KERNEL_SPEC, "kernel.toml")
    first = run_sweep(kernel, out=tmp_path / "k.csv")
    second = run_sweep(kernel, out=tmp_path / "k.csv")
    assert (first.failed, second.ran, second.skipped, second.failed) == (2, 2, 6, 2)


def test_a_table_of_another_sweep_is_not_mixed_in(tmp_path):
    out = tmp_path / "out.csv"
    run_sweep(write(tmp_path, THEORY_SPEC), out=out)
    before = out.read_text()
    with pytest.raises(SweepError, match="another sweep"):
        run_sweep(write(tmp_path, KERNEL_SPEC, "k.toml"), out=out)
    assert out.read_text() == before


def test_csv_round_trip(tmp_path):
    out = tmp_path / "out.csv"
    res = run_sweep({"command": "montecarlo", "grid": {"n": 32, "memory": [8, 16], "tile": [1, 2],
                                                       "trials": 2000, "family": ["ideal", "rz-stable"]}},
                    out=out)
    back = read_table(out)
    assert back == list(res.rows)  # floats bit for bit, None, booleans, ints
    assert list(back[0]) == list(res.columns)
    assert all(isinstance(r["variance"], float) and isinstance(r["trials"], int) for r in back)


def test_ctrl_c_leaves_the_previous_file_and_no_partial_one(tmp_path, monkeypatch):
    out = tmp_path / "out.csv"
    spec = write(tmp_path, THEORY_SPEC)
    run_sweep(spec.parent / write(tmp_path, THEORY_SPEC.replace("n = [64, 256]", "n = [64]"), "small.toml"),
              out=out)
    before = out.read_text()
    calls = []
    real = sweep_run.run_point

    def interrupted(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(sweep_run, "run_point", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, out=out, checkpoint_s=None)
    assert out.read_text() == before
    assert files_in(tmp_path) == ["out.csv", "small.toml", "spec.toml"]
    calls.clear()
    with pytest.raises(KeyboardInterrupt):  # with checkpoints after every point: the 2 finished points stay
        run_sweep(spec, out=out, checkpoint_s=0)
    assert len(read_table(out)) == 10
    monkeypatch.setattr(sweep_run, "run_point", real)
    assert run_sweep(spec, out=out).ran == 6


def test_an_interrupted_write_keeps_the_previous_file(tmp_path):
    from roast_toolkit.sweep._table import write_table

    out = tmp_path / "t.csv"
    write_table(out, [{"a": 1}], ["a"])

    class Boom:
        def __str__(self):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_table(out, [{"a": 2}, {"a": Boom()}], ["a"])
    assert out.read_text().split() == ["a", "1"] and files_in(tmp_path) == ["t.csv"]


def test_the_command_line(tmp_path, capsys):
    spec = write(tmp_path, THEORY_SPEC)
    out = tmp_path / "out.csv"
    assert sweep_main([str(spec), "--scheduler", "synchronous", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["ran"], summary["points"], summary["out"]) == (16, 16, str(out))
    assert sweep_main([str(spec), "--scheduler", "synchronous", "--out", str(out)]) == 0
    assert "0 run, 16 skipped" in capsys.readouterr().out
    bad = write(tmp_path, THEORY_SPEC + "bogus = [1]\n", "bad.toml")
    assert sweep_main([str(bad), "--scheduler", "synchronous", "--out", str(tmp_path / "b.csv")]) == 2
    assert "error: grid.bogus is not a parameter" in capsys.readouterr().err
    kernel = write(tmp_path, KERNEL_SPEC, "k.toml")
    assert sweep_main([str(kernel), "--scheduler", "synchronous", "--out", str(tmp_path / "k.csv")]) == 1
    assert "point failed" in capsys.readouterr().err


# -------------------------------------------------------------------------------------------- Dask
@pytest.mark.slow
def test_local_cluster_gives_the_serial_table(tmp_path):
    pytest.importorskip("distributed")
    spec = write(tmp_path, KERNEL_SPEC)
    serial = run_sweep(spec, scheduler="synchronous", out=tmp_path / "serial.csv")
    dask = run_sweep(spec, scheduler="local:2", out=tmp_path / "dask.csv")
    assert dask.scheduler == "local:2" and dask.columns == serial.columns
    assert without_time(dask.rows) == without_time(serial.rows)
    on_disk = [without_time(read_table(tmp_path / f)) for f in ("dask.csv", "serial.csv")]
    assert on_disk[0] == on_disk[1]


@pytest.mark.slow
def test_a_running_scheduler_by_address_gives_the_serial_table(tmp_path):
    distributed = pytest.importorskip("distributed")
    spec = write(tmp_path, THEORY_SPEC.replace('command = "variance"', 'command = "montecarlo"\n'
                                               '[defaults]\ntrials = 3000'))
    serial = run_sweep(spec, scheduler="synchronous")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        remote = run_sweep(spec, scheduler=cluster.scheduler_address, out=tmp_path / "out.csv")
        with distributed.Client(cluster) as client:
            by_client = run_sweep(spec, scheduler=client)
    assert remote.failed == 0 and without_time(remote.rows) == without_time(serial.rows)
    assert remote.scheduler == cluster.scheduler_address == by_client.scheduler
    assert without_time(by_client.rows) == without_time(serial.rows)
    assert serial.out is None


def test_the_subcommand_plugs_into_both_command_lines(tmp_path, monkeypatch, capsys):
    """``cachesim sweep`` and ``roast-theory sweep`` are rows of the two real subcommand tables."""
    import roast_toolkit.cli.cachesim_cmd as cs_cli
    import roast_toolkit.cli.theory_cmd as rt_cli

    good, out = write(tmp_path, THEORY_SPEC), tmp_path / "out.csv"
    bad = write(tmp_path, THEORY_SPEC.replace("tile = [1, 4]", "tile = [0]"), "bad.toml")
    assert cs_cli.main(["sweep", str(bad), "--out", str(out), "--scheduler", "synchronous"]) == 2
    assert "cachesim sweep: error: grid.tile=0 must be an integer >= 1" in capsys.readouterr().err
    assert not out.exists()
    argv = ["sweep", str(good), "--out", str(out), "--scheduler", "synchronous", "--json"]
    assert cs_cli.main(argv) == 0
    assert json.loads(capsys.readouterr().out)["ran"] == 16

    assert rt_cli.main(["sweep", str(bad), "--out", str(out), "--scheduler", "synchronous"]) == 2
    assert "grid.tile=0" in capsys.readouterr().err
    assert rt_cli.main(["sweep", str(good), "--out", str(out), "--scheduler", "synchronous", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["skipped"] == 16


def test_theory_inputs_from_files_and_the_synthetic_distributions(tmp_path):
    from roast_theory import tile_hashing_moments

    rng = np.random.default_rng(5)
    x, w = rng.standard_normal(48), rng.standard_normal(48)
    (tmp_path / "data").mkdir()
    np.save(tmp_path / "data" / "x.npy", x)
    np.save(tmp_path / "data" / "w.npy", w)
    spec = write(tmp_path, 'command = "variance"\n[grid]\nx = "data/x.npy"\nw = "data/w.npy"\n'
                           'memory = [8, 16]\n')
    rows = run_sweep(spec).rows  # paths are read relative to the spec's folder
    assert [r["variance"] for r in rows] == [tile_hashing_moments(x, w, m, 1).variance for m in (8, 16)]
    rows = run_sweep({"command": "variance", "grid": {"n": 40, "memory": 8, "data_seed": 3,
                                                      "data": ["rademacher", "uniform"]}}).rows
    g = np.random.default_rng(3)
    xr, wr = g.choice([-1.0, 1.0], 40), g.choice([-1.0, 1.0], 40)
    g = np.random.default_rng(3)
    xu, wu = g.uniform(-1, 1, 40), g.uniform(-1, 1, 40)
    assert rows[0]["exact_inner_product"] == pytest.approx(float(xr @ wr), abs=1e-12)
    assert rows[1]["exact_inner_product"] == pytest.approx(float(xu @ wu), abs=1e-12)
    assert set(np.abs(xr)) == {1.0} and rows[0]["variance"] != rows[1]["variance"]
