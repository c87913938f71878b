"""``run_sweep``: validate a spec, skip the points already in the output, run the rest, write the table."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ._dask import open_scheduler, parse_scheduler
from ._points import run_point
from ._spec import SweepSpec, load_spec
from ._table import check_out, columns_of, make_row, point_key, read_table, write_table
from .errors import SweepError


@dataclass(frozen=True)
class SweepResult:
    """The table of a sweep and what this run did.

    Attributes
    ----------
    command : str
    scheduler : str
        ``"synchronous"``, ``"local:N"`` or the scheduler address.
    out : str or None
        The table file (``None`` when nothing was written).
    columns : tuple of str
    rows : tuple of dict
        One row per point, every column in each (``None`` where a point has no such output), in grid
        order; rows of the file that are not points of this spec follow.
    ran, skipped, failed : int
        Points run now, points found done in ``out``, points (run now) that failed.
    seconds : float
        Wall time of the call.
    """

    command: str
    scheduler: str
    out: str | None
    columns: tuple
    rows: tuple
    ran: int
    skipped: int
    failed: int
    seconds: float

    def to_dict(self) -> dict:
        return {"command": self.command, "scheduler": self.scheduler, "out": self.out,
                "columns": list(self.columns), "rows": [dict(r) for r in self.rows], "ran": self.ran,
                "skipped": self.skipped, "failed": self.failed, "seconds": self.seconds}


def _version() -> str:
    from roast_toolkit import __version__

    return __version__


def _previous(out: Path | None, spec: SweepSpec) -> dict[tuple, dict]:
    """Rows already in ``out`` by point key (checked to hold this command's parameters)."""
    if out is None or not out.exists():
        return {}
    rows = read_table(out)
    if rows:
        missing = [c for c in spec.columns if c not in rows[0]]
        if missing:
            raise SweepError(f"out={str(out)!r} holds another sweep's table (no column "
                             f"{', '.join(missing)}): give another out file")
    return {point_key(r, spec.columns): r for r in rows}


class _Table:
    """Rows by point key, in grid order, then earlier rows that are not points of this spec."""

    def __init__(self, spec: SweepSpec, previous: dict[tuple, dict]):
        self.spec = spec
        self.keys = [point_key(p, spec.columns) for p in spec.points]
        self.rows = dict(previous)
        in_spec = set(self.keys)
        self.extra = [k for k in previous if k not in in_spec]

    def ordered(self) -> list[dict]:
        return [self.rows[k] for k in self.keys + self.extra if k in self.rows]

    def write(self, out: Path | None) -> None:
        if out is not None:
            rows = self.ordered()
            write_table(out, rows, columns_of(rows, self.spec.columns))


def run_sweep(spec, *, scheduler="synchronous", out=None, progress: bool = False, command: str | None = None,
              checkpoint_s: float | None = 60.0, connect_timeout: float = 10.0) -> SweepResult:
    """Run every point of a sweep spec, on this process or on Dask, into one results table.

    Parameters
    ----------
    spec : str, Path, mapping or SweepSpec
        A TOML spec file (see :func:`load_spec`), its parsed mapping, or a loaded spec.
    scheduler : str or distributed.Client
        ``"synchronous"`` (one point after the other in this process), ``"local:N"`` (a
        ``LocalCluster`` of N single-threaded worker processes; ``"local"``: N = cores), a scheduler
        address (``"tcp://host:8786"``), or a connected ``distributed.Client``.
    out : str or Path, optional
        ``.csv`` or ``.parquet`` table. Points already in it with ``status == "ok"`` (matched by their
        parameters) are skipped; failed ones are run again. Written atomically.
    progress : bool
        A progress bar on stderr.
    command : str, optional
        The command when the spec does not name one.
    checkpoint_s : float or None
        Rewrite ``out`` (atomically) at most this often while the sweep runs, so that an interrupted
        sweep resumes from there; ``None``: write only at the end.
    connect_timeout : float
        Seconds to reach a scheduler address.

    Returns
    -------
    SweepResult

    Raises
    ------
    SweepError
        A bad spec, output path or scheduler; raised before any point runs or any file is written.
    """
    t0 = time.perf_counter()
    spec = spec if isinstance(spec, SweepSpec) else load_spec(spec, command=command)
    path = check_out(out) if out is not None else None
    sched = parse_scheduler(scheduler)
    table = _Table(spec, _previous(path, spec))
    todo = [i for i, k in enumerate(table.keys) if table.rows.get(k, {}).get("status") != "ok"]
    failed = 0
    if todo:
        failed = _execute(spec, sched, todo, table, path, progress, checkpoint_s, connect_timeout)
        table.write(path)
    rows = table.ordered()
    columns = tuple(columns_of(rows, spec.columns))
    rows = tuple({c: r.get(c) for c in columns} for r in rows)
    return SweepResult(spec.command, sched.text, str(path) if path and path.exists() else None,
                       columns, rows, len(todo),
                       len(spec.points) - len(todo), failed, time.perf_counter() - t0)


def _execute(spec, sched, todo, table, path, progress, checkpoint_s, connect_timeout) -> int:
    from tqdm.auto import tqdm

    version = _version()
    tasks = [(spec.command, spec.points[i], str(spec.base), version) for i in todo]
    failed = 0
    last = time.monotonic()
    with open_scheduler(sched, connect_timeout=connect_timeout) as run, tqdm(
            total=len(tasks), desc=f"sweep {spec.command}", unit="point", file=sys.stderr,
            disable=not progress) as bar:
        for j, res in run(run_point, tasks):
            if isinstance(res, BaseException):
                res = {"status": "error", "error": f"{type(res).__name__}: {res}", "outputs": {},
                       "seconds": None, "version": version}
            i = todo[j]
            table.rows[table.keys[i]] = make_row(spec.points[i], res)
            failed += res["status"] != "ok"
            bar.update(1)
            bar.set_postfix(failed=failed, refresh=False)
            if checkpoint_s is not None and time.monotonic() - last >= checkpoint_s:
                table.write(path)
                last = time.monotonic()
    return failed
