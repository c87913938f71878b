"""Model (cachesim.kernels) vs GPU measurement: targets met, or the miss is reported in KNOWN_MISSES."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cachesim.errors import CacheSimError
from cachesim.measure import compare

GPU = Path(__file__).resolve().parents[2] / "measurements" / "gpu"


@pytest.fixture(scope="module")
def rows():
    return compare.comparison_rows(GPU)


def test_every_row_meets_its_target_or_is_a_reported_miss(rows):
    assert len(rows) >= 100
    for r in rows:
        if r.within:
            continue
        km = r.known_miss
        assert km is not None, f"unreported miss: {r}"
        assert km.gap_low <= r.ratio <= km.gap_high, f"{km.name} states [{km.gap_low}, {km.gap_high}]: {r}"


def test_l1_sector_and_request_counts_match_ncu_for_bf16(rows):
    """The sector target holds for every bf16 kernel (simulation and analytic model alike)."""
    l1 = [r for r in rows if r.precision == "bf16" and r.quantity.startswith("l1tex")]
    assert len(l1) >= 40
    assert all(r.within for r in l1)


def test_known_misses_are_class_rules_not_cases():
    for km in compare.KNOWN_MISSES:
        keys = {k for k, _ in km.match}
        assert "case" not in keys and km.cause and km.gap_low < km.gap_high


def test_comparison_markdown_is_the_generated_table():
    assert (GPU / "COMPARISON.md").read_text() == compare.comparison_markdown(GPU)


def test_stored_prediction_is_reproducible():
    """One stored model prediction re-computed now (smallest simulated case) gives the same numbers."""
    preds = compare.stored_predictions(GPU)
    key = min((k for k in preds if k[0] == "dense" and preds[k]["model"] == "simulation"),
              key=lambda k: k[2] * k[3] * k[4])
    case = dict(zip(("method", "kpass", "M", "K", "N", "m_slots", "precision", "block_m", "block_n",
                     "block_k", "group_m", "num_warps", "num_stages"), key))
    fresh = compare.model_prediction(case)
    for field in ("load_instructions", "l1_sector_requests", "l2_sector_requests"):
        assert fresh[field] == preds[key][field]


def test_headline_rows_cover_the_authors_shape():
    h = [r for r in compare.headline_rows(GPU) if r.shape == "512x10240x10240" and r.precision == "bf16"]
    assert h and all(r.hashednet_over_roast_fwd > 1 for r in h)


def test_authors_harness_passes_repeat_and_roast_wins():
    rows = compare.authors_rows(GPU)
    assert len(rows) == 12
    for a in rows:
        for pair in (a.gather_fwd, a.gather_train, a.best_fwd, a.best_train):
            assert abs(pair[0] / pair[1] - 1) < 0.1  # run-to-run spread of the two passes
            assert min(pair) > 1.0                    # HashedNet slower than ROAST, every case


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "roast_toolkit.cli.cachesim_cmd", "measure", *args],
                          capture_output=True,
                          text=True, cwd=GPU.parents[1])


def _main(capsys, *args):
    """``cachesim measure ARGS`` in this process: (exit status, stdout, stderr)."""
    from roast_toolkit.cli.cachesim_cmd import main

    status = main(["measure", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_compare_and_records_json(capsys):
    p = _cli("compare", "--dir", str(GPU), "--json")  # the real entry point, once
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert s["unexplained"] == 0 and s["rows"] == s["within_target"] + s["known_misses"]
    status, out, _ = _main(capsys, "records", "--dir", str(GPU), "--kind", "gpu-ncu", "--json")
    assert status == 0 and len(json.loads(out)["records"]) >= 2


@pytest.mark.parametrize("args, msg", [
    (("check", "--shape", "3x4"), "shape='3x4' must look like AxBxC"),
    (("check", "--precision", "bf16"), "cannot be checked on the CPU"),
    (("check", "--block", "48x32x16"), "block_m=48 must be a power of two >= 16"),
    (("records", "--dir", "no/such/dir"), "does not exist"),
])
def test_cli_bad_input_exits_2(args, msg, capsys, monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")  # `check --device cpu` sets it; keep it scoped to this test
    status, _, err = _main(capsys, *args)
    assert status == 2 and msg in err and "Traceback" not in err


def test_compare_markdown_written_whole_or_not_at_all(tmp_path, capsys):
    """A failing comparison leaves an existing --markdown file as it was; a good one replaces it whole."""
    out = tmp_path / "COMPARISON.md"
    out.write_text("keep me\n")
    empty = tmp_path / "no_records"
    empty.mkdir()
    with pytest.raises(CacheSimError, match="no model-prediction record"):
        compare.compare_measurements(empty, markdown=out)
    assert out.read_text() == "keep me\n"
    status, _, err = _main(capsys, "compare", "--dir", str(empty), "--markdown", str(out))
    assert status == 2 and "no model-prediction record" in err
    assert out.read_text() == "keep me\n"
    s = compare.compare_measurements(GPU, markdown=out)
    assert out.read_text() == (GPU / "COMPARISON.md").read_text()
    assert s["unexplained"] == 0
    assert sorted(x.name for x in tmp_path.iterdir()) == ["COMPARISON.md", "no_records"]  # no temp file left


def test_stored_analytic_predictions_are_reproducible():
    """Every stored analytic prediction of the dense and ROAST kernels re-computed now through
    cachesim.kernels.predict gives the same numbers (HashedNet's analytic rows take ~30 s each: not here)."""
    preds = compare.stored_predictions(GPU)
    keys = [k for k in preds if k[0] in ("dense", "roast") and preds[k]["model"] == "analytic"]
    assert len(keys) >= 4
    names = ("method", "kpass", "M", "K", "N", "m_slots", "precision", "block_m", "block_n", "block_k",
             "group_m", "num_warps", "num_stages")
    for key in keys:
        fresh = compare.model_prediction(dict(zip(names, key)))
        assert fresh == {k: v for k, v in preds[key].items() if k != "key"}, key
