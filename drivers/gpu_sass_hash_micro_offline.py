"""Offline SASS of the ``hash_overlap`` microbenchmark kernels (call24): compiled for sm_90 on a CPU host.

Run from the repository root, with Triton 3.6.0 importable::

    PYTHONPATH=.:/path/to/triton-site python drivers/gpu_sass_hash_micro_offline.py

For every (MODE, G, DOT, num_warps) that ``drivers/_micro3_hash.py`` timed in
``measurements/gpu/call24_micro3d`` (K = 256), the launch is specialised by Triton's own argument binder
with the scalar arguments the timed launches computed (:func:`_micro3_hash.hash_args`), compiled with
``triton.compile(ASTSource(...), target=GPUTarget("cuda", 90, 32))`` at the timed launches' default
``num_stages``, and its k-loop counted by :func:`cachesim.kernels.sass.loop_mix` with the executed side of
each guarded remainder taken as for the kernels (:func:`cachesim.kernels.sass.remainder_path`):
instructions, the compiler's stall counts, and instructions by class (``mufu`` and ``convert``: the
variable-latency ALU instructions of the remainders by a runtime divisor). Writes
``<out>/gpu_sass_hash_micro.json`` (kind ``gpu-sass-offline-micro``) and the listings
``<out>/sass_hash_micro.txt``. Compiled output, not a device measurement.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _micro3_hash as hm  # noqa: E402
from gpu_sass_offline import OfflineCompiler, compile_micro_record  # noqa: E402

from cachesim.kernels.sass import loop_mix, remainder_path  # noqa: E402

K = 256  # the k-steps of every call24 launch
CASES = [(mode, g, dot, nw) for mode in (0, 2, 8) for g in ((1,) if mode == 0 else (1, 2))
         for dot in (False, True) for nw in (4, 8)]


def specialise(comp: OfflineCompiler, mode: int, g: int, dot: bool, nw: int):
    """The packed launch of ``hash_overlap`` as ``_micro3_hash._launch`` makes it."""
    torch = comp.torch
    args = (comp.Mock(torch.bfloat16), comp.Mock(torch.bfloat16), comp.Mock(torch.float32), K, hm.NT,
            *hm.hash_args(mode, K, g))
    return comp.pack(args, dict(MODE=mode, G=g, DOT=dot, NBMASK=hm.NB - 1, **hm.BLK, num_warps=nw))


def case(comp: OfflineCompiler, mode: int, g: int, dot: bool, nw: int) -> tuple[dict, str]:
    """``(record case, listing section)`` of one timed kernel."""
    name = f"hash-overlap-m{mode}-g{g}-{'dot' if dot else 'alu'}"
    sass, regs, c = comp.compiled(specialise(comp, mode, g, dot, nw))
    header = f"{name} w{nw} regs={regs} shared={int(c.metadata.shared)}"
    side = remainder_path(f"roast-{hm.MODES[mode]}-a64") if mode else "both"
    mix = loop_mix(sass, kernel=header, remainder=side)
    row = {"type": "sass", "name": name, "mode": mode, "index": hm.MODES[mode], "starts_per_step": g,
           "dot": dot, "num_warps": nw, "registers": regs, "shared_bytes": int(c.metadata.shared),
           "remainder": side, "loop_closed": mix is not None}
    if mix is not None:
        row.update(instructions=mix.instructions, stall_cycles=mix.stall_cycles, by_class=mix.by_class,
                   calls=mix.calls)
    return row, f"##### {header}\n{sass}"


def run(out: Path) -> dict:
    cases = compile_micro_record(
        OfflineCompiler(hm._kernel()), CASES, lambda comp, c: case(comp, *c), out, "hash_micro",
        notes="COMPILED OUTPUT, not a device measurement: sm_90 listings of the call24 hash_overlap "
              "kernels compiled offline (drivers/gpu_sass_hash_micro_offline.py) with the timed "
              "launches' specialisation; listings in sass_hash_micro.txt.",
        show=lambda row: (row["name"], row["num_warps"], row.get("instructions"), row.get("stall_cycles")))
    return {"cases": len(cases) - 1}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="measurements/gpu/sass_offline", help="output folder")
    args = ap.parse_args(argv)
    print(run(Path(args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
