"""The README stays true: its doctests pass, its CLI examples print what it shows, its commands are CI's."""

from __future__ import annotations

import doctest
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
TEXT = README.read_text()
NUMBER = re.compile(r"[-+]?(?:\d[\d,]*\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|inf|nan)")
TIMING = re.compile(r"\b\d+(?:\.\d+)? s\b")


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", TEXT, flags=re.S)


def _console_examples() -> list[tuple[str, str, int]]:
    """``(command, expected output, expected exit status)`` for every ``$ `` line of the console blocks."""
    examples = []
    for block in _blocks("console"):
        cmd, out, status = None, [], 0
        for line in block.splitlines():
            if line.startswith("$ "):
                if cmd is not None:
                    examples.append((cmd, "\n".join(out), status))
                cmd, out, status = line[2:], [], 0
            elif (m := re.fullmatch(r"\[exit (\d+)\]", line)) is not None:
                status = int(m.group(1))
            else:
                out.append(line)
        if cmd is not None:
            examples.append((cmd, "\n".join(out), status))
    return examples


def _same_output(expected: str, actual: str) -> bool:
    """Equal text after masking timings; numbers equal to 1e-6 relative (BLAS and CPUs round differently)."""
    exp = TIMING.sub("<t> s", expected.strip())
    act = TIMING.sub("<t> s", actual.strip())
    if NUMBER.sub("#", " ".join(exp.split())) != NUMBER.sub("#", " ".join(act.split())):
        return False
    for a, b in zip(NUMBER.findall(exp), NUMBER.findall(act), strict=True):
        fa, fb = float(a.replace(",", "")), float(b.replace(",", ""))
        if not (math.isclose(fa, fb, rel_tol=1e-6, abs_tol=1e-6) or (math.isnan(fa) and math.isnan(fb))):
            return False
    return True


def test_readme_opens_with_the_two_ci_commands():
    first = _blocks("bash")[0]
    install_and_run, tests = [line.split("#")[0].strip() for line in first.strip().splitlines()]
    ci = (ROOT / ".ci" / "run").read_text()
    assert tests in ci.splitlines(), f"README test command {tests!r} is not a line of .ci/run"
    assert install_and_run.startswith("pip install -e '.[test,notebooks,torch]'")
    assert "-e '.[test,notebooks,torch]'" in ci
    main_job = install_and_run.split("&&")[1].strip()
    assert main_job in ci.splitlines(), f"README main job {main_job!r} is not a line of .ci/run"


def test_readme_doctests():
    result = doctest.testfile(str(README), module_relative=False, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted > 20
    assert result.failed == 0, f"{result.failed} README doctest(s) failed (run python -m doctest README.md)"


def test_readme_toml_hierarchy_loads(tmp_path):
    import cachesim

    (toml,) = _blocks("toml")
    path = tmp_path / "my-core.toml"
    path.write_text(toml)
    h = cachesim.load_hierarchy(path)
    assert [lv.name for lv in h.levels] == ["L1", "L2"]
    assert h.levels[0].size == 48 * 1024 and h.levels[1].ways == 16


def test_output_comparison_can_fail():
    assert _same_output("a: 1.5\nb: 2", "a: 1.5000000001\nb:   2")
    assert not _same_output("a: 1.5", "a: 1.6")
    assert not _same_output("a: 1.5", "b: 1.5")
    assert _same_output("x.npy (npy), 0.86 s", "x.npy (npy), 12.3 s")


@pytest.mark.slow
def test_readme_cli_examples(tmp_path):
    examples = _console_examples()
    assert len(examples) >= 5
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               MPLBACKEND="Agg")
    for cmd, expected, status in examples:
        proc = subprocess.run(cmd, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=600)
        actual = proc.stdout + proc.stderr
        assert proc.returncode == status, f"$ {cmd}\nexit {proc.returncode} (README says {status})\n{actual}"
        assert _same_output(expected, actual), f"$ {cmd}\nREADME shows:\n{expected}\n\nactual:\n{actual}"
