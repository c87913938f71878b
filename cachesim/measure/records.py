"""Measurement records: JSON files in ``measurements/`` that carry their own provenance.

Every record holds the exact command that produced it, the UTC date, the device (CPU model or GPU name and
driver) and the software versions, next to the measured ``cases``. Numbers are written only by the program
that measured them; nothing here edits a measured value.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CacheSimError

SCHEMA_VERSION = 1


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _gpu_info() -> dict:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout.strip().splitlines()
    except (OSError, subprocess.SubprocessError):
        return {}
    if not out:
        return {}
    name, driver, mem = (s.strip() for s in out[0].split(",")[:3])
    return {"gpu": name, "driver": driver, "gpu_memory": mem, "gpu_count": len(out)}


def _versions() -> dict:
    vers = {"python": platform.python_version()}
    for mod in ("numpy", "torch", "triton", "numba"):
        m = sys.modules.get(mod)
        if m is None:
            try:
                m = __import__(mod)
            except Exception:  # noqa: BLE001 - a missing optional package is recorded as absent
                continue
        vers[mod] = getattr(m, "__version__", "unknown")
    torch = sys.modules.get("torch")
    if torch is not None and getattr(torch, "version", None) is not None:
        vers["cuda"] = getattr(torch.version, "cuda", None)
    return vers


def provenance(command: list[str] | str | None = None) -> dict:
    """Describe where and how a measurement is being made (call it in the measuring process)."""
    if command is None:
        command = sys.argv
    if not isinstance(command, str):
        command = shlex.join(command)
    return {
        "command": command,
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpu": _cpu_model(),
        "platform": platform.platform(),
        **_gpu_info(),
        "versions": _versions(),
    }


@dataclass(frozen=True)
class MeasurementRecord:
    """One measurement file: what was run, where, and the measured cases.

    Attributes
    ----------
    kind : str
        What was measured (``cpu_gather_sweep``, ``gpu-ncu``, ``model-prediction``, ...).
    provenance : dict
        Command, UTC date, host, CPU / GPU, software versions (:func:`provenance`).
    cases : list
        The measured cases (dicts), as the measuring program wrote them.
    notes : str
        Free text: settings, machine load, caveats.
    path : pathlib.Path or None
        The file it was read from or written to.
    hierarchy : dict or None
        The cache geometry the cases were measured on or simulated with
        (:meth:`cachesim.HierarchyConfig.to_dict`); None in records written before it was stored, whose
        geometry :func:`cachesim.measure.geometry.record_hierarchy` knows from their provenance.
    """

    kind: str
    provenance: dict
    cases: list = field(default_factory=list)
    notes: str = ""
    path: Path | None = None
    hierarchy: dict | None = None

    @property
    def device(self) -> str:
        """GPU name if the record was made on a GPU, else the CPU model."""
        return self.provenance.get("gpu") or self.provenance.get("cpu", "unknown")

    def summary(self) -> dict:
        """One line of a listing: path, kind, date, device and number of cases."""
        return {"path": str(self.path), "kind": self.kind, "date": self.provenance.get("date"),
                "device": self.device, "cases": len(self.cases)}

    def to_dict(self) -> dict:
        d = {
            "schema": SCHEMA_VERSION,
            "kind": self.kind,
            "provenance": self.provenance,
            "notes": self.notes,
        }
        if self.hierarchy is not None:
            d["hierarchy"] = self.hierarchy
        d["cases"] = self.cases
        return d


def write_record(path: str | Path, kind: str, cases: list, *, notes: str = "",
                 command: list[str] | str | None = None, hierarchy=None) -> MeasurementRecord:
    """Write ``cases`` with fresh provenance to ``path`` (JSON) and return the record.

    ``hierarchy`` (anything :func:`cachesim.load_hierarchy` accepts) is the cache geometry the cases were
    measured on or simulated with; it is stored resolved (sizes and ways, not a preset name), so a later
    check re-simulates with the same caches on any machine.
    """
    if hierarchy is not None:
        from ..config import load_hierarchy

        hierarchy = load_hierarchy(hierarchy).to_dict()
    rec = MeasurementRecord(kind=kind, provenance=provenance(command), cases=list(cases), notes=notes,
                            path=Path(path), hierarchy=hierarchy)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(rec.to_dict(), indent=1, default=_json_default) + "\n")
    return rec


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and :func:`os.replace`.

    A reader (or a process killed mid-write) sees either the old file or the new one, never a partial one;
    if anything fails, ``path`` is left as it was.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json_default(obj):
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        np = None
    if np is not None and isinstance(obj, np.generic):
        return obj.item()
    if np is not None and isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def load_records(directory: str | Path = "measurements", kind: str | None = None) -> list[MeasurementRecord]:
    """Read every ``*.json`` record under ``directory`` (optionally only one ``kind``).

    JSON files that are not records (no ``kind`` or ``provenance``) are skipped; a record without the
    ``command`` and ``date`` of its provenance, or a file that is not valid JSON, raises CacheSimError.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise CacheSimError(f"directory={str(directory)!r} does not exist: pass the measurements folder")
    key = directory.resolve()
    if _READ_ONCE is None or key not in _READ_ONCE:
        records = [r for r in (_read_record(p) for p in sorted(directory.glob("**/*.json"))) if r is not None]
        if _READ_ONCE is not None:
            _READ_ONCE[key] = records
    else:
        records = _READ_ONCE[key]
    return [r for r in records if kind is None or r.kind == kind]


#: Records already parsed, by folder, while :func:`read_once` is active (else None).
_READ_ONCE: dict | None = None


@contextlib.contextmanager
def read_once():
    """Within the block, :func:`load_records` parses each folder once and answers later calls from it.

    For a reader that asks for several kinds of the same folder (the comparison table reads it ten times);
    the files must not change inside the block. Nested blocks share the outermost one's records.
    """
    global _READ_ONCE
    outer = _READ_ONCE is not None
    if not outer:
        _READ_ONCE = {}
    try:
        yield
    finally:
        if not outer:
            _READ_ONCE = None


def _read_record(p: Path) -> MeasurementRecord | None:
    try:
        d = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise CacheSimError(f"measurement file {p} is not valid JSON: {exc}") from None
    if not isinstance(d, dict) or "provenance" not in d or "kind" not in d:
        return None
    missing = [k for k in ("command", "date") if k not in d["provenance"]]
    if missing:
        raise CacheSimError(f"measurement file {p} lacks provenance fields {missing}")
    return MeasurementRecord(d["kind"], d["provenance"], d.get("cases", []), d.get("notes", ""), p,
                             d.get("hierarchy"))
