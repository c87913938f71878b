"""The issue-aware model's predicted time of every case a ``gpu_fast.py --mode focus`` run times at the given
shapes, written before the run (``measurements/gpu/call33_heldout/predicted_before_timing.json``).

Run from the repository root (no GPU needed)::

    PYTHONPATH=. python drivers/predict_heldout.py --shapes gpt2-fc,llama-down,wide-k \
        --out measurements/gpu/call33_heldout/predicted_before_timing.json

For every shape of ``gpu_fast.SHAPES`` named, each shared-array size of ``gpu_fast.memories`` and every
``(variant, config)`` pair the focus mode times (``gpu_fast.variants(memory, "focus")`` x
``gpu_fast.candidates``): ``cachesim.measure.compare.time_predict._predict`` (analytic traffic, seed 0).
The file names the model's commit and the command, date and versions that wrote it (``provenance``; the
files of call33-call40 predate that key and name the command in their READMEs); it is written once,
atomically, before the timing run, and never rewritten (an existing ``--out`` is an error).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gpu_fast as gf  # noqa: E402

from cachesim.measure.compare.time_predict import _describe, _predict  # noqa: E402
from cachesim.measure.records import provenance, write_text_atomic  # noqa: E402


def predictions(shapes) -> list:
    """One row per timed ``(shape, memory, variant, config)`` of the focus mode at ``shapes``."""
    out = []
    for name in shapes:
        m, k, n = gf.SHAPES[name]
        for mem in gf.memories(k, n):
            for w in gf.variants(mem, "focus"):
                for c in gf.candidates(w):
                    label = f"{c.block_m}x{c.block_n}x{c.block_k}-g{c.group_m}-w{c.num_warps}-s{c.num_stages}"
                    d = _describe(w.name)
                    if d is None:
                        continue
                    t, dom = _predict(*d, f"{m}x{k}x{n}", mem, label)
                    out.append({"shape": name, "M": m, "K": k, "N": n, "memory": mem, "variant": w.name,
                                "config": label, "predicted_time_s": t, "dominant": dom})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", required=True, help="comma-separated names of gpu_fast.SHAPES")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    if os.path.exists(args.out):
        ap.error(f"{args.out} exists: the predictions are registered once, before the timing run")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout
    rows = predictions(args.shapes.split(","))
    folder = os.path.basename(os.path.dirname(os.path.abspath(args.out)))
    doc = {"written": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
           "model_commit": commit.strip(),
           "note": f"issue-aware model predictions written BEFORE the held-out shapes were timed ({folder}); "
                   "analytic traffic, seed 0",
           "provenance": provenance([sys.executable, *sys.argv]), "cases": rows}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    write_text_atomic(args.out, json.dumps(doc, indent=1) + "\n")
    print(len(rows), "predictions written to", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
