"""Offline SASS of the tile-path microbenchmark kernels (call21, call26, call28): compiled for sm_90 on a CPU.

Run from the repository root, with Triton 3.6.0 importable::

    PYTHONPATH=.:/path/to/triton-site python drivers/gpu_sass_tile_micro_offline.py

For every ``(align, tile, num_stages, BM, A streamed)`` that ``gpu_micro3``'s ``tile_align*`` groups timed
(``measurements/gpu/call21_micro3``, ``call26_micro3f``, ``call28_micro3h``), the ``tile`` kernel of
``drivers/gpu_micro2.py`` is specialised by Triton's own argument binder with the timed launches' scalar
arguments (``K`` 1024, a multiple of 16 like every timed ``K``; the odd ``SMUL``; the array mask) and
compiled with ``triton.compile(ASTSource(...), target=GPUTarget("cuda", 90, 32))``. Its k-loop is counted by
:func:`cachesim.kernels.sass.loop_mix`, and :func:`cachesim.kernels.sass.load_batch` counts the B loads the
loop issues before its first shared-memory store (the scalar align-1 path: how many loads are in flight
before the first must return). The registers and shared bytes of each compile are compared with the ones
the device reported for the same launch (``n_regs``, ``shared_bytes`` of the timed rows). Writes
``<out>/gpu_sass_tile_micro.json`` (kind ``gpu-sass-offline-micro``) and the listings
``<out>/sass_tile_micro.txt`` (gzipped when large). Compiled output, not a device measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gpu_micro2 as micro2  # noqa: E402
from gpu_sass_offline import OfflineCompiler, compile_micro_record  # noqa: E402

from cachesim.kernels.sass import load_batch, loop_mix  # noqa: E402

RECORDS = ("call21_micro3", "call26_micro3f", "call28_micro3h")
K = 1024
ASTREAM = 64  # gpu_micro3's A of 8 BM x 64 BK (ASTREAM = 64) in the A-streamed groups


def timed_launches(root: Path) -> dict:
    """``{(align, bk, bn, num_stages, bm, a_stream): (n_regs, shared_bytes, records)}`` of the timed rows."""
    out: dict = {}
    for rec in RECORDS:
        for c in json.loads((root / rec / "gpu_micro3.json").read_text())["cases"]:
            if c.get("type") != "tile-align":
                continue
            bm = int(c["block"].split("x")[0])
            key = (int(c["align"]), *map(int, c["tile"]), int(c["num_stages"]), bm, bool(c.get("a_stream")))
            regs, shared, recs = out.get(key, (c["n_regs"], c["shared_bytes"], []))
            if (regs, shared) != (c["n_regs"], c["shared_bytes"]):
                raise RuntimeError(f"{key}: the timed rows disagree on registers / shared bytes")
            out[key] = (regs, shared, sorted(set(recs) | {rec}))
    return out


def case(comp: OfflineCompiler, key: tuple, device: tuple) -> tuple[dict, str]:
    """``(record case, listing section)`` of one timed launch."""
    align, bk, bn, stages, bm, stream = key
    torch = comp.torch
    memory = 1 << 16  # the mask's value does not change the specialisation (odd, not 1)
    args = (comp.Mock(torch.bfloat16), comp.Mock(torch.bfloat16), comp.Mock(torch.float32), K, micro2.SMUL,
            memory - 1)
    consts = dict(ALIGN=align, DOT=True, BM=bm, BK=bk, BN=bn, ASTREAM=ASTREAM if stream else 0)
    packed = comp.pack(args, dict(consts, num_warps=4, num_stages=stages))
    sass, regs, c = comp.compiled(packed)
    name = f"tile-a{align}-{bk}x{bn}-bm{bm}-s{stages}" + ("-astream" if stream else "")
    header = f"{name} w4 regs={regs} shared={int(c.metadata.shared)}"
    mix = loop_mix(sass, kernel=header)
    row = {"type": "sass", "name": name, "align": align, "tile": [bk, bn], "num_stages": stages, "bm": bm,
           "a_stream": stream, "num_warps": 4, "registers": regs, "shared_bytes": int(c.metadata.shared),
           "device_registers": device[0], "device_shared_bytes": device[1], "sources": device[2],
           "loop_closed": mix is not None, "load_batch": load_batch(sass)}
    if mix is not None:
        row.update(instructions=mix.instructions, stall_cycles=mix.stall_cycles, by_class=mix.by_class)
    return row, f"##### {header}\n{sass}"


def run(root: Path, out: Path) -> dict:
    triton, kern = micro2._kernels()
    cases = compile_micro_record(
        OfflineCompiler(kern["tile"]), sorted(timed_launches(root).items()), lambda comp, kd: case(comp, *kd),
        out, "tile_micro",
        notes="COMPILED OUTPUT, not a device measurement: sm_90 listings of gpu_micro2's tile kernel at "
              "every launch the tile_align groups of call21/call26/call28 timed, compiled offline "
              "(drivers/gpu_sass_tile_micro_offline.py); listings in sass_tile_micro.txt.",
        show=lambda row: (row["name"], row["registers"], row["device_registers"], row["load_batch"]))
    same = sum(c["registers"] == c["device_registers"] and c["shared_bytes"] == c["device_shared_bytes"]
               for c in cases[1:])
    return {"cases": len(cases) - 1, "same_registers_and_shared_as_device": same}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", default="measurements/gpu", help="folder of the call21/26/28 records")
    ap.add_argument("--out", default="measurements/gpu/sass_offline", help="output folder")
    args = ap.parse_args(argv)
    print(run(Path(args.records), Path(args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
