"""Predicted vs measured CPU gather ratios (``measurements/COMPARISON_CPU.md``).

The model is :func:`cachesim.kernels.cpu_cost.predict_cpu_gather`, priced only from the ``cpu_micro``
record (:func:`cachesim.kernels.cpu_calibration.cpu_calibration`); it is compared with every gather sweep
record of the folder:

* ``cpu_gather_paired`` (``gather_paired.json``): measured by ``drivers/cpu_micro.py --sweep`` right after
  the microbenchmarks, same machine state; ratios HashedNet/ROAST and hashed/dense-copy (the dense copy
  is the backend's copy measured in the ``cpu_micro`` record, the first step of the CPU waterfall, so the
  hashed/dense-copy error is the error of the predicted gather time itself);
* ``cpu_gather_sweep`` (``gather_sweep.json``): the older sweep, measured under a load average of 2.5 - 5
  on the shared 2-core machine; HashedNet/ROAST only (no dense copy was timed in that machine state).

The calibration is the newest ``cpu_micro`` record of the folder (by provenance date) unless ``record``
names one. ``stat`` picks the statistic of the repeats on both sides: ``"min"`` (default) reads the
microbenchmarks' minima (:mod:`cachesim.kernels.cpu_calibration` says why) and the fastest timed repeat of
each gather; ``"median"`` the medians. :func:`stat_table` sets the share within the target side by side
for every calibration record and both statistics. The ``gather-matmul`` cases of a ``cpu_micro`` record
(the torch layer ``W = M[idx]; X @ W``) are set beside the gather-then-matmul prediction by
:func:`gather_matmul_rows`: a check, never a constant.

Target: every ratio within :data:`CPU_RATIO_TOLERANCE` (35 %) of the measurement, or the row names its
cause (:func:`miss_cause`). Rows at a size where a microbenchmark constant was read
(:attr:`CpuCalibration.anchors_bytes`) are marked; the others are held out of every constant.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ...errors import CacheSimError
from ...kernels.cpu_calibration import CpuCalibration, cpu_calibration
from ...kernels.cpu_cost import predict_cpu_gather, predict_dense_copy
from ..cpu.timing import GatherSweep
from ..records import load_records, write_text_atomic

__all__ = ["CPU_RATIO_TOLERANCE", "CpuRatioRow", "cpu_ratio_rows", "cpu_time_markdown", "cpu_time_summary",
           "gather_matmul_rows", "micro_calibration", "miss_cause", "stat_table", "write_cpu_comparison"]

CPU_RATIO_TOLERANCE = 0.35
UNEXPLAINED = "not explained by a rule"
SWEEP_KINDS = ("cpu_gather_paired", "cpu_gather_sweep")
#: Published mean absolute errors of the analytical models issue 11 names, for the comparison line.
PUBLISHED_MAE = {"MWP-CWP (Hong & Kim, ISCA 2009)": 0.133, "GPU-MDM (Wang et al., MICRO 2018)": 0.139}


@dataclass(frozen=True)
class CpuRatioRow:
    """One predicted vs measured ratio; ``error = predicted / measured - 1``."""

    record: str
    memory_bytes: int
    backend: str
    ratio: str
    measured: float
    predicted: float
    held_out: bool
    cause: str | None

    @property
    def error(self) -> float:
        return self.predicted / self.measured - 1.0

    @property
    def within(self) -> bool:
        return abs(self.error) <= CPU_RATIO_TOLERANCE

    def to_dict(self) -> dict:
        return asdict(self) | {"error": self.error, "within": self.within}


def _micro_record(directory, record: str | None = None):
    recs = [r for r in load_records(directory, "cpu_micro") if r.hierarchy is not None]
    if record is not None:
        recs = [r for r in recs if Path(r.path).name == record]
    if not recs:
        raise CacheSimError(f"directory={str(directory)!r} holds no cpu_micro record with its hierarchy"
                            + (f" named record={record!r}" if record else "") + "; run drivers/cpu_micro.py")
    return max(recs, key=lambda r: str(r.provenance.get("date", "")))


def micro_calibration(directory: str | Path = "measurements/cpu", record: str | None = None,
                      stat: str = "min") -> CpuCalibration:
    """The calibration of the newest ``cpu_micro`` record under ``directory`` (or the one named ``record``),
    read with ``stat`` ("min" or "median", see :func:`cachesim.kernels.cpu_calibration.cpu_calibration`)."""
    r = _micro_record(directory, record)
    return cpu_calibration(r.cases, r.hierarchy, stat=stat,
                           source=f"{Path(r.path).name} ({r.provenance.get('date')})")


def miss_cause(row: CpuRatioRow, cal: CpuCalibration) -> str | None:
    """Why a row misses the target (``None`` when it is within it); the rules name the mechanism."""
    if row.within:
        return None
    c1, c2, c3 = cal.capacity_bytes
    b = row.memory_bytes
    if row.record == "gather_sweep.json" and c2 < b <= 4 * c3:
        return ("L3 share: this older sweep, measured under load, rises to DRAM-like times between 4 and 8 "
                "MiB (HashedNet x4), a smaller effective L3 than the calibration's, so the model prices "
                "L3 hits where the machine then went to DRAM")
    if row.record == "gather_sweep.json" and row.measured < 1.0:
        return "noise: ROAST slower than HashedNet while M fits in L2 (medians taken under load)"
    if row.record == "gather_sweep.json" and b <= c2 and row.error > 0:
        return ("noise: this older sweep's medians, taken under load, put HashedNet/ROAST at 1.05 where M "
                "fits in L2; the four paired sweeps, each timed right after a calibration, measure 1.38-1.40 "
                "at the same size (within 5 % of the prediction)")
    if row.backend == "numpy" and b > c3 and row.error < 0 and row.ratio.startswith("hashednet"):
        return ("overlap: numpy.take keeps fewer of HashedNet's DRAM misses in flight than the compiled "
                "independent-load loop that MLP is measured with (cpu_micro_5's backend-gather: 16.6 L3 and "
                "18.2 DRAM misses against 19.7 and 20.7), so HashedNet is under-priced just past L3 "
                "(ROAST's numpy rows are within 27 % at these sizes)")
    if c1 / 4 < b <= c3 and row.error < 0:
        return ("L2/L3 hits: the backend's gather loop pays more per L1 miss than latency / MLP measured "
                "with the compiled independent-load loop (it overlaps fewer short misses: cpu_micro_5's "
                "backend-gather, torch 2.3 L2 and 10.1 L3 misses against 5.3 and 19.7; pricing with those "
                "over-prices the L2-range ratios instead), and near L1's size the idx and W streams evict "
                "M sooner than the LRU estimate")
    return UNEXPLAINED


def _curve(sweep: GatherSweep, scheme: str, backend: str, stat: str) -> np.ndarray:
    """ns per element at each of ``sweep.h_bytes()``: the median (as recorded), the fastest repeat, or the
    median thread CPU time (``stat="cpu"``)."""
    if stat in ("median", "cpu"):
        return sweep.curve(scheme, backend, "wall" if stat == "median" else "cpu")
    by = {t.h_bytes: min(t.times_s) / t.n_elements * 1e9 for t in sweep.timings
          if t.pattern == scheme and t.backend == backend}
    return np.array([by.get(int(h), np.nan) for h in sweep.h_bytes()])


def _sweep_rows(name: str, sweep: GatherSweep, cal: CpuCalibration, with_copy: bool,
                stat: str = "median") -> list:
    anchors = {int(a) for a in cal.anchors_bytes}
    rows = []
    for backend in ("torch", "numpy"):
        hn, ro = _curve(sweep, "hashednet", backend, stat), _curve(sweep, "roast", backend, stat)
        copy = cal.copy_ns[backend]
        for b, h, r in zip(sweep.h_bytes(), hn, ro):
            b = int(b)
            ph = predict_cpu_gather("hashednet", b, backend, cal).total_ns
            pr = predict_cpu_gather("roast", b, backend, cal).total_ns
            pairs = [("hashednet/roast", h / r, ph / pr)]
            if with_copy:
                pairs += [("hashednet/dense-copy", h / copy, ph / copy),
                          ("roast/dense-copy", r / copy, pr / copy)]
            for ratio, m, p in pairs:
                row = CpuRatioRow(name, b, backend, ratio, float(m), float(p), b not in anchors, None)
                rows.append(CpuRatioRow(**{**asdict(row), "cause": miss_cause(row, cal)}))
    return rows


def cpu_ratio_rows(directory: str | Path = "measurements/cpu", stat: str = "min",
                   record: str | None = None) -> list[CpuRatioRow]:
    """Every predicted vs measured ratio of the gather sweep records under ``directory`` (``stat`` and
    ``record``: see the module notes)."""
    cal = micro_calibration(directory, record, stat)
    rows = []
    for kind in SWEEP_KINDS:
        for rec in load_records(directory, kind):
            sweep = GatherSweep.from_cases(rec.cases)
            rows += _sweep_rows(Path(rec.path).name, sweep, cal, with_copy=kind == "cpu_gather_paired",
                                stat=stat)
    return rows


def stat_table(directory: str | Path = "measurements/cpu") -> list[dict]:
    """Share within the target and mean absolute error per sweep record, for every ``cpu_micro`` record as
    the calibration and both statistics (the minimum of an older, median-only record calibrates with its
    medians; the gather side still takes the fastest repeat)."""
    out = []
    for rec in sorted(load_records(directory, "cpu_micro"), key=lambda r: str(r.provenance.get("date", ""))):
        for stat in ("median", "min", "cpu"):
            rows = cpu_ratio_rows(directory, stat, Path(rec.path).name)
            for name in sorted({r.record for r in rows}):
                s = _stats([r for r in rows if r.record == name])
                out.append({"calibration": Path(rec.path).name, "stat": stat, "record": name,
                            "within_share": s["within_share"], "mae": s["mae"], "rows": s["rows"]})
    return out


def gather_matmul_rows(directory: str | Path = "measurements/cpu", stat: str = "min") -> list[dict]:
    """The measured torch gather-then-matmul points of every ``cpu_micro`` record beside the prediction
    ``matmul_ns(batch) + predict_cpu_gather(...).total_ns`` of that record's own calibration."""
    out = []
    for rec in load_records(directory, "cpu_micro"):
        pts = [c for c in rec.cases if c.get("type") == "gather-matmul"]
        if not pts:
            continue
        cal = micro_calibration(directory, Path(rec.path).name, stat)
        for c in pts:
            mm = cal.matmul_ns(int(c["batch"]))
            g = predict_cpu_gather(c["scheme"], int(c["memory_bytes"]), c["backend"], cal, tuple(c["tile"]))
            key = {"min": "ns_per_element_min", "cpu": "cpu_ns_per_element"}.get(stat, "ns_per_element")
            meas = float(c.get(key, c["ns_per_element"]))
            out.append({"record": Path(rec.path).name, "scheme": c["scheme"],
                        "gather": c.get("gather", "M[idx]"), "memory_bytes":
                        int(c["memory_bytes"]), "batch": int(c["batch"]), "matmul_ns": mm,
                        "gather_ns": g.total_ns, "predicted_ns": mm + g.total_ns, "measured_ns": meas,
                        "error": (mm + g.total_ns) / meas - 1.0})
    return out


def _stats(sel) -> dict:
    e = np.array([abs(r.error) for r in sel]) if sel else np.zeros(1)
    return {"rows": len(sel), "within_share": float(np.mean(e <= CPU_RATIO_TOLERANCE)) if sel else 0.0,
            "mae": float(e.mean()), "max_error": float(e.max()),
            "unexplained_misses": sum(1 for r in sel if not r.within and r.cause == UNEXPLAINED)}


def cpu_time_summary(rows) -> dict:
    """Share within the target and mean absolute error, over all rows and over the held-out rows."""
    out = {"all": _stats(rows), "held out": _stats([r for r in rows if r.held_out])}
    for rec in sorted({r.record for r in rows}):
        out[rec] = _stats([r for r in rows if r.record == rec])
        out[rec + " held out"] = _stats([r for r in rows if r.record == rec and r.held_out])
    return out


def _fmt_bytes(b: float) -> str:
    b = int(b)
    for unit, s in ((1 << 20, "MiB"), (1 << 10, "KiB")):
        if b >= unit and b % unit == 0:
            return f"{b // unit} {s}"
    return f"{b / (1 << 20):.2f} MiB" if b > 1 << 20 else f"{b} B"


def _header(c: CpuCalibration, directory) -> list:
    notes = {Path(r.path).name: r.notes
             for k in ("cpu_micro", *SWEEP_KINDS) for r in load_records(directory, k)}
    both = ("torch", "numpy")
    lines = [
        "# CPU gather model vs measurement (generated by `cachesim.measure.compare.cpu_time`)", "",
        "Do not edit by hand: regenerate with `PYTHONPATH=. python -c \"from cachesim.measure.compare."
        "cpu_time import write_cpu_comparison; write_cpu_comparison()\"`.", "",
        "Model: `cachesim.kernels.cpu_cost.predict_cpu_gather`, t = base + max(latency / MLP, DRAM "
        "bandwidth) per element, the level serving each access from the LRU reuse of a uniform random "
        f"access (`lru_hit_fraction`). Constants from `{c.source}` only (never from a gather timing), "
        f"read as the {'minimum' if c.stat == 'min' else 'median'} of the repeats; the measured gather "
        f"times below are the {'fastest repeat' if c.stat == 'min' else 'median'} likewise:", "",
        "| constant | value |", "|---|---|",
        "| capacities L1 / L2 / effective L3 | " + " / ".join(_fmt_bytes(x) for x in c.capacity_bytes)
        + " |",
        "| latency L1 / L2 / L3 (chase) | " + " / ".join(f"{x:.2f} ns" for x in c.latency_ns) + " |",
        f"| DRAM latency at {_fmt_bytes(c.dram_anchor_bytes[0])} / {_fmt_bytes(c.dram_anchor_bytes[1])} | "
        f"{c.dram_anchor_ns[0]:.1f} / {c.dram_anchor_ns[1]:.1f} ns |",
        f"| memory-level parallelism L2 / L3 / DRAM hits (cap {c.mlp_cap}), compiled independent loads | "
        + " / ".join(f"{x:.1f}" for x in c.mlp) + " |",
        *(f"| memory-level parallelism L2 / L3 / DRAM hits, {b}'s own gather (backend-gather; reported, "
          "not priced) | "
          + " / ".join(f"{x:.1f}" for x in c.backend_mlp[b]) + " |" for b in both if b in c.backend_mlp),
        "| base ns/element torch / numpy | " + " / ".join(f"{c.base_ns[b]:.3f}" for b in both) + " |",
        f"| streaming cost | {c.stream_ns_per_byte * 1e3:.1f} ps/byte |",
        "| dense matmul GFLOP/s by batch (X @ W, W 2048 x 2048) | "
        + (", ".join(f"{b}: {g:.1f}" for b, g in sorted(c.matmul_gflops.items())) or "not recorded") + " |",
        "| anchors (sizes a constant was read at) | " + ", ".join(_fmt_bytes(a) for a in c.anchors_bytes)
        + " |", "", "Machine state of each record (its notes):", "",
    ]
    lines += [f"* `{name}`: {txt}" for name, txt in sorted(notes.items())]
    copies = ", ".join(f"{b} {c.copy_ns[b]:.3f} / {predict_dense_copy(c):.3f}" for b in both)
    lines += ["", "Dense copy, ns per element, measured (the backend's copy in cpu_micro, the reference of "
              f"the hashed/dense-copy ratios) / 8 bytes at the streaming cost: {copies}.", ""]
    return lines


def _stat_lines(directory) -> list:
    lines = ["", "## Median or minimum of the repeats", "",
             "Share of ratios within 35% (mean absolute error) per gather record, calibrated from each "
             "cpu_micro record, with the median of the repeats on both sides, the minimum on both sides, or "
             "the median CPU time on both sides (a median-only record calibrates with its medians either "
             "way; the gather side then still changes). Other tenants can only slow a repeat down, so the "
             "fastest repeat is the least disturbed; the minimum cannot help when a co-tenant loads the "
             "machine for a whole run. CPU time leaves out descheduling but not the caches and memory "
             "bandwidth other tenants take.", "",
             "| calibration | gather record | median | minimum | CPU time |", "|---|---|---|---|---|"]
    tab = {(d["calibration"], d["record"], d["stat"]): d for d in stat_table(directory)}
    for cal, rec in sorted({(k[0], k[1]) for k in tab}):
        cells = [f"{tab[(cal, rec, s)]['within_share']:.0%} ({tab[(cal, rec, s)]['mae']:.1%})"
                 for s in ("median", "min", "cpu")]
        lines.append(f"| {cal} | {rec} | " + " | ".join(cells) + " |")
    return lines


def _matmul_lines(directory) -> list:
    pts = gather_matmul_rows(directory)
    if not pts:
        return []
    lines = ["", "## Gather-then-matmul check (torch `W = M[idx]; X @ W`, never used for calibration)", "",
             "Predicted = dense matmul (measured GFLOP/s at the batch) + the gather model with "
             "`torch.index_select`'s constants, ns per element of W, fastest repeat, each record's own "
             "calibration. `index_select` is the backend the model prices; the layer's advanced indexing "
             "`M[idx]` is a different torch loop (it computes each offset through the indexing iterator and "
             "allocates `W`), slower per element and with less overlap of its misses, so the model "
             "under-prices it: the gap between the two measured rows is the backend, not the matmul. Both "
             "measured rows also allocate a fresh 16 MiB `W` per call (page faults and zeroing that the "
             "modelled `index_select(..., out=W)` never pays), the likely cause of the ~1.5 ns per element "
             "both miss by at 64 KiB; no separate measurement confirms it yet.", "",
             "| record | scheme | gather | memory | batch | matmul | + gather | predicted | measured "
             "| error |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for p in pts:
        lines.append(f"| {p['record']} | {p['scheme']} | `{p['gather']}` | {_fmt_bytes(p['memory_bytes'])} | "
                     f"{p['batch']} | {p['matmul_ns']:.2f} | {p['gather_ns']:.2f} | "
                     f"{p['predicted_ns']:.2f} | {p['measured_ns']:.2f} | {p['error']:+.0%} |")
    return lines


def cpu_time_markdown(directory: str | Path = "measurements/cpu") -> str:
    """The markdown of ``measurements/COMPARISON_CPU.md`` (see the module notes)."""
    cal = micro_calibration(directory)
    rows = cpu_ratio_rows(directory)
    lines = _header(cal, directory)
    pub = ", ".join(f"{k}: {v:.1%}" for k, v in PUBLISHED_MAE.items())
    lines += [f"Target: ratios within {CPU_RATIO_TOLERANCE:.0%} of the measurement, or the miss's cause. "
              "Mean absolute error of the predicted vs measured ratio, stated the way the analytical GPU "
              f"models state theirs ({pub}):", "",
              "| rows | n | within 35% | mean abs. error | max error | misses without a cause |",
              "|---|---|---|---|---|---|"]
    for key, v in cpu_time_summary(rows).items():
        lines.append(f"| {key} | {v['rows']} | {v['within_share']:.0%} | {v['mae']:.1%} | "
                     f"{v['max_error']:.0%} | {v['unexplained_misses']} |")
    lines += _stat_lines(directory) + _matmul_lines(directory)
    lines += ["", "| record | memory | backend | ratio | measured | predicted | error | held out | "
              "within 35% | cause of the miss |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.record} | {_fmt_bytes(r.memory_bytes)} | {r.backend} | {r.ratio} | "
                     f"{r.measured:.3f} | {r.predicted:.3f} | {r.error:+.0%} | "
                     f"{'yes' if r.held_out else 'anchor'} | {'yes' if r.within else 'no'} | "
                     f"{r.cause or ''} |")
    return "\n".join(lines) + "\n"


def write_cpu_comparison(directory: str | Path = "measurements/cpu",
                         path: str | Path = "measurements/COMPARISON_CPU.md") -> Path:
    """Write :func:`cpu_time_markdown` to ``path`` atomically and return the path."""
    write_text_atomic(path, cpu_time_markdown(directory))
    return Path(path)
