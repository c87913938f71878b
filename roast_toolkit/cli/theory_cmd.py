"""``roast-theory`` command line: closed forms, Monte Carlo, sharing, verification.

Every command accepts ``--json`` and then prints exactly one JSON object. Bad input (a
:class:`RoastTheoryError`, an unreadable file) prints ``roast-theory <command>: error: <message>`` on stderr
and exits with status 2, without a traceback; Ctrl-C prints ``roast-theory <command>: interrupted`` and
exits with status 130.

Subcommands are rows of :data:`SUBCOMMANDS`; adding one (e.g. ``report``) is one more row.
"""

from __future__ import annotations

import argparse
import json
import sys

from cachesim.errors import CacheSimError
from roast_theory.errors import RoastTheoryError

from .._io import jsonable as _jsonable
from .._io import load_array, load_modules
from ._common import (
    Outcome,
    Subcommand,
    add_progress_arguments,
    add_version_argument,
    error_text,
    first_non_finite,
    interrupt_exits,
    want_progress,
)


def parse_tile(text: str, option: str = "--tile") -> int | tuple[int, int]:
    """``"Z"`` -> ``Z`` (1-D chunks), ``"BK,BN"`` -> ``(BK, BN)`` (2-D blocks)."""
    try:
        parts = tuple(int(v) for v in str(text).split(","))
    except ValueError:
        parts = ()
    if len(parts) not in (1, 2):
        raise RoastTheoryError(f"{option}={text!r} must be an integer Z or two integers 'BK,BN'")
    return parts[0] if len(parts) == 1 else parts


def parse_count(text: str) -> int:
    """An integer option that may be written ``100000``, ``100_000`` or ``1e5`` (exactly integral)."""
    from decimal import Decimal, InvalidOperation

    t = str(text).strip().replace("_", "")
    try:
        return int(t)
    except ValueError:
        pass
    try:
        d = Decimal(t)
    except InvalidOperation:
        d = None
    if d is None or not d.is_finite() or d != d.to_integral_value() or abs(d) > Decimal(10) ** 30:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer (e.g. 100000 or 1e5)")
    return int(d)


def _tile(args) -> int | tuple[int, int]:
    """The tile of ``--tile`` (or of the deprecated ``--tile-shape``, which wins as it always did)."""
    if args.tile_shape is not None:
        print("roast-theory: --tile-shape is deprecated: use --tile BK,BN", file=sys.stderr)
        tile = parse_tile(args.tile_shape, "--tile-shape")
        if isinstance(tile, int):
            raise RoastTheoryError(f"--tile-shape={args.tile_shape!r} must be two integers 'BK,BN'")
        return tile
    return parse_tile(args.tile)


def _fmt(payload: dict) -> str:
    return "\n".join(f"{k:>22s}: {v}" for k, v in payload.items())


# --------------------------------------------------------------------------------------- subcommands
def _add_hash_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--x", required=True, help="input vector x (.npy)")
    p.add_argument("--w", required=True, help="weight vector w (.npy)")
    p.add_argument("--memory", required=True, type=parse_count, help="number of slots m")
    p.add_argument("--tile", default="1", help="Z: chunks of Z for 1-D x and w (default 1); "
                   "BK,BN: blocks for 2-D x and w")
    p.add_argument("--tile-shape", default=None, help=argparse.SUPPRESS)  # deprecated: --tile BK,BN
    p.add_argument("--sign", default="element", help="element | tile | none")
    p.add_argument("--placement", default="circular", help="circular | kernel")
    p.add_argument("--align", type=int, default=1,
                   help="kernel placement: tile starts are multiples of ALIGN (default 1)")


def _closed_form(args):
    from roast_theory.moments import block_tile_moments, tile_hashing_moments

    x, w = load_array("--x", args.x), load_array("--w", args.w)
    tile = _tile(args)
    if isinstance(tile, tuple):
        return block_tile_moments(x, w, args.memory, tile, args.sign, args.placement, align=args.align)
    return tile_hashing_moments(x, w, args.memory, tile, args.sign, args.placement, align=args.align)


def _run_variance(args) -> Outcome:
    res = _closed_form(args)
    payload = res.to_dict()
    payload["std"] = float(res.std)
    return Outcome(payload, _fmt(payload))


def _configure_montecarlo(p: argparse.ArgumentParser) -> None:
    _add_hash_options(p)
    p.add_argument("--trials", type=parse_count, default=100_000, help="Monte Carlo draws (e.g. 1e6)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--family", default="ideal", help="ideal | rz-stable | rz-v1 | hashednet-triton")
    p.add_argument("--level", type=float, default=0.95, help="confidence level of the intervals")
    add_progress_arguments(p)


def _run_montecarlo(args) -> Outcome:
    from roast_theory.montecarlo import mc_inner_product

    tile = _tile(args)
    if isinstance(tile, tuple):
        raise RoastTheoryError("--tile BK,BN is not supported by montecarlo: use 1-D x, w and --tile Z")
    x, w = load_array("--x", args.x), load_array("--w", args.w)
    est = mc_inner_product(x, w, memory=args.memory, tile=tile, sign=args.sign,
                           placement=args.placement, family=args.family, trials=args.trials, seed=args.seed,
                           progress=want_progress(args), align=args.align)
    lo, hi = est.variance_confidence_interval(args.level)
    mlo, mhi = est.confidence_interval(args.level)
    payload = {"mean": float(est.mean), "variance": float(est.variance), "mean_se": float(est.mean_se),
               "variance_se": float(est.variance_se), "mean_ci": [float(mlo), float(mhi)],
               "variance_ci": [float(lo), float(hi)], "level": args.level, "trials": int(est.trials),
               "seed": args.seed, "family": args.family}
    try:  # the closed form beside the estimate, when there is one
        res = _closed_form(args)
        payload["closed_form_mean"] = res.mean
        payload["closed_form_variance"] = res.variance
        payload["z_variance"] = float(est.z_score(res.variance, of="variance"))
    except RoastTheoryError:
        pass
    return Outcome(payload, _fmt(payload))


def _configure_sharing(p: argparse.ArgumentParser) -> None:
    p.add_argument("--modules", required=True, help=".npz with arrays x0, w0, x1, w1, ...")
    p.add_argument("--memory", required=True, type=parse_count, help="global number of slots m")
    p.add_argument("--local-slots", default=None,
                   help="whole-slot local budgets m_1,...,m_k summing to --memory (default: by size)")
    p.add_argument("--scales", default=None,
                   help="module scales of the global array: 'optimal', or lambda_1,...,lambda_k (default 1)")
    p.add_argument("--tile", type=int, default=None,
                   help="also compare under tile hashing: modules in chunks of TILE (adds 'tile_hashing')")
    p.add_argument("--sign", default="element", help="with --tile: element | tile | none")
    p.add_argument("--placement", default="circular", help="with --tile: circular | kernel")
    p.add_argument("--align", type=int, default=1, help="with --tile and kernel placement: start alignment")


def _sharing_options(args, xs, ws):
    from roast_theory.sharing import optimal_scales

    slots = scales = None
    try:
        if args.local_slots is not None:
            slots = tuple(int(v) for v in args.local_slots.split(","))
        if args.scales == "optimal":
            scales = optimal_scales(xs, ws)
        elif args.scales is not None:
            scales = [float(v) for v in args.scales.split(",")]
    except ValueError:
        raise RoastTheoryError(f"--local-slots={args.local_slots!r} / --scales={args.scales!r}: give "
                               "comma-separated numbers (or --scales optimal)") from None
    return slots, scales


def _run_sharing(args) -> Outcome:
    from roast_theory.sharing import optimal_allocation, sharing_variance

    xs, ws = load_modules(args.modules)
    slots, scales = _sharing_options(args, xs, ws)
    res = sharing_variance(xs, ws, args.memory, scales=scales, local_slots=slots)
    payload = res.to_dict()
    payload["decomposition_residual"] = res.decomposition_residual()
    payload["global_wins"] = res.global_wins()
    try:
        alloc = optimal_allocation(xs, ws, args.memory)
        payload["allocation"] = alloc.to_dict()
    except RoastTheoryError as exc:
        payload["allocation"] = {"error": str(exc)}
    if args.tile is not None:
        from roast_theory.tile_sharing import tile_sharing_variance

        tiled = tile_sharing_variance(xs, ws, args.memory, args.tile, args.sign, args.placement,
                                      align=args.align, scales=scales, local_slots=slots)
        payload["tile_hashing"] = {**tiled.to_dict(), "global_wins": tiled.global_wins()}
    return Outcome(payload, _fmt(payload))


def _configure_layer(p: argparse.ArgumentParser) -> None:
    p.add_argument("--x", required=True, help="batch of inputs X, shape (B, K) (.npy)")
    p.add_argument("--w", required=True, help="weight matrix W, shape (K, N) (.npy)")
    p.add_argument("--memory", required=True, type=parse_count, help="number of slots m")
    p.add_argument("--tile", default="1,1", help="BK,BN (default 1,1: element hashing; Z means 1,Z)")
    p.add_argument("--sign", default="element", help="element | tile | none")
    p.add_argument("--placement", default="circular", help="circular | kernel")
    p.add_argument("--align", type=int, default=1, help="kernel placement: start alignment")
    p.add_argument("--covariance", action="store_true",
                   help="also the covariance matrix of the outputs of the first input row")


def _run_layer(args) -> Outcome:
    from roast_theory.layer_moments import layer_output_mse, output_covariance

    x, w = load_array("--x", args.x), load_array("--w", args.w)
    tile = parse_tile(args.tile)
    tile = (1, tile) if isinstance(tile, int) else tile
    res = layer_output_mse(x, w, args.memory, tile, args.sign, args.placement, align=args.align)
    payload = {**res.to_dict(), "relative": res.relative(), "sign": args.sign, "placement": args.placement,
               "align": args.align}
    if args.covariance:
        cov = output_covariance(x[0] if x.ndim == 2 else x, w, args.memory, tile, args.sign, args.placement,
                                align=args.align)
        payload["output_covariance"] = cov.covariance.tolist()
    return Outcome(payload, _fmt(payload))


def _configure_verify(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trials", type=parse_count, default=100_000,
                   help="Monte Carlo draws per check (>= 1e5)")
    p.add_argument("--seed", type=int, default=0)


def _run_verify(args) -> Outcome:
    from roast_theory.verify import verify

    report = verify(trials=args.trials, seed=args.seed)
    return Outcome(report.to_dict(), report.to_table(), 0 if report.all_passed else 1)


def _configure_report(p: argparse.ArgumentParser) -> None:
    from .report import configure

    configure(p)


def _run_report(args) -> Outcome:
    from .report import run

    return run(args)


def _configure_sweep(p: argparse.ArgumentParser) -> None:
    from roast_toolkit.sweep._cli import configure

    configure(p)


def _run_sweep(args) -> Outcome:
    from roast_toolkit.sweep._cli import execute

    return Outcome(*execute(args))


def _configure_advise(p: argparse.ArgumentParser) -> None:
    from roast_toolkit.advise._cli import configure

    configure(p)


def _run_advise(args) -> Outcome:
    from roast_toolkit.advise._cli import run

    return run(args)


SUBCOMMANDS: list[Subcommand] = [
    Subcommand("variance", "closed-form mean/variance/bias of <w_hat, x>", _add_hash_options, _run_variance),
    Subcommand("montecarlo", "Monte Carlo estimate of <w_hat, x>", _configure_montecarlo, _run_montecarlo),
    Subcommand("sharing", "global vs local sharing (B3) and allocation", _configure_sharing, _run_sharing),
    Subcommand("verify", "closed forms vs Monte Carlo and sympy", _configure_verify, _run_verify),
    Subcommand("layer", "E||X W_hat - X W||^2 of a layer and the covariance of its outputs", _configure_layer,
               _run_layer),
    Subcommand("report", "end-to-end report folder (markdown, HTML, PNGs, JSON)", _configure_report,
               _run_report),
    Subcommand("sweep", "a TOML grid of theory points, serial or on Dask, into a CSV/Parquet table",
               _configure_sweep, _run_sweep),
    Subcommand("advise", "ROAST tile shapes and alignments: closed-form variance vs predicted kernel time",
               _configure_advise, _run_advise),
]

DESCRIPTION = ("roast-theory: closed forms, Monte Carlo, global vs local sharing, verification and the "
               "end-to-end report of ROAST hashing.")


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser with one subparser per row of :data:`SUBCOMMANDS`."""
    parser = argparse.ArgumentParser(prog="roast-theory", description=DESCRIPTION)
    add_version_argument(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for cmd in SUBCOMMANDS:
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        cmd.configure(p)
        p.add_argument("--json", action="store_true", help="print exactly one JSON object")
        p.set_defaults(_subcommand=cmd)
    return parser


def main(argv=None) -> int:
    """Entry point of ``roast-theory``; returns the exit status (2 on bad input, 130 when interrupted)."""
    args = build_parser().parse_args(argv)
    cmd: Subcommand = args._subcommand
    with interrupt_exits(f"roast-theory {cmd.name}"):
        try:
            outcome = cmd.run(args)
            bad = first_non_finite(outcome.payload)
            if bad:
                raise RoastTheoryError(f"the result has a non-finite value at {bad!r}: refusing to print "
                                       "it (are the inputs' magnitudes or --memory too large?)")
            text = json.dumps(_jsonable(outcome.payload), allow_nan=False) if args.json else outcome.text
        except (RoastTheoryError, CacheSimError, OSError, OverflowError) as exc:
            print(f"roast-theory {cmd.name}: error: {error_text(exc)}", file=sys.stderr)
            return 2
        print(text)
        return outcome.status
    return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
