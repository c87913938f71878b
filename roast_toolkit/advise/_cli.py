"""``roast-theory advise``: parse, call :func:`roast_toolkit.advise.advise`, print."""

from __future__ import annotations

import argparse

from roast_theory import RoastTheoryError

from ..cli._common import Outcome


def _pairs(text: str, option: str) -> list[tuple[int, int]]:
    out = []
    for item in str(text).split(","):
        try:
            a, b = (int(v) for v in item.lower().split("x"))
        except ValueError:
            raise RoastTheoryError(f"{option}={text!r} must be comma-separated AxB pairs, "
                                   "e.g. 32x64") from None
        out.append((a, b))
    return out


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shape", required=True, help="weight shape KxN of y = x W")
    p.add_argument("--memory", required=True, type=int, help="shared-array size in elements")
    p.add_argument("--target", default="h200", help="cost-model target (h200, h100)")
    p.add_argument("--tiles", default=None,
                   help="candidate ROAST tiles BKxBN,... (default: six from 16x16 to 64x64)")
    p.add_argument("--aligns", default="1,8,64", help="candidate start alignments (default 1,8,64)")
    p.add_argument("--batch", type=int, default=512, help="representative batch M of the GEMM (default 512)")
    p.add_argument("--sign", default="element", help="element | tile | none (none: RzLinear, no signs)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random x, w")
    p.add_argument("--cost-model", default="issue", help="issue (prices the alignment) | roofline")
    p.add_argument("--plot", default=None, help="write the variance-vs-time plot to this PNG")


def run(args) -> Outcome:
    from . import advise

    (k, n), = _pairs(args.shape, "--shape")
    tiles = None if args.tiles is None else _pairs(args.tiles, "--tiles")
    try:
        aligns = tuple(int(v) for v in str(args.aligns).split(","))
    except ValueError:
        raise RoastTheoryError(f"--aligns={args.aligns!r} must be comma-separated integers") from None
    adv = advise((k, n), args.memory, args.target, tiles, aligns, batch=args.batch, sign=args.sign,
                 seed=args.seed, cost_model=args.cost_model)
    if args.plot:
        adv.plot().savefig(args.plot, dpi=120, bbox_inches="tight")
    return Outcome(adv.to_dict(), adv.to_table())
