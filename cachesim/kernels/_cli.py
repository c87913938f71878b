"""``cachesim kernel``: per-level traffic and predicted time of one kernel on one target.

Shared helpers for ``cachesim explain`` (:mod:`cachesim.kernels._cli_explain`) live here too.
"""

from __future__ import annotations

import sys

from ..errors import CacheSimError
from ._common import ALL_KINDS, Block, GemmShape, check_choice, dtype_bytes
from .targets import CPU_TARGETS, GPU_TARGETS, TARGETS, GpuTarget, get_target


def _int_arg(name: str, text) -> int | None:
    if text is None:
        return None
    try:
        v = int(str(text).replace("_", ""), 0)
    except ValueError:
        raise CacheSimError(f"{name}={text!r} must be an integer") from None
    return v


def add_common_arguments(p, *, shape_default=None) -> None:
    p.add_argument("--shape", default=shape_default, help="MxKxN of Y = X W (X: MxK, W: KxN)")
    p.add_argument("--dtype", default="fp32", help="fp32 | fp16 | bf16")
    p.add_argument("--target", default="h200", help=f"one of {', '.join(TARGETS)}")
    p.add_argument("--block", default="128x64x32", help="BLOCK_MxBLOCK_NxBLOCK_K (GPU) / ROAST tile")
    p.add_argument("--group-m", default="8", help="GROUP_M of the grouped program order")
    p.add_argument("--num-warps", default="4", help="warps per program")
    p.add_argument("--num-stages", default="3", help="pipeline stages (>1: cp.async loads)")
    p.add_argument("--memory", default=None, help="shared array size H in elements (ROAST / HashedNet)")
    p.add_argument("--seed", default="0", help="hash seed")
    p.add_argument("--family", default=None, help="hash family (default: the kernel's exact formula)")
    p.add_argument("--load-path", default="auto", help="auto | ld | ldgsts")
    p.add_argument("--tiles", default="32x32x32", help="CPU loop-nest tiles TMxTNxTK")


def add_parser(sub):
    p = sub.add_parser(
        "kernel",
        help="simulated per-level traffic and predicted time of one GEMM / gather kernel",
        description="Simulate one kernel's memory traffic (GPU: warp sector requests through per-SM L1 "
        "and a shared L2; CPU: line accesses through the preset hierarchy) and predict its time.",
    )
    p.add_argument("--kernel", required=True, help=" | ".join(ALL_KINDS))
    p.add_argument("--backward", action="store_true", help="backward-weight kernel (dW = X^T dY)")
    add_common_arguments(p)
    p.add_argument("--analytic", action="store_true", help="use the analytic model instead of simulating")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def parsed_common(args) -> dict:
    """Validate the shared options; errors name the option."""
    if args.shape is None:
        raise CacheSimError("--shape is required (MxKxN, e.g. 4096x768x3072)")
    shape = GemmShape.parse(args.shape)
    block = Block.parse(args.block)
    dtype_bytes(args.dtype)
    check_choice("target", args.target, TARGETS)
    memory = _int_arg("memory", args.memory)
    if memory is not None and memory < 1:
        raise CacheSimError(f"memory={memory} must be a positive integer")
    return dict(shape=shape, block=block, dtype=args.dtype, target=args.target, memory=memory,
                group_m=_int_arg("group_m", args.group_m), num_warps=_int_arg("num_warps", args.num_warps),
                num_stages=_int_arg("num_stages", args.num_stages), seed=_int_arg("seed", args.seed),
                family=args.family, load_path=args.load_path, tiles=args.tiles)


def gpu_kernel(kind: str, backward: bool, c: dict, *, analytic: bool):
    """(traffic, CostPrediction) of a GEMM kernel on a GPU target."""
    from .analytic import analytic_gemm
    from .cost import n_waves, predict_gpu
    from .gemm_gpu import plan_gemm
    from .gpu_sim import simulate_gemm_gpu

    plan = plan_gemm(kind, c["shape"], block=c["block"], backward=backward, group_m=c["group_m"],
                     num_warps=c["num_warps"], num_stages=c["num_stages"], dtype=c["dtype"],
                     memory=c["memory"], seed=c["seed"], family=c["family"], load_path=c["load_path"])
    t = get_target(c["target"])
    traffic = analytic_gemm(plan, target=t) if analytic else simulate_gemm_gpu(plan, target=t)
    cost = predict_gpu(traffic, t, dtype=c["dtype"], n_waves=n_waves(plan.n_programs, t.num_sms))
    return traffic, cost


def _traffic_dict(tr) -> dict:
    if hasattr(tr, "to_dict"):
        return tr.to_dict()
    keys = ("load_instructions", "l1_sector_requests", "l1_sector_misses", "l2_sector_requests",
            "l2_sector_misses", "write_sector_requests", "dram_bytes")
    return {k: getattr(tr, k) for k in keys if hasattr(tr, k)}


def run_kernel(args) -> dict:
    """The JSON object of ``cachesim kernel``."""
    kind = check_choice("kernel", args.kernel, ALL_KINDS)
    c = parsed_common(args)
    t = get_target(c["target"])
    out = {"kernel": kind, "backward": bool(args.backward), "shape": args.shape, "target": t.name,
           "dtype": c["dtype"], "block": args.block, "memory": c["memory"]}
    if isinstance(t, GpuTarget):
        if kind.startswith("gather"):
            if args.backward:
                raise CacheSimError("--backward is not modelled for the gather kernels")
            return out | _gather_gpu(kind, c, t)
        traffic, cost = gpu_kernel(kind, args.backward, c, analytic=args.analytic)
        d = _traffic_dict(traffic)
        d.pop("by_operand", None)
        d = {k: (float(v) if isinstance(v, float) else v) for k, v in d.items()}
        out |= {k: v for k, v in d.items() if k not in ("kind", "backward", "target")}
        out["model"] = "analytic" if args.analytic else "simulation"
        out["predicted_time_s"] = cost.predicted_time_s
        out["dominant"] = cost.dominant
        out["terms_s"] = {tm.name: tm.seconds for tm in cost.terms}
        return out
    if args.backward or args.analytic:
        raise CacheSimError(f"--backward / --analytic are GPU-only (target={t.name!r} is a CPU)")
    return out | _cpu(kind, c, t)


def _gather_gpu(kind, c, t) -> dict:
    from .cost import n_waves, predict_gpu
    from .gather import gather_gpu

    if c["memory"] is None:
        raise CacheSimError(f"--memory is required for kernel {kind!r}")
    g = gather_gpu(kind, c["shape"], c["memory"], target=t, block=c["block"], dtype=c["dtype"],
                   seed=c["seed"], family=c["family"], group_m=c["group_m"], num_warps=c["num_warps"],
                   num_stages=c["num_stages"], load_path=c["load_path"])
    cg = predict_gpu(g.gather, t, dtype=c["dtype"])
    mm = g.matmul
    programs = (c["shape"].m // c["block"].bm) * (c["shape"].n // c["block"].bn)
    cm = predict_gpu(mm, t, dtype=c["dtype"], n_waves=n_waves(programs, t.num_sms))
    keys = ("load_instructions", "l1_sector_requests", "l1_sector_misses", "l2_sector_requests",
            "l2_sector_misses", "write_sector_requests", "dram_bytes")
    d = {k: getattr(g.gather, k) + getattr(mm, k) for k in keys}
    d["gather"] = {k: getattr(g.gather, k) for k in keys} | {"predicted_time_s": cg.predicted_time_s,
                                                             "dominant": cg.dominant}
    d["matmul"] = {k: getattr(mm, k) for k in keys} | {"predicted_time_s": cm.predicted_time_s,
                                                       "dominant": cm.dominant}
    d["predicted_time_s"] = cg.predicted_time_s + cm.predicted_time_s
    d["dominant"] = cg.dominant if cg.predicted_time_s >= cm.predicted_time_s else cm.dominant
    d["model"] = "simulation"
    return d


def _cpu(kind, c, t) -> dict:
    from .cost import predict_cpu
    from .gather import gather_cpu
    from .gemm_cpu import simulate_gemm_cpu

    if kind.startswith("gather"):
        if c["memory"] is None:
            raise CacheSimError(f"--memory is required for kernel {kind!r}")
        g = gather_cpu(kind, c["shape"], c["memory"], target=t, block=c["block"], dtype=c["dtype"],
                       seed=c["seed"], family=c["family"], tiles=c["tiles"])
        parts = [g.gather, g.matmul]
    else:
        parts = [simulate_gemm_cpu(kind, c["shape"], target=t, tiles=c["tiles"], block=c["block"],
                                   dtype=c["dtype"], memory=c["memory"], seed=c["seed"], family=c["family"])]
    d: dict = {}
    total = 0.0
    dom, dom_t = "", -1.0
    for p in parts:
        cp = predict_cpu(p.accesses, p.dram_bytes, p.flops, t, dtype=c["dtype"], kind=p.kind)
        total += cp.predicted_time_s
        if cp.predicted_time_s > dom_t:
            dom, dom_t = cp.dominant, cp.predicted_time_s
        for k, v in p.to_dict().items():
            if isinstance(v, int) and k != "flops":
                d[k] = d.get(k, 0) + v
    d["predicted_time_s"] = total
    d["dominant"] = dom
    d["model"] = "simulation"
    return d


def run(args) -> int:
    from ..cli import emit_json

    out = run_kernel(args)
    if args.json:
        emit_json(out)
        return 0
    for k, v in out.items():
        if isinstance(v, dict):
            v = ", ".join(f"{a}={b:.4g}" if isinstance(b, float) else f"{a}={b}" for a, b in v.items())
        elif isinstance(v, float):
            v = f"{v:.6g}"
        sys.stdout.write(f"{k:>24}: {v}\n")
    return 0


__all__ = ["add_parser", "run", "GPU_TARGETS", "CPU_TARGETS"]
