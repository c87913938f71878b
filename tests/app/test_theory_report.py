"""``roast-theory report``: the report folder, its numbers, and the failure / bad-argument paths."""

import json
import re

import pytest

from roast_toolkit import report
from roast_toolkit.cli import theory_cmd as cli
from roast_toolkit.report._doc import Para, SectionResult, fmt

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_main(capsys, argv):
    status = cli.main(argv)
    out = capsys.readouterr()
    return status, out.out, out.err


def _md_cells(md: str, first_cell: str) -> list[str]:
    """The cells of the markdown table line whose first cell is ``first_cell`` (pipes are escaped)."""
    escaped = first_cell.replace("|", "\\|")
    for line in md.splitlines():
        if line.startswith(f"| {escaped} |"):
            return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip("|"))]
    raise AssertionError(f"no table row starting with {first_cell!r}")


def test_quick_report_folder_and_numbers(tmp_path, capsys):
    """One quick run (about 20 s), every check on it: files, verification, numbers md == json, HTML."""
    out = tmp_path / "rep"
    status, stdout, stderr = run_main(capsys, ["report", "--quick", "--no-progress", "--out", str(out)])
    assert status == 0, stdout + stderr
    assert "report passed" in stdout
    for name in ("index.md", "index.html", "report.json", "verification.json", "theory.json",
                 "traffic.json", "measurements.json"):
        assert (out / name).is_file(), name
    data = json.loads((out / "report.json").read_text())
    assert data["status"] == "passed" and data["quick"] is True and data["problems"] == []
    secs = data["sections"]
    assert list(secs) == ["verification", "theory", "traffic", "measurements"]
    pngs = [f for s in secs.values() for f in s["figures"]]
    assert len(pngs) >= 6 and all(s["figures"] for s in secs.values())
    for f in pngs:
        assert (out / f).read_bytes()[:8] == PNG_MAGIC, f
    for key, s in secs.items():  # the per-section JSON is the section's entry of report.json
        assert json.loads((out / f"{key}.json").read_text()) == s

    # 1. verification: every row passes, and each row's numbers are the ones in index.md
    md = (out / "index.md").read_text()
    ver = secs["verification"]["data"]
    assert ver["all_passed"] and ver["n_passed"] == ver["n_rows"] == len(ver["rows"]) >= 40
    for row in ver["rows"]:
        assert row["passed"] is True
        cells = _md_cells(md, row["quantity"])
        assert cells[0] == row["quantity"]
        assert cells[3] == fmt(row["expected"], ".6g") and cells[4] == fmt(row["estimate"], ".6g")
        assert cells[6] == fmt(row["z"], ".2f") and cells[7] == "yes"
        if row["z"] is not None:
            assert abs(row["z"]) < ver["z_limit"]
    assert f"**{ver['n_passed']} of {ver['n_rows']} checks pass.**" in md

    # 3. traffic: predicted times and ratios in index.md are those of report.json
    for case in secs["traffic"]["data"]["cases"]:
        times = [fmt(case["kernels"][k]["predicted_time_s"] * 1e6, ".4g") for k in report._traffic.KERNELS]
        assert "| predicted time (us) | " + " | ".join(times) + " |" in md
        assert f"| hashednet/roast | {case['ratios']['hashednet/roast']:.3f} |" in md
        assert case["ratios"]["hashednet/roast"] > 1.0  # HashedNet's scattered loads cost more
    # 4. measurements: the GPU counts, and every row explained (met or a documented known miss)
    gpu = secs["measurements"]["data"]["gpu"]
    assert gpu["n_rows"] == len(gpu["rows"]) > 0 and gpu["n_unexplained"] == 0
    assert f"**{gpu['n_target_met']} of {gpu['n_rows']} rows meet their target**" in md
    for km in gpu["known_misses"]:
        assert km["name"] in md
    train = secs["measurements"]["data"]["training"]
    assert f"{train['dense']['mean']:.4f}" in md

    # HTML: self-contained (images inlined), same headings
    html = (out / "index.html").read_text()
    assert html.count("data:image/png;base64,") == len(pngs)
    assert not re.search(r"<img[^>]+src='(?!data:)", html)
    for s in secs.values():
        assert s["title"] in html and s["title"] in md


def _ok_section(ctx):
    sec = SectionResult("ok", "Fine section", blocks=[Para("all good: 42")], data={"answer": 42},
                        summary="answer 42")
    return sec


def _raising_section(ctx):
    raise RuntimeError("simulated breakdown")


def _failed_section(ctx):
    return SectionResult("check", "A check", status="failed", message="row x failed")


def test_failing_section_is_reported_and_exits_1(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(report, "SECTIONS", [("ok", "Fine section", _ok_section),
                                             ("boom", "Exploding section", _raising_section),
                                             ("check", "A check", _failed_section)])
    out = tmp_path / "rep"
    status, stdout, stderr = run_main(capsys, ["report", "--no-progress", "--out", str(out), "--json"])
    assert status == 1
    assert "section 'boom' error: RuntimeError: simulated breakdown" in stderr
    assert "section 'check' failed: row x failed" in stderr
    payload = json.loads(stdout)  # --json: exactly one JSON object
    assert payload["status"] == "failed"
    assert payload["sections"]["ok"]["status"] == "passed"
    assert payload["sections"]["boom"]["status"] == "error"
    # the other sections are still written, the broken one is marked
    data = json.loads((out / "report.json").read_text())
    assert data["sections"]["ok"]["data"] == {"answer": 42}
    assert "simulated breakdown" in data["sections"]["boom"]["data"]["traceback"]
    md = (out / "index.md").read_text()
    assert "all good: 42" in md and "Exploding section [ERROR]" in md and "A check [FAILED]" in md
    assert "ERROR" in (out / "index.html").read_text()


@pytest.mark.parametrize("kind", ["file", "under-file"])
def test_bad_out_exits_2(tmp_path, capsys, kind):
    f = tmp_path / "a_file"
    f.write_text("x")
    target = f if kind == "file" else f / "sub"
    status, _, stderr = run_main(capsys, ["report", "--no-progress", "--out", str(target)])
    assert status == 2
    assert stderr.startswith("roast-theory report: error: --out")
    assert "Traceback" not in stderr


def test_bad_arguments_exit_2(tmp_path, capsys):
    status, _, stderr = run_main(capsys, ["report", "--no-progress", "--out", str(tmp_path / "r"),
                                          "--measurements", str(tmp_path / "missing")])
    assert status == 2 and "--measurements" in stderr
    with pytest.raises(SystemExit) as exc:
        cli.main(["report", "--seed", "not-a-number"])
    assert exc.value.code == 2


def _interrupting_section(ctx):
    raise KeyboardInterrupt


def test_interrupted_report_leaves_the_earlier_one_intact(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(report, "SECTIONS", [("ok", "Fine section", _ok_section)])
    out = tmp_path / "rep"
    assert run_main(capsys, ["report", "--no-progress", "--out", str(out)])[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    monkeypatch.setattr(report, "SECTIONS", [("ok", "Fine section", _ok_section),
                                             ("stop", "Interrupted", _interrupting_section)])
    with pytest.raises(KeyboardInterrupt):
        report.build_report(out, progress=False)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]  # no staging folder left behind


def test_a_folder_of_other_files_is_not_replaced(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    status, _, stderr = run_main(capsys, ["report", "--no-progress", "--out", str(out)])
    assert status == 2 and "no report.json" in stderr
    assert (out / "notes.txt").read_text() == "keep me"
