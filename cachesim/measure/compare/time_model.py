"""Measured GPU time ratios beside the issue-aware cost model (:mod:`cachesim.kernels.issue`).

Every ratio the fast-kernel records hold at a configuration whose compiled loop was recorded (SASS) and
between the autotuned (fastest) configurations of each variant, and
the bf16 ratios of the first timing sweep (old kernels: ROAST = in-loop hash, unaligned; HashedNet = the
authors' hash), are predicted by :func:`cachesim.kernels.predict` with ``cost_model="issue"`` and compared:

* ``variant / dense`` at the same configuration (what each index path costs over the dense kernel);
* HashedNet ``hash`` / ROAST ``table-a64`` (the headline), HashedNet ``hash`` / each other HashedNet index
  path, ROAST ``hash`` / ROAST ``table`` and ROAST ``align 1 or 8`` / ``align 64`` (the ablations).

Targets: within :data:`TIME_TOLERANCE` (25 %) in at least 80 % of the rows, none off by more than 2x.
No constant of the model comes from these timings (see :func:`leave_one_shape_out`).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from ..fast_records import HELD_OUT_FOLDERS
from ..records import load_records, read_once
from .time_misses import IRREPRODUCIBLE_CAUSE, SHAPE_MISSES, TIME_MISSES
from .time_predict import (  # noqa: F401 - the row type, cache and constants of the time model
    _FAST_KINDS,
    _STORED,
    IRREPRODUCIBLE,
    PREDICTIONS_FILE,
    PREDICTIONS_KIND,
    REPLICATE_TOLERANCE,
    TIME_TOLERANCE,
    TimeRow,
    _compute,
    _describe,
    _load_stored,
    _predict,
)
from .tma_time import TMA_FOLDERS, tma_rows

__all__ = ["REGISTERED_FILE", "TIME_MISSES", "TIME_TOLERANCE", "TimeRow", "class_stats",
           "leave_one_shape_out", "registered_rows", "time_rows", "time_summary", "write_time_predictions"]

#: A held-out folder's predictions, written and committed before its cases were timed.
REGISTERED_FILE = "predicted_before_timing.json"


def write_time_predictions(directory: str | Path = "measurements/gpu"):
    """Run the issue-aware model for every case of :func:`time_rows` and store them (minutes)."""
    from ..records import write_record

    _STORED.clear()
    time_rows(directory, stored=False)
    cases = [{"key": list(k), "predicted_time_s": v[0], "dominant": v[1]} for k, v in sorted(
        _STORED.items(), key=lambda kv: str(kv[0]))]
    return write_record(Path(directory) / PREDICTIONS_FILE, PREDICTIONS_KIND, cases,
                        notes="cachesim.kernels.predict(..., cost_model='issue', analytic=True) for every "
                              "timed case of cachesim.measure.compare.time_model (not measurements).")


def _fast_times(directory) -> dict:
    """``{(record, shape, memory, config): {variant: (ms, config)}}`` of the fast-kernel timings: each
    variant at a configuration whose loop was recorded, and each variant at its autotuned configuration
    (``config = "autotuned"``: the record's ``best`` case)."""
    from ...kernels.issue import LOOP_MIXES
    from ...kernels.loop_table import offline_loops

    recorded = set(LOOP_MIXES) | set(offline_loops().mixes)
    recorded |= {("hashednet-hash", c) for v, c in LOOP_MIXES if v == "hashednet-arith-only"}
    out: dict = {}
    for rec in _fast_records(directory):
        folder = Path(rec.path).parent.name if getattr(rec, "path", None) else rec.kind
        for c in rec.cases:
            if c.get("impl") != "triton" or c.get("dtype") != "bf16" or _describe(c["variant"]) is None:
                continue
            shape = f"{c['M']}x{c['K']}x{c['N']}"
            if c.get("type") == "best":  # the autotuned configuration of each variant
                key = (folder, shape, c["memory"], "autotuned")
                out.setdefault(key, {})[c["variant"]] = (c["ms"], c["config"])
                continue
            if c.get("type") != "time":
                continue
            if c["variant"] != "dense" and (c["variant"], c["config"]) not in recorded:
                continue
            key = (folder, shape, c["memory"], c["config"])
            out.setdefault(key, {})[c["variant"]] = (c["ms"], c["config"])
    return out


def _fast_records(directory) -> list:
    """The fast-kernel records, kind by kind in :data:`_FAST_KINDS` order (one read of the folder)."""
    recs = load_records(directory)
    return [r for kind in _FAST_KINDS for r in recs if r.kind == kind]


def _pairs(variants) -> list:
    pairs = [(v, "dense") for v in variants if v != "dense"]
    if "hashednet-hash" in variants:
        pairs += [("hashednet-hash", v) for v in variants
                  if v.startswith("hashednet-") and v != "hashednet-hash"]
        pairs += [("hashednet-hash", v) for v in variants if v.startswith("roast-table-a64")]
    for v in variants:  # each in-loop hash and the prefetched table against the table loop
        m = re.match(r"roast-(hash|hash32|table-pf)-a(\d+)-(t\d+x\d+)", v)
        if m and f"roast-table-a{m.group(2)}-{m.group(3)}" in variants:
            pairs.append((v, f"roast-table-a{m.group(2)}-{m.group(3)}"))
        m = re.match(r"roast-table-a(1|8)-(t\d+x\d+)", v)
        if m and f"roast-table-a64-{m.group(2)}" in variants:
            pairs.append((v, f"roast-table-a64-{m.group(2)}"))
    return [p for p in pairs if p[0] in variants and p[1] in variants]


def _old_rows(directory) -> list:
    """bf16 ratios of the first sweep (old kernels) at their own configurations."""
    impl = {"triton_dense": "dense", "triton_roast": "roast-hash-a1-t", "triton_hashednet": "hashednet-hash"}
    by: dict = {}
    for rec in load_records(directory, "gpu-timing"):
        for c in rec.cases:
            if c.get("type") != "time" or c.get("precision") != "bf16" or c.get("impl") not in impl:
                continue
            cfg = (f"{c['block_m']}x{c['block_n']}x{c['block_k']}-g{c['group_m']}-w{c['num_warps']}"
                   f"-s{c['num_stages']}")
            key = ("call2_sweep", f"{c['M']}x{c['K']}x{c['N']}", c["m_slots"], cfg)
            by.setdefault(key, {})[impl[c["impl"]]] = (c["fwd_ms"], cfg)
    rows = []
    names = {"dense": ("dense", None, None, None), "roast-hash-a1-t": ("roast", "hash", 1, None),
             "hashednet-hash": ("hashednet", "hash", None, None)}
    for key, t in sorted(by.items(), key=lambda kv: str(kv[0])):
        for num, den in (("hashednet-hash", "roast-hash-a1-t"), ("roast-hash-a1-t", "dense"),
                         ("hashednet-hash", "dense")):
            if num in t and den in t:
                rows.append(_row(key, num, den, t, names))
    return rows


def _label(name: str) -> str:
    return name[:-2] if name.endswith("-t") else name


def _row(key, num, den, t, names, spread: float = 1.0) -> TimeRow:
    folder, shape, memory, config = key
    pn = _predict(*names[num], shape, memory, t[num][1])
    pd = _predict(*names[den], shape, memory, t[den][1])
    return TimeRow(folder, shape, memory, config, _label(num), _label(den),
                   t[num][0] / t[den][0], pn[0] / pd[0], pn[1], spread)


def _replicates(fast: dict) -> dict:
    """``{(shape, memory, config, variant): {record: ms}}`` of the cases more than one record timed."""
    by: dict = {}
    for (folder, shape, memory, config), t in fast.items():
        for v, (ms, _) in t.items():
            by.setdefault((shape, memory, config, v), {})[folder] = ms
    return {k: d for k, d in by.items() if len(d) > 1}


def _spread(replicates: dict, key, variants) -> float:
    """The largest factor between the timings of ``variants`` in record ``key[0]`` and another record's
    timing of the same case (1.0 where none other timed it)."""
    folder, shape, memory, config = key
    out = 1.0
    for v in variants:
        times = replicates.get((shape, memory, config, v), {})
        mine = times.get(folder)
        if mine:
            out = max([out] + [max(mine / ms, ms / mine) for ms in times.values()])
    return out


def time_rows(directory: str | Path = "measurements/gpu", *, stored: bool = True) -> list[TimeRow]:
    """Every recorded time ratio with the issue-aware model's prediction (old sweep first).

    ``stored``: take the predictions from the stored record (:func:`write_time_predictions`) where it has
    them; cases it lacks are computed (about a second each).
    """
    with read_once():  # predictions, the old sweep, the fast and the TMA records: one read of the folder
        if stored:
            _load_stored(directory)
        rows = _old_rows(directory)
        fast = _fast_times(directory)
        tma = tma_rows(directory)
    replicates = _replicates(fast)
    for key, t in sorted(fast.items(), key=lambda kv: str(kv[0])):
        names = {v: _describe(v) for v in t}
        for num, den in _pairs(sorted(t)):
            rows.append(_row(key, num, den, t, names, _spread(replicates, key, (num, den))))
    return rows + tma


def registered_rows(directory: str | Path = "measurements/gpu") -> list[TimeRow]:
    """The held-out folders' ratios (:data:`HELD_OUT_FOLDERS`) priced by the predictions registered before
    they were timed (:data:`REGISTERED_FILE`), not by the current model: the blind test, which later model
    changes cannot move. A ratio whose numerator or denominator was not registered is left out."""
    directory = Path(directory)
    fast = _fast_times(directory)
    replicates = _replicates(fast)
    rows = []
    for folder in HELD_OUT_FOLDERS:
        path = directory / folder / REGISTERED_FILE
        if not path.exists():
            continue
        reg = {(c["variant"], c["config"], f"{c['M']}x{c['K']}x{c['N']}", c["memory"]):
               (c["predicted_time_s"], c.get("dominant", "")) for c in json.loads(path.read_text())["cases"]}
        for key, t in sorted(fast.items(), key=lambda kv: str(kv[0])):
            _, shape, memory, config = key
            if key[0] != folder:
                continue
            for num, den in _pairs(sorted(t)):
                pn, pd = (reg.get((v, t[v][1], shape, memory)) for v in (num, den))
                if pn and pd:
                    rows.append(TimeRow(folder, shape, memory, config, _label(num), _label(den),
                                        t[num][0] / t[den][0], pn[0] / pd[0], pn[1],
                                        _spread(replicates, key, (num, den))))
    return rows


def class_stats(rows, key=None) -> dict:
    """``{class: sentence}``: how many rows fall in each class (``key(row)``; default
    :attr:`TimeRow.klass`), the share within 25 %, the under- and over-predicted ones (measured /
    predicted below 0.75 and above 1.25: count, range, median) and the rows beyond 2x."""
    import statistics

    by: dict = {}
    for r in rows:
        by.setdefault(key(r) if key else r.klass, []).append(r.ratio)
    out = {}
    for name, ratios in by.items():
        within = sum(abs(x - 1.0) <= TIME_TOLERANCE for x in ratios) / len(ratios)
        parts = [f"{len(ratios)} rows, {within:.1%} within 25 %"]
        for label, sel in (("below", [x for x in ratios if x < 1.0 - TIME_TOLERANCE]),
                           ("above", [x for x in ratios if x > 1.0 + TIME_TOLERANCE])):
            if sel:
                parts.append(f"{len(sel)} {label} ({min(sel):.2f}-{max(sel):.2f}, median "
                             f"{statistics.median(sel):.2f})")
        beyond = sum(max(x, 1.0 / x) > 2.0 for x in ratios)
        parts.append(f"{beyond} beyond 2x")
        out[name] = "In the records: " + "; ".join(parts) + "."
    return out


def time_summary(rows) -> dict:
    """Fraction within 25 %, the worst case and the mean absolute error (``|pred / meas - 1|``); under
    ``reproducible`` the same over the rows no other record's timing contradicts
    (:attr:`TimeRow.reproducible`), and ``contradicted``: how many it leaves out."""
    rows = list(rows)
    out = _summary(rows)
    if rows:
        kept = [r for r in rows if r.reproducible]
        out["contradicted"] = len(rows) - len(kept)
        out["reproducible"] = _summary(kept)
    return out


def _summary(rows) -> dict:
    if not rows:
        return {"rows": 0}
    errs = [abs(1.0 / r.ratio - 1.0) for r in rows]
    worst = max(rows, key=lambda r: max(r.ratio, 1.0 / r.ratio))
    return {"rows": len(rows), "within_25pct": sum(r.within for r in rows) / len(rows),
            "beyond_2x": sum(max(r.ratio, 1 / r.ratio) > 2.0 for r in rows),
            "mean_abs_error": sum(errs) / len(errs),
            "worst": {"case": f"{worst.numerator}/{worst.denominator} {worst.shape} m={worst.memory} "
                              f"{worst.config} ({worst.record})", "measured_over_predicted": worst.ratio}}


def leave_one_shape_out(rows) -> dict:
    """Mean absolute error on each held-out shape, the model built without that shape's timings.

    The issue-aware model has no constant taken from any timing (instruction counts come from compiled
    code, rates from documentation and ceilings from microbenchmarks), so holding a shape out changes no
    constant: each fold's held-out error is the model's error on that shape. The function checks this
    (``fitted_constants`` is empty) and reports the per-shape errors and their mean.
    """
    rows = list(rows)
    shapes = sorted({r.shape for r in rows})
    folds = {}
    for s in shapes:
        held = [abs(1.0 / r.ratio - 1.0) for r in rows if r.shape == s]
        folds[s] = sum(held) / len(held)
    mean = sum(folds.values()) / len(folds) if folds else math.nan
    return {"fitted_constants": [], "held_out_mae_by_shape": folds, "mean_held_out_mae": mean}


def measured_times(directory: str | Path, shape: str, memory: int, config: str) -> dict:
    """``{variant: seconds}`` measured at one case (latest fast-kernel record holding it), tile suffix
    dropped (``roast-table-a64``); empty when no record has the case."""
    out: dict = {}
    for rec in _fast_records(directory):
        for c in rec.cases:
            if (c.get("type") == "time" and c.get("impl") == "triton" and c.get("dtype") == "bf16"
                    and f"{c['M']}x{c['K']}x{c['N']}" == shape and c["config"] == config
                    and (c["variant"] == "dense" or c["memory"] == memory)):
                out[re.sub(r"-t\d+x\d+$", "", c["variant"])] = c["ms"] * 1e-3
    return out


def _record_group(record: str) -> str:
    if record == "call2_sweep":
        return "old sweep"
    return "TMA records" if record in TMA_FOLDERS else "fast kernels"


def _group_lines(rows) -> list:
    groups: dict = {}
    for r in rows:
        key = (_record_group(r.record), r.numerator, r.denominator)
        groups.setdefault(key, []).append(r)
    lines = ["| records | ratio | rows | within 25% | median meas/pred | worst meas/pred | misses by cause |",
             "|---|---|---|---|---|---|---|"]
    for (rec, num, den), rs in sorted(groups.items()):
        ratios = sorted(r.ratio for r in rs)
        worst = max(ratios, key=lambda x: max(x, 1 / x))
        causes: dict = {}
        for r in rs:
            if r.miss:
                causes[r.miss] = causes.get(r.miss, 0) + 1
        lines.append(f"| {rec} | {num} / {den} | {len(rs)} | {sum(r.within for r in rs)} | "
                     f"{ratios[len(ratios) // 2]:.2f} | {worst:.2f} | "
                     + ", ".join(f"{k} ({v})" for k, v in sorted(causes.items())) + " |")
    return lines


_MODEL_TEXT = ('Model: `cachesim.kernels.predict(..., cost_model="issue", analytic=True)` '
               '(`cachesim.kernels.issue`, `cachesim.kernels.latency`, `cachesim.kernels.tma`): '
               "instruction issue from the k-loop of each kernel's own compiled code (device SASS of "
               "call7_time/call18_headline, and the sm_90 listings compiled offline with the device's "
               'Triton for every timed configuration, `measurements/gpu/sass_offline`; each guarded '
               "64-bit remainder counted on the side the hash runs: 0.96-1.00 of Nsight Compute's "
               'executed instructions) with the exposed latency of its synchronous load chain, '
               'cp.async pipelining, one reload latency per wait on spill reloads (MWP-CWP) and, in the '
               'ROAST tile-start hash, 46.6 cycles per variable-latency instruction (call24 against its '
               "own listing); the 28 KiB L1 of Triton's launches above 48 KiB of shared memory "
               '(call29); L1 wavefronts, L2 and DRAM traffic '
               '(TMA kernels: every box sector an L2 request; persistent launches at one program per '
               'SM, warp specialisation where Triton compiled it, the input-gradient kernels dX = dY W^T '
               'as their own GEMM with their own listings); the B-tile path by alignment and width,'
               " the TMA box path and the gather priced by microbenchmarks at the kernel's resident "
               "warps per SM (the table kernel's gather times call35's index-matrix factor); "
               'tensor-core work and issue overlapping by the measured fraction 0.53; '
               "the dense loop's sustained rate per configuration; occupancy and waves; cuBLAS at its "
               'measured ceilings. Constants from the CUDA C++ Programming Guide (cc 9.0), the '
               'ceilings of call7_time and the microbenchmarks of call12_micro, call14_micro2, '
               'call21_micro3, call22_micro3b, call24_micro3d, call25-28 and call32-35 (SM-bound rates '
               'converted from their 1980 MHz to the loaded 1605 MHz); nothing fitted to a timing. ')


def _verdict(s: dict) -> str:
    """Which of the two targets (80 % within 25 %, none beyond 2x) the summary meets."""
    within, none_beyond = s["within_25pct"] >= 0.8, s["beyond_2x"] == 0
    if within and none_beyond:
        return "Both targets met."
    if within:
        return "The 80 % target is met; the none-beyond-2x target is NOT."
    if none_beyond:
        return "The none-beyond-2x target is met; the 80 % target is NOT."
    return "Targets NOT met."


def _reproducible_line(s: dict) -> str:
    """The summary over the rows no other record's timing contradicts (:func:`time_summary`)."""
    r = s.get("reproducible", {"rows": 0})
    if not r["rows"] or not s.get("contradicted"):
        return "No other record's timing contradicts any of these ratios' timings."
    return (f"Over the {r['rows']} ratios whose timings no other record contradicts (leaving out the "
            f"{s['contradicted']} of class `{IRREPRODUCIBLE}`, below): {r['within_25pct']:.1%} within 25%, "
            f"{r['beyond_2x']} off by more than 2x, mean absolute error {r['mean_abs_error']:.1%}; worst "
            f"{r['worst']['case']}: measured/predicted {r['worst']['measured_over_predicted']:.2f}. "
            + _verdict(r))


def _held_out_lines(rows, directory) -> list:
    """The summary of the rows of each held-out record (``HELD_OUT_FOLDERS`` of
    :mod:`cachesim.measure.fast_records`: timed only after the model's predictions for them were written,
    :data:`REGISTERED_FILE`), by those registered predictions (blind) and by the current model; none: no
    line."""
    blind_rows = registered_rows(directory)

    def text(x):
        return (f"{x['rows']} ratios, {x['within_25pct']:.1%} within 25%, {x['beyond_2x']} off by more than "
                f"2x, mean absolute error {x['mean_abs_error']:.1%}")
    lines = []
    for folder in HELD_OUT_FOLDERS:
        held = [r for r in rows if r.record == folder]
        if not held:
            continue
        h, b = time_summary(held), time_summary([r for r in blind_rows if r.record == folder])
        shapes = sorted({r.shape for r in held})
        blind = (f"by the predictions registered before the timing ({REGISTERED_FILE}), the blind test: "
                 f"{text(b)} ({_verdict(b).rstrip('.')}); " if b["rows"] else "")
        lines += [f"Held-out shapes ({folder}: {', '.join(shapes)}, timed after the model's predictions for "
                  f"them were written and committed): {blind}by the current model (its constants from "
                  f"microbenchmarks only): {text(h)}.", ""]
    return lines


def time_markdown(directory: str | Path = "measurements/gpu") -> list:
    """Lines of the COMPARISON.md section on the issue-aware time model (from the stored predictions)."""
    with read_once():  # the held-out lines read the same fast records again
        rows = time_rows(directory)
        held_out = _held_out_lines(rows, directory)
    s, loso = time_summary(rows), leave_one_shape_out(rows)
    lines = ["", "## Issue-aware time model vs every recorded time ratio (bf16)", "",
             _MODEL_TEXT +
             f"Predictions stored in `{PREDICTIONS_FILE}` "
             "(`cachesim.measure.compare.time_model.write_time_predictions`).",
             "",
             f"**{s['rows']} ratios: {s['within_25pct']:.1%} within 25% (target 80%), {s['beyond_2x']} "
             f"off by more than 2x (target 0); mean absolute error {s['mean_abs_error']:.1%}; worst "
             f"{s['worst']['case']}: measured/predicted {s['worst']['measured_over_predicted']:.2f}.** "
             + _verdict(s) + " Every missed row carries the cause of its class below.",
             "",
             _reproducible_line(s),
             "",
             f"Leave-one-shape-out: fitted constants {loso['fitted_constants'] or 'none'}; held-out mean "
             f"absolute error {loso['mean_held_out_mae']:.1%} ("
             + ", ".join(f"{k} {v:.1%}" for k, v in loso["held_out_mae_by_shape"].items()) + "). "
             "For comparison, as those papers state their error: MWP-CWP (Hong & Kim, ISCA 2009) 13.3% "
             "geometric-mean absolute error on GPU applications (5.4% on microbenchmarks); the Memory "
             "Divergence Model (Wang et al., MICRO 2018) 13.9% average error on memory-divergent kernels, "
             "14x below GPUMech. Ours is judged on ratios, not absolute times.",
             ""]
    lines += held_out
    lines += _group_lines(rows)
    lines += ["", "### Causes of the misses", "",
              "Each cause is followed by its class's rows in the records above, counted when this file was "
              "written (every row falls in the class of the first rule that matches it: its shape's, then "
              "its ratio's).", ""]
    stats = class_stats(rows)
    seen = set()
    for name, num, den, cause in TIME_MISSES:
        if name not in seen:
            seen.add(name)
            lines.append(f"* **{name}** (numerator `{num or '*'}`, denominator `{den or '*'}`): {cause}. "
                         f"*{stats.get(name, 'No row of the records falls in this class.')}*")
    lines.append(f"* **{IRREPRODUCIBLE}** (any ratio whose numerator or denominator timing another record "
                 f"contradicts by more than {REPLICATE_TOLERANCE}x; this class is taken first): "
                 f"{IRREPRODUCIBLE_CAUSE}. "
                 f"*{stats.get(IRREPRODUCIBLE, 'No row of the records falls in this class.')}*")
    by_shape = class_stats(rows, key=lambda r: r.shape)
    for shape, (name, cause) in SHAPE_MISSES.items():
        lines.append(f"* **{name}** (every ratio at shape `{shape}`): {cause}. "
                     f"*{by_shape.get(shape, 'No row of the records has this shape.')}*")
    lines += ["", "### Every ratio", "",
              "| record | shape | memory | config | ratio | measured | predicted | meas/pred | within | "
              "miss |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.record} | {r.shape} | {r.memory} | {r.config} | {r.numerator} / "
                     f"{r.denominator} | {r.measured:.4g} | {r.predicted:.4g} | {r.ratio:.3f} | "
                     f"{'yes' if r.within else 'NO'} | {r.miss} |")
    return lines
