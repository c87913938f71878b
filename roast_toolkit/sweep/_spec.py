"""Sweep specs: a TOML grid of parameter lists, expanded into validated points.

A spec file looks like::

    command = "kernel"            # kernel | variance | montecarlo (optional, see below)

    [grid]                        # lists: every combination is one point (cartesian product)
    kernel = ["dense", "roast"]
    shape = ["1024x1024x1024"]
    memory = [65536, 262144]
    target = "zen4"               # a scalar is one fixed value

    [defaults]                    # optional scalars, the same as one-value grid entries
    seed = 0

TOML has no null: ``"none"`` stands for an unset optional value (``memory = ["none", 4096]``).
"""

from __future__ import annotations

import itertools
import tomllib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ._params import DEPRECATED_KEYS, REQUIRED, params_of
from ._points import check_point
from .errors import SweepError

TOP_KEYS = ("command", "grid", "defaults", "description")


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: the command and its points, in grid order.

    Attributes
    ----------
    command : str
        ``"kernel"``, ``"variance"`` or ``"montecarlo"``.
    columns : tuple of str
        Every parameter of the command, in table order.
    points : tuple of dict
        One dict per point, ``{parameter: canonical value}`` for every column; the first grid key varies
        slowest.
    base : Path
        Folder that relative paths in the spec (``x``, ``w``) are read from.
    """

    command: str
    columns: tuple
    points: tuple
    base: Path

    def to_dict(self) -> dict:
        return {"command": self.command, "columns": list(self.columns),
                "points": [dict(p) for p in self.points], "base": str(self.base)}


def _read(spec) -> tuple[dict, Path]:
    if isinstance(spec, Mapping):
        return dict(spec), Path.cwd()
    path = Path(spec)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh), path.resolve().parent
    except OSError as exc:
        raise SweepError(f"spec={str(path)!r}: cannot read it ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SweepError(f"spec={str(path)!r}: not valid TOML ({exc})") from None


def _key(raw: str, table: str, known) -> str:
    key = raw.replace("-", "_")
    if key in DEPRECATED_KEYS:
        new = DEPRECATED_KEYS[key]
        warnings.warn(f"sweep spec key {table}.{raw} is deprecated: use {new}", DeprecationWarning,
                      stacklevel=4)
        key = new
    if key not in known:
        raise SweepError(f"{table}.{raw} is not a parameter of this sweep: choose from {', '.join(known)}")
    return key


def _axes(doc: dict, params) -> dict[str, list]:
    """``{parameter: [canonical values]}`` from the grid and defaults tables."""
    axes: dict[str, list] = {}
    for table in ("grid", "defaults"):
        entries = doc.get(table, {})
        if not isinstance(entries, Mapping):
            raise SweepError(f"{table} must be a table of parameters, got {entries!r}")
        for raw, values in entries.items():
            key = _key(raw, table, params)
            if key in axes:
                raise SweepError(f"{table}.{raw}: parameter {key!r} is given twice")
            if isinstance(values, Mapping) or (table == "defaults" and isinstance(values, list)):
                raise SweepError(f"{table}.{raw}={values!r} must be a {'list or ' * (table == 'grid')}scalar")
            values = values if isinstance(values, list) else [values]
            if not values:
                raise SweepError(f"{table}.{raw}=[] is empty: give at least one value")
            canon = [params[key].check(f"{table}.{raw}", v) for v in values]
            for i, v in enumerate(canon):
                if v in canon[:i]:
                    raise SweepError(f"{table}.{raw}: value {values[i]!r} is given twice")
            axes[key] = canon
    return axes


def load_spec(spec, *, command: str | None = None) -> SweepSpec:
    """Read and validate a sweep spec (a TOML path, or the parsed mapping).

    Parameters
    ----------
    spec : str, Path or mapping
    command : str, optional
        The command when the spec does not name one (the ``cachesim sweep`` default is ``"kernel"``).
        A spec that names a different command than ``command`` is still run as the spec says.

    Raises
    ------
    SweepError
        Naming the first unknown key, bad value or impossible point; nothing is run.
    """
    doc, base = _read(spec)
    for key in doc:
        if key not in TOP_KEYS:
            raise SweepError(f"spec key {key!r} is not allowed: use {', '.join(TOP_KEYS)}")
    command = doc.get("command", command)
    if command is None:
        raise SweepError("command is missing: give command = \"kernel\", \"variance\" or \"montecarlo\"")
    params = params_of(command)
    if "grid" not in doc:
        raise SweepError("the spec has no [grid] table")
    axes = _axes(doc, params)
    missing = [k for k, p in params.items() if p.default is REQUIRED and k not in axes]
    if missing:
        raise SweepError(f"grid: required parameter(s) {', '.join(missing)} missing")
    names = list(axes)
    points = []
    for combo in itertools.product(*(axes[k] for k in names)):
        point = {k: p.default for k, p in params.items()} | dict(zip(names, combo))
        check_point(command, point, base)
        points.append(point)
    return SweepSpec(command, tuple(params), tuple(points), base)
