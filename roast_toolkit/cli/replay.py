"""``cachesim replay TRACE --hierarchy PRESET_OR_FILE``: per-level counters of a streamed replay."""

from __future__ import annotations

import time

from ._common import (
    add_progress_arguments,
    add_trace_arguments,
    emit_json,
    open_trace_from_args,
    want_progress,
)


def add_parser(sub):
    p = sub.add_parser(
        "replay",
        help="replay a trace file through a cache hierarchy",
        description="Stream a trace file through a cache hierarchy and print per-level counters.",
    )
    add_trace_arguments(p)
    p.add_argument(
        "--hierarchy",
        required=True,
        metavar="PRESET_OR_FILE",
        help="preset name (zen4, host, intel-server, h100, h200) or a .json/.toml hierarchy file",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_progress_arguments(p)
    return p


def run(args) -> int:
    from cachesim.config import load_hierarchy
    from cachesim.engine import replay

    hierarchy = load_hierarchy(args.hierarchy)
    trace = open_trace_from_args(args)
    t0 = time.perf_counter()
    result = replay(trace, hierarchy, chunk_size=args.chunk_size, progress=want_progress(args))
    seconds = time.perf_counter() - t0
    if args.json:
        out = result.to_dict()
        out["trace"] = str(trace.path)
        out["format"] = trace.format
        out["seconds"] = seconds
        emit_json(out)
    else:
        print(f"{trace.path} ({trace.format}), {seconds:.2f} s")
        print(result)
    return 0
