"""Device script: TMA (tensor-descriptor) dense and ROAST-MM kernels against cuBLAS and the fast kernels.

Run from the repository root on the GPU machine::

    PYTHONPATH=. python3 drivers/gpu_tma.py --out $OUT --budget-s 420
    PYTHONPATH=. python3 drivers/gpu_tma.py --mode headline --out $OUT --budget-s 420

What it does, in order (the record is rewritten after every group, so a run cut off still returns data):

1. environment, clocks and the two ceilings (as ``drivers/gpu_fast.py``);
2. a parallel precompile of every TMA kernel it will launch (small launches in worker processes fill
   Triton's on-disk cache);
3. per GEMM shape and shared-array size (the missed shape 4096x3072x768 first): cuBLAS, the best
   configurations of the fast kernels recorded in ``call9_final`` (same run, same data), then every
   TMA configuration of dense, ROAST ``table`` and ``hash32`` (tile 64x128 with align 128, tile 64x256
   with align 256). Every (variant, config) is CHECKED first (NaN-poisoned output, float64 reference
   from the ``roast_theory.hashes`` index) and then TIMED with ``triton.testing.do_bench`` medians (L2
   flushed); the best of each variant is also timed as CUDA-graph replays (no host launch time);
4. training steps at 4096x768x3072 (both memories), CUDA-graph replays and flushed: cuBLAS autograd,
   the call13 ROAST step, and ROAST / dense steps whose forward and dX are TMA kernels (dW: the tuned
   split-M pass of ``triton_fast_bwd``), each checked against float64 references first.

``--mode headline`` adds, on the same data in the same run: the HashedNet kernels (authors' hash,
mulshift, table, arith-only) and gather-then-cuBLAS beside every forward case, the SASS of the best TMA
kernels at 4096x768x3072, and the HashedNet training steps at 4096x768x3072 and 512x10240x10240 beside
the TMA ROAST step; it skips the re-tuning of the older backward kernels.

``--selftest`` runs a tiny version on the CPU under ``TRITON_INTERPRET=1`` (not a measurement).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gpu_fast as gf  # noqa: E402

from cachesim.measure import triton_fast as tf  # noqa: E402
from cachesim.measure import triton_tma as tt  # noqa: E402

FWD_BLOCKS = ((128, 128, 64), (64, 128, 64), (128, 256, 64), (256, 128, 64))
DX_BLOCKS = ((128, 64, 128), (64, 64, 128), (128, 128, 128), (64, 128, 128), (128, 128, 64), (64, 128, 64))
WARPS_STAGES = ((4, 4), (4, 3), (8, 3), (8, 4))
SCHEDULES = ((False, False, False), (True, False, False), (True, False, True))
ORDER = ("bert-ffn2", "bert-ffn1", "sq4096", "sq8192", "authors")
#: Best fast-kernel configurations per shape in call9_final (variant name, tile, align, index, config).
FAST_BEST = {
    "bert-ffn2": (
        ("roast", "table", (64, 128), 64, "128x128x64-g8-w4-s5"),
        ("roast", "hash32", (64, 128), 64, "64x128x64-g8-w4-s3"),
        ("dense", "dense", None, 1, "64x128x64-g8-w4-s3"),
    ),
    "bert-ffn1": (
        ("roast", "table", (64, 128), 64, "128x128x64-g8-w4-s5"),
        ("dense", "dense", None, 1, "128x256x64-g8-w8-s3"),
    ),
    "sq4096": (
        ("roast", "table-pf", (64, 256), 64, "128x256x64-g8-w8-s3"),
        ("dense", "dense", None, 1, "128x256x64-g8-w8-s3"),
    ),
    "sq8192": (
        ("roast", "hash32", (64, 256), 64, "128x256x64-g8-w8-s3"),
        ("dense", "dense", None, 1, "128x256x64-g8-w8-s3"),
    ),
    "authors": (
        ("roast", "hash32", (64, 128), 64, "128x128x64-g8-w4-s4"),
        ("dense", "dense", None, 1, "128x128x64-g8-w4-s4"),
    ),
}


def configs(blocks) -> list:
    out = []
    for bm, bn, bk in blocks:
        for w, s in WARPS_STAGES:
            if bm * bn >= 256 * 128 and w == 4:
                continue  # a 32K-element fp32 accumulator over 128 threads spills
            for p, f, ws in SCHEDULES:
                out.append(tt.TmaConfig(bm, bn, bk, 8, w, s, p, f, ws))
    return out


def weights(memory) -> list:
    out = [tf.FastWeight("dense", "dense")]
    for tile in ((64, 128), (64, 256)):
        if memory > tile[0] * tile[1]:
            for index in ("table", "hash32"):
                out.append(tf.FastWeight("roast", index, memory, tile, tile[1], seed=1))
    return out


# ------------------------------------------------------------------------------------------ precompile
def _warm(jobs):
    """Worker: launch each (weight, config, transpose) once on small operands (fills Triton's cache)."""
    import torch

    done, errors = 0, []
    for w, cfg, transpose in jobs:
        try:
            m = 256
            k, n = 512, 512
            prep = w.prepare(k, n, gf.DEVICE)
            dt = getattr(torch, gf.DTYPE)
            b = (torch.zeros(k, n) if w.scheme == "dense" else torch.zeros(w.memory)).to(gf.DEVICE, dt)
            x = torch.zeros(m, n if transpose else k, device=gf.DEVICE, dtype=dt)
            tt.tma_matmul(x, b, prep, cfg, transpose=transpose)
            done += 1
        except Exception as exc:  # noqa: BLE001 - recorded; timing skips it later
            errors.append(f"{w.name} {cfg.label()} t={transpose}: {exc!r}"[:400])
    if gf.DEVICE == "cuda":
        torch.cuda.synchronize()
    return done, errors


def precompile(rec, jobs, procs=12):
    """Launch every (weight, config, transpose) once in worker processes (``gpu_fast.precompile``)."""
    gf.precompile(rec, jobs, procs, worker=_warm, timeout=200)


# ------------------------------------------------------------------------------------------ forward
def _check_and_time(rec, case, torch, label, fn, ref, rep, extra):
    case.out.fill_(float("nan"))
    fn()
    gf.sync(torch)
    finite = bool(torch.isfinite(case.out).all())
    err = gf.rel_err(torch, case.out, ref) if finite else float("nan")
    ok = finite and err < gf.TOL_BF16
    rec.add({"type": "check", "variant": label, **case.describe(), **extra, "rel_err": err, "passed": ok})
    if not ok:
        print(f"CHECK FAILED {label} {extra.get('config')} err={err}", flush=True)
        return None
    ms = gf.attempt(rec, f"time {label}", lambda: gf.bench(fn, rep))
    if ms is not None:
        rec.add(
            {
                "type": "time",
                "variant": label,
                **case.describe(),
                **extra,
                "ms": ms,
                "tflops": gf.flops(case) / (ms * 1e-3) / 1e12,
            }
        )
    return ms


def run_baselines(rec, case, memory, rep):
    """The HashedNet kernels (authors' hash, mulshift, table, arith-only; RzLinear's and the tuned blocks)
    and gather-then-cuBLAS for ROAST and HashedNet, on the case's data (``drivers/gpu_fast.py``)."""
    for index in ("hash", "mulshift", "table", "arith-only"):
        w = tf.FastWeight("hashednet", index, memory, seed=2)
        gf.attempt(rec, f"variant {w.name}", lambda w=w: gf.time_variant(rec, case, w, rep))
    for w in (
        tf.FastWeight("roast", "table", memory, (64, 128), 128, seed=1),
        tf.FastWeight("hashednet", "hash", memory, seed=2),
    ):
        gf.attempt(rec, f"gather {w.name}", lambda w=w: gf.time_torch(rec, case, "gather", w, rep))


def dump_sass(rec, out_dir, label, cfg, run):
    """Append the SASS of a launched TMA kernel to ``sass_tma.txt``; record its loop-body opcode mix."""
    kern = getattr(run, "compiled", None)
    if kern is None:
        return
    try:
        sass = kern.asm["sass"]
    except Exception as exc:  # noqa: BLE001 - no disassembler here
        rec.add({"type": "sass", "variant": label, "config": cfg, "error": repr(exc)[:300]})
        return
    rec.add(
        {
            "type": "sass",
            "variant": label,
            "config": cfg,
            "loop_mix": gf.loop_mix(sass),
            "n_regs": getattr(kern, "n_regs", None),
            "shared": kern.metadata.shared,
        }
    )
    with open(os.path.join(out_dir, "sass_tma.txt"), "a") as f:
        f.write(
            f"##### {label} {cfg} regs={getattr(kern, 'n_regs', None)} shared={kern.metadata.shared}\n"
            f"{sass}\n"
        )


def run_forward(rec, torch, shape_name, memory, seed, rep, deadline, headline=False, out_dir=None):
    """Check and time cuBLAS, the recorded best pointer kernels and every TMA configuration of the case;
    ``{variant: (best ms, launcher, config or its label)}``."""
    m, k, n = gf.SHAPES[shape_name]
    case = gf.Case(torch, (m, k, n), memory, seed)
    dense_ref = case.ref(tf.FastWeight("dense", "dense"))
    best = {}

    def note(label, ms, fn, cfg):
        if ms is not None and (label not in best or ms < best[label][0]):
            best[label] = (ms, fn, cfg)

    fn = lambda: torch.matmul(case.x, case.wd, out=case.out)  # noqa: E731
    note("cublas", _check_and_time(rec, case, torch, "cublas", fn, dense_ref, rep, {"config": "-"}), fn, "-")
    labels = {c.label(): c for c in tf.CONFIGS}
    for scheme, index, tile, align, cfg in FAST_BEST.get(shape_name, ()) if not gf.DEVICE == "cpu" else ():
        w = (
            tf.FastWeight("dense", "dense")
            if scheme == "dense"
            else tf.FastWeight(scheme, index, memory, tile, align, seed=1)
        )
        prep = w.prepare(k, n, gf.DEVICE)
        c = labels[cfg]
        fn = lambda w=w, prep=prep, c=c: tf.fast_matmul(case.x, case.b(w), prep, c, out=case.out)  # noqa: E731
        ms = _check_and_time(rec, case, torch, "fast-" + w.name, fn, case.ref(w), rep, {"config": cfg})
        note("fast-" + w.name, ms, fn, cfg)
    for w in weights(memory):
        prep = w.prepare(k, n, gf.DEVICE)
        for cfg in tt.tma_configs(prep, candidates=configs(FWD_BLOCKS)):
            if time.time() > deadline:
                break
            if m % cfg.block_m or n % cfg.block_n or k % cfg.block_k:
                continue
            run = gf.attempt(
                rec,
                f"launch tma-{w.name} {cfg.label()}",
                lambda w=w, prep=prep, cfg=cfg: tt.tma_launch(case.x, case.b(w), prep, cfg, out=case.out),
            )
            if run is None:
                continue
            extra = {"config": cfg.label(), "config_dict": cfg.to_dict(), "weight": prep.to_dict()}
            ms = gf.attempt(
                rec,
                f"tma-{w.name} {cfg.label()}",
                lambda w=w, run=run, extra=extra: _check_and_time(
                    rec, case, torch, "tma-" + w.name, run, case.ref(w), rep, extra
                ),
            )
            note("tma-" + w.name, ms, run, cfg)
    if headline:
        run_baselines(rec, case, memory, rep)
        if shape_name == "bert-ffn1" and out_dir:
            for label, (_ms, fn, cfg) in best.items():
                if label.startswith("tma-"):
                    gf.attempt(
                        rec,
                        f"sass {label}",
                        lambda label=label, cfg=cfg, fn=fn: dump_sass(rec, out_dir, label, _label(cfg), fn),
                    )
    for label, (ms, fn, cfg) in best.items():
        cfg = _label(cfg)
        graph = (
            gf.attempt(rec, f"graph {label}", lambda fn=fn: gf.bench_graph(fn, rep))
            if gf.DEVICE == "cuda"
            else None
        )
        rec.add(
            {"type": "best", "variant": label, **case.describe(), "config": cfg, "ms": ms, "ms_graph": graph}
        )
        print(f"  {shape_name} m{memory} {label:34s} {ms:8.4f} ms graph {graph} {cfg}", flush=True)
    case = None  # free the case's tensors before the next one
    if gf.DEVICE == "cuda":
        torch.cuda.empty_cache()
    return best


# ------------------------------------------------------------------------------------------ train
def _tma_step_case(torch, ts, fb, base, preps, cfgs, memory):
    """A StepCase of five launches whose forward, dX and weight gradient are TMA kernels: zero the fp32
    gradient, ``Y`` (``preps["fwd"]``), ``dX`` (``preps["dx"]``), ``scale X^T dY`` added tile-wise
    (``tma_grad``), SGD (``triton_fast_bwd.sgd_update``). ROAST preps share one start family."""
    x, dy = base.x, base.dy
    k, n = x.shape[1], dy.shape[1]
    fc, dc, (gm, gs, gw, gst) = cfgs
    w = preps["fwd"].weight
    if w.scheme == "dense":
        stored = base.stored.detach().clone()  # the (K, N) weight of the triton-dense case
        grad = torch.zeros(k, n, dtype=torch.float32, device=x.device)
        flat, slots, name = stored.view(-1), None, "tma-dense"
    else:
        from roast_theory import hashes

        stored = ts._memory(torch, memory, x.dtype, x.device, 7)
        grad = torch.zeros(memory, dtype=torch.float32, device=x.device)
        table = preps["table"].aux
        flat, name = stored, f"tma-roast-a{w.align}"
        slots = lambda: hashes.tile_slot_index(table.cpu().numpy(), k, n, w.tile)  # noqa: E731

    def run():
        grad.zero_()
        y = tt.tma_matmul(x, stored, preps["fwd"], fc, scale=base.scale)
        dx = tt.tma_matmul(dy, stored, preps["dx"], dc, scale=base.scale, transpose=True)
        tt.tma_grad(
            x,
            dy,
            grad,
            preps["table"],
            scale=base.scale,
            block_m=gm,
            split_m=gs,
            num_warps=gw,
            num_stages=gst,
        )
        fb.sgd_update(flat, grad.view(-1), base.lr)
        return y, dx, grad

    return ts.StepCase(name, run, stored, slots, x, dy, base.lr, base.scale)


def tune_grad(rec, torch, prep, memory, rep, shape_name="bert-ffn1"):
    """Time ``tma_grad`` over (block_m, split_m, warps, stages) at the shape; the best tuple."""
    m, k, n = gf.SHAPES[shape_name]
    g = torch.Generator(device=gf.DEVICE).manual_seed(5)
    dt = getattr(torch, gf.DTYPE)
    x = torch.randn(m, k, device=gf.DEVICE, generator=g).to(dt)
    dy = torch.randn(m, n, device=gf.DEVICE, generator=g).to(dt)
    w = prep.weight
    grad = torch.zeros((k, n) if w.scheme == "dense" else (memory,), dtype=torch.float32, device=gf.DEVICE)
    best = None
    for cfg in [(bm, sm, nw, st) for bm in (64, 128) for sm in (1, 2, 4) for nw in (4, 8) for st in (3, 4)]:
        if m % (cfg[0] * cfg[1]):
            continue
        ms = gf.attempt(
            rec,
            f"grad {w.name} {cfg}",
            lambda cfg=cfg: gf.bench(
                lambda: tt.tma_grad(
                    x, dy, grad, prep, block_m=cfg[0], split_m=cfg[1], num_warps=cfg[2], num_stages=cfg[3]
                ),
                rep,
            ),
        )
        rec.add(
            {
                "type": "grad",
                "variant": "tma-" + w.name,
                "memory": memory,
                "M": m,
                "K": k,
                "N": n,
                "config": dict(zip(("block_m", "split_m", "num_warps", "num_stages"), cfg)),
                "ms": ms,
            }
        )
        if ms is not None and (best is None or ms < best[0]):
            best = (ms, cfg)
    if best is not None:
        print(f"  grad m{memory} tma-{w.name:28s} {best[0]:.4f} ms {best[1]}", flush=True)
    return None if best is None else best[1]


def run_train(
    rec, torch, best_fwd, rep, deadline, shape_name="bert-ffn1", memories=None, hashednet=(), tune_old=True
):
    """Training steps at ``shape_name``: cuBLAS, the call13 ROAST step, TMA forward + dX + gradient steps
    and (``hashednet``) the HashedNet steps of ``triton_fast_steps``."""
    from cachesim.measure import triton_fast_bwd as fb
    from cachesim.measure import triton_fast_steps as ts

    m, k, n = gf.SHAPES[shape_name]
    bw = fb.BWD_CONFIGS
    fcfg = {c.label(): c for c in tf.CONFIGS}.get("128x128x64-g8-w4-s5", tf.CONFIGS[0])
    for memory in memories or gf.memories(k, n):
        if time.time() > deadline:
            rec.add({"type": "skipped", "what": f"train {memory}", "reason": "budget"})
            continue
        tuned = (
            {}
            if not tune_old
            else gf.attempt(
                rec,
                f"tune backward a128 {memory}",
                lambda mm=memory: ts.tune_backward(
                    m,
                    k,
                    n,
                    mm,
                    lambda fn: gf.bench(fn, rep),
                    tile=(64, 128),
                    align=128,
                    kinds=("roast", "dense"),
                    dtype=gf.DTYPE,
                    device=gf.DEVICE,
                ),
            )
            or {}
        )
        for kind, passes in tuned.items():
            for pass_, res in passes.items():
                rec.add(
                    {
                        "type": "bwd-tune",
                        "memory": memory,
                        "kind": kind,
                        "pass": pass_,
                        "align": 128,
                        "best": None if res["best"] is None else res["best"].to_dict(),
                        "ms": res["ms"],
                        "all": res["all"],
                    }
                )
                print(f"  tune a128 m{memory} {kind} {pass_} {res['ms']} {res['best']}", flush=True)
        rec.flush()
        cases = ts.train_step_cases(
            m,
            k,
            n,
            memory,
            tile=(64, 128),
            align=64,
            fwd_config=fcfg,
            bwd_config=bw[1],
            dw_config=bw[6],
            hashednet=hashednet,
            autograd=False,
            dtype=gf.DTYPE,
            device=gf.DEVICE,
        )
        configs_of = {
            "cublas": "-",
            "triton-dense": f"fwd {fcfg.label()} dx {bw[1].to_dict()}",
            "roast-a64": f"fwd {fcfg.label()} dx {bw[1].to_dict()} dw {bw[6].to_dict()}",
        }
        fwd_pick = best_fwd.get((shape_name, memory), {})
        dx_pick = best_fwd.get(("dx", shape_name, memory), {})
        for scheme in ("roast", "dense"):
            if scheme == "roast":
                ws = {
                    ix: tf.FastWeight("roast", ix, memory, (64, 128), 128, seed=1)
                    for ix in ("table", "hash32")
                }
            else:
                ws = {"dense": tf.FastWeight("dense", "dense", tile=(64, 128))}
            pf = min(
                ((fwd_pick["tma-" + v.name], ix) for ix, v in ws.items() if "tma-" + v.name in fwd_pick),
                default=None,
                key=lambda t: t[0][0],
            )
            pd = min(
                ((dx_pick["tma-" + v.name], ix) for ix, v in ws.items() if "tma-" + v.name in dx_pick),
                default=None,
                key=lambda t: t[0][0],
            )
            if pf is None or pd is None:
                rec.add(
                    {"type": "skipped", "what": f"train tma {scheme} {memory}", "reason": "no checked config"}
                )
                continue
            preps = {
                "fwd": ws[pf[1]].prepare(k, n, gf.DEVICE),
                "dx": ws[pd[1]].prepare(k, n, gf.DEVICE),
                "table": ws["table" if scheme == "roast" else "dense"].prepare(k, n, gf.DEVICE),
            }
            gcfg = tune_grad(rec, torch, preps["table"], memory, rep, shape_name) or (64, 1, 4, 4)
            case = gf.attempt(
                rec,
                f"tma step {scheme}",
                lambda preps=preps, pf=pf, pd=pd, gcfg=gcfg, cases=cases, memory=memory: _tma_step_case(
                    torch, ts, fb, cases["triton-dense"], preps, (pf[0][1], pd[0][1], gcfg), memory
                ),
            )
            if case is None:
                continue
            cases[case.name] = case
            configs_of[case.name] = (
                f"fwd {ws[pf[1]].name} {pf[0][1].label()} dx {ws[pd[1]].name} "
                f"{pd[0][1].label()} grad (block_m, split_m, warps, stages) {gcfg}"
            )
        errs = gf.attempt(rec, f"check train {memory}", lambda cases=cases: ts.check_train_steps(cases)) or {}
        tol = ts.TOLERANCE[gf.DTYPE]
        for name, case in cases.items():
            e = errs.get(name, {})
            ok = bool(e) and all(v < tol for v in e.values())
            ms = graph = None
            if ok:
                ms = gf.attempt(rec, f"time {name}", lambda case=case: gf.bench(case.run, rep))
                if gf.DEVICE == "cuda":
                    graph = gf.attempt(rec, f"graph {name}", lambda case=case: gf.bench_graph(case.run, rep))
            rec.add(
                {
                    "type": "train",
                    "shape": shape_name,
                    "M": m,
                    "K": k,
                    "N": n,
                    "memory": memory,
                    "impl": name,
                    "ms": ms,
                    "ms_graph": graph,
                    "errors": e,
                    "passed": ok,
                    "configs": configs_of.get(name),
                }
            )
            print(f"  train m{memory} {name:22s} flushed {ms} graph {graph} ok={ok}", flush=True)
        rec.flush()


def run_dx(rec, torch, memory, rep, deadline, shape_name="bert-ffn1"):
    """dX = dY @ W^T of the shape's forward with every TMA dX configuration; the best config per weight."""
    m, k, n = gf.SHAPES[shape_name]
    g = torch.Generator(device=gf.DEVICE).manual_seed(99)
    dt = getattr(torch, gf.DTYPE)
    dy = torch.randn(m, n, device=gf.DEVICE, generator=g).to(dt)
    out = torch.empty(m, k, device=gf.DEVICE, dtype=dt)
    picks = {}
    for w in (
        tf.FastWeight("roast", "table", memory, (64, 128), 128, seed=1),
        tf.FastWeight("roast", "hash32", memory, (64, 128), 128, seed=1),
        tf.FastWeight("dense", "dense"),
    ):
        prep = w.prepare(k, n, gf.DEVICE)
        b = (
            torch.randn(k, n, device=gf.DEVICE, generator=g)
            if w.scheme == "dense"
            else torch.randn(memory, device=gf.DEVICE, generator=g)
        ).to(dt)
        wmat = b.double() if w.scheme == "dense" else b.double()[tf.gather_index(w, k, n, gf.DEVICE)]
        ref = dy.double() @ wmat.t()
        best = None
        for cfg in tt.tma_configs(prep, transpose=True, candidates=configs(DX_BLOCKS)):
            if time.time() > deadline or m % cfg.block_m:
                continue
            run = gf.attempt(
                rec,
                f"dx launch {w.name} {cfg.label()}",
                lambda cfg=cfg, prep=prep, b=b: tt.tma_launch(dy, b, prep, cfg, transpose=True, out=out),
            )
            if run is None:
                continue
            out.fill_(float("nan"))
            if gf.attempt(rec, f"dx run {w.name} {cfg.label()}", run) is None:
                continue
            gf.sync(torch)
            err = gf.rel_err(torch, out, ref) if bool(torch.isfinite(out).all()) else float("nan")
            ok = err < gf.TOL_BF16
            ms = gf.attempt(rec, f"dx time {w.name}", lambda run=run: gf.bench(run, rep)) if ok else None
            rec.add(
                {
                    "type": "dx",
                    "variant": "tma-" + w.name,
                    "shape": shape_name,
                    "M": m,
                    "K": k,
                    "N": n,
                    "memory": memory,
                    "config": cfg.label(),
                    "config_dict": cfg.to_dict(),
                    "rel_err": err,
                    "passed": ok,
                    "ms": ms,
                }
            )
            if ms is not None and (best is None or ms < best[0]):
                best = (ms, cfg)
        if best is not None:
            picks["tma-" + w.name] = best
            print(f"  dx m{memory} tma-{w.name:28s} {best[0]:.4f} ms {best[1].label()}", flush=True)
    rec.flush()
    return picks


#: (variant, TMA config or pointer config label) launched under Nsight Compute; the configurations are the
#: best of call18_headline at 4096x768x3072 / 4096x3072x768 (memory index 0).
NCU_PLAN = {
    "bert-ffn1": (
        ("tma-dense", "128x128x64-g8-w4-s3"),
        ("tma-roast-table-a128-t64x128", "128x128x64-g8-w4-s3"),
        ("tma-roast-hash32-a128-t64x128", "128x128x64-g8-w4-s3"),
        ("fast-roast-table-a64-t64x128", "128x128x64-g8-w4-s5"),
    ),
    "bert-ffn2": (
        ("tma-dense", "64x128x64-g8-w4-s3"),
        ("tma-roast-table-a128-t64x128", "64x128x64-g8-w4-s3"),
        ("tma-roast-hash32-a128-t64x128", "64x128x64-g8-w4-s3"),
        ("fast-roast-hash32-a64-t64x128", "64x128x64-g8-w4-s3"),
    ),
}


def _ncu_weight(variant, memory):
    if variant.endswith("dense"):
        return tf.FastWeight("dense", "dense", tile=(64, 128))
    index = "hash32" if "hash32" in variant else "table"
    align = 64 if variant.startswith("fast-") else 128
    return tf.FastWeight("roast", index, memory, (64, 128), align, seed=1)


def drive_ncu(shape_name, mem_index):
    """One launch of cuBLAS and of every NCU_PLAN kernel (Triton compiles on the first call; ncu profiles
    the kernel, not the compilation), printing LAUNCH lines in launch order."""
    import torch

    m, k, n = gf.SHAPES[shape_name]
    memory = gf.memories(k, n)[mem_index]
    case = gf.Case(torch, (m, k, n), memory, 7)
    fast = {c.label(): c for c in tf.CONFIGS}
    runs = [("cublas", "-", lambda: torch.matmul(case.x, case.wd))]
    for variant, label in NCU_PLAN[shape_name]:
        w = _ncu_weight(variant, memory)
        prep = w.prepare(k, n, gf.DEVICE)
        if variant.startswith("fast-"):
            fn = functools.partial(tf.fast_matmul, case.x, case.b(w), prep, fast[label], out=case.out)
        else:
            cfg = next(c for c in configs(FWD_BLOCKS) if c.label() == label)
            fn = tt.tma_launch(case.x, case.b(w), prep, cfg, out=case.out)
        runs.append((variant, label, fn))
    gf.sync(torch)
    for name, label, fn in runs:  # one launch each: ncu labels its i-th profiled kernel by the i-th line
        fn()
        gf.sync(torch)
        print(f"LAUNCH {name} {label}", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--budget-s", type=float, default=420.0)
    ap.add_argument("--rep-ms", type=float, default=40.0)
    ap.add_argument("--shapes", default=",".join(ORDER))
    ap.add_argument(
        "--mode",
        choices=("tma", "headline", "ncu"),
        default="tma",
        help="headline: also the HashedNet kernels, gathers, SASS and HashedNet training steps; "
        "ncu: Nsight Compute counters of cuBLAS, the TMA and the pointer ROAST kernels at the BERT shapes",
    )
    ap.add_argument("--drive-ncu", default="", help="internal: SHAPE:MEMORY_INDEX launches for ncu")
    ap.add_argument("--selftest", action="store_true", help="CPU dry run of the driver (interpreter)")
    args = ap.parse_args(argv)
    if args.drive_ncu:
        shape_name, mi = args.drive_ncu.split(":")
        drive_ncu(shape_name, int(mi))
        return
    os.makedirs(args.out, exist_ok=True)
    deadline = time.time() + args.budget_s
    import torch
    import triton

    if args.selftest:
        gf.DEVICE, gf.DTYPE, gf.TOL_BF16 = "cpu", "float32", 1e-2
        gf.SHAPES.clear()
        gf.SHAPES.update(
            {"bert-ffn2": (256, 512, 256), "bert-ffn1": (256, 256, 512), "authors": (128, 512, 512)}
        )
        gf.HN_CONFIGS = (tf.FastConfig(16, 64, 16, 2, 1, 1),)
        gf.COMPRESSIONS = (4,)
        global FWD_BLOCKS, DX_BLOCKS, WARPS_STAGES
        FWD_BLOCKS, DX_BLOCKS, WARPS_STAGES = ((128, 128, 64),), ((128, 64, 128),), ((4, 4),)
    rec = gf.Recorder(
        args.out,
        {"tma": "tma", "headline": "tma-headline", "ncu": "tma-ncu"}[args.mode],
        "TMA kernels (cachesim.measure.triton_tma) vs cuBLAS and the fast kernels; "
        "bf16; do_bench medians (L2 flushed) and CUDA-graph replays, ms; every timed case "
        "checked first against a float64 reference.",
    )
    if not args.selftest:
        rec.add(gf.env(torch, triton))
        rec.add(
            gf.attempt(rec, "ceilings", lambda: gf.ceilings(torch)) or {"type": "ceilings", "error": True}
        )
        rec.flush()
        if args.mode == "ncu":
            gf.attempt(
                rec,
                "ncu",
                lambda: gf.run_ncu(
                    rec,
                    args.out,
                    deadline,
                    shapes=(("bert-ffn1", 0), ("bert-ffn2", 0)),
                    script=os.path.abspath(__file__),
                    regex="tma_kernel|fwd_kernel|nvjet|gemm|sm90|cutlass",
                ),
            )
            rec.add({"type": "clocks_end", "clocks": gf.clocks()})
            rec.flush()
            return
        mems = sorted({mem for s in args.shapes.split(",") for mem in gf.memories(*gf.SHAPES[s][1:])})
        small = [mm for mm in mems if mm >= 32768][:1] or [32768]
        jobs = [
            (w, c, False)
            for w in weights(small[0])
            for c in tt.tma_configs(w.prepare(512, 512), candidates=configs(FWD_BLOCKS))
        ]
        jobs += [
            (w, c, True)
            for w in weights(small[0])[:3]
            for c in tt.tma_configs(w.prepare(512, 512), transpose=True, candidates=configs(DX_BLOCKS))
        ]
        precompile(rec, jobs)
        if args.mode == "headline":
            hn = [
                (tf.FastWeight("hashednet", ix, mm, seed=2), c)
                for mm in mems
                for ix in ("hash", "mulshift", "table", "arith-only")
                for c in gf.HN_CONFIGS
            ]
            gf.precompile(rec, hn)
        rec.flush()
    best_fwd = {}
    names = [s for s in args.shapes.split(",") if s in gf.SHAPES]
    headline = args.mode == "headline"
    # (training shape, memory positions, HashedNet steps) run after that shape's forward cases
    trains = {"bert-ffn1": (None, ("hash", "mulshift", "table") if headline else ())}
    if headline:
        trains["authors"] = ((1,), ("hash", "mulshift", "table"))
    for i, shape_name in enumerate(names):
        for memory in gf.memories(*gf.SHAPES[shape_name][1:]):
            if time.time() > deadline:
                rec.add({"type": "skipped", "shape": shape_name, "memory": memory, "reason": "budget"})
                continue
            best = (
                gf.attempt(
                    rec,
                    f"forward {shape_name} {memory}",
                    lambda s=shape_name, mm=memory, i=i: run_forward(
                        rec, torch, s, mm, 1000 + i, args.rep_ms, deadline, headline, args.out
                    ),
                )
                or {}
            )
            best_fwd[(shape_name, memory)] = {k: v[::2] for k, v in best.items() if k.startswith("tma-")}
            rec.flush()
        if shape_name in trains:
            pos, hn = trains[shape_name]
            mems = gf.memories(*gf.SHAPES[shape_name][1:])
            mems = mems if pos is None else [mems[p] for p in pos if p < len(mems)] or mems[-1:]
            for memory in mems:
                best_fwd[("dx", shape_name, memory)] = (
                    gf.attempt(
                        rec,
                        "dx",
                        lambda mm=memory, s=shape_name: run_dx(rec, torch, mm, args.rep_ms, deadline + 60, s),
                    )
                    or {}
                )
            gf.attempt(
                rec,
                "train",
                lambda s=shape_name, mems=mems, hn=hn: run_train(
                    rec, torch, best_fwd, args.rep_ms, deadline + 150, s, mems, hn, tune_old=not headline
                ),
            )
    rec.add({"type": "clocks_end", "clocks": gf.clocks() if not args.selftest else "-"})
    rec.flush()


def _label(cfg) -> str:
    """A configuration's label (TMA and pointer configurations) or the label itself."""
    return cfg.label() if hasattr(cfg, "label") else cfg


if __name__ == "__main__":
    main()
