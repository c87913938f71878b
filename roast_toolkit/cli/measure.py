"""``cachesim measure``: check the Triton kernels, list measurement records, compare model and measurement.

``cachesim measure check``    correctness of one fused kernel against the float64 reference (``--device cpu``
                              runs Triton's interpreter, ``TRITON_INTERPRET=1``; fp32 / tf32 only there);
``cachesim measure records``  the records under a folder (kind, date, device, number of cases);
``cachesim measure compare``  model vs measurement summary, ``--markdown PATH`` writes the table,
                              ``--write-predictions`` re-runs the model for every ncu case first (minutes).
"""

from __future__ import annotations

import os

from cachesim._validate import parse_int as _int
from cachesim._validate import parse_triple as _triple
from cachesim.errors import CacheSimError

DEVICES = ("cpu", "cuda")
#: Other spellings of the measured precisions (tf32 stays distinct from fp32 here: it is what is measured).
PRECISION_ALIASES = {"float32": "fp32", "bfloat16": "bf16"}


def add_parser(sub):
    p = sub.add_parser("measure", help="check the Triton kernels, list GPU records, compare with the model",
                       description=__doc__.split("\n\n", 1)[1] if "\n\n" in __doc__ else None)
    a = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    c = a.add_parser("check", help="correctness of one fused kernel against a float64 reference")
    c.add_argument("--method", default="roast", help="dense | roast | hashednet | roast_aligned")
    c.add_argument("--shape", default="32x48x96", help="MxKxN of Y = X W")
    c.add_argument("--memory", default="900", help="shared array size H in elements")
    c.add_argument("--precision", default="fp32", help="fp32 | tf32 | bf16")
    c.add_argument("--block", default="16x32x16", help="BLOCK_MxBLOCK_NxBLOCK_K")
    c.add_argument("--group-m", default="2")
    c.add_argument("--num-warps", default="1")
    c.add_argument("--num-stages", default="1")
    c.add_argument("--seed", default="0")
    c.add_argument("--device", default="cpu", help="cpu (Triton interpreter) or cuda")
    c.add_argument("--json", action="store_true")
    r = a.add_parser("records", help="list measurement records")
    r.add_argument("--dir", default="measurements/gpu")
    r.add_argument("--kind", default=None)
    r.add_argument("--json", action="store_true")
    m = a.add_parser("compare", help="model vs measurement")
    m.add_argument("--dir", default="measurements/gpu")
    m.add_argument("--markdown", default=None, metavar="PATH", help="write the comparison table here")
    m.add_argument("--write-predictions", action="store_true", help="re-run the model first (slow)")
    m.add_argument("--json", action="store_true")
    return p


def _check(args) -> int:
    from ._common import emit_json

    args.precision = PRECISION_ALIASES.get(str(args.precision).lower(), args.precision)
    if args.device not in DEVICES:
        raise CacheSimError(f"--device={args.device!r} is not supported: choose one of {', '.join(DEVICES)}")
    if args.device == "cpu":
        if args.precision == "bf16":
            raise CacheSimError("precision='bf16' cannot be checked on the CPU: Triton's interpreter "
                                "computes bf16 dot products wrongly; use --device cuda")
        os.environ.setdefault("TRITON_INTERPRET", "1")
    from cachesim.measure import gpu
    from cachesim.measure import triton_kernels as tk

    bm, bn, bk = _triple("block", args.block)
    m, k, n = _triple("shape", args.shape)
    tile = tk.TileConfig(bm, bn, bk, _int("group_m", args.group_m), _int("num_warps", args.num_warps),
                         _int("num_stages", args.num_stages))
    case = gpu.GemmCase(m, k, n, _int("memory", args.memory), args.precision, tile, _int("seed", args.seed))
    res = gpu.check_case(case, args.method, device=args.device)
    if args.json:
        emit_json({**case.describe(), **res})
    else:
        print(f"{args.method} {args.shape} m={case.m_slots} {args.precision}: "
              f"index_match={res['index_match']} "
              f"err_fwd={res['err_fwd']:.2e} err_dx={res['err_dx']:.2e} err_db={res['err_db']:.2e} "
              f"tolerance={res['tolerance']:.0e} passed={res['passed']}")
    return 0 if res["passed"] else 1


def _records(args) -> int:
    from cachesim.measure.records import load_records

    from ._common import emit_json

    rows = [r.summary() for r in load_records(args.dir, args.kind)]
    if args.json:
        emit_json({"records": rows})
    else:
        for row in rows:
            print(f"{row['kind']:18s} {row['date']}  {row['device']:20s} {row['cases']:5d}  {row['path']}")
    return 0


def _compare(args) -> int:
    from cachesim.measure.compare import compare_measurements

    from ._common import emit_json

    if args.markdown is not None:  # fail before minutes of work, not after
        from cachesim._atomic import check_output_folder

        check_output_folder(args.markdown, "--markdown")
    s = compare_measurements(args.dir, markdown=args.markdown, rerun_model=args.write_predictions)
    if args.json:
        emit_json(s)
    else:
        print(f"{s['within_target']} of {s['rows']} rows within target; {s['known_misses']} known misses; "
              f"{s['unexplained']} unexplained")
    return 0


def run(args) -> int:
    return {"check": _check, "records": _records, "compare": _compare}[args.action](args)
