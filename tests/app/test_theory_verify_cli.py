"""``roast-theory`` CLI (in-process and as the installed console script) and the verification report."""

import importlib
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from roast_theory import RoastTheoryError
from roast_toolkit.cli import theory_cmd as cli


def run_main(capsys, argv):
    status = cli.main(argv)
    out = capsys.readouterr()
    return status, out.out, out.err


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(24), np.linspace(-1.0, 1.0, 24)
    paths = {
        "x": tmp_path / "x.npy", "w": tmp_path / "w.npy", "w_short": tmp_path / "w_short.npy",
        "nan": tmp_path / "nan.npy", "junk": tmp_path / "junk.npy", "mods": tmp_path / "mods.npz",
        "mods_bad": tmp_path / "mods_bad.npz", "x2d": tmp_path / "x2d.npy", "w2d": tmp_path / "w2d.npy",
    }
    np.save(paths["x"], x)
    np.save(paths["w"], w)
    np.save(paths["w_short"], w[:-1])
    np.save(paths["nan"], np.where(np.arange(24) == 3, np.nan, w))
    paths["junk"].write_text("not an array")
    np.savez(paths["mods"], x0=np.ones(10), w0=np.ones(10), x1=np.ones(10), w1=np.ones(10))
    np.savez(paths["mods_bad"], x0=np.ones(3), w0=np.ones(3), x1=np.ones(3))
    np.save(paths["x2d"], rng.standard_normal((8, 8)))
    np.save(paths["w2d"], rng.standard_normal((8, 8)))
    return {k: str(v) for k, v in paths.items()}, x, w


def test_variance_json_matches_hand_formula(capsys, files):
    p, x, w = files
    argv = ["variance", "--x", p["x"], "--w", p["w"], "--memory", "10", "--json"]
    status, out, err = run_main(capsys, argv)
    assert status == 0 and err == ""
    data = json.loads(out)
    q = (x @ x) * (w @ w) + (x @ w) ** 2 - 2 * np.sum(x**2 * w**2)
    assert data["variance"] == pytest.approx(q / 10) and data["bias"] == 0
    assert data["mean"] == pytest.approx(x @ w)


def test_variance_no_sign_tiles_and_text(capsys, files):
    p, x, w = files
    status, out, _ = run_main(capsys, ["variance", "--x", p["x"], "--w", p["w"], "--memory", "12",
                                       "--tile", "4", "--sign", "none", "--json"])
    data = json.loads(out)
    tx, tw = x.reshape(6, 4).sum(1), w.reshape(6, 4).sum(1)
    assert status == 0 and data["bias"] == pytest.approx((tx.sum() * tw.sum() - tx @ tw) / 12)
    status, out, _ = run_main(capsys, ["variance", "--x", p["x2d"], "--w", p["w2d"], "--memory", "40",
                                       "--tile-shape", "4,4", "--sign", "tile"])
    assert status == 0 and "variance" in out and "C2" in out


def test_sharing_json(capsys, files):
    p, _, _ = files
    status, out, _ = run_main(capsys, ["sharing", "--modules", p["mods"], "--memory", "20", "--json"])
    data = json.loads(out)
    assert status == 0
    n = 20  # x = w = 1 in two modules of 10: m V_G = 2n^2 - 2n, m V_L = 2n^2 - 4n
    assert data["global_variance"] == pytest.approx((2 * n * n - 2 * n) / 20)
    assert data["local_variance"] == pytest.approx((2 * n * n - 4 * n) / 20)
    assert {"covariance_term", "alignment_term", "diagonal_term"} <= set(data)
    assert abs(data["decomposition_residual"]) < 1e-9


@pytest.mark.parametrize("argv_tail,needle", [
    (["variance", "--x", "{x}", "--w", "{w_short}", "--memory", "10"], "shape"),
    (["variance", "--x", "{x}", "--w", "{nan}", "--memory", "10"], "non-finite"),
    (["variance", "--x", "{junk}", "--w", "{w}", "--memory", "10"], "--x"),
    (["variance", "--x", "{x}", "--w", "{w}", "--memory", "3", "--tile", "4"], "memory=3"),
    (["variance", "--x", "{x}", "--w", "{w}", "--memory", "10", "--sign", "random"], "sign='random'"),
    (["variance", "--x", "{x}", "--w", "{w}", "--memory", "10", "--placement", "wrap"], "placement='wrap'"),
    (["variance", "--x", "{x}", "--w", "{w}", "--memory", "-5"], "memory=-5"),
    (["variance", "--x", "{x}", "--w", "{w}", "--memory", "10", "--tile", "0"], "tile=0"),
    (["variance", "--x", "missing.npy", "--w", "{w}", "--memory", "10"], "missing.npy"),
    (["sharing", "--modules", "{mods_bad}", "--memory", "10"], "w1"),
    (["sharing", "--modules", "{x}", "--memory", "10"], ".npz"),
])
def test_bad_input_exit_2(capsys, files, argv_tail, needle):
    p, _, _ = files
    argv = [a.format(**p) for a in argv_tail] + ["--json"]
    status, out, err = run_main(capsys, argv)
    assert status == 2 and out == ""
    assert needle in err and "Traceback" not in err and err.startswith("roast-theory ")


def test_subcommand_table_is_extensible(capsys, monkeypatch):
    names = [c.name for c in cli.SUBCOMMANDS]
    assert names[:4] == ["variance", "montecarlo", "sharing", "verify"]
    assert "report" in names
    extra = cli.Subcommand("hook-test", "test hook", lambda p: p.add_argument("--out"),
                           lambda a: cli.Outcome({"out": a.out}, f"out={a.out}"))
    monkeypatch.setattr(cli, "SUBCOMMANDS", [*cli.SUBCOMMANDS, extra])
    status, out, _ = run_main(capsys, ["hook-test", "--out", "r", "--json"])
    assert status == 0 and json.loads(out) == {"out": "r"}


def test_console_script_subprocess(files):
    p, x, w = files
    exe = shutil.which("roast-theory", path=os.path.dirname(sys.executable)) or shutil.which("roast-theory")
    assert exe is not None, "the roast-theory console script is not installed"
    ok = subprocess.run([exe, "variance", "--x", p["x"], "--w", p["w"], "--memory", "10", "--json"],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "mean" in json.loads(ok.stdout)
    bad = subprocess.run([exe, "variance", "--x", p["x"], "--w", p["w_short"], "--memory", "10"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "shape" in bad.stderr and "Traceback" not in bad.stderr
    usage = subprocess.run([exe, "variance", "--x", p["x"], "--w", p["w"], "--memory", "ten"],
                           capture_output=True, text=True, timeout=120)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


# ------------------------------------------------------------------------------ verification report
@pytest.mark.slow
def test_verify_command_passes(capsys):
    status, out, err = run_main(capsys, ["verify", "--json"])
    data = json.loads(out)
    assert status == 0 and data["all_passed"] and err == ""
    names = " ".join(r["quantity"] for r in data["rows"])
    assert "x = w" in names and "w in 1, x in 2" in names and "sympy" in names
    mc_rows = [r for r in data["rows"] if r["method"] == "MC"]
    assert len(mc_rows) >= 30 and all(abs(r["z"]) < 5 for r in mc_rows)
    assert data["trials"] >= 100_000


def test_verify_rows_catch_a_dropped_term():
    verify_mod = importlib.import_module("roast_theory.verify")  # the package re-exports verify()
    from roast_theory.montecarlo import mc_inner_product

    x, w = verify_mod.builtin_vectors()
    res = verify_mod.tile_hashing_moments(x, w, 40, 8, "tile")
    est = mc_inner_product(x, w, memory=40, tile=8, sign="tile", trials=100_000, seed=1)
    assert verify_mod._mc_row("v", "C2", res.variance, est, "variance").passed
    # C2 without its C*D cross term, and with 10% of the variance missing: both rejected
    tx, tw = x.reshape(6, 8), w.reshape(6, 8)
    only_c = sum(np.sum(np.correlate(tw[b], tx[a], mode="full") ** 2)
                 for a in range(6) for b in range(6) if a != b) / 40
    for wrong in (only_c, 0.9 * res.variance):
        row = verify_mod._mc_row("v", "C2", wrong, est, "variance")
        assert not row.passed and abs(row.z) > 5
    report = verify_mod.VerificationReport(rows=(row,), trials=100_000, seed=0)
    assert not report.all_passed and "FAILED" in report.to_table()


def test_verify_cli_exit_status_on_failure(capsys, monkeypatch):
    verify_mod = importlib.import_module("roast_theory.verify")  # the package re-exports verify()

    row = verify_mod.VerificationRow("fake", "A", "MC", 1.0, 2.0, (1.9, 2.1), 10.0, False)
    fake = verify_mod.VerificationReport(rows=(row,), trials=100_000, seed=0)
    monkeypatch.setattr(verify_mod, "verify", lambda trials, seed: fake)
    status, out, _ = run_main(capsys, ["verify"])
    assert status == 1 and "fake" in out and "NO" in out


def test_verify_rejects_too_few_trials():
    from roast_theory.verify import verify

    with pytest.raises(RoastTheoryError, match="trials=10"):
        verify(trials=10)


def test_montecarlo_command(capsys, files):
    p, x, w = files
    status, out, _ = run_main(capsys, ["montecarlo", "--x", p["x"], "--w", p["w"], "--memory", "10",
                                       "--tile", "4", "--sign", "tile", "--trials", "100000", "--json"])
    data = json.loads(out)
    assert status == 0 and data["trials"] == 100_000
    lo, hi = data["variance_ci"]
    assert lo < data["variance"] < hi and abs(data["z_variance"]) < 5
    status, _, err = run_main(capsys, ["montecarlo", "--x", p["x"], "--w", p["w"], "--memory", "10",
                                       "--family", "nope", "--json"])
    assert status == 2 and "family" in err and "Traceback" not in err
