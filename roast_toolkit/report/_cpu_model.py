"""Section 4, CPU model: predicted vs measured gather ratios and the gather waterfall over the array size.

The model (:func:`cachesim.kernels.predict_cpu_gather`) is priced from the ``cpu_micro`` record only;
:mod:`cachesim.measure.compare.cpu_time` pairs it with every recorded gather sweep.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._doc import Context, Heading, Para, SectionResult, Table, fmt
from ._figures import new_figure


def cpu_model_blocks(ctx: Context, sec: SectionResult, folder: Path) -> list[str]:
    """Add the CPU model's summary table and waterfall figure to ``sec``; return unexplained misses."""
    from cachesim.errors import CacheSimError
    from cachesim.kernels import cpu_waterfall
    from cachesim.measure.compare.cpu_time import (
        CPU_RATIO_TOLERANCE,
        UNEXPLAINED,
        cpu_ratio_rows,
        cpu_time_summary,
        micro_calibration,
    )
    from cachesim.measure.records import load_records

    if not load_records(folder, "cpu_micro"):
        sec.blocks.append(Para("CPU gather model: no `cpu_micro` record here (run drivers/cpu_micro.py)."))
        return []
    cal = micro_calibration(folder)
    rows = cpu_ratio_rows(folder)
    summ = cpu_time_summary(rows)
    sec.data["cpu_model"] = {"calibration": cal.to_dict(), "summary": summ,
                             "rows": [r.to_dict() for r in rows]}
    sec.blocks.append(Heading("CPU: gather time model (latency / memory-level parallelism) vs measurement"))
    sec.blocks.append(Para(
        f"Per element: base loop cost + max(latency / MLP, DRAM bandwidth), the serving level from the LRU "
        f"reuse of a random access; constants from `{cal.source}` only. Ratios HashedNet/ROAST and "
        f"hashed/dense-copy, target within {CPU_RATIO_TOLERANCE:.0%} (every miss in "
        "`measurements/COMPARISON_CPU.md` with its cause)."))
    sec.blocks.append(Table(
        ("rows", "n", "within target", "mean abs. error", "max error"),
        tuple((k, str(v["rows"]), f"{v['within_share']:.0%}", f"{v['mae']:.1%}", fmt(v["max_error"], ".0%"))
              for k, v in summ.items())))
    sizes = sorted({r.memory_bytes for r in rows})
    panels = [(cpu_waterfall(sizes, cal, scheme="hashednet", backend="torch"), "gather (W = M[idx])")]
    try:
        panels.append((cpu_waterfall(sizes, cal, scheme="hashednet", backend="torch", matmul=128),
                       "gather then X @ W (batch 128)"))
    except CacheSimError:  # a calibration record without the dense-matmul group
        pass
    fig, axes = new_figure(6.0 * len(panels), 4.0, ncols=len(panels))
    for ax, (wf, title) in zip(np.atleast_1d(axes), panels):
        _waterfall_panel(ax, wf, sizes, title)
    sec.blocks.append(ctx.save(fig, "measured_cpu_waterfall.png",
                               "CPU HashedNet waterfall as the shared array grows: dense copy (left) or "
                               "dense matmul (right), + index load & arithmetic, + L1/L2 misses, + DRAM "
                               "latency / MLP", sec))
    return [f"CPU gather {r.record} {r.memory_bytes} {r.backend} {r.ratio}: misses without a cause"
            for r in rows if r.cause == UNEXPLAINED]


def _waterfall_panel(ax, wf, sizes, title):
    """Stacked bars of one :class:`CpuWaterfall` (steps ``wf.steps``), sizes on the x axis."""
    x, bottom = np.arange(len(sizes)), np.zeros(len(sizes))
    for i, label in enumerate(wf.steps):
        d = np.array([r.deltas_ns[i] for r in wf.rows])
        ax.bar(x, d, bottom=bottom, label=label)
        bottom += d
    ax.set_xticks(x[::2], [f"{b >> 10} KiB" if b < 1 << 20 else f"{b >> 20} MiB" for b in sizes[::2]],
                  rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("predicted ns per element of W (torch)")
    ax.set_title(f"CPU HashedNet {title}", fontsize=9)
    ax.legend(fontsize=7)
