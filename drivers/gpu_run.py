"""Device script: correctness checks, ceilings and timings of dense / ROAST / HashedNet GEMMs on a GPU.

Run from the repository root on the GPU machine::

    PYTHONPATH=. python3 drivers/gpu_run.py --mode smoke --out $OUT
    PYTHONPATH=. python3 drivers/gpu_run.py --mode sweep --out $OUT --budget-s 450

Each mode writes one record (``gpu_<mode>.json``) with :func:`cachesim.measure.records.write_record`,
re-written after every group of cases so that a run stopped at its time limit still returns what it
measured. Prints a short table last.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cachesim.measure import gpu  # noqa: E402
from cachesim.measure import triton_kernels as tk  # noqa: E402
from cachesim.measure.records import write_record  # noqa: E402

TILE_RZ = tk.TileConfig(128, 64, 32, 8, 4, 4)  # RzLinear's 32 x 64 ROAST tile
TILE_BIG = tk.TileConfig(128, 128, 64, 8, 8, 3)  # bf16 only (fp32 at 3 stages overflows shared memory)
TILE_WIDE = tk.TileConfig(128, 256, 64, 8, 8, 3)  # bf16 only
TILE_BIG32 = tk.TileConfig(128, 128, 32, 8, 8, 3)  # fp32 / tf32
TILES = {"bf16": [TILE_RZ, TILE_BIG, TILE_WIDE], "tf32": [TILE_RZ, TILE_BIG32], "fp32": [TILE_RZ, TILE_BIG32]}
BERT = [(4096, 768, 768), (4096, 768, 3072), (4096, 3072, 768)]
AUTHORS = (512, 10240, 10240)
AUTHORS_MEM = [1 << 20, 8 << 20, 32 << 20, 128 << 20]


class Recorder:
    def __init__(self, path, kind, notes):
        self.path, self.kind, self.notes = path, kind, notes
        self.cases = []
        self.t0 = time.time()

    def add(self, case):
        case["elapsed_s"] = round(time.time() - self.t0, 2)
        self.cases.append(case)

    def flush(self):
        write_record(self.path, self.kind, self.cases, notes=self.notes)


def _try(rec, label, fn):
    try:
        out = fn()
    except Exception as exc:  # noqa: BLE001 - recorded, the sweep goes on
        rec.add({"type": "error", "label": label, "error": repr(exc)[:2000],
                 "traceback": traceback.format_exc()[-3000:]})
        print(f"ERROR {label}: {exc!r}"[:400], flush=True)
        return None
    return out


def do_check(rec, case, method, device="cuda"):
    r = _try(rec, f"check {method} {case.describe()}", lambda: gpu.check_case(case, method, device))
    if r is not None:
        rec.add({"type": "check", **case.describe(), **r})
        print(f"check {method:9s} {case.precision} M{case.batch} K{case.in_features} N{case.out_features} "
              f"m{case.m_slots} {case.tile.label()}: idx={r['index_match']} fwd={r['err_fwd']:.1e} "
              f"dx={r['err_dx']:.1e} db={r['err_db']:.1e} pass={r['passed']}", flush=True)


def do_time(rec, case, impl, train=True, rep_ms=100, timer="do_bench"):
    r = _try(rec, f"time {impl} {case.describe()}", lambda: gpu.time_case(case, impl, train=train,
                                                                          rep_ms=rep_ms, timer=timer))
    if r is not None:
        rec.add({"type": "time", **case.describe(), **r})
        tr = "-" if r["train_ms"] is None else f"{r['train_ms']:.4f}"
        print(f"time {impl:17s} {case.precision} M{case.batch} K{case.in_features} N{case.out_features} "
              f"m{case.m_slots} {case.tile.label()}: fwd {r['fwd_ms']:.4f} ms train {tr} ms", flush=True)


def smoke(out, args):
    rec = Recorder(os.path.join(out, "gpu_smoke.json"), "gpu-smoke",
                   "Smoke call: environment, ceilings, correctness of every kernel at small shapes and one "
                   "large shape, a few timings. Times: triton.testing.do_bench median, L2 flushed before "
                   "each repetition.")
    rec.add({"type": "env", **gpu.env_report()})
    rec.flush()
    r = _try(rec, "ceilings", lambda: gpu.ceilings(rep_ms=100))
    if r:
        rec.add({"type": "ceilings", **r})
        print("ceilings", r, flush=True)
    rec.flush()
    small_tile = tk.TileConfig(32, 32, 16, 2, 2, 2)
    for prec in ("fp32", "tf32", "bf16"):
        for shape, m_slots, tile in (((64, 96, 160), 3000, small_tile), ((100, 200, 300), 5000, small_tile),
                                     ((256, 512, 384), 20000, TILE_RZ), ((256, 512, 384), 40000, TILE_BIG)):
            c = gpu.GemmCase(*shape, m_slots=m_slots, precision=prec, tile=tile, seed=11)
            for method in ("dense", "roast", "hashednet"):
                do_check(rec, c, method)
        rec.flush()
    big = gpu.GemmCase(*AUTHORS, m_slots=1 << 20, precision="bf16", tile=TILE_RZ)
    for method in ("dense", "roast", "hashednet"):
        do_check(rec, big, method)
    rec.flush()
    c = gpu.GemmCase(4096, 768, 3072, m_slots=768 * 3072 // 8, precision="bf16", tile=TILE_RZ)
    for impl in gpu.IMPLS:
        do_time(rec, c, impl)
    for impl in ("cublas_dense", "triton_dense", "triton_roast", "triton_hashednet"):
        do_time(rec, big, impl)
    rec.flush()
    return rec


def sweep(out, args):
    rec = Recorder(os.path.join(out, "gpu_timing.json"), "gpu-timing",
                   "Timing sweep: median of triton.testing.do_bench (CUDA events, L2 flushed before each "
                   "repetition, warm-up 25 ms, ~100 ms of repetitions). train = forward + dX + dW/dM + SGD "
                   "update of the stored parameter. Correctness checks recorded beside the timings.")
    deadline = time.time() + args.budget_s
    groups = []
    for prec in ("bf16", "tf32", "fp32"):
        groups.append((prec, AUTHORS, AUTHORS_MEM, TILES[prec], False))
        for shape in BERT:
            kn = shape[1] * shape[2]
            groups.append((prec, shape, [kn // 8, kn // 64], TILES[prec], True))
    skipped = []
    for prec, shape, mems, tiles, check_all in groups:
        if time.time() > deadline:
            skipped.append((prec, shape))
            continue
        base = gpu.GemmCase(*shape, m_slots=mems[0], precision=prec, tile=TILE_RZ)
        do_time(rec, base, "cublas_dense")
        for tile in tiles:
            do_time(rec, gpu.GemmCase(*shape, m_slots=mems[0], precision=prec, tile=tile), "triton_dense")
        for m_slots in mems:
            for tile in tiles:
                if m_slots <= tile.tile_size:
                    rec.add({"type": "skipped", "M": shape[0], "K": shape[1], "N": shape[2],
                             "m_slots": m_slots, "tile": tile.label(),
                             "reason": "m_slots <= ROAST tile size"})
                    continue
                c = gpu.GemmCase(*shape, m_slots=m_slots, precision=prec, tile=tile)
                if check_all or (m_slots == mems[1] and tile is TILE_RZ):
                    for method in ("roast", "hashednet", "roast_aligned"):
                        do_check(rec, c, method)
                do_time(rec, c, "triton_roast")
                do_time(rec, c, "triton_roast_aligned")
                do_time(rec, c, "triton_hashednet")
            c = gpu.GemmCase(*shape, m_slots=m_slots, precision=prec, tile=TILE_RZ)
            do_time(rec, c, "gather_roast")
            do_time(rec, c, "gather_hashednet")
        rec.flush()
    if skipped:
        rec.add({"type": "skipped", "groups": [f"{p} {s}" for p, s in skipped],
                 "reason": f"budget {args.budget_s} s reached"})
    r = _try(rec, "ceilings", lambda: gpu.ceilings(rep_ms=100))
    if r:
        rec.add({"type": "ceilings", **r})
    rec.flush()
    return rec


def vec(out, args):
    """Call 4: ROAST with vectorised exact-hash tile loads (roast_vec) beside the unaligned kernel."""
    rec = Recorder(os.path.join(out, "gpu_timing_vec.json"), "gpu-timing-vec",
                   "ROAST-MM with 16-byte aligned vector loads of the exact-hash tile plus an in-register "
                   "shift (triton_roast_vec) beside triton_roast, triton_roast_aligned (diagnostic), "
                   "triton_dense and cuBLAS; same timing method as gpu-timing.")
    small_tile = tk.TileConfig(32, 32, 16, 2, 2, 2)
    for prec in ("fp32", "tf32", "bf16"):
        for shape, m_slots, tile in (((100, 200, 300), 5000, small_tile), ((256, 512, 384), 20000, TILE_RZ),
                                     ((256, 512, 384), 40000, TILE_BIG if prec == "bf16" else TILE_RZ)):
            c = gpu.GemmCase(*shape, m_slots=m_slots, precision=prec, tile=tile, seed=11)
            do_check(rec, c, "roast_vec")
    rec.flush()
    for prec in ("bf16", "tf32"):
        tiles = [TILE_RZ, TILE_BIG] if prec == "bf16" else [TILE_RZ, tk.TileConfig(128, 128, 32, 8, 8, 2)]
        for shape, mems in ((AUTHORS, [1 << 20, 32 << 20, 128 << 20]), ((4096, 768, 3072), [294912])):
            do_check(rec, gpu.GemmCase(*shape, m_slots=mems[0], precision=prec, tile=TILE_RZ), "roast_vec")
            do_time(rec, gpu.GemmCase(*shape, m_slots=mems[0], precision=prec, tile=TILE_RZ), "cublas_dense")
            for tile in tiles:
                do_time(rec, gpu.GemmCase(*shape, m_slots=mems[0], precision=prec, tile=tile), "triton_dense")
                for m_slots in mems:
                    c = gpu.GemmCase(*shape, m_slots=m_slots, precision=prec, tile=tile)
                    for impl in ("triton_roast_vec", "triton_roast", "triton_hashednet"):
                        do_time(rec, c, impl)
            rec.flush()
    return rec


def authors(out, args):
    """Call 5: the authors' harness -- 512 x 10240 x 10240, memory 1M-128M, TF32 on/off and bf16,
    median of 10 CUDA-event timings after 2 warm-ups, L2 not flushed -- run twice (repeatability)."""
    rec = Recorder(os.path.join(out, "gpu_timing_authors.json"), "gpu-timing-authors",
                   "Authors' timing method: 2 warm-ups then median of 10 CUDA-event timings, L2 NOT flushed; "
                   "each case timed in two passes (pass 0, pass 1) to show the run-to-run spread.")
    for rep in (0, 1):
        for prec in ("bf16", "tf32", "fp32"):
            base = gpu.GemmCase(*AUTHORS, m_slots=1 << 20, precision=prec, tile=TILE_RZ)
            do_time(rec, base, "cublas_dense", timer="events")
            rec.cases[-1]["pass"] = rep
            for m_slots in AUTHORS_MEM:
                c = gpu.GemmCase(*AUTHORS, m_slots=m_slots, precision=prec, tile=TILE_RZ)
                impls = ["triton_roast", "triton_roast_vec", "triton_hashednet", "gather_roast",
                         "gather_hashednet"]
                if prec == "fp32":
                    impls = ["gather_roast", "gather_hashednet", "triton_hashednet"]
                for impl in impls:
                    do_time(rec, c, impl, timer="events")
                    rec.cases[-1]["pass"] = rep
            rec.flush()
    return rec


def summary(rec):
    print("\n== summary ==")
    n_check = [c for c in rec.cases if c.get("type") == "check"]
    print(f"checks: {sum(c['passed'] for c in n_check)}/{len(n_check)} passed; errors: "
          f"{sum(c.get('type') == 'error' for c in rec.cases)}")
    times = {}
    for c in rec.cases:
        if c.get("type") == "time":
            times[(c["precision"], c["M"], c["K"], c["N"], c["m_slots"], c["block_n"], c["impl"])] = c
    for key, c in sorted(times.items(), key=lambda kv: str(kv[0])):
        print(" ".join(map(str, key)), f"fwd={c['fwd_ms']:.4f}", f"train={c['train_ms']}")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=("smoke", "sweep", "vec", "authors"), required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--budget-s", type=float, default=450.0)
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    rec = {"smoke": smoke, "sweep": sweep, "vec": vec, "authors": authors}[args.mode](args.out, args)
    summary(rec)


if __name__ == "__main__":
    main()
