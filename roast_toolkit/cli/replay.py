"""``cachesim replay TRACE --hierarchy PRESET_OR_FILE [--workers N]``: per-level counters of a replay."""

from __future__ import annotations

import sys
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
    p.add_argument(
        "--workers",
        default=None,
        metavar="N",
        help="threads that split the cache sets among them (same counts as 1; default 1). A hierarchy "
        "whose sets cannot be split (a random policy, XOR indexing among several levels) replays "
        "serially, with one note on stderr",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_progress_arguments(p)
    return p


def run(args) -> int:
    import warnings

    from cachesim.config import load_hierarchy
    from cachesim.parallel import SerialFallbackWarning, plan_shards, replay_parallel

    workers = 1 if args.workers is None else _workers_value(args.workers)
    hierarchy = load_hierarchy(args.hierarchy)
    plan = plan_shards(hierarchy, workers)
    if plan.reason:
        print(f"cachesim replay: note: {plan.reason}", file=sys.stderr)
    trace = open_trace_from_args(args)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SerialFallbackWarning)  # the note above says it once
        result = replay_parallel(trace, hierarchy, workers=workers, chunk_size=args.chunk_size,
                                 progress=want_progress(args))
    seconds = time.perf_counter() - t0
    if args.json:
        out = result.to_dict()
        out["trace"] = str(trace.path)
        out["format"] = trace.format
        out["seconds"] = seconds
        if args.workers is not None:
            out["workers"] = plan.workers
        emit_json(out)
    else:
        threads = "" if args.workers is None else f", workers={plan.workers}"
        print(f"{trace.path} ({trace.format}), {seconds:.2f} s{threads}")
        print(result)
    return 0


def _workers_value(text: str):
    """``--workers`` text as an int when it is one; other text is handed on as is, so the library's
    check names it (``workers='x' must be an integer in [1, 256]``)."""
    try:
        return int(text)
    except ValueError:
        return text
