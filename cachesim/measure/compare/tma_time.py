"""Measured time ratios of the TMA records beside the issue-aware model (:mod:`cachesim.kernels.tma`).

The TMA sweeps (``gpu-fast-tma``: call15_tma, call16/17 training sweeps; ``gpu-fast-tma-headline``:
call18_headline) time the TMA kernels (``tma-dense``, ``tma-roast-{table,hash32}-a<BN>-t<BKxBN>``), the
fast pointer kernels (``fast-...``), the HashedNet kernels and cuBLAS on the same inputs. Rows:

* every TMA ROAST kernel over the TMA dense kernel at the same configuration;
* between the autotuned (``best``) cases of one shape and shared-array size: TMA ROAST / TMA dense,
  TMA ROAST / cuBLAS, fast ROAST / fast dense, and each HashedNet index path / the TMA ROAST table kernel;
* the input-gradient kernels (``dx`` cases, ``dX = dY W^T``): TMA ROAST / TMA dense at the same
  configuration (:func:`dx_rows`). The weight-gradient kernels (``grad``: ``X^T dY`` added into the tiles
  with atomics) and the training steps are not modelled.

Configurations with a persistent (``-p``) or warp-specialised (``-pw``) schedule are priced with that
schedule (``predict(..., schedule=...)``: one program per SM; warp specialisation where Triton compiled
it, :func:`cachesim.kernels.tma.compiled_schedule`); other schedules (``-f``) are left out and counted.
cuBLAS is priced at its measured ceilings (:func:`cachesim.kernels.cost.predict_vendor_gemm`).
"""

from __future__ import annotations

import re
from pathlib import Path

from ..records import load_records, read_once

__all__ = ["TMA_FOLDERS", "TMA_KINDS", "dx_rows", "tma_rows", "tma_skipped"]

TMA_KINDS = ("gpu-fast-tma", "gpu-fast-tma-headline")
#: The record folders of those kinds (the rows' ``record``).
TMA_FOLDERS = ("call15_tma", "call16_tma_train", "call17_tma_train2", "call18_headline")
_PLAIN = re.compile(r"^\d+x\d+x\d+-g\d+-w\d+-s\d+$")
_SCHEDULED = re.compile(r"^(\d+x\d+x\d+-g\d+-w\d+-s\d+)-(pw?)$")
#: Include the persistent / warp-specialised schedules (priced with their schedule).
WITH_SCHEDULES = True
_TMA = re.compile(r"^tma-(dense|roast-(table|hash32)-a(\d+)-t(\d+x\d+))$")


def describe_variant(variant: str):
    """``(kernel, index, align, tile, load_path)`` of a TMA-record variant name, None if not modelled."""
    from .time_predict import _describe

    m = _TMA.match(variant)
    if m:
        if m.group(1) == "dense":
            return ("dense", None, None, None, "tma")
        return ("roast", m.group(2), int(m.group(3)), m.group(4), "tma")
    if variant == "cublas":
        return ("cublas", None, None, None, "auto")
    d = _describe(variant[5:] if variant.startswith("fast-") else variant)
    return None if d is None else (*d, "auto")


def _cases(directory, types=("time", "best")):
    """``[(folder, case)]`` of the bf16 cases of the given ``types`` (forward ``time`` / ``best``; ``dx``:
    the input-gradient kernels) of every TMA record, for a modelled variant."""
    out = []
    for rec in load_records(directory):
        if rec.kind not in TMA_KINDS:
            continue
        folder = Path(rec.path).parent.name if getattr(rec, "path", None) else rec.kind
        out += [(folder, c) for c in rec.cases
                if c.get("type") in types and c.get("dtype", "bf16") == "bf16" and "M" in c
                and describe_variant(c.get("variant", "")) is not None]
    return out


def _groups(directory):
    """``({(folder, shape, memory, config): {variant: (ms, config)}}, skipped)``; best cases under
    config ``autotuned``; cases with a persistent / flattened / warp-specialised schedule skipped."""
    groups, skipped = {}, 0
    for folder, c in _cases(directory):
        cfg = c.get("config") or "-"
        if c["variant"] != "cublas" and not _PLAIN.match(cfg):
            if not (WITH_SCHEDULES and _SCHEDULED.match(cfg)):
                skipped += 1
                continue
        shape = f"{c['M']}x{c['K']}x{c['N']}"
        key = (folder, shape, c.get("memory"), "autotuned" if c["type"] == "best" else cfg)
        groups.setdefault(key, {})[c["variant"]] = (c["ms"], cfg)
    return groups, skipped


def _pairs(variants, autotuned: bool) -> list:
    tma_roast = [v for v in variants if v.startswith("tma-roast-")]
    pairs = [(v, "tma-dense") for v in tma_roast]
    if autotuned:
        pairs += [(v, "cublas") for v in tma_roast]
        pairs += [(v, "fast-dense") for v in variants if v.startswith("fast-roast-")]
        table = [v for v in tma_roast if v.startswith("tma-roast-table-")]
        pairs += [(v, t) for v in variants if v.startswith("hashednet-") for t in table]
    return [p for p in pairs if p[0] in variants and p[1] in variants]


def tma_rows(directory: str | Path = "measurements/gpu") -> list:
    """Every modelled ratio of the TMA records as :class:`~cachesim.measure.compare.time_model.TimeRow`:
    the forward kernels, then the input-gradient kernels (:func:`dx_rows`)."""
    from .time_predict import TimeRow, _predict

    with read_once():  # the forward and the dX rows read the same records
        groups, _ = _groups(directory)
        dx = dx_rows(directory)
    rows = []
    for key, t in sorted(groups.items(), key=lambda kv: str(kv[0])):
        folder, shape, memory, config = key
        for num, den in _pairs(sorted(t), config == "autotuned"):
            pn = _predict(*_args(num, shape, memory, t[num][1]))
            pd = _predict(*_args(den, shape, memory, t[den][1]))
            rows.append(TimeRow(folder, shape, memory, config, num, den, t[num][0] / t[den][0],
                                pn[0] / pd[0], pn[1]))
    return rows + dx


def _dx_groups(directory) -> dict:
    """``{(folder, shape, memory, config): {variant: ms}}`` of the bf16 ``dx`` cases (``dX = dY W^T``)."""
    groups: dict = {}
    for folder, c in _cases(directory, ("dx",)):
        cfg = c.get("config")
        if (isinstance(cfg, str) and c.get("passed", True) and isinstance(c.get("ms"), float)
                and (_PLAIN.match(cfg) or _SCHEDULED.match(cfg)) and _TMA.match(c["variant"])):
            key = (folder, f"{c['M']}x{c['K']}x{c['N']}", c.get("memory"), cfg)
            groups.setdefault(key, {})[c["variant"]] = c["ms"]
    return groups


def dx_rows(directory: str | Path = "measurements/gpu") -> list:
    """TMA ROAST ``dX`` over TMA dense ``dX`` at the same configuration (``shape`` is the layer's
    ``MxKxN``; the model prices the ``M x N x K`` GEMM, ``predict(..., transpose=True)``). Numerator and
    denominator carry `` (dX)``."""
    from .time_predict import TimeRow, _predict

    rows = []
    groups = _dx_groups(directory)
    for (folder, shape, memory, config), t in sorted(groups.items(), key=lambda kv: str(kv[0])):
        for num in sorted(v for v in t if v.startswith("tma-roast-")):
            if "tma-dense" not in t:
                continue
            pn = _predict(*_args(num, shape, memory, config + "-dx"))
            pd = _predict(*_args("tma-dense", shape, memory, config + "-dx"))
            rows.append(TimeRow(folder, shape, memory, config, f"{num} (dX)", "tma-dense (dX)",
                                t[num] / t["tma-dense"], pn[0] / pd[0], pn[1]))
    return rows


def _args(variant, shape, memory, config):
    """The prediction key of one timed case; a TMA kernel keeps its schedule suffix (``-p``, ``-pw``),
    which :func:`~cachesim.measure.compare.time_predict._compute` prices; the pointer kernels have none."""
    kernel, index, align, tile, load_path = describe_variant(variant)
    m = _SCHEDULED.match(config.removesuffix("-dx"))
    if m and load_path != "tma":
        config = m.group(1)
    return kernel, index, align, tile, shape, memory, config, load_path


def tma_skipped(directory: str | Path = "measurements/gpu") -> int:
    """Timed cases of the TMA records left out because of their schedule (persistent etc.)."""
    return _groups(directory)[1]
