"""Device script: Nsight Compute counters of single kernel launches (dense / ROAST / HashedNet).

Orchestrator (run from the repository root on the GPU machine)::

    PYTHONPATH=. python3 drivers/gpu_ncu.py --set smoke|full --out $OUT

For every case it runs ``ncu --clock-control none --csv --metrics ... --kernel-name regex:...
--launch-skip 1 --launch-count 1 python3 drivers/gpu_ncu.py --drive ...``: the driver launches the
kernel twice (the first launch compiles and warms up, the second is profiled). The parsed metrics and the
raw CSV rows go into ``gpu_ncu.json`` (kind ``gpu-ncu``). The clocks are never touched.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

METRICS = [
    "l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum",
    "l1tex__t_requests_pipe_lsu_mem_global_op_ld.sum",
    "l1tex__t_sectors_pipe_lsu_mem_global_op_ldgsts.sum",
    "l1tex__t_requests_pipe_lsu_mem_global_op_ldgsts.sum",
    "l1tex__t_sectors_pipe_lsu_mem_global_op_ldgsts_cache_access.sum",
    "l1tex__t_sectors_pipe_lsu_mem_global_op_ldgsts_cache_bypass.sum",
    "l1tex__t_requests_pipe_lsu_mem_global_op_red.sum",
    "l1tex__t_requests_pipe_lsu_mem_global_op_atom.sum",
    "l1tex__t_sectors_pipe_lsu_mem_global_op_red.sum",
    "l1tex__t_sectors_pipe_lsu_mem_global_op_atom.sum",
    "lts__t_sectors_srcunit_tex_op_read.sum",
    "lts__t_sectors_srcunit_tex_op_red.sum",
    "lts__t_sectors_srcunit_tex_op_atom.sum",
    "lts__t_sector_hit_rate.pct",
    "dram__bytes_read.sum",
    "dram__bytes_write.sum",
    "gpu__time_duration.sum",
]

_EXTRA = ("ldgsts_cache", "requests_pipe_lsu_mem_global_op_red", "requests_pipe_lsu_mem_global_op_atom")
BASE_METRICS = [m for m in METRICS if not any(e in m for e in _EXTRA)]

KERNEL_REGEX = {"fwd": "fwd_kernel", "dx": "dx_kernel", "db": "db_kernel"}
CUBLAS_REGEX = "regex:(gemm|nvjet|cutlass|xmma|sm90)"


def drive(a):
    import torch

    from cachesim.measure import gpu
    from cachesim.measure import triton_kernels as tk

    tile = tk.TileConfig(a.block_m, a.block_n, a.block_k, a.group_m, a.num_warps, a.num_stages)
    case = gpu.GemmCase(a.M, a.K, a.N, m_slots=a.m_slots, precision=a.precision, tile=tile)
    dt = torch.bfloat16 if a.precision == "bf16" else torch.float32
    torch.backends.cuda.matmul.allow_tf32 = a.precision == "tf32"
    ieee = a.precision == "fp32"
    g = torch.Generator(device="cpu").manual_seed(5)
    x = torch.randn(a.M, a.K, generator=g).to("cuda", dt)
    dy = torch.randn(a.M, a.N, generator=g).to("cuda", dt)
    if a.method == "cublas":
        w = torch.randn(a.K, a.N, generator=g).to("cuda", dt)
        for _ in range(2):
            y = x @ w
        torch.cuda.synchronize()
        print("done", float(y.float().abs().mean()))
        return
    h = case.khash(a.method)
    if a.method == "dense":
        b = torch.randn(a.K, a.N, generator=g).to("cuda", dt)
        grad = torch.zeros(a.K, a.N, device="cuda")
        scale = 1.0
    else:
        b = (0.04 * torch.randn(a.m_slots, generator=g)).to("cuda", dt)
        grad = torch.zeros(a.m_slots, device="cuda")
        scale = case.scale
    y = torch.empty(a.M, a.N, device="cuda", dtype=dt)
    dx = torch.empty(a.M, a.K, device="cuda", dtype=dt)
    torch.cuda.synchronize()
    for _ in range(2):
        if a.kpass == "fwd":
            tk.matmul(x, b, h, tile, scale=scale, ieee=ieee, out=y)
        elif a.kpass == "dx":
            tk.matmul_dx(dy, b, h, a.K, tile, scale=scale, ieee=ieee, out=dx)
        else:
            tk.matmul_db(x, dy, h, grad, tile, scale=scale, ieee=ieee)
        torch.cuda.synchronize()
    print("done")


def parse_csv(text):
    """Rows of ncu's --csv output (lines before the header dropped) -> {metric: (unit, value)}."""
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.startswith('"ID"')), None)
    if start is None:
        return {}, []
    rows = list(csv.DictReader(io.StringIO("\n".join(lines[start:]))))
    metrics = {}
    for r in rows:
        val = r.get("Metric Value", "").replace(",", "")
        try:
            v = float(val)
        except ValueError:
            v = val
        metrics[r.get("Metric Name")] = {"unit": r.get("Metric Unit"), "value": v,
                                         "kernel": r.get("Kernel Name", "")[:200]}
    return metrics, rows


def cases(which):
    rz = dict(block_m=128, block_n=64, block_k=32, group_m=8, num_warps=4, num_stages=4)
    big = dict(block_m=128, block_n=128, block_k=64, group_m=8, num_warps=8, num_stages=3)
    out = []
    if which == "vec":
        for method in ("roast_vec", "roast"):
            for m_slots in (1 << 20, 32 << 20):
                for kpass in ("fwd", "dx"):
                    out.append(dict(method=method, kpass=kpass, M=512, K=10240, N=10240, m_slots=m_slots,
                                    precision="bf16", **rz))
        out.append(dict(method="roast_vec", kpass="fwd", M=4096, K=768, N=3072, m_slots=294912,
                        precision="bf16", **rz))
        return out
    if which == "smoke":
        for method in ("dense", "roast", "hashednet"):
            out.append(dict(method=method, kpass="fwd", M=512, K=768, N=768, m_slots=768 * 768 // 8,
                            precision="bf16", **rz))
        return out
    for prec in ("bf16", "tf32"):
        for shape in ((4096, 768, 3072), (512, 10240, 10240)):
            m_list = [shape[1] * shape[2] // 8] if shape[0] == 4096 else [1 << 20, 32 << 20]
            out.append(dict(method="cublas", kpass="fwd", M=shape[0], K=shape[1], N=shape[2],
                            m_slots=m_list[0], precision=prec, **rz))
            for tile in (rz, big) if prec == "bf16" else (rz,):
                out.append(dict(method="dense", kpass="fwd", M=shape[0], K=shape[1], N=shape[2],
                                m_slots=m_list[0], precision=prec, **tile))
                for m_slots in m_list:
                    for method in ("roast", "hashednet", "roast_aligned"):
                        full = prec == "bf16" and tile is rz and method != "roast_aligned"
                        passes = ("fwd", "dx", "db") if full else ("fwd",)
                        for kpass in passes:
                            out.append(dict(method=method, kpass=kpass, M=shape[0], K=shape[1], N=shape[2],
                                            m_slots=m_slots, precision=prec, **tile))
    return out


def orchestrate(a):
    from cachesim.measure.records import write_record

    ncu = shutil.which("ncu") or "/usr/local/cuda/bin/ncu"
    recs = []
    path = os.path.join(a.out, f"gpu_ncu_{a.set}.json")
    deadline = time.time() + a.budget_s
    for c in cases(a.set):
        if time.time() > deadline:
            recs.append({"type": "skipped", **c, "reason": f"budget {a.budget_s} s reached"})
            continue
        regex = CUBLAS_REGEX if c["method"] == "cublas" else f"regex:{KERNEL_REGEX[c['kpass']]}"
        drv = [sys.executable, os.path.abspath(__file__), "--drive"]
        for key, val in c.items():
            drv += [f"--{key}", str(val)]
        cmd = [ncu, "--clock-control", "none", "--csv", "--metrics", ",".join(METRICS), "--kernel-name",
               regex, "--launch-skip", "1", "--launch-count", "1"] + drv
        t0 = time.time()
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        metrics, rows = parse_csv(p.stdout)
        if not metrics and "metric" in (p.stdout + p.stderr).lower():
            # an unknown metric name stops ncu: retry with the base set
            cmd[cmd.index("--metrics") + 1] = ",".join(BASE_METRICS)
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            metrics, rows = parse_csv(p.stdout)
        rec = {"type": "ncu", **c, "returncode": p.returncode, "metrics": metrics, "ncu_command": cmd,
               "wall_s": round(time.time() - t0, 1)}
        if not metrics:
            rec["stdout_tail"] = p.stdout[-3000:]
            rec["stderr_tail"] = p.stderr[-3000:]
        recs.append(rec)
        short = {k.split("__")[1][:40]: v["value"] for k, v in metrics.items()}
        print(c["method"], c["kpass"], c["precision"], c["M"], c["K"], c["N"], c["m_slots"], c["block_n"],
              "rc", p.returncode, short, flush=True)
        if not metrics:
            print(p.stdout[-1500:], p.stderr[-1500:], flush=True)
        write_record(path, "gpu-ncu", recs, notes="Nsight Compute counters, --clock-control none, one "
                     "profiled launch after one warm-up launch in the same process.")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--drive", action="store_true")
    ap.add_argument("--set", default="smoke", choices=("smoke", "full", "vec"))
    ap.add_argument("--out", default=".")
    ap.add_argument("--budget-s", type=float, default=400.0)
    for name in ("M", "K", "N", "m_slots", "block_m", "block_n", "block_k", "group_m", "num_warps",
                 "num_stages"):
        ap.add_argument(f"--{name}", type=int)
    ap.add_argument("--method")
    ap.add_argument("--kpass")
    ap.add_argument("--precision")
    a = ap.parse_args()
    if a.drive:
        drive(a)
    else:
        orchestrate(a)


if __name__ == "__main__":
    main()
