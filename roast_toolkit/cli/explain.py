"""``cachesim explain``: dense vs ROAST vs HashedNet side by side, and where the predicted speedup comes
from."""

from __future__ import annotations

import sys

from cachesim.errors import CacheSimError
from cachesim.kernels.explanation import DEFAULT_MEMORY, EXPLAIN_KERNELS
from cachesim.kernels.explanation import explain as explain_kernels
from cachesim.kernels.targets import CPU_TARGETS

from .kernel import add_common_arguments, parsed_common

KINDS = EXPLAIN_KERNELS

__all__ = ["DEFAULT_MEMORY", "add_parser", "explain", "run"]


def add_parser(sub):
    p = sub.add_parser(
        "explain",
        help="dense vs ROAST vs HashedNet GEMM: traffic per level, cost terms, speedup sources",
        description="Side-by-side traffic (per operand and level) and cost terms of the dense, ROAST and "
        "HashedNet GEMM kernels on a GPU target, and which term makes HashedNet slower than ROAST.",
    )
    add_common_arguments(p, shape_default="4096x768x3072")
    p.add_argument("--backward", action="store_true", help="backward-weight kernels")
    p.add_argument("--simulate", action="store_true", help="simulate (default: the analytic model, fast)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--waterfall", action="store_true",
                   help="print where the time goes: dense -> + index arithmetic -> + load issue -> + extra "
                        "L2 traffic -> + DRAM, for ROAST and HashedNet (issue-aware cost model, bf16); with "
                        "--target host, the CPU gather W = M[idx]: dense copy -> + index load & arithmetic "
                        "-> + L1 misses -> + L2 misses -> + DRAM latency / MLP, per shared-array size")
    p.add_argument("--roast-index", default="table", help="waterfall: ROAST index path, hash | table")
    p.add_argument("--align", default="64", help="waterfall: ROAST tile-start alignment, 1 | 8 | 64")
    p.add_argument("--hashednet-index", default="hash",
                   help="waterfall: HashedNet index path, hash | mulshift | table | arith-only")
    p.add_argument("--records", default="measurements/gpu",
                   help="waterfall: folder of GPU timing records for the measured ablation deltas")
    p.add_argument("--backend", default="torch",
                   help="CPU waterfall (--target host): gather backend, torch | numpy")
    p.add_argument("--cpu-records", default="measurements/cpu",
                   help="CPU waterfall: folder holding the cpu_micro record that calibrates the CPU model")
    p.add_argument("--batch", default=None,
                   help="CPU waterfall: gather-then-matmul W = M[idx]; X @ W, X of BATCH rows: start from "
                        "the measured dense matmul (a batch of the cpu_micro record's matmul cases)")
    return p


def cpu_waterfalls(args) -> dict:
    """``{"roast": CpuWaterfall, "hashednet": CpuWaterfall}`` of the CPU gather ``W = M[idx]`` (ROAST tile
    32x64) for ``explain --target <cpu> --waterfall``: one size (``--memory`` elements) or 4 KiB ... 512
    MiB; with ``--batch``, gather-then-matmul from the dense matmul, measured points beside the rows."""
    from cachesim._validate import parse_int
    from cachesim.kernels.cpu_waterfall import cpu_waterfall
    from cachesim.measure.compare.cpu_time import gather_matmul_rows, micro_calibration

    if args.target != "host":
        raise CacheSimError(f"target={args.target!r} has no CPU calibration record: the CPU gather model is "
                            "calibrated only for 'host' (measured by drivers/cpu_micro.py)")
    memory = parse_int("memory", args.memory)
    if memory is not None and memory < 1:
        raise CacheSimError(f"memory={memory} must be >= 1 element")
    sizes = [4 * memory] if memory is not None else [4096 << k for k in range(18)]
    cal = micro_calibration(args.cpu_records)
    batch = parse_int("batch", getattr(args, "batch", None))
    if batch is None:
        return {s: cpu_waterfall(sizes, cal, scheme=s, backend=args.backend) for s in ("roast", "hashednet")}
    pts = [p for p in gather_matmul_rows(args.cpu_records) if p["record"] == cal.source.split(" ")[0]
           and p["batch"] == batch and p["gather"] == "index_select" and args.backend == "torch"]
    return {s: cpu_waterfall(sizes, cal, scheme=s, backend=args.backend, matmul=batch,
                             measured={p["memory_bytes"]: p["measured_ns"] for p in pts if p["scheme"] == s})
            for s in ("roast", "hashednet")}


def waterfalls(args) -> dict:
    """``{"roast": Waterfall, "hashednet": Waterfall}`` for parsed ``explain --waterfall`` arguments."""
    from pathlib import Path

    from cachesim._validate import parse_int
    from cachesim.kernels.waterfall import waterfall
    from cachesim.measure.compare.time_model import measured_times

    c = _plain(parsed_common(args))
    memory = c["memory"] if c["memory"] is not None else DEFAULT_MEMORY
    kw = dict(memory=memory, block=c["block"], group_m=c["group_m"], num_warps=c["num_warps"],
              num_stages=c["num_stages"], target=c["target"], analytic=not args.simulate)
    out, meas = {}, None
    for kernel, index, align in (("roast", args.roast_index, parse_int("align", args.align)),
                                 ("hashednet", args.hashednet_index, None)):
        w = waterfall(kernel, c["shape"], index=index, align=align, **kw)
        if meas is None:  # one case (shape, memory, configuration) for both kernels: read the records once
            records = Path(args.records)
            meas = measured_times(records, w.shape, memory, w.config) if records.is_dir() else {}
        out[kernel] = waterfall(kernel, c["shape"], index=index, align=align, measured=meas, **kw) if meas \
            else w
    return out


def _plain(c: dict) -> dict:
    """The common options without ``schedule``, which ``cachesim explain`` does not take (plain launches)."""
    schedule = c.pop("schedule", "plain")
    if schedule != "plain":
        raise CacheSimError(f"--schedule {schedule}: cachesim explain compares plain launches; price a "
                            "persistent TMA kernel with cachesim kernel --load-path tma --schedule")
    return c


def _print_waterfalls(ws: dict) -> None:
    w = sys.stdout.write
    for kernel, wf in ws.items():
        idx = f"index {wf.index}" + (f", align {wf.align}" if wf.align is not None else "")
        w(f"{kernel} ({idx}) at {wf.shape}, memory {wf.memory}, {wf.config}: where the time goes\n")
        for s in wf.steps:
            w(f"  {s.label:22}{s.predicted_s * 1e6:>12.4g} us  (+{s.delta_s * 1e6:.4g} us)\n")
        w("  ablation deltas (predicted / measured, us):\n")
        for a in wf.ablations:
            a = dict(a)
            m = "-" if a["measured_delta_s"] is None else f"{a['measured_delta_s'] * 1e6:.4g}"
            w(f"    {a['ablation']:24}{a['numerator']} - {a['denominator']}: "
              f"{a['predicted_delta_s'] * 1e6:.4g} / {m}\n")
        w("\n")


def explain(args) -> dict:
    """The JSON object of ``cachesim explain`` for parsed arguments (see :func:`cachesim.kernels.explain`)."""
    c = _plain(parsed_common(args))
    c.pop("loop_tiles")
    res = explain_kernels(backward=bool(args.backward), analytic=not args.simulate, **c)
    return res.to_dict() | {"shape": args.shape, "block": args.block}


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def run(args) -> int:
    from ._common import emit_json

    if getattr(args, "waterfall", False) and args.target in CPU_TARGETS:
        ws = cpu_waterfalls(args)
        if args.json:
            emit_json({k: v.to_dict() for k, v in ws.items()})
        else:
            sys.stdout.write("\n\n".join(v.format() for v in ws.values()) + "\n")
        return 0
    if getattr(args, "waterfall", False):
        ws = waterfalls(args)
        if args.json:
            emit_json({k: v.to_dict() for k, v in ws.items()})
        else:
            _print_waterfalls(ws)
        return 0
    out = explain(args)
    if args.json:
        emit_json(out)
        return 0
    w = sys.stdout.write
    w(f"GEMM {out['shape']} on {out['target']} (H = {out['memory']} elements, block {out['block']}, "
      f"{out['model']}{', backward-weight' if out['backward'] else ''})\n\n")
    rows = [("load instructions", "load_instructions"), ("L1 sector requests", "l1_sector_requests"),
            ("sectors / request", "sectors_per_request"), ("L1 misses (= L2 req.)", "l1_sector_misses"),
            ("L2 misses", "l2_sector_misses"), ("write sectors", "write_sector_requests"),
            ("DRAM bytes", "dram_bytes")]
    k = out["kernels"]
    w(f"{'':26}{'dense':>14}{'roast':>14}{'hashednet':>14}\n")
    for label, key in rows:
        w(f"{label:26}" + "".join(f"{_fmt(k[n][key]):>14}" for n in KINDS) + "\n")
    for term in k["dense"]["terms_s"]:
        w(f"{term + ' time (us)':26}"
          + "".join(f"{k[n]['terms_s'][term] * 1e6:>14.4g}" for n in KINDS) + "\n")
    w(f"{'predicted time (us)':26}"
      + "".join(f"{k[n]['predicted_time_s'] * 1e6:>14.4g}" for n in KINDS) + "\n")
    w(f"{'dominant term':26}" + "".join(f"{k[n]['dominant']:>14}" for n in KINDS) + "\n\n")
    r = out["ratio_hashednet_over_roast"]
    w(f"HashedNet / ROAST predicted time: {r['predicted_time']:.3g}x; L1 sector requests "
      f"{r['l1_sector_requests']:.3g}x.\n")
    w(f"  HashedNet is bound by {r['dominant_hashednet']}, ROAST by {r['dominant_roast']}; per-term ratios: "
      + ", ".join(f"{n} {v:.3g}x" for n, v in r["term_ratios"].items()) + "\n")
    w("  Source: A tiles cost the same in both; a ROAST B-tile row is one coalesced request "
      f"({k['roast']['operand_sectors_per_instruction']:.3g} sectors per instruction) while HashedNet "
      f"touches about one sector per element ({k['hashednet']['operand_sectors_per_instruction']:.3g} "
      "per 32-lane instruction).\n")
    d = out["ratio_roast_over_dense"]
    w(f"ROAST / dense predicted time: {d['predicted_time']:.3g}x; L1 sector requests "
      f"{d['l1_sector_requests']:.3g}x (ROAST loads use element-width vectors: its start is not provably "
      "16-byte aligned).\n")
    return 0
