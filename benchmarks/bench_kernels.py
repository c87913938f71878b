"""Kernel traffic benchmark: BERT-base FFN (M=4096, K=768, N=3072) on the H200 model.

Prints, for dense / ROAST / HashedNet (BLOCK 128x64x32, fp32, H = 2^20 elements):
the simulation time, the per-level counts, the predicted time and its dominant term, the HashedNet/ROAST
and ROAST/dense ratios (simulation and analytic model side by side), and the speed of this module's
replay against the peer (per-SM :class:`cachesim.Cache` objects + a shared engine L2, fed the same
sector stream) on a smaller GEMM.

    python benchmarks/bench_kernels.py [--shape MxKxN] [--memory H] [--skip-peer]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from cachesim import Cache, LevelConfig
from cachesim.kernels import (
    analytic_gemm,
    gemm_sector_trace,
    get_target,
    plan_gemm,
    predict_gpu,
    simulate_gemm_gpu,
)
from cachesim.kernels._replay_kernel import BYPASS0
from cachesim.kernels.cost import n_waves


def peer_replay(plan, target, l1_bytes):
    """Per-SM engine Caches + one engine L2 on the same sector stream (the peer)."""
    l1s = [Cache(LevelConfig("L1", l1_bytes, 128, target.l1_ways, sector=32, write_policy="write-through"))
           for _ in range(target.num_sms)]
    l2 = Cache(LevelConfig("L2", target.l2_bytes, 128, target.l2_ways, sector=32))
    l1_req = 0
    for rows in gemm_sector_trace(plan, target.num_sms):
        addr, sm, op, flags = rows.expand()
        load = op < 2
        through = load & ((flags & BYPASS0) == 0)
        to_l2 = ~through
        for s in np.unique(sm[through]):
            sel = np.flatnonzero(through & (sm == s))
            to_l2[sel[~l1s[s].access(addr[sel])]] = True
        l1_req += int(load.sum())
        idx = np.flatnonzero(to_l2)
        l2.access(addr[idx], write=~load[idx])
    return l1_req


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", default="4096x768x3072")
    ap.add_argument("--memory", type=int, default=1 << 20)
    ap.add_argument("--skip-peer", action="store_true")
    a = ap.parse_args()
    t = get_target("h200")
    kw = dict(shape=a.shape, block="128x64x32", memory=a.memory, dtype="fp32")
    simulate_gemm_gpu(kind="dense", shape="128x128x128", block="64x64x32")  # JIT warm-up
    print(f"GEMM {a.shape}, BLOCK 128x64x32 fp32, H={a.memory}, target h200 ({t.num_sms} SMs)")
    res = {}
    for backward in (False, True):
        for kind in ("dense", "roast", "hashednet"):
            plan = plan_gemm(kind, backward=backward, **kw)
            t0, c0 = time.perf_counter(), time.process_time()
            sim = simulate_gemm_gpu(plan, target=t)
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
            t0 = time.perf_counter()
            ana = analytic_gemm(plan, target=t)
            dta = time.perf_counter() - t0
            waves = n_waves(plan.n_programs, t.num_sms)
            cost = predict_gpu(sim, t, n_waves=waves)
            res[kind, backward] = (sim, ana, cost)
            tag = "dW " if backward else "fwd"
            print(f"{tag} {kind:10s} sim {dt:6.2f} s wall {dc:6.2f} s CPU (analytic {dta * 1e3:5.1f} ms)"
                  f"  instr {sim.load_instructions:>9}"
                  f"  L1 req {sim.l1_sector_requests:>10}  L1 miss {sim.l1_sector_misses:>10}"
                  f"  L2 miss {sim.l2_sector_misses:>8}  DRAM {sim.dram_bytes / 2**20:7.1f} MiB"
                  f"  predicted {cost.predicted_time_s * 1e6:7.1f} us ({cost.dominant})")
    for backward in (False, True):
        hn, ro, de = (res[k, backward] for k in ("hashednet", "roast", "dense"))
        tag = "dW " if backward else "fwd"
        print(f"{tag} HashedNet/ROAST: L1 sector requests sim {hn[0].ratio(ro[0]):.3f} analytic "
              f"{hn[1].ratio(ro[1]):.3f}; predicted time {hn[2].ratio(ro[2]):.3f}x, dominant term "
              f"{hn[2].dominant} (ROAST: {ro[2].dominant})")
        print(f"{tag} ROAST/dense:     L1 sector requests sim {ro[0].ratio(de[0]):.3f} analytic "
              f"{ro[1].ratio(de[1]):.3f}; predicted time {ro[2].ratio(de[2]):.3f}x")
    if a.skip_peer:
        return
    small = replace(t, num_sms=16)
    plan = plan_gemm("roast", "512x768x768", block="128x64x32", memory=a.memory)
    l1_bytes = 12 * 128 * 64  # power-of-two sets, as the engine requires
    t0 = time.perf_counter()
    ours = simulate_gemm_gpu(plan, target=small, l1_bytes=l1_bytes)
    d_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    peer_req = peer_replay(plan, small, l1_bytes)
    d_peer = time.perf_counter() - t0
    print(f"replay speed, ROAST 512x768x768 on 16 SMs ({ours.l1_sector_requests} sector requests; "
          f"same count from the peer: {peer_req == ours.l1_sector_requests}): ours {d_ours:.2f} s, peer "
          f"(engine Cache per SM + L2) {d_peer:.2f} s, ratio peer/ours {d_peer / d_ours:.1f}x")


if __name__ == "__main__":
    main()
