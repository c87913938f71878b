"""Device script: the fast forward kernels of ``cachesim.measure.triton_fast`` on a GPU (one call per mode).

Run from the repository root on the GPU machine::

    PYTHONPATH=. python3 drivers/gpu_fast.py --mode check --out $OUT --budget-s 420
    PYTHONPATH=. python3 drivers/gpu_fast.py --mode time --out $OUT --budget-s 450
    PYTHONPATH=. python3 drivers/gpu_fast.py --mode ncu --out $OUT --budget-s 400

Every mode: environment and clocks, the two ceilings (device copy GB/s, cuBLAS bf16 TFLOP/s), a parallel
precompile of every kernel it will launch, then groups of cases. A case is one GEMM shape (M x K x N,
bf16) and one shared-array size; in it every variant is first CHECKED (output poisoned with NaN, fresh
random data, float64 reference on the GPU built from the ``roast_theory.hashes`` index) and then TIMED
with ``triton.testing.do_bench(..., return_mode="median")`` (CUDA events, L2 flushed before every
repetition) for every candidate configuration; the smallest median is the autotuned choice. The record
(``cachesim.measure.records.write_record``) is rewritten after every group, so a run cut off at its limit
still returns data. ``--budget-s`` stops starting new groups in time. A short table is printed last.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
import traceback

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cachesim.measure import triton_fast as tf  # noqa: E402
from cachesim.measure.records import write_record  # noqa: E402

SHAPES = {"bert-ffn1": (4096, 768, 3072), "bert-ffn2": (4096, 3072, 768), "sq4096": (4096, 4096, 4096),
          "sq8192": (8192, 4096, 4096), "authors": (512, 10240, 10240),
          # held out of every model constant and of every earlier record (call33): a GPT-2-medium MLP
          # up-projection, a LLaMA-7B down-projection at 1024 tokens, a wide-K / narrow-N layer
          "gpt2-fc": (2048, 1024, 4096), "llama-down": (1024, 11008, 4096), "wide-k": (8192, 2048, 1024),
          # held out likewise (call36): an OPT-1.3B MLP up-projection, a BERT-large down-projection, and a
          # short-M layer whose launches fill at most half a wave at 128-row blocks
          "opt-fc": (2048, 2048, 8192), "bert-large-down": (4096, 4096, 1024), "short-m": (256, 4096, 4096),
          # the short-M regime mapped (call38): 512 and 1024 rows at the same K and N, where the small blocks'
          # launches hold 2 to 4 programs per SM (short-m again in the same run: does it reproduce?)
          "m512": (512, 4096, 4096), "m1024": (1024, 4096, 4096),
          # held out of the short-M changes (call40): 1-2 programs per SM at other K and N
          "short-k8": (256, 8192, 2048), "m512-n8": (512, 2048, 8192), "m768": (768, 4096, 4096),
          # held out of the resident-loop floor and the three-buffer start-table pair (call43): a LLaMA-3-8B
          # up-projection at 256 tokens (1-2 programs per SM at 128-row blocks), a LLaMA-7B up-projection at
          # 512 tokens (2-3), a BERT-large up-projection at 3072 tokens (several programs per SM)
          "m256-up": (256, 4096, 14336), "m512-up7": (512, 4096, 11008), "bert-large-up": (3072, 1024, 4096),
          # held out likewise (call44), the same model: a short-M layer with few k-steps (256 x 2048 x 8192),
          # 1536 rows at 4096 x 4096 (about three programs per SM at 128x128 blocks), a LLaMA-7B
          # up-projection at 2048 tokens
          "m256-k2": (256, 2048, 8192), "m1536": (1536, 4096, 4096), "m2048-up7": (2048, 4096, 11008),
          # held out of the prefetched-start pair (call47): 768 rows at K = 8192 (one program per SM at
          # 128x128 blocks), 256 x 4096 x 16384, and a Qwen2-7B up-projection at 1024 tokens
          "m768-k8": (768, 8192, 2048), "m256-n16": (256, 4096, 16384), "qwen-up": (1024, 3584, 18944)}
COMPRESSIONS = (8, 64)
TILES = ((32, 64), (64, 128), (64, 256))
ALIGNS = (1, 8, 64)
#: HashedNet variants are timed with the configurations of the tuned tile plus RzLinear's block.
HN_CONFIGS = (tf.CONFIGS[0], tf.CONFIGS[4], tf.CONFIGS[5], tf.CONFIGS[7])
TOL_BF16 = 1.5e-2
DEVICE = "cuda"
DTYPE = "bfloat16"


def memories(k: int, n: int) -> list[int]:
    """Largest powers of two <= K*N / compression (power of two: multiply-shift needs it)."""
    return [1 << ((k * n // c).bit_length() - 1) for c in COMPRESSIONS]


def variants(memory: int, which: str = "all") -> list[tf.FastWeight]:
    out = [tf.FastWeight("dense", "dense")]
    for tile in TILES:
        for index in ("table", "table-pf", "hash"):
            for align in ALIGNS:
                if memory > tile[0] * tile[1]:
                    out.append(tf.FastWeight("roast", index, memory, tile, align, seed=1))
    for index in ("hash", "mulshift", "table", "arith-only"):
        out.append(tf.FastWeight("hashednet", index, memory, seed=2))
    if which == "focus":  # the candidates for the fast ROAST-MM, the ablation ends, the baselines
        out = [tf.FastWeight("dense", "dense")]
        for tile in TILES:
            if memory <= tile[0] * tile[1]:
                continue
            for index, pf, align in (("table", 1, 64), ("table-pf", 1, 64), ("hash32", 1, 64),
                                     ("hash32", 1, 8), ("table", 1, 8), ("hash", 1, 64)):
                out.append(tf.FastWeight("roast", index, memory, tile, align, seed=1, prefetch=pf))
        out.append(tf.FastWeight("roast", "table", memory, TILES[0], 1, seed=1))
        out.append(tf.FastWeight("roast", "hash", memory, TILES[0], 1, seed=1))
        for index in ("hash", "mulshift", "table", "arith-only"):
            out.append(tf.FastWeight("hashednet", index, memory, seed=2))
        return out
    if which == "core":  # the subset for ncu / SASS
        keep = {"dense", "roast-table-a1-t32x64", "roast-table-a8-t32x64", "roast-table-pf-a8-t32x64",
                "roast-hash-a1-t32x64", "roast-hash-a64-t64x128", "roast-table-a64-t64x128",
                "roast-table-pf-a64-t64x128", "roast-table-pf-a8-t64x128", "roast-table-pf-a64-t64x256",
                "hashednet-hash", "hashednet-mulshift", "hashednet-table", "hashednet-arith-only"}
        out = [w for w in out if w.name in keep]
    return out


def candidates(w: tf.FastWeight) -> tuple:
    if w.scheme == "hashednet":
        return HN_CONFIGS
    return w.configs(tf.CONFIGS)


# ------------------------------------------------------------------------------------------ record
class Recorder:
    def __init__(self, out, mode, notes):
        self.path = os.path.join(out, f"gpu_fast_{mode}.json")
        self.kind = f"gpu-fast-{mode}"
        self.notes = notes
        self.cases = []
        self.t0 = time.time()

    def add(self, case):
        case["elapsed_s"] = round(time.time() - self.t0, 2)
        self.cases.append(case)
        return case

    def flush(self):
        write_record(self.path, self.kind, self.cases, notes=self.notes)


def attempt(rec, label, fn):
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - recorded, the run goes on
        rec.add({"type": "error", "label": label, "error": repr(exc)[:1500],
                 "traceback": traceback.format_exc()[-2500:]})
        print(f"ERROR {label}: {exc!r}"[:300], flush=True)
        return None


# ------------------------------------------------------------------------------------------ device
def sh(cmd) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unavailable: {exc!r}"


def clocks() -> str:
    return sh(["nvidia-smi", "--query-gpu=clocks.sm,clocks.max.sm,clocks.mem,temperature.gpu,power.draw,"
                             "power.limit,clocks_throttle_reasons.active", "--format=csv,noheader"])


def env(torch, triton) -> dict:
    p = torch.cuda.get_device_properties(0)
    return {"type": "env", "torch": torch.__version__, "torch_cuda": torch.version.cuda,
            "triton": triton.__version__, "device_name": p.name, "sm_count": p.multi_processor_count,
            "l2_bytes": getattr(p, "L2_cache_size", None), "capability": f"{p.major}.{p.minor}",
            "nvidia_smi": sh(["nvidia-smi"]), "clocks_start": clocks(), "ncu": sh(["ncu", "--version"])}


def bench(fn, rep=60, warmup=15):
    import triton

    if DEVICE == "cpu":  # --selftest: wall clock of one call
        t0 = time.perf_counter()
        fn()
        return (time.perf_counter() - t0) * 1e3
    return float(triton.testing.do_bench(fn, warmup=warmup, rep=rep, return_mode="median"))


def bench_b2b(fn, n=20, rep=60):
    """Per-call median of ``n`` back-to-back calls (L2 flushed only before each batch of ``n``)."""
    def batch():
        for _ in range(n):
            fn()

    return bench(batch, rep=rep) / n


def bench_graph(fn, rep=60):
    """Per-call median of CUDA-graph replays (``triton.testing.do_bench_cudagraph``; no L2 flush)."""
    import triton

    return float(triton.testing.do_bench_cudagraph(fn, rep=rep, return_mode="median"))


def ceilings(torch) -> dict:
    n_bytes = 4 << 30
    src = torch.randn(n_bytes // 4, device="cuda")
    dst = torch.empty_like(src)
    ms = bench(lambda src=src, dst=dst: dst.copy_(src), rep=100)
    out = {"type": "ceilings", "copy_gbps": 2 * n_bytes / (ms * 1e-3) / 1e9, "copy_bytes_each_way": n_bytes}
    del src, dst
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    ms = bench(lambda a=a, b=b: a @ b, rep=100)
    out["cublas_bf16_8192_tflops"] = 2 * 8192**3 / (ms * 1e-3) / 1e12
    out["clocks_after"] = clocks()
    return out


def _warm_worker(jobs):
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    from cachesim.measure import triton_fast as tfw

    done, errors = 0, []
    for w, c in jobs:
        try:
            tfw.warmup(w, c)
            done += 1
        except Exception as exc:  # noqa: BLE001
            errors.append(f"{w.name} {c.label()}: {exc!r}"[:300])
    return done, errors


def precompile(rec, pairs, procs=12, worker=None, timeout=240):
    """Compile every (variant, config) in parallel processes into Triton's on-disk cache.

    ``worker(jobs) -> (done, errors)`` compiles one chunk (default: :func:`_warm_worker`, which also
    drops duplicate (mode, tile, align, config) pairs first); it must be importable by spawned processes.
    """
    import multiprocessing as mp

    t0 = time.time()
    if worker is None:
        worker = _warm_worker
        pairs = list({(w.mode, w.tile, w.align, c): (w, c) for w, c in pairs}.values())
    chunks = [pairs[i::procs] for i in range(procs)]
    try:
        with mp.get_context("spawn").Pool(procs) as pool:
            res = pool.map_async(worker, [c for c in chunks if c]).get(timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - timing then compiles on first launch
        rec.add({"type": "precompile", "error": repr(exc)[:500]})
        return
    errors = [e for _, errs in res for e in errs]
    rec.add({"type": "precompile", "kernels": len(pairs), "compiled": sum(d for d, _ in res),
             "errors": errors[:40], "wall_s": round(time.time() - t0, 1)})
    print(f"precompiled {sum(d for d, _ in res)}/{len(pairs)} kernels in {time.time() - t0:.0f} s; "
          f"{len(errors)} errors", flush=True)
    for e in errors[:10]:
        print("  ", e, flush=True)


# ------------------------------------------------------------------------------------------ one case
class Case:
    """Data of one (shape, memory) case on the GPU: fresh random inputs, references per index."""

    def __init__(self, torch, shape, memory, seed):
        self.torch = torch
        self.m, self.k, self.n = shape
        self.memory = memory
        g = torch.Generator(device=DEVICE).manual_seed(seed)
        dt = getattr(torch, DTYPE)
        self.x = torch.randn(self.m, self.k, device=DEVICE, generator=g).to(dt)
        self.wd = torch.randn(self.k, self.n, device=DEVICE, generator=g).to(dt)
        self.mem = torch.randn(memory, device=DEVICE, generator=g).to(dt)
        self.out = torch.empty(self.m, self.n, device=DEVICE, dtype=dt)
        self.x64 = self.x.double()
        self._refs = {}
        self._idx = {}

    def index_key(self, w):
        if w.scheme == "dense" or w.index == "arith-only":
            return "dense"
        if w.scheme == "roast":
            return f"roast-{w.tile}-{w.align}"
        return "mulshift" if w.index == "mulshift" else "hashednet"

    def index(self, w):
        key = self.index_key(w)
        if key not in self._idx:
            self._idx[key] = tf.gather_index(w, self.k, self.n, DEVICE)
        return self._idx[key]

    def b(self, w):
        return self.wd if self.index_key(w) == "dense" else self.mem

    def ref(self, w):
        key = self.index_key(w)
        if key not in self._refs:
            wmat = self.wd.double() if key == "dense" else self.mem.double()[self.index(w)]
            self._refs[key] = self.x64 @ wmat
            del wmat
        return self._refs[key]

    def describe(self) -> dict:
        return {"M": self.m, "K": self.k, "N": self.n, "memory": self.memory, "dtype": "bf16",
                "compression": round(self.k * self.n / self.memory, 3)}


def sync(torch):
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def rel_err(torch, y, ref) -> float:
    return float(torch.linalg.vector_norm(y.double() - ref) / torch.linalg.vector_norm(ref))


def check(rec, case, w, prep, cfg):
    torch = case.torch
    case.out.fill_(float("nan"))
    tf.fast_matmul(case.x, case.b(w), prep, cfg, out=case.out)
    sync(torch)
    finite = bool(torch.isfinite(case.out).all())
    err = rel_err(torch, case.out, case.ref(w)) if finite else float("nan")
    ok = finite and err < TOL_BF16
    rec.add({"type": "check", **prep.to_dict(), **case.describe(), "config": cfg.label(), "finite": finite,
             "rel_err": err, "tol": TOL_BF16, "passed": ok})
    if not ok:
        print(f"CHECK FAILED {w.name} {cfg.label()} err={err}", flush=True)
    return ok


def flops(case) -> float:
    return 2.0 * case.m * case.k * case.n


def time_variant(rec, case, w, rep):
    """Check then time every candidate config; record each and the autotuned best."""
    prep = w.prepare(case.k, case.n, DEVICE)
    best = None
    for cfg in candidates(w):
        if case.m % cfg.block_m or case.n % cfg.block_n or case.k % cfg.block_k:
            continue
        if not attempt(rec, f"check {w.name} {cfg.label()}", lambda cfg=cfg: check(rec, case, w, prep, cfg)):
            continue
        bw = case.b(w)
        ms = attempt(rec, f"time {w.name} {cfg.label()}", lambda cfg=cfg, bw=bw: bench(
            lambda: tf.fast_matmul(case.x, bw, prep, cfg, out=case.out), rep))
        if ms is None:
            continue
        rec.add({"type": "time", "impl": "triton", **prep.to_dict(), **case.describe(), "config": cfg.label(),
                 "config_dict": cfg.to_dict(), "ms": ms, "tflops": flops(case) / (ms * 1e-3) / 1e12})
        if best is None or ms < best[0]:
            best = (ms, cfg)
    if best is not None:
        rec.add({"type": "best", "impl": "triton", **prep.to_dict(), **case.describe(),
                 "config": best[1].label(), "config_dict": best[1].to_dict(), "ms": best[0],
                 "tflops": flops(case) / (best[0] * 1e-3) / 1e12})
        print(f"  {w.name:28s} {best[0]:8.4f} ms  {best[1].label()}", flush=True)
    return best


def time_torch(rec, case, impl, w, rep):
    torch = case.torch
    if impl == "cublas":
        fn = lambda: torch.matmul(case.x, case.wd)  # noqa: E731
        y = fn()
        ref = case.ref(tf.FastWeight("dense", "dense"))
    else:
        idx = case.index(w)
        fn = lambda: tf.gather_matmul(case.x, case.mem, idx)  # noqa: E731
        y = fn()
        ref = case.ref(w)
    sync(torch)
    err = rel_err(torch, y, ref)
    ms = bench(fn, rep)
    name = impl if w is None else f"{impl}-{w.name}"
    rec.add({"type": "best", "impl": impl, "variant": name, **case.describe(), "ms": ms,
             "tflops": flops(case) / (ms * 1e-3) / 1e12, "rel_err": err, "passed": err < TOL_BF16})
    print(f"  {name:28s} {ms:8.4f} ms  err={err:.1e}", flush=True)


def run_case(rec, torch, shape_name, memory, seed, which="all", rep=60.0):
    shape = SHAPES[shape_name]
    case = Case(torch, shape, memory, seed)
    print(f"== {shape_name} {shape} memory={memory} ({shape[1] * shape[2] / memory:.1f}x)", flush=True)
    attempt(rec, "cublas", lambda case=case: time_torch(rec, case, "cublas", None, rep))
    for w in variants(memory, which):
        attempt(rec, f"variant {w.name}", lambda w=w, case=case: time_variant(rec, case, w, rep))
    for w in (tf.FastWeight("roast", "table", memory, TILES[0], 1, seed=1),
              tf.FastWeight("hashednet", "hash", memory, seed=2)):
        attempt(rec, f"gather {w.name}", lambda w=w, case=case: time_torch(rec, case, "gather", w, rep))
    del case
    if DEVICE == "cuda":
        torch.cuda.empty_cache()


# ------------------------------------------------------------------------------------------ index / sass
def index_checks(rec, torch, shapes=((768, 3072), (4096, 4096))):
    """Every kernel's index (computed by a kernel on the GPU) equals its roast_theory.hashes family."""
    for shape in shapes:
        k, n = shape
        for memory in memories(k, n):
            for w in variants(memory):
                cfg = candidates(w)[0]
                prep = w.prepare(k, n, DEVICE)
                got = tf.kernel_index(prep, cfg, DEVICE)
                want = (w.slot_index(k, n) if w.index != "arith-only" and w.scheme != "dense"
                        else np.arange(k * n).reshape(k, n))
                ok = bool((got == want).all())
                rec.add({"type": "index", "K": k, "N": n, **prep.to_dict(), "config": cfg.label(),
                         "equal": ok})
                if not ok:
                    print(f"INDEX MISMATCH {w.name} K{k} N{n} m{memory}", flush=True)
    n_ok = sum(c["equal"] for c in rec.cases if c.get("type") == "index")
    print(f"index checks: {n_ok}/{sum(c.get('type') == 'index' for c in rec.cases)} equal", flush=True)


def sass_dump(rec, torch, out_dir, shape_name="bert-ffn1"):
    """SASS of every core variant (first candidate config) and its loop-body instruction mix."""
    m, k, n = SHAPES[shape_name]
    case = Case(torch, (m, k, n), memories(k, n)[0], 99)
    texts = []
    for w in variants(case.memory, "core"):
        for cfg in (candidates(w)[0], candidates(w)[-1]) if w.scheme == "roast" else (candidates(w)[1],):
            prep = w.prepare(k, n, DEVICE)
            _, kern = tf.fast_matmul(case.x, case.b(w), prep, cfg, out=case.out, return_kernel=True)
            try:
                sass = kern.asm["sass"]
            except Exception as exc:  # noqa: BLE001 - no disassembler: keep the PTX count instead
                sass = f"(no SASS: {exc!r})\n" + kern.asm["ptx"]
            mix = loop_mix(sass)
            rec.add({"type": "sass", **prep.to_dict(), "config": cfg.label(), "loop_mix": mix,
                     "n_regs": getattr(kern, "n_regs", None), "shared": kern.metadata.shared})
            texts.append(f"##### {w.name} {cfg.label()} regs={getattr(kern, 'n_regs', None)} "
                         f"shared={kern.metadata.shared}\n{sass}\n")
    with open(os.path.join(out_dir, "sass_fast.txt"), "w") as f:
        f.write("\n".join(texts))


def loop_mix(sass: str) -> dict:
    """Opcode counts in the longest backward-branch loop of a SASS listing (the k-loop body).

    Reads cuobjdump's form (``/*0a40*/ OPCODE ...``, branch targets as addresses) and Triton's
    ``kernel.asm["sass"]`` form (control codes, a tab, the instruction; ``LBBn:`` labels).
    """
    instrs, labels, branches = [], {}, []
    for ln in sass.splitlines():
        lab = re.match(r"^\s*\.?(L\w+):\s*$", ln)
        if lab:
            labels[lab.group(1)] = len(instrs)
            continue
        a = re.search(r"/\*([0-9a-f]{4,})\*/\s*(.*)", ln)
        if a:
            body, pc = a.group(2), int(a.group(1), 16)
        elif "\t" in ln and re.match(r"^[0-9a-fA-FYy:\-]+\t", ln):
            body, pc = ln.split("\t", 1)[1], None
        else:
            continue
        body = body.strip().rstrip(";").strip()
        op = re.sub(r"^@!?U?P\w+\s+", "", body).split(" ")[0]
        if not op or op.startswith("/*"):
            continue
        instrs.append((pc, op, body))
        if op == "BRA":
            branches.append((len(instrs) - 1, body))
    pcs = {pc: i for i, (pc, _, _) in enumerate(instrs) if pc is not None}
    best = None
    for i, body in branches:
        t = re.search(r"\b(L\w+)\b", body)
        h = re.search(r"0x([0-9a-f]+)", body)
        j = labels.get(t.group(1)) if t else (pcs.get(int(h.group(1), 16)) if h else None)
        if j is not None and j <= i and (best is None or i - j > best[1] - best[0]):
            best = (j, i)
    if best is None:
        return {}
    mix = {}
    for _, op, _ in instrs[best[0]:best[1] + 1]:
        mix[op] = mix.get(op, 0) + 1
    return dict(sorted(mix.items(), key=lambda kv: -kv[1]))


# ------------------------------------------------------------------------------------------ ncu
NCU_METRICS = [
    ["gpu__time_duration.sum", "smsp__cycles_active.avg", "sm__throughput.avg.pct_of_peak_sustained_elapsed",
     "l1tex__t_requests_pipe_lsu_mem_global_op_ld.sum", "l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum",
     "l1tex__t_sectors_pipe_lsu_mem_global_op_ldgsts_cache_access.sum",
     "l1tex__t_sectors_pipe_lsu_mem_global_op_ldgsts_cache_bypass.sum",
     "l1tex__data_pipe_lsu_wavefronts_mem_shared.sum", "lts__t_sectors_srcunit_tex_op_read.sum",
     "lts__t_sector_hit_rate.pct", "dram__bytes_read.sum"],
    ["smsp__inst_executed.sum", "smsp__inst_executed_pipe_alu.sum", "smsp__inst_executed_pipe_fma.sum",
     "smsp__inst_executed_pipe_fmaheavy.sum", "smsp__inst_executed_pipe_lsu.sum",
     "smsp__inst_executed_pipe_adu.sum", "smsp__inst_executed_pipe_uniform.sum",
     "smsp__inst_executed_pipe_xu.sum", "smsp__inst_executed_pipe_cbu.sum"],
    ["smsp__average_warps_issue_stalled_long_scoreboard_per_issue_active.ratio",
     "smsp__average_warps_issue_stalled_barrier_per_issue_active.ratio",
     "smsp__average_warps_issue_stalled_wait_per_issue_active.ratio",
     "smsp__average_warps_issue_stalled_math_pipe_throttle_per_issue_active.ratio",
     "smsp__average_warps_issue_stalled_lg_throttle_per_issue_active.ratio",
     "smsp__average_warps_issue_stalled_mio_throttle_per_issue_active.ratio",
     "smsp__average_warps_issue_stalled_short_scoreboard_per_issue_active.ratio"],
]
NCU_SHAPES = (("bert-ffn1", 0), ("authors", 1))


def ncu_list(memory):
    """(variant, config) pairs profiled: ROAST ablations at fixed configs beside dense at the same."""
    c = {lab.label(): lab for lab in tf.CONFIGS}
    pairs = [(tf.FastWeight("dense", "dense"), c["128x128x64-g8-w4-s4"]),
             (tf.FastWeight("dense", "dense"), c["128x64x64-g8-w4-s4"]),
             (tf.FastWeight("dense", "dense"), c["128x256x64-g8-w8-s3"])]
    small, mid, wide = "128x64x64-g8-w4-s4", "128x128x64-g8-w4-s4", "128x256x64-g8-w8-s3"
    for index, pf, align, tile, cfg in (
            ("table", 1, 1, (32, 64), small), ("table", 1, 8, (32, 64), small),
            ("table", 1, 64, (32, 64), small), ("hash", 1, 1, (32, 64), small),
            ("table", 1, 64, (64, 128), mid), ("table-pf", 1, 64, (64, 128), mid),
            ("hash32", 1, 64, (64, 128), mid), ("hash32", 1, 8, (64, 128), mid),
            ("hash", 1, 64, (64, 128), mid), ("table-pf", 1, 64, (64, 256), wide),
            ("hash32", 1, 64, (64, 256), wide)):
        pairs.append((tf.FastWeight("roast", index, memory, tile, align, seed=1, prefetch=pf), c[cfg]))
    for index in ("hash", "mulshift", "table", "arith-only"):
        pairs.append((tf.FastWeight("hashednet", index, memory, seed=2), c["128x128x64-g8-w4-s4"]))
    return pairs


def drive_ncu(shape_name, mem_index):
    """One launch of every ncu_list kernel (and cuBLAS) in order; prints the order. No references."""
    import torch

    m, k, n = SHAPES[shape_name]
    memory = memories(k, n)[mem_index]
    case = Case(torch, (m, k, n), memory, 7)
    pairs = ncu_list(memory)
    preps = [w.prepare(k, n, DEVICE) for w, _ in pairs]
    for w, c in pairs:
        tf.warmup(w, c)
    torch.cuda.synchronize()
    torch.matmul(case.x, case.wd)
    print("LAUNCH cublas -", flush=True)
    for (w, c), prep in zip(pairs, preps):
        tf.fast_matmul(case.x, case.b(w), prep, c, out=case.out)
        torch.cuda.synchronize()
        print(f"LAUNCH {w.name} {c.label()}", flush=True)


def parse_ncu(text):
    import csv
    import io

    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.startswith('"ID"')), None)
    if start is None:
        return []
    kernels = {}
    for r in csv.DictReader(io.StringIO("\n".join(lines[start:]))):
        d = kernels.setdefault(r["ID"], {"kernel": r.get("Kernel Name", "")[:120], "metrics": {}})
        val = r.get("Metric Value", "").replace(",", "")
        try:
            val = float(val)
        except ValueError:
            pass
        d["metrics"][r["Metric Name"]] = val
    return [kernels[i] for i in sorted(kernels, key=int)]


def run_ncu(rec, out_dir, deadline, shapes=None, script=None, regex="fwd_kernel|nvjet|gemm|sm90|cutlass"):
    """Nsight Compute over ``script --mode ncu --drive-ncu SHAPE:MEMORY_INDEX`` (default: this driver and
    ``NCU_SHAPES``), kernels matching ``regex``; rows ``ncu`` labelled by the driver's ``LAUNCH`` lines."""
    ncu = "ncu"
    for shape_name, mi in shapes or NCU_SHAPES:
        if time.time() > deadline:
            rec.add({"type": "skipped", "what": f"ncu {shape_name}", "reason": "budget"})
            continue
        m, k, n = SHAPES[shape_name]
        memory = memories(k, n)[mi]
        drv = [sys.executable, script or os.path.abspath(__file__), "--mode", "ncu", "--out", out_dir,
               "--drive-ncu", f"{shape_name}:{mi}"]
        for tiers in (3, 2, 1):
            metrics = ",".join(sum(NCU_METRICS[:tiers], []))
            cmd = [ncu, "--clock-control", "none", "--csv", "--metrics", metrics, "--kernel-name",
                   "regex:" + regex] + drv
            t0 = time.time()
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=400)
            kernels = parse_ncu(p.stdout)
            if kernels:
                break
            print(f"ncu {shape_name}: no rows with {tiers} metric tiers (rc {p.returncode}): "
                  f"{(p.stdout + p.stderr)[-600:]}", flush=True)
        order = [ln.split(" ", 2)[1:] for ln in p.stdout.splitlines() if ln.startswith("LAUNCH ")]
        for i, kern in enumerate(kernels):
            label = order[i] if i < len(order) else ["?", "?"]
            rec.add({"type": "ncu", "shape": shape_name, "M": m, "K": k, "N": n, "memory": memory,
                     "variant": label[0], "config": label[1], **kern})
        rec.add({"type": "ncu-run", "shape": shape_name, "returncode": p.returncode, "metric_tiers": tiers,
                 "n_kernels": len(kernels), "n_launches": len(order), "ncu_command": cmd,
                 "wall_s": round(time.time() - t0, 1), "stderr_tail": p.stderr[-1500:]})
        with open(os.path.join(out_dir, f"ncu_{shape_name}.csv"), "w") as f:
            f.write(p.stdout)
        print(f"ncu {shape_name}: {len(kernels)} kernels, {len(order)} launches, {time.time() - t0:.0f} s",
              flush=True)
        rec.flush()


# ------------------------------------------------------------------------------------------ train
def train_plans(tuned: bool):
    """(shape, tile, align, forward config, memory indices, [(dX config, dW config)]) of the train modes.

    ``tuned`` (mode ``train-tuned``): BERT-FFN1 with the dW pass split over M (``split_m`` 2 or 4) so that
    it fills the chip (768 x 3072 has too few weight tiles for 132 SMs), and dX with the start table read
    one step ahead (``prefetch``).
    """
    from cachesim.measure import triton_fast_bwd as fb

    c = {lab.label(): lab for lab in tf.CONFIGS}
    bw = fb.BWD_CONFIGS
    if tuned:
        return [("bert-ffn1", (64, 128), 64, c["128x128x64-g8-w4-s5"], (0, 1),
                 ((bw[1], bw[6]), (bw[1], bw[7]), (bw[0], bw[6])))]
    return [("bert-ffn1", (64, 128), 64, c["128x128x64-g8-w4-s5"], (0,), ((bw[0], None), (bw[3], None))),
            ("authors", (64, 128), 64, c["128x128x64-g8-w4-s5"], (1,), ((bw[3], None),)),
            ("bert-ffn1", (64, 128), 64, c["128x128x64-g8-w4-s5"], (1,), ((bw[0], None),))]


def run_train(rec, torch, deadline, rep, tuned=False):
    """Training steps (cachesim.measure.triton_fast_steps) at 4096x768x3072 and 512x10240x10240."""
    from cachesim.measure import triton_fast_steps as ts

    for shape_name, tile, align, fcfg, mem_idx, bwd_list in train_plans(tuned):
        for mi in mem_idx:
            m, k, n = SHAPES[shape_name]
            memory = memories(k, n)[mi]
            for bcfg, dcfg in bwd_list:
                if time.time() > deadline:
                    rec.add({"type": "skipped", "what": f"train {shape_name} {memory} {bcfg} {dcfg}",
                             "reason": "budget"})
                    continue
                label = f"train {shape_name} m{memory} {tile} {bcfg} dw={dcfg}"
                kw = dict(tile=tile, align=align, fwd_config=fcfg, bwd_config=bcfg, dw_config=dcfg)
                cases = attempt(rec, label, lambda a=(m, k, n, memory), kw=kw: ts.train_step_cases(*a, **kw))
                if not cases:
                    continue
                errs = attempt(rec, "check " + label, lambda cases=cases: ts.check_train_steps(cases)) or {}
                for name, case in cases.items():
                    ms = attempt(rec, f"time {name} {label}", lambda case=case: bench(case.run, rep))
                    b2b = attempt(rec, f"b2b {name} {label}", lambda case=case: bench_b2b(case.run, 20, rep))
                    graph = attempt(rec, f"graph {name} {label}",
                                    lambda case=case: bench_graph(case.run, rep))
                    tol = ts.TOLERANCE["bfloat16"]
                    e = errs.get(name, {})
                    rec.add({"type": "train", "shape": shape_name, "M": m, "K": k, "N": n, "memory": memory,
                             "impl": name, "tile": list(tile), "align": align, "fwd_config": fcfg.label(),
                             "bwd_config": bcfg.to_dict(),
                             "dw_config": None if dcfg is None else dcfg.to_dict(), "ms": ms,
                             "ms_back_to_back": b2b,
                             "ms_graph": graph, "errors": e,
                             "passed": bool(e) and all(v < tol for v in e.values())})
                    shown = ms if ms is None else round(ms, 4)
                    print(f"  train {shape_name} m{memory} {name:20s} {shown} ms b2b {b2b} graph {graph} "
                          f"bwd={bcfg.to_dict()} ok={rec.cases[-1]['passed']}", flush=True)
                del cases
                torch.cuda.empty_cache()
                rec.flush()


# ------------------------------------------------------------------------------------------ launch check
def run_launch_check(rec, torch, deadline, rep):
    """The same forwards timed three ways: L2-flushed single calls (the sweep's method), 20 back-to-back
    calls, and CUDA-graph replays, so launch overhead and cache state can be told apart."""
    c = {lab.label(): lab for lab in tf.CONFIGS}
    picks = (("roast", "table", 64, (64, 128), "128x128x64-g8-w4-s5"),
             ("roast", "hash32", 64, (64, 128), "64x128x64-g8-w4-s3"),
             ("roast", "hash32", 64, (64, 128), "128x128x64-g8-w4-s4"),
             ("roast", "hash32", 64, (64, 256), "128x256x64-g8-w8-s3"))
    for shape_name in ("bert-ffn1", "bert-ffn2", "authors"):
        if time.time() > deadline:
            rec.add({"type": "skipped", "what": f"launch check {shape_name}", "reason": "budget"})
            continue
        m, k, n = SHAPES[shape_name]
        memory = memories(k, n)[0]
        case = Case(torch, (m, k, n), memory, 4242)
        fns = [("cublas", "-", lambda case=case: torch.matmul(case.x, case.wd))]
        for scheme, index, align, tile, cfg in picks:
            w = tf.FastWeight(scheme, index, memory, tile, align, seed=1)
            prep = w.prepare(k, n, DEVICE)
            dprep = tf.FastWeight("dense", "dense").prepare(k, n, DEVICE)
            for ww, pp in ((w, prep), (dprep.weight, dprep)):
                ok = attempt(rec, f"check {ww.name} {cfg}",
                             lambda ww=ww, pp=pp, cfg=cfg, case=case: check(rec, case, ww, pp, c[cfg]))
                if ok:
                    fns.append((ww.name, cfg, lambda pp=pp, ww=ww, cfg=c[cfg], case=case:
                                tf.fast_matmul(case.x, case.b(ww), pp, cfg, out=case.out)))
        for name, cfg, fn in fns:
            r = {"type": "launch", "shape": shape_name, **case.describe(), "variant": name, "config": cfg}
            r["ms_flushed"] = attempt(rec, f"flushed {name}", lambda fn=fn: bench(fn, rep))
            r["ms_back_to_back"] = attempt(rec, f"b2b {name}", lambda fn=fn: bench_b2b(fn, 20, rep))
            r["ms_graph"] = attempt(rec, f"graph {name}", lambda fn=fn: bench_graph(fn, rep))
            rec.add(r)
            print(f"  launch {shape_name} {name:26s} {cfg:22s} flushed {r['ms_flushed']} b2b "
                  f"{r['ms_back_to_back']} graph {r['ms_graph']}", flush=True)
        del case
        torch.cuda.empty_cache()
        rec.flush()


# ------------------------------------------------------------------------------------------ modes
def plan(mode):
    order = {"check": ("bert-ffn1", "bert-ffn2", "authors", "sq4096", "sq8192"),
             "focus": ("authors", "bert-ffn2", "bert-ffn1", "sq4096", "sq8192"),
             "time": ("authors", "bert-ffn2", "bert-ffn1", "sq4096", "sq8192")}.get(mode, ())
    return [(s, mem) for s in order for mem in memories(*SHAPES[s][1:])]


def selftest_setup():
    """CPU dry run under TRITON_INTERPRET=1: tiny shapes, fp32, wall-clock 'timings' (not measurements)."""
    global DEVICE, DTYPE, TOL_BF16, TILES, HN_CONFIGS, COMPRESSIONS
    DEVICE, DTYPE, TOL_BF16, COMPRESSIONS = "cpu", "float32", 1e-2, (4, 8)
    SHAPES.clear()
    SHAPES.update({"tiny": (32, 64, 256)})
    TILES = ((16, 64), (32, 64))  # (32, 64) does not fit memory 2048: skipped by variants()
    small = (tf.FastConfig(16, 64, 16, 2, 1, 1), tf.FastConfig(16, 64, 32, 2, 1, 1),
             tf.FastConfig(32, 64, 32, 2, 1, 1))
    tf.CONFIGS = small
    HN_CONFIGS = small[:1]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=("check", "time", "focus", "ncu", "train", "train-tuned", "launch"),
                    required=True)
    ap.add_argument("--drive-ncu", default="", help="internal: SHAPE:MEMORY_INDEX launches for ncu")
    ap.add_argument("--train", action="store_true", help="also time the training steps")
    ap.add_argument("--ncu", action="store_true", help="also run the ncu subset")
    ap.add_argument("--out", required=True)
    ap.add_argument("--budget-s", type=float, default=420.0)
    ap.add_argument("--rep-ms", type=float, default=60.0)
    ap.add_argument("--shapes", default="", help="comma-separated shape names (default: the mode's)")
    ap.add_argument("--selftest", action="store_true", help="CPU dry run of the driver (interpreter)")
    args = ap.parse_args(argv)
    if args.selftest:
        selftest_setup()
    if args.drive_ncu:
        shape_name, mi = args.drive_ncu.split(":")
        drive_ncu(shape_name, int(mi))
        return
    os.makedirs(args.out, exist_ok=True)
    deadline = time.time() + args.budget_s
    import torch
    import triton

    rec = Recorder(args.out, args.mode,
                   "Fast forward kernels (cachesim.measure.triton_fast), bf16. Times: "
                   "triton.testing.do_bench median (CUDA events, L2 flushed before each repetition), ms per "
                   "forward. Every timed "
                   "(variant, config) was checked first (NaN-poisoned output, float64 reference on the GPU "
                   "from the roast_theory.hashes index). 'best' = smallest median over the candidate "
                   "configs.")
    todo = [] if args.selftest else plan(args.mode)
    if args.shapes or args.selftest:
        names = args.shapes.split(",") if args.shapes else list(SHAPES)
        todo = [(s, mem) for s in names for mem in memories(*SHAPES[s][1:])]
    if not args.selftest:
        rec.add(env(torch, triton))
        rec.add(attempt(rec, "ceilings", lambda: ceilings(torch)) or {"type": "ceilings", "error": True})
        print("ceilings", {k: v for k, v in rec.cases[-1].items() if k != "clocks_after"}, flush=True)
        rec.flush()
        which = "focus" if args.mode == "focus" else "all"
        pairs = [(w, c) for _, mem in todo for w in variants(mem, which) for c in candidates(w)]
        precompile(rec, pairs)
        rec.flush()
    if args.mode in ("check", "time"):
        if args.selftest:
            attempt(rec, "index checks", lambda: index_checks(rec, torch, ((64, 256),)))
        else:
            attempt(rec, "index checks", lambda: index_checks(rec, torch))
            attempt(rec, "sass", lambda: sass_dump(rec, torch, args.out))
        rec.flush()
    for i, (shape_name, mem) in enumerate(todo):
        if time.time() > deadline:
            rec.add({"type": "skipped", "shape": shape_name, "memory": mem, "reason": "budget"})
            continue
        run_case(rec, torch, shape_name, mem, seed=1000 + i, rep=args.rep_ms,
                 which="focus" if args.mode == "focus" else "all")
        rec.flush()
    if args.ncu or args.mode == "ncu":
        attempt(rec, "ncu", lambda: run_ncu(rec, args.out, deadline + 120))
    if args.mode == "launch":
        attempt(rec, "launch", lambda: run_launch_check(rec, torch, deadline, args.rep_ms))
    if args.train or args.mode in ("train", "train-tuned"):
        train_deadline = deadline if args.mode.startswith("train") else deadline + 200
        attempt(rec, "train", lambda: run_train(rec, torch, train_deadline, args.rep_ms,
                                                tuned=args.mode == "train-tuned"))
    rec.add({"type": "clocks_end", "clocks": clocks()})
    rec.flush()
    summary(rec)


def summary(rec):
    print("\n== summary (best ms; ratio to cuBLAS and to Triton dense of the same config) ==")
    best = [c for c in rec.cases if c.get("type") == "best"]
    checks = [c for c in rec.cases if c.get("type") == "check"]
    print(f"checks {sum(c['passed'] for c in checks)}/{len(checks)} passed; errors "
          f"{sum(c.get('type') == 'error' for c in rec.cases)}")
    times = {(c["M"], c["K"], c["N"], c["memory"], c["variant"], c["config"]): c["ms"]
             for c in rec.cases if c.get("type") == "time"}
    for c in best:
        key = (c["M"], c["K"], c["N"], c["memory"])
        cub = next((b["ms"] for b in best if b["impl"] == "cublas" and (b["M"], b["K"], b["N"]) == key[:3]),
                   None)
        dense_same = times.get((*key, "dense", c.get("config")))
        r1 = f"{c['ms'] / cub:5.2f}" if cub else "  -  "
        r2 = f"{c['ms'] / dense_same:5.2f}" if dense_same else "  -  "
        print(f"{key[0]}x{key[1]}x{key[2]} m={key[3]:>9d} {c['variant']:30s} {c['ms']:8.4f} /cublas {r1} "
              f"/dense-same {r2} {c.get('config', '')}")
    print(json.dumps({"n_cases": len(rec.cases)}))


if __name__ == "__main__":
    main()
