"""Tables of measurements/gpu/FAST.md, generated from the gpu_fast records (no number is typed by hand).

    PYTHONPATH=. python3 drivers/fast_report.py > /tmp/tables.md

Reads ``measurements/gpu/call18_headline`` and ``call15_tma`` (TMA kernels, ``drivers/gpu_tma.py``),
``measurements/gpu/call9_final/gpu_fast_focus.json`` (forward sweep), ``call6_check`` (full
ablation incl. align 1/8), ``call8_focus`` (ncu), ``call10_launch_train`` (launch check) and
``call11_train_graph`` (training steps).
"""

from __future__ import annotations

import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cachesim.measure.fast_records import index_fast_cases  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "measurements", "gpu")
SHAPES = [(4096, 768, 3072), (4096, 3072, 768), (4096, 4096, 4096), (8192, 4096, 4096), (512, 10240, 10240)]
HN = ("hashednet-hash", "hashednet-mulshift", "hashednet-table", "hashednet-arith-only")
ALIGNED_ROAST = re.compile(r"^(tma-|fast-)?roast-.*-a(64|128|256)-t")
DENSE = ("dense", "fast-dense", "tma-dense")


def load(folder, name):
    with open(os.path.join(ROOT, folder, name)) as f:
        return json.load(f)["cases"]


def fmt(x, d=4):
    return "-" if x is None else f"{x:.{d}f}"


def _dense_label(d) -> str:
    """``config``, or ``variant, config`` when the record holds several dense kernel families."""
    return d["config"] if d["variant"] == "dense" else f"{d['variant']}, {d['config']}"


def forward_table(cases, mem_pos, baselines=True):
    best, times = index_fast_cases(cases)
    rows = ["| M x K x N | memory | cuBLAS ms | Triton dense ms (config) | "
            "fast ROAST-MM ms (variant, config) | "
            "/ cuBLAS | / dense same config | HashedNet hash / mulshift / table / arith-only ms | "
            "HashedNet hash / ROAST | gather ROAST / HashedNet ms |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for m, k, n in SHAPES:
        mems = sorted({key[3] for key in best if key[:3] == (m, k, n)}, reverse=True)
        if len(mems) <= mem_pos:
            continue
        key = (m, k, n, mems[mem_pos])
        b = best[key]
        r = min((c for v, c in b.items() if ALIGNED_ROAST.match(v)), key=lambda c: c["ms"])
        d = min((b[v] for v in DENSE if v in b), key=lambda c: c["ms"])
        tma_or_fast = r["variant"].startswith(("tma-", "fast-"))
        family = r["variant"].split("-")[0] + "-dense" if tma_or_fast else "dense"
        same = times[key][family].get(r["config"])
        if not baselines:
            rows.append(f"| {m}x{k}x{n} | {mems[mem_pos]} | {fmt(b['cublas']['ms'])} | "
                        f"{fmt(d['ms'])} ({d['variant']}, {d.get('config', '-')}) | "
                        f"{fmt(r['ms'])} ({r['variant']}, {r['config']}) | "
                        f"{r['ms'] / b['cublas']['ms']:.2f} | "
                        f"{r['ms'] / same:.2f} | - | - | - |")
            continue
        hn = " / ".join(fmt(b[v]["ms"], 3) for v in HN)
        gr = next((c["ms"] for v, c in sorted(b.items()) if v.startswith("gather-roast")), None)
        gh = b.get("gather-hashednet-hash", {}).get("ms")
        comp = k * n / mems[mem_pos]
        rows.append(f"| {m}x{k}x{n} | {mems[mem_pos]} ({comp:.0f}x) | {fmt(b['cublas']['ms'])} | "
                    f"{fmt(d['ms'])} ({_dense_label(d)}) | {fmt(r['ms'])} ({r['variant']}, {r['config']}) | "
                    f"{r['ms'] / b['cublas']['ms']:.2f} | {r['ms'] / same:.2f} | {hn} | "
                    f"{b['hashednet-hash']['ms'] / r['ms']:.1f} | {fmt(gr)} / {fmt(gh)} |")
    return "\n".join(rows)


def ablation_table(cases, shape, mem_pos=0):
    best, times = index_fast_cases(cases)
    mems = sorted({key[3] for key in best if key[:3] == shape}, reverse=True)
    key = (*shape, mems[mem_pos])
    b = best[key]
    rows = [f"| variant ({shape[0]}x{shape[1]}x{shape[2]}, memory {mems[mem_pos]}) | best ms | config | "
            "/ cuBLAS | / dense same config |", "|---|---|---|---|---|"]
    for v in sorted(b, key=lambda v: b[v]["ms"]):
        c = b[v]
        same = times.get(key, {}).get("dense", {}).get(c.get("config"))
        rows.append(f"| {v} | {fmt(c['ms'])} | {c.get('config', '-')} | {c['ms'] / b['cublas']['ms']:.2f} | "
                    f"{'-' if not same else format(c['ms'] / same, '.2f')} |")
    return "\n".join(rows)


NCU = {"smsp__inst_executed.sum": "instructions",
       "l1tex__t_requests_pipe_lsu_mem_global_op_ld.sum": "ld requests",
       "l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum": "ld sectors",
       "lts__t_sectors_srcunit_tex_op_read.sum": "L2 read sectors",
       "l1tex__data_pipe_lsu_wavefronts_mem_shared.sum": "smem wavefronts",
       "smsp__average_warps_issue_stalled_long_scoreboard_per_issue_active.ratio": "long-scoreboard stall",
       "gpu__time_duration.sum": "ncu time us"}


def ncu_table(cases, shape_name):
    rows = ["| kernel | config | " + " | ".join(NCU.values()) + " |", "|---|---|" + "---|" * len(NCU)]
    for c in cases:
        if c.get("type") != "ncu" or c["shape"] != shape_name:
            continue
        vals = []
        for k in NCU:
            v = c["metrics"].get(k)
            if k == "gpu__time_duration.sum" and isinstance(v, float):
                v = v / 1000
            vals.append(f"{v:.3g}" if isinstance(v, float) else str(v))
        rows.append(f"| {c['variant']} | {c['config']} | " + " | ".join(vals) + " |")
    return "\n".join(rows)


def sass_table(folder="call7_time"):
    """Loop-body instruction mix of every kernel in ``sass_fast.txt`` (``gpu_fast.loop_mix``)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "_gpu_fast", os.path.join(os.path.dirname(os.path.abspath(__file__)), "gpu_fast.py"))
    g = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(g)
    with open(os.path.join(ROOT, folder, "sass_fast.txt")) as f:
        parts = f.read().split("##### ")[1:]
    cols = (("LDGSTS", "LDGSTS"), ("LDG", "LDG."), ("STS", "STS"), ("LDS", "LDS"), ("BAR", "BAR"),
            ("HGMMA", "HGMMA"), ("CALL", "CALL"), ("LDL/STL", ("LDL", "STL")))
    rows = ["| kernel | config | regs | loop instructions | " + " | ".join(c for c, _ in cols) + " |",
            "|---|---|---|---|" + "---|" * len(cols)]
    for part in parts:
        head, body = part.split("\n", 1)
        name, cfg, regs = head.split()[:3]
        mix = g.loop_mix(body)
        counts = [str(sum(v for op, v in mix.items() if op.startswith(pre))) if mix else "-"
                  for _, pre in cols]
        total = sum(mix.values()) if mix else "no backward branch found"
        rows.append(f"| {name} | {cfg} | {regs.split('=')[1]} | {total} | " + " | ".join(counts) + " |")
    return "\n".join(rows)


def launch_table(cases):
    rows = ["| shape | kernel | config | L2-flushed ms | 20 back-to-back ms | CUDA graph ms |",
            "|---|---|---|---|---|---|"]
    for c in cases:
        if c.get("type") == "launch":
            rows.append(f"| {c['M']}x{c['K']}x{c['N']} | {c['variant']} | {c['config']} | "
                        f"{fmt(c['ms_flushed'])} | {fmt(c['ms_back_to_back'])} | {fmt(c['ms_graph'])} |")
    return "\n".join(rows)


def _over_cublas_graph(cs):
    """``(case, "graph / cuBLAS graph" text)`` for each training-step case of one group ("-" without a
    cuBLAS graph time)."""
    cub = next((c["ms_graph"] for c in cs if c["impl"] == "cublas"), None)
    for c in cs:
        yield c, ("-" if not (cub and c.get("ms_graph")) else f"{c['ms_graph'] / cub:.2f}")


def train_table(cases):
    rows = ["| shape | memory | bwd config (block_m, block_k, warps, prefetch) | step | flushed ms | "
            "CUDA graph ms | graph / cuBLAS graph | checks |", "|---|---|---|---|---|---|---|---|"]
    groups = {}
    for c in cases:
        if c.get("type") == "train":
            bc = c["bwd_config"]
            key = (c["M"], c["K"], c["N"], c["memory"], (bc["block_m"], bc["block_k"], bc["num_warps"],
                                                         bc.get("prefetch")))
            groups.setdefault(key, []).append(c)
    for key, cs in groups.items():
        for c, ratio in _over_cublas_graph(cs):
            rows.append(f"| {key[0]}x{key[1]}x{key[2]} | {key[3]} | {key[4]} | {c['impl']} | "
                        f"{fmt(c['ms'])} | "
                        f"{fmt(c.get('ms_graph'))} | {ratio} | {'pass' if c['passed'] else 'FAIL'} |")
    return "\n".join(rows)


def tma_train_table(cases):
    """Training steps of a gpu_tma record: every step of each case over its cuBLAS step."""
    rows = ["| shape | memory | step | flushed ms | CUDA graph ms | graph / cuBLAS graph | checks | "
            "kernels |",
            "|---|---|---|---|---|---|---|---|"]
    groups = {}
    for c in cases:
        if c.get("type") == "train":
            groups.setdefault((c["M"], c["K"], c["N"], c["memory"]), []).append(c)
    for key, cs in groups.items():
        for c, ratio in _over_cublas_graph(cs):
            rows.append(f"| {key[0]}x{key[1]}x{key[2]} | {key[3]} | {c['impl']} | {fmt(c['ms'])} | "
                        f"{fmt(c.get('ms_graph'))} | {ratio} | {'pass' if c['passed'] else 'FAIL'} | "
                        f"{c.get('configs') or '-'} |")
    return "\n".join(rows)


def tma_pass_table(cases):
    """Best TMA dX and weight-gradient configuration per (shape, memory, kernel) of a gpu_tma record."""
    best = {}
    for c in cases:
        if c.get("type") in ("dx", "grad") and c.get("ms"):
            key = (c["type"], c["M"], c["K"], c["N"], c["memory"], c["variant"])
            if key not in best or c["ms"] < best[key]["ms"]:
                best[key] = c
    rows = ["| pass | shape | memory | kernel | best ms | config |", "|---|---|---|---|---|---|"]
    for (kind, m, k, n, mem, v), c in sorted(best.items(), key=lambda kv: str(kv[0])):
        rows.append(f"| {kind} | {m}x{k}x{n} | {mem} | {v} | {fmt(c['ms'])} | {c['config']} |")
    return "\n".join(rows)


def tma_sections():
    """The tables of the TMA section (call18_headline, with call15_tma as an independent repeat)."""
    head = load("call18_headline", "gpu_fast_tma-headline.json")
    rep = load("call15_tma", "gpu_fast_tma.json")
    return ["### Forward, compression ~8x (call18_headline)", forward_table(head, 0), "",
            "### Forward, compression ~64x (call18_headline)", forward_table(head, 1), "",
            "### Forward, independent repeat without the HashedNet kernels (call15_tma), ~8x",
            forward_table(rep, 0, baselines=False), "",
            "### Training steps (call18_headline)", tma_train_table(head), "",
            "### Best TMA dX and weight-gradient passes (call18_headline)", tma_pass_table(head), "",
            "### ncu at 4096x768x3072 (call19_tma_ncu)",
            ncu_table(load("call19_tma_ncu", "gpu_fast_tma-ncu.json"), "bert-ffn1"), "",
            "### ncu at 4096x3072x768 (call19_tma_ncu)",
            ncu_table(load("call19_tma_ncu", "gpu_fast_tma-ncu.json"), "bert-ffn2")]


def main():
    final = load("call9_final", "gpu_fast_focus.json")
    out = [*tma_sections(), "", "### Forward, compression ~8x", forward_table(final, 0), "",
           "### Forward, compression ~64x", forward_table(final, 1), "",
           "### Ablation at 4096x768x3072 (call6_check: every align / index)",
           ablation_table(load("call6_check", "gpu_fast_check.json"), (4096, 768, 3072)), "",
           "### Ablation at 512x10240x10240 (call6_check)",
           ablation_table(load("call6_check", "gpu_fast_check.json"), (512, 10240, 10240), 1), "",
           "### ncu at 4096x768x3072 (call8_focus)",
           ncu_table(load("call8_focus", "gpu_fast_focus.json"), "bert-ffn1"),
           "", "### ncu at 512x10240x10240 (call8_focus)",
           ncu_table(load("call8_focus", "gpu_fast_focus.json"), "authors"), "",
           "### SASS loop bodies (call7_time/sass_fast.txt)", sass_table(), "",
           "### Launch overhead check (call10_launch_train)",
           launch_table(load("call10_launch_train", "gpu_fast_launch.json")), "",
           "### Training steps (call11_train_graph)",
           train_table(load("call11_train_graph", "gpu_fast_train.json"))]
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
