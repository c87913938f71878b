"""``cachesim explain``: dense vs ROAST vs HashedNet side by side, and where the predicted speedup comes
from."""

from __future__ import annotations

import sys

from cachesim.kernels.explanation import DEFAULT_MEMORY, EXPLAIN_KERNELS
from cachesim.kernels.explanation import explain as explain_kernels

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
    return p


def explain(args) -> dict:
    """The JSON object of ``cachesim explain`` for parsed arguments (see :func:`cachesim.kernels.explain`)."""
    c = parsed_common(args)
    c.pop("loop_tiles")
    res = explain_kernels(backward=bool(args.backward), analytic=not args.simulate, **c)
    return res.to_dict() | {"shape": args.shape, "block": args.block}


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def run(args) -> int:
    from ._common import emit_json

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
