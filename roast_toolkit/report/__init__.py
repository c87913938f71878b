"""``roast-theory report``: the end-to-end story on built-in defaults, written as a self-contained folder.

Sections (each a function ``Context -> SectionResult`` in its own module, listed in :data:`SECTIONS`):

1. :mod:`._verification` - every closed form against Monte Carlo and sympy;
2. :mod:`._theory` - global vs local sharing, variance vs tile size per sign convention;
3. :mod:`._traffic` - simulated cache traffic and predicted times of dense / ROAST / HashedNet kernels;
4. :mod:`._measured` - the model beside the recorded GPU and CPU measurements and the training result.

:func:`build_report` writes ``index.md``, ``index.html`` (PNGs embedded), the PNGs, ``report.json`` and one
``<section>.json`` per section. A section that raises is marked ``error`` in the report and the others
still run; the report's status is ``passed`` only when every section passed.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from roast_theory.errors import RoastTheoryError

from ._doc import Context, Para, Progress, SectionResult, Table
from ._measured import find_measurements, measured_section
from ._render import render_html, render_markdown
from ._theory import theory_section
from ._traffic import traffic_section
from ._verification import verification_section

TITLE = "ROAST hashing: theory, simulation and measurement report"

#: (key, title, function) of every section, in report order.
SECTIONS = [
    ("verification", "Theorem verification: closed forms vs Monte Carlo and sympy", verification_section),
    ("theory", "Theory: global vs local sharing, variance vs tile size", theory_section),
    ("traffic", "Simulated traffic and predicted speedups", traffic_section),
    ("measurements", "Model vs recorded measurements", measured_section),
]


@dataclass(frozen=True)
class Report:
    """A written report: its folder, sections and overall status."""

    out: Path
    sections: tuple
    seconds: float
    quick: bool

    @property
    def status(self) -> str:
        """``passed`` when every section passed, else ``failed``."""
        return "passed" if all(s.status == "passed" for s in self.sections) else "failed"

    def problems(self) -> list[str]:
        """One line per section that did not pass."""
        return [f"section {s.key!r} {s.status}: {s.message}" for s in self.sections if s.status != "passed"]

    def files(self) -> list[str]:
        """Every file written, relative to :attr:`out`."""
        figs = [f for s in self.sections for f in s.figures]
        return ["index.md", "index.html", "report.json", *(f"{s.key}.json" for s in self.sections), *figs]

    def to_dict(self) -> dict:
        """The content of ``report.json``."""
        return {"title": TITLE, "status": self.status, "quick": self.quick, "seconds": self.seconds,
                "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                "environment": _environment(), "problems": self.problems(), "files": self.files(),
                "sections": {s.key: s.to_dict() for s in self.sections}}


def _environment() -> dict:
    import numpy

    env = {"python": platform.python_version(), "platform": platform.platform(), "numpy": numpy.__version__}
    try:
        from importlib.metadata import version

        env["roast-toolkit"] = version("roast-toolkit")
    except Exception:  # noqa: BLE001 - not installed as a distribution (running from sources)
        env["roast-toolkit"] = "unknown"
    return env


def prepare_out(out) -> Path:
    """Check that the report folder ``out`` can be written, and return it (nothing is created yet).

    The report is written into a staging folder beside ``out`` and moved into place only when complete,
    so ``out`` must be absent, empty, or an earlier report folder (one with a ``report.json``): anything
    else would be replaced.

    Raises
    ------
    RoastTheoryError
        When ``out`` exists and is not a folder, is a folder of other files, or its parent cannot be
        created or written.
    """
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise RoastTheoryError(f"--out {str(out)!r} exists and is not a directory")
    if path.is_dir() and any(path.iterdir()) and not (path / "report.json").is_file():
        raise RoastTheoryError(f"--out {str(out)!r} is a folder of other files (no report.json); "
                               "give a new or empty folder, or an earlier report folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe = Path(tempfile.mkdtemp(prefix=f".{path.name}.probe-", dir=path.parent))
        probe.rmdir()
    except OSError as exc:
        raise RoastTheoryError(f"--out {str(out)!r}: cannot create or write the folder ({exc})") from None
    return path


def _swap_in(staging: Path, path: Path) -> None:
    """Replace the folder ``path`` by ``staging`` (two renames on one file system; the old one is removed)."""
    old = None
    if path.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
        old.rmdir()
        path.rename(old)
    staging.rename(path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _run_section(key: str, title: str, fn, ctx: Context) -> SectionResult:
    t0 = time.perf_counter()
    try:
        sec = fn(ctx)
    except Exception as exc:  # noqa: BLE001 - a failing section is reported, the others still run
        sec = SectionResult(key, title, status="error", message=f"{type(exc).__name__}: {exc}")
        sec.data = {"traceback": traceback.format_exc()}
        sec.blocks = [Para("This section raised an exception; the other sections are unaffected.")]
    sec.seconds = time.perf_counter() - t0
    return sec


def _jsonable(value):
    from roast_toolkit._io import jsonable as strict

    return strict(value)


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(_jsonable(obj), indent=1, allow_nan=False) + "\n")


def build_report(out, *, quick: bool = False, progress: bool = True, measurements=None,
                 seed: int = 0) -> Report:
    """Run every section of :data:`SECTIONS` and write the report folder.

    Parameters
    ----------
    out : str or pathlib.Path
        The report folder. It is written into a staging folder beside it and moved into place when
        complete, so a failed or interrupted run leaves an earlier report there intact.
    quick : bool
        Smaller simulated cases (a smoke run; the verification is the same).
    progress : bool
        Progress bars on stderr.
    measurements : str or pathlib.Path or None
        The recorded measurements folder; default: found by :func:`find_measurements`.
    seed : int
        Base seed of the Monte Carlo checks.

    Returns
    -------
    Report

    Raises
    ------
    RoastTheoryError
        When ``out`` or ``measurements`` is unusable (before any section runs).
    """
    path = prepare_out(out)
    if measurements is not None:
        meas = Path(measurements)
        if not meas.is_dir():
            raise RoastTheoryError(f"--measurements {str(measurements)!r} is not a directory")
    else:
        meas = find_measurements()
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        rep = _write_sections(staging, path, quick=quick, progress=progress, measurements=meas, seed=seed)
        _swap_in(staging, path)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return rep


def _write_sections(staging: Path, path: Path, *, quick, progress, measurements, seed) -> Report:
    ctx = Context(out=staging, quick=quick, progress=Progress(progress), measurements=measurements, seed=seed)
    t0 = time.perf_counter()
    sections = []
    for key, title, fn in SECTIONS:
        sec = _run_section(key, title, fn, ctx)
        sections.append(sec)
        _write_json(staging / f"{key}.json", sec.to_dict())
        if progress:
            print(f"[report] {key}: {sec.status} ({sec.seconds:.1f} s)", file=sys.stderr)
    rep = Report(path, tuple(sections), time.perf_counter() - t0, quick)
    data = rep.to_dict()
    _write_json(staging / "report.json", data)
    intro = _intro(rep, data)
    (staging / "index.md").write_text(render_markdown(TITLE, intro, sections))
    (staging / "index.html").write_text(render_html(TITLE, intro, sections, staging))
    return rep


def _intro(rep: Report, data: dict) -> list:
    env = data["environment"]
    blocks = [Para(
        f"Status: **{rep.status}**. Generated {data['created']} by `roast-theory report"
        f"{' --quick' if rep.quick else ''}` in {rep.seconds:.1f} s (Python {env['python']}, "
        f"roast-toolkit {env['roast-toolkit']}). Every number below is also in `report.json` "
        "(and the section's own JSON); measured numbers are read from the recorded measurement files "
        "and never altered."),
        Table(("section", "status", "seconds", "key numbers"),
              tuple((f"{i}. {s.title}", s.status, f"{s.seconds:.1f}", s.summary or s.message)
                    for i, s in enumerate(rep.sections, 1)))]
    return blocks


__all__ = ["SECTIONS", "Report", "build_report", "find_measurements", "prepare_out"]
