"""The results table: rows from point results, and its CSV / Parquet file (atomic writes, reading back).

A row holds the parameters of its point (every parameter of the command), the outputs flattened with
``.`` (``terms_s.DRAM``; an output that repeats a parameter is left out, or kept as ``result.<name>``
where it differs), then ``status`` (``"ok"`` / ``"error"``), ``error`` (the message of a failed point),
``version`` (of ``roast-toolkit``) and ``seconds`` (wall time of the point on its worker).

CSV cells: ``None`` is the empty cell, booleans are ``True`` / ``False``, floats are written with
``repr`` so that they read back bit for bit.
"""

from __future__ import annotations

import contextlib
import csv
import numbers
import os
import re
from pathlib import Path

from .errors import SweepError

TAIL = ("status", "error", "version", "seconds")
FORMATS = (".csv", ".parquet")


def flatten(obj: dict, prefix: str = "") -> dict:
    """Nested dicts and lists as one flat dict with dotted keys; numpy scalars as Python numbers."""
    out = {}
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out |= flatten(v, key + ".")
        elif isinstance(v, list | tuple):
            out |= flatten({str(i): x for i, x in enumerate(v)}, key + ".")
        elif hasattr(v, "item") and not isinstance(v, str):  # numpy scalar
            out[key] = v.item()
        else:
            out[key] = v
    return out


def cell_text(value) -> str:
    """The CSV text of one cell (also the text that matches points on resume)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


_INT = re.compile(r"^-?\d+$")


def parse_cell(text: str):
    """Inverse of :func:`cell_text` for the types a table holds."""
    if text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    if _INT.match(text):
        return int(text)
    try:
        return float(text)
    except ValueError:
        return text


def make_row(point: dict, result: dict) -> dict:
    """The table row of one point and its :func:`~roast_toolkit.sweep._points.run_point` result."""
    row = dict(point)
    for k, v in flatten(result["outputs"]).items():
        if k in point:
            if cell_text(v) != cell_text(point[k]):
                row[f"result.{k}"] = v
        elif k not in TAIL:
            row[k] = v
    return row | {t: result[t] for t in TAIL}


def point_key(row: dict, params) -> tuple:
    return tuple(cell_text(row.get(p)) for p in params)


def columns_of(rows, params) -> list[str]:
    """Parameters first, outputs in first-seen order, then the tail columns."""
    seen = dict.fromkeys(params)
    for r in rows:
        seen |= dict.fromkeys(k for k in r if k not in TAIL)
    return list(seen) + list(TAIL)


def check_out(out) -> Path:
    """``out`` as a path with a known extension, whose folder exists (Parquet: pyarrow importable)."""
    path = Path(out)
    if path.suffix.lower() not in FORMATS:
        raise SweepError(f"out={str(path)!r}: the extension must be one of {', '.join(FORMATS)}")
    if not path.parent.is_dir():
        raise SweepError(f"out={str(path)!r}: folder {str(path.parent)!r} does not exist")
    if path.exists() and not path.is_file():
        raise SweepError(f"out={str(path)!r} exists and is not a file")
    if path.suffix.lower() == ".parquet":
        _pyarrow(path)
    return path


def _pyarrow(path):
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise SweepError(f"out={str(path)!r}: Parquet needs pyarrow (pip install pyarrow), "
                         "or write a .csv file") from None
    return pa, pq


def read_table(path: Path) -> list[dict]:
    """Rows of an existing table (CSV cells parsed back to numbers, booleans and ``None``)."""
    try:
        if path.suffix.lower() == ".parquet":
            _, pq = _pyarrow(path)
            return pq.read_table(path).to_pylist()
        with path.open(newline="") as fh:
            return [{k: parse_cell(v) for k, v in r.items()} for r in csv.DictReader(fh)]
    except (OSError, ValueError, csv.Error) as exc:
        raise SweepError(f"out={str(path)!r}: cannot read the existing table ({exc})") from None


def _arrow_type(pa, values):
    vals = [v for v in values if v is not None]
    if vals and all(isinstance(v, bool) for v in vals):
        return pa.bool_()
    if vals and all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        return pa.int64()
    if vals and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in vals):
        return pa.float64()
    return pa.string()


def _write_parquet(tmp: Path, rows, columns) -> None:
    pa, pq = _pyarrow(tmp)
    arrays = {}
    for c in columns:
        col = [r.get(c) for r in rows]
        typ = _arrow_type(pa, col)
        if typ == pa.string():
            col = [None if v is None else cell_text(v) for v in col]
        elif typ == pa.float64():
            col = [None if v is None else float(v) for v in col]
        arrays[c] = pa.array(col, type=typ)
    pq.write_table(pa.table(arrays), tmp)


def write_table(path: Path, rows, columns) -> None:
    """Write the table atomically: a temporary file in the same folder, then :func:`os.replace`.

    An interruption (Ctrl-C included) leaves the previous file as it was and no temporary file.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if path.suffix.lower() == ".parquet":
            _write_parquet(tmp, rows, columns)
        else:
            with tmp.open("w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(columns)
                w.writerows([cell_text(r.get(c)) for c in columns] for r in rows)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
