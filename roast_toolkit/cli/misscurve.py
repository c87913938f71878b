"""``cachesim misscurve TRACE``: LRU miss counts for many cache sizes from one pass."""

from __future__ import annotations

from cachesim.errors import CacheSimError

from ._common import add_trace_arguments, emit_json, open_trace_from_args


def add_parser(sub):
    p = sub.add_parser(
        "misscurve",
        help="LRU miss-ratio curve (all sizes / all associativities) in one pass",
        description=(
            "Fully associative LRU misses at many sizes (Olken, exact; --sampling-rate for SHARDS, "
            "approximate), or with --sets the exact LRU misses of every associativity 1..--max-ways."
        ),
    )
    add_trace_arguments(p)
    p.add_argument("--line-size", type=int, default=64, help="bytes per line (power of two)")
    p.add_argument("--sets", type=int, default=None, help="number of sets: per-set histogram mode")
    p.add_argument("--max-ways", type=int, default=32, help="largest associativity (with --sets)")
    p.add_argument(
        "--level",
        nargs=2,
        metavar=("HIERARCHY", "LEVEL"),
        default=None,
        help="take --sets and --line-size from a level of a preset/file, e.g. --level zen4 L2",
    )
    p.add_argument(
        "--sizes",
        default=None,
        help="comma-separated cache sizes, e.g. 32KiB,1MiB,32MiB (default: powers of two)",
    )
    p.add_argument("--sampling-rate", type=float, default=None, help="SHARDS rate R in (0, 1]")
    p.add_argument("--seed", type=int, default=0, help="SHARDS hash salt")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def _sizes(text, line_size, n_sets):
    from cachesim.config import parse_size

    unit = line_size * n_sets
    out = []
    for part in text.split(","):
        b = parse_size(part.strip(), "--sizes")
        if b % unit:
            raise CacheSimError(f"--sizes entry {part.strip()!r} = {b} B must be a multiple of {unit} B")
        out.append(b // line_size)
    return out


def run(args) -> int:
    from cachesim.stackdist import OlkenProfiler, PerSetStackProfiler

    if args.level is not None:
        from cachesim.config import load_hierarchy

        lv = load_hierarchy(args.level[0]).level(args.level[1])
        if lv.index_hash != "modulo":
            raise CacheSimError(f"level {lv.name!r} uses index_hash={lv.index_hash!r}: only 'modulo' sets")
        args.sets, args.line_size = lv.sets, lv.line
        args.max_ways = max(args.max_ways, lv.ways)
    trace = open_trace_from_args(args)
    if args.sets is not None:
        prof = PerSetStackProfiler(args.sets, args.line_size, args.max_ways)
        if args.sampling_rate is not None:
            raise CacheSimError("--sampling-rate applies to the fully associative curve (without --sets)")
    else:
        prof = OlkenProfiler(args.line_size, args.sampling_rate, args.seed)
    for ch in trace:
        prof.update(ch)
    res = prof.result()
    curve = res.miss_ratio_curve() if args.sets is not None else res
    n_sets = curve.n_sets
    if args.sizes:
        lines = _sizes(args.sizes, args.line_size, n_sets)
    elif args.sets is not None:
        lines = [w * n_sets for w in range(1, args.max_ways + 1)]
    else:
        lines, k = [], 1
        top = max(2, curve.hist.shape[0])
        while k <= 2 * top:
            lines.append(k)
            k *= 2
    points = []
    for n_lines in lines:
        m = curve.misses(n_lines)
        points.append(
            {
                "size_bytes": n_lines * args.line_size,
                "lines": n_lines,
                "ways": n_lines // n_sets if args.sets is not None else None,
                "misses": m,
                "miss_ratio": (m / curve.n_accesses) if curve.n_accesses else None,
            }
        )
    out = {
        "trace": str(trace.path),
        "mode": "per-set" if args.sets is not None else "fully-associative",
        "line_size": args.line_size,
        "sets": n_sets,
        "accesses": curve.n_accesses,
        "exact": curve.exact,
        "sampling_rate": curve.sampling_rate,
        "distinct_lines": curve.distinct_lines,
        "points": points,
    }
    if args.json:
        emit_json(out)
        return 0
    head = f"{out['mode']} LRU, {args.line_size} B lines, {curve.n_accesses:,} accesses"
    if not curve.exact:
        head += f" (SHARDS R={curve.sampling_rate:.4g}: approximate)"
    print(head)
    print(f"{'size':>14} {'lines':>10} {'misses':>14} {'miss ratio':>10}")
    for pt in points:
        m = pt["misses"]
        ms = f"{m:,}" if isinstance(m, int) else f"{m:,.0f}"
        mr = "nan" if pt["miss_ratio"] is None else f"{pt['miss_ratio']:.4f}"
        print(f"{pt['size_bytes']:>14,} {pt['lines']:>10,} {ms:>14} {mr:>10}")
    return 0
