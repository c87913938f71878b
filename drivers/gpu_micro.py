"""Device script: microbenchmarks that price the cost model's terms (index arithmetic, load issue, traffic).

Run from the repository root on the GPU machine::

    PYTHONPATH=. python3 drivers/gpu_micro.py --out $OUT --budget-s 200

Each benchmark is a small Triton kernel that does ONE kind of work over a grid large enough to fill the
chip, timed with ``triton.testing.do_bench(..., return_mode="median")``; the record gives the rate per
second of that work (hash evaluations, warp load requests, sectors) so that the cost model can price a
kernel's counts without fitting anything to the kernels it predicts:

* ``hash-modp``   the authors' HashedNet index ``((k*R1 + n*R2 + R3) mod P) mod H`` in int64 (runtime P, H);
* ``hash-mulshift`` a multiply-shift index (two 32-bit multiplies, a shift; H a power of two);
* ``hash-rz``     RzLinear's ``stable`` tile start, once per 64 x 64 tile (int64 mod by a runtime prime);
* ``gather``      scattered 2-byte loads ``M[idx]`` (idx uniform in [0, H)), for H fitting L1, L2 or DRAM;
* ``stream``      contiguous 16-byte vector loads of the same arrays (the coalesced reference).

Every kernel reduces what it computed into one value per program that is stored, so nothing is optimised
away; the stored sums are checked against numpy for the hash kernels on a small grid. The record is
rewritten after every group, so a run cut off at its limit still returns data.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cachesim.measure.records import write_record  # noqa: E402

P_HN = 2038074743      # the HashedNet Triton hash's prime
P_RZ = 45007           # RzLinear stable's prime
R = (1234567, 7654321, 424242)
MUL = (0x1E3779B1, 0x05EBCA77)   # odd, < 2**31 (passed as int32, used as uint32)


def _kernels():
    import triton
    import triton.language as tl

    @triton.jit
    def hash_modp(out_ptr, K, N, r1, r2, r3, P, H, BLOCK: tl.constexpr):
        pid = tl.program_id(0)
        n = tl.arange(0, BLOCK)
        acc = tl.zeros((BLOCK,), dtype=tl.int64)
        for k in range(0, K):
            kk = (pid * K + k).to(tl.int64)
            h = ((kk * r1 + n.to(tl.int64) * r2 + r3) % P) % H
            acc += h
        tl.store(out_ptr + pid * BLOCK + n, acc)

    @triton.jit
    def hash_mulshift(out_ptr, K, N, a, b, SHIFT: tl.constexpr, BLOCK: tl.constexpr):
        pid = tl.program_id(0)
        n = tl.arange(0, BLOCK).to(tl.uint32)
        au = a.to(tl.uint32)
        bu = b.to(tl.uint32)
        acc = tl.zeros((BLOCK,), dtype=tl.uint32)
        for k in range(0, K):
            kk = (pid * K + k).to(tl.uint32)
            h = (kk * au + n * bu) >> SHIFT
            acc += h
        tl.store(out_ptr + pid * BLOCK + tl.arange(0, BLOCK), acc)

    @triton.jit
    def gather(m_ptr, out_ptr, K, H, a, b, SHIFT: tl.constexpr, BLOCK: tl.constexpr):
        pid = tl.program_id(0)
        n = tl.arange(0, BLOCK).to(tl.uint32)
        au = a.to(tl.uint32)
        bu = b.to(tl.uint32)
        acc = tl.zeros((BLOCK,), dtype=tl.float32)
        for k in range(0, K):
            kk = (pid * K + k).to(tl.uint32)
            idx = (kk * au + n * bu) >> SHIFT
            acc += tl.load(m_ptr + idx).to(tl.float32)
        tl.store(out_ptr + pid * BLOCK + tl.arange(0, BLOCK), acc)

    @triton.jit
    def stream(m_ptr, out_ptr, K, HMASK, BLOCK: tl.constexpr):
        pid = tl.program_id(0)
        n = tl.arange(0, BLOCK)
        acc = tl.zeros((BLOCK,), dtype=tl.float32)
        for k in range(0, K):
            base = ((pid * K + k) * BLOCK) & HMASK
            acc += tl.load(m_ptr + tl.multiple_of(base, BLOCK) + n).to(tl.float32)
        tl.store(out_ptr + pid * BLOCK + n, acc)

    return triton, dict(hash_modp=hash_modp, hash_mulshift=hash_mulshift, gather=gather, stream=stream)


def _bench(triton, fn) -> float:
    return float(triton.testing.do_bench(fn, warmup=25, rep=100, return_mode="median")) * 1e-3


def check_hashes(torch, kern, device) -> dict:
    """The hash kernels' stored sums against numpy on a small grid (the kernels compute what they claim)."""
    progs, K, B, H = 4, 8, 128, 1 << 20
    out = torch.empty(progs * B, dtype=torch.int64, device=device)
    kern["hash_modp"][(progs,)](out, K, B, R[0], R[1], R[2], P_HN, H, BLOCK=B)
    kk = (np.arange(progs)[:, None, None] * K + np.arange(K)[None, :, None]).astype(np.int64)
    n = np.arange(B, dtype=np.int64)[None, None, :]
    want = (((kk * R[0] + n * R[1] + R[2]) % P_HN) % H).sum(axis=1).reshape(-1)
    ok_mod = bool(np.array_equal(out.cpu().numpy(), want))
    out32 = torch.empty(progs * B, dtype=torch.int32, device=device)
    kern["hash_mulshift"][(progs,)](out32, K, B, MUL[0], MUL[1], SHIFT=12, BLOCK=B)
    kk32 = kk.astype(np.uint64)
    h = (((kk32 * MUL[0] + n.astype(np.uint64) * MUL[1]) & 0xFFFFFFFF) >> 12).astype(np.uint64)
    want32 = (h.sum(axis=1) & 0xFFFFFFFF).astype(np.uint32).reshape(-1)
    ok_ms = bool(np.array_equal(out32.cpu().numpy().view(np.uint32), want32))
    return {"hash_modp_equal_numpy": ok_mod, "hash_mulshift_equal_numpy": ok_ms}


def hash_cases(torch, triton, kern, device, programs, K, B) -> list[dict]:
    out64 = torch.empty(programs * B, dtype=torch.int64, device=device)
    out32 = torch.empty(programs * B, dtype=torch.int32, device=device)
    evals = programs * K * B
    t_mod = _bench(triton, lambda: kern["hash_modp"][(programs,)](out64, K, B, R[0], R[1], R[2], P_HN,
                                                                   1 << 22, BLOCK=B))
    t_ms = _bench(triton, lambda: kern["hash_mulshift"][(programs,)](out32, K, B, MUL[0], MUL[1], SHIFT=10,
                                                                     BLOCK=B))
    return [{"type": "hash", "name": "hash-modp", "evaluations": evals, "seconds": t_mod,
             "per_second": evals / t_mod, "programs": programs, "K": K, "BLOCK": B},
            {"type": "hash", "name": "hash-mulshift", "evaluations": evals, "seconds": t_ms,
             "per_second": evals / t_ms, "programs": programs, "K": K, "BLOCK": B}]


def load_cases(torch, triton, kern, device, programs, K, B, log2_sizes) -> list[dict]:
    rows = []
    out = torch.empty(programs * B, dtype=torch.float32, device=device)
    for lg in log2_sizes:
        H = 1 << lg
        m = torch.randn(H, dtype=torch.bfloat16, device=device)
        loads = programs * K * B
        t_g = _bench(triton, lambda m=m, H=H, lg=lg: kern["gather"][(programs,)](
            m, out, K, H, MUL[0], MUL[1], SHIFT=32 - lg, BLOCK=B))
        t_s = _bench(triton, lambda m=m, H=H: kern["stream"][(programs,)](m, out, K, H - 1, BLOCK=B))
        warp_requests = loads // 32
        rows.append({"type": "gather", "name": "gather-bf16", "memory": H, "memory_bytes": 2 * H,
                     "elements": loads, "seconds": t_g, "elements_per_second": loads / t_g,
                     "warp_requests_per_second": warp_requests / t_g, "sectors_per_second": loads / t_g,
                     "programs": programs, "K": K, "BLOCK": B})
        rows.append({"type": "stream", "name": "stream-bf16", "memory": H, "memory_bytes": 2 * H,
                     "elements": loads, "seconds": t_s, "bytes_per_second": 2 * loads / t_s,
                     "programs": programs, "K": K, "BLOCK": B})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--budget-s", type=float, default=200.0)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--small", action="store_true",
                    help="tiny grids (a CPU dry run under TRITON_INTERPRET=1)")
    args = ap.parse_args(argv)
    import torch

    triton, kern = _kernels()
    t0 = time.monotonic()
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "gpu_micro.json")
    command = [sys.executable, *sys.argv]
    programs, K, B = (4, 4, 128) if args.small else (132 * 16, 256, 1024)
    cases: list[dict] = [{"type": "check", **check_hashes(torch, kern, args.device)}]
    write_record(path, "gpu-micro", cases, notes="microbenchmarks for the cost model", command=command)
    cases += hash_cases(torch, triton, kern, args.device, programs, K, B)
    write_record(path, "gpu-micro", cases, notes="microbenchmarks for the cost model", command=command)
    sizes = (12, 16) if args.small else (14, 16, 20, 23, 25, 28)   # 32 KiB ... 512 MiB of bf16
    for lg in sizes:
        if time.monotonic() - t0 > args.budget_s:
            break
        cases += load_cases(torch, triton, kern, args.device, programs, K, B, (lg,))
        write_record(path, "gpu-micro", cases, notes="microbenchmarks for the cost model", command=command)
    for c in cases:
        print({k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in c.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
