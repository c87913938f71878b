"""``cachesim explain --target host --waterfall``: the CPU gather waterfall from the cpu_micro record."""

from __future__ import annotations

import json
from pathlib import Path

from roast_toolkit.cli.cachesim_cmd import main

CPU = str(Path(__file__).resolve().parents[2] / "measurements" / "cpu")


def test_cpu_waterfall_text(capsys):
    assert main(["explain", "--target", "host", "--waterfall", "--cpu-records", CPU]) == 0
    out = capsys.readouterr().out
    assert out.count("512 MiB") == 2 and "hashednet" in out and "roast" in out and "DRAM latency / MLP" in out


def test_cpu_waterfall_json_one_size(capsys):
    rc = main(["explain", "--target", "host", "--waterfall", "--memory", "262144", "--backend", "numpy",
               "--json", "--cpu-records", CPU])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"roast", "hashednet"}
    row = out["hashednet"]["rows"][0]
    assert row["memory_bytes"] == 4 * 262144
    assert [s["label"] for s in row["steps"]][0] == "dense copy"
    steps = row["steps"]
    assert steps[-1]["predicted_ns"] >= steps[1]["predicted_ns"] > steps[0]["predicted_ns"] > 0


def test_cpu_waterfall_bad_input_exits_2(capsys, tmp_path):
    assert main(["explain", "--target", "zen4", "--waterfall", "--cpu-records", CPU]) == 2
    assert "no CPU calibration" in capsys.readouterr().err
    assert main(["explain", "--target", "host", "--waterfall", "--backend", "jax", "--cpu-records", CPU]) == 2
    assert main(["explain", "--target", "host", "--waterfall", "--cpu-records", str(tmp_path)]) == 2
    assert "cpu_micro" in capsys.readouterr().err


def test_cpu_gather_then_matmul_waterfall(capsys):
    rc = main(["explain", "--target", "host", "--waterfall", "--batch", "128", "--json",
               "--cpu-records", CPU])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    hn, ro = out["hashednet"], out["roast"]
    assert hn["batch"] == 128 and hn["steps"][0] == "dense matmul"
    assert hn["matmul_ns"] == ro["matmul_ns"] > 0       # the same dense matmul for every scheme
    rows = {r["memory_bytes"]: r for r in hn["rows"]}
    small, big = rows[64 << 10], rows[256 << 20]
    assert small["steps"][0]["predicted_ns"] == big["steps"][0]["predicted_ns"] == hn["matmul_ns"]
    assert small["dominant"] == "dense matmul" and big["dominant"] == "+ DRAM (latency / MLP)"
    assert "measured_ns" in small and "measured_ns" in big and "measured_ns" not in rows[4096]
    assert main(["explain", "--target", "host", "--waterfall", "--batch", "128", "--cpu-records", CPU]) == 0
    assert "X of 128 rows" in capsys.readouterr().out


def test_cpu_matmul_waterfall_bad_batch_exits_2(capsys):
    assert main(["explain", "--target", "host", "--waterfall", "--batch", "7", "--cpu-records", CPU]) == 2
    assert "batch=7" in capsys.readouterr().err
    assert main(["explain", "--target", "host", "--waterfall", "--batch", "x", "--cpu-records", CPU]) == 2
