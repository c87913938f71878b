"""``cachesim kernel``: per-level traffic and predicted time of one kernel on one target.

A thin command: parse the options, call :func:`cachesim.kernels.predict`, print its ``to_dict()``.
The option set shared with ``cachesim explain`` (:mod:`roast_toolkit.cli.explain`) lives here too.
"""

from __future__ import annotations

import sys

from cachesim._validate import parse_int
from cachesim.errors import CacheSimError
from cachesim.kernels._common import ALL_KERNELS
from cachesim.kernels.prediction import predict
from cachesim.kernels.targets import CPU_TARGETS, GPU_TARGETS, TARGETS


def add_common_arguments(p, *, shape_default=None) -> None:
    p.add_argument("--shape", default=shape_default, help="MxKxN of Y = X W (X: MxK, W: KxN)")
    p.add_argument("--dtype", default="fp32", help="fp32 | fp16 | bf16 (or float32, tf32, float16, bfloat16)")
    p.add_argument("--target", default="h200", help=f"one of {', '.join(TARGETS)}")
    p.add_argument("--block", default="128x64x32", help="BLOCK_MxBLOCK_NxBLOCK_K (GPU) / ROAST tile")
    p.add_argument("--group-m", default="8", help="GROUP_M of the grouped program order")
    p.add_argument("--num-warps", default="4", help="warps per program")
    p.add_argument("--num-stages", default="3", help="pipeline stages (>1: cp.async loads)")
    p.add_argument("--memory", default=None, help="shared array size in elements (ROAST / HashedNet)")
    p.add_argument("--seed", default="0", help="hash seed")
    p.add_argument("--family", default=None, help="hash family (default: the kernel's exact formula)")
    p.add_argument("--load-path", default="auto", help="auto | ld | ldgsts | tma (TMA: issue-aware model)")
    p.add_argument("--schedule", default="plain",
                   help="TMA kernels: plain | persistent | warp-specialized (one program per SM walking the "
                        "blocks; warp-specialized as Triton compiles it)")
    p.add_argument("--loop-tiles", default=None, help="CPU loop-nest tiles TMxTNxTK (default 32x32x32)")
    p.add_argument("--tiles", default=None, help="deprecated spelling of --loop-tiles")


def add_parser(sub):
    p = sub.add_parser(
        "kernel",
        help="simulated per-level traffic and predicted time of one GEMM / gather kernel",
        description="Simulate one kernel's memory traffic (GPU: warp sector requests through per-SM L1 "
        "and a shared L2; CPU: line accesses through the preset hierarchy) and predict its time.",
    )
    p.add_argument("--kernel", required=True, help=" | ".join(ALL_KERNELS))
    p.add_argument("--backward", action="store_true", help="backward-weight kernel (dW = X^T dY)")
    add_common_arguments(p)
    p.add_argument("--analytic", action="store_true", help="use the analytic model instead of simulating")
    p.add_argument("--transpose", action="store_true",
                   help="TMA kernels: the input-gradient GEMM dX = dY W^T of the layer --shape")
    add_index_arguments(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def add_index_arguments(p) -> None:
    """``--index``, ``--align``, ``--cost-model`` (the issue-aware cost model, GPU fused GEMMs)."""
    p.add_argument("--index", default=None,
                   help="index path: ROAST hash | table; HashedNet hash (the authors') | mulshift | table | "
                        "arith-only (selects the issue-aware cost model)")
    p.add_argument("--align", default=None, help="ROAST tile-start alignment in elements: 1 | 8 | 64")
    p.add_argument("--cost-model", default=None, help="roofline (default) | issue")


def parsed_index(args) -> dict:
    """``index``, ``align``, ``cost_model`` keywords of :func:`predict` (``align`` parsed)."""
    return dict(index=getattr(args, "index", None), align=parse_int("align", getattr(args, "align", None)),
                cost_model=getattr(args, "cost_model", None))


def _loop_tiles(args) -> str:
    if getattr(args, "tiles", None) is not None:
        sys.stderr.write("cachesim: --tiles is deprecated, use --loop-tiles\n")
        if getattr(args, "loop_tiles", None) is None:
            return args.tiles
    return getattr(args, "loop_tiles", None) or "32x32x32"


def parsed_common(args) -> dict:
    """The shared options as keywords of :func:`predict` (integers parsed, errors name the option)."""
    if args.shape is None:
        raise CacheSimError("--shape is required (MxKxN, e.g. 4096x768x3072)")
    return dict(shape=args.shape, target=args.target, dtype=args.dtype, block=args.block,
                memory=parse_int("memory", args.memory), group_m=parse_int("group_m", args.group_m),
                num_warps=parse_int("num_warps", args.num_warps),
                num_stages=parse_int("num_stages", args.num_stages), seed=parse_int("seed", args.seed),
                family=args.family, load_path=args.load_path, loop_tiles=_loop_tiles(args),
                schedule=getattr(args, "schedule", "plain"))


def run_kernel(args) -> dict:
    """The JSON object of ``cachesim kernel`` for parsed arguments (kept for the report; prefer
    :func:`cachesim.kernels.predict`)."""
    pred = predict(args.kernel, backward=bool(args.backward), analytic=bool(args.analytic),
                   transpose=bool(getattr(args, "transpose", False)), **parsed_common(args),
                   **parsed_index(args))
    return pred.to_dict() | {"shape": args.shape, "block": args.block}


def print_record(out: dict) -> None:
    """``key: value`` lines (nested dicts on one line)."""
    for k, v in out.items():
        if isinstance(v, dict):
            v = ", ".join(f"{a}={b:.4g}" if isinstance(b, float) else f"{a}={b}" for a, b in v.items())
        elif isinstance(v, float):
            v = f"{v:.6g}"
        sys.stdout.write(f"{k:>24}: {v}\n")


def run(args) -> int:
    from ._common import emit_json

    out = run_kernel(args)
    if args.json:
        emit_json(out)
    else:
        print_record(out)
    return 0


__all__ = ["add_parser", "run", "run_kernel", "GPU_TARGETS", "CPU_TARGETS"]
