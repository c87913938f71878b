"""CPU gather sweep: time W = M[idx] for HashedNet and ROAST index patterns as M grows past L1/L2/L3,
then set the measured knees beside the simulated per-level misses of the same gather.

Writes measurements/cpu/gather_sweep.json (measured, provenance-stamped, with the caches this machine's
/sys reports) and measurements/cpu/gather_sim.json (the simulated misses, stamped with the command that
simulated them and the resolved cache geometry they were simulated with),
and prints per H the median ns per element, the HashedNet/ROAST time ratio (torch index_select and numpy
take), the simulated misses per element per level, and the knee comparison.

    python drivers/cpu_gather.py [--quick] [--skip-measure] [--skip-sim] [--hierarchy host]
"""

from __future__ import annotations

import argparse
import os
import sys

from cachesim.measure.cpu import (
    GatherSweep,
    SimulatedGatherSweep,
    compare_knees,
    gather_sweep,
    simulate_gather_sweep,
)
from cachesim.measure.records import load_records, write_record


def _log(s):
    print(s, file=sys.stderr, flush=True)


def _measured(args, sizes, write) -> GatherSweep:
    if args.skip_measure:
        return GatherSweep.from_cases(load_records(args.dir, "cpu_gather_sweep")[0].cases)
    load_before = os.getloadavg()
    sweep = gather_sweep(sizes, repeats=3 if args.quick else args.repeats, warmup=2, progress=_log)
    load_after = os.getloadavg()
    if write:
        notes = (f"W = M[idx], W 2048x2048 float32, int64 idx, ROAST tile 32x64 circular, single "
                 f"thread; median of {args.repeats} after 2 warm-ups; loadavg(1,5,15) before "
                 f"{load_before}, after {load_after} (other jobs share this 2-core VM and its L3)")
        rec = write_record(f"{args.dir}/gather_sweep.json", "cpu_gather_sweep", sweep.to_cases(),
                           notes=notes, hierarchy="host")
        _log(f"wrote {rec.path}")
    return sweep


def _simulated(args, sizes, write) -> SimulatedGatherSweep:
    if args.skip_sim:
        return SimulatedGatherSweep.from_cases(load_records(args.dir, "cpu_gather_simulated")[0].cases)
    small = [h for h in sizes if h <= 2 << 20]
    big = [h for h in sizes if h > 2 << 20]
    part_a = simulate_gather_sweep(small, shape=(512, 512), hierarchy=args.hierarchy, progress=_log)
    part_b = simulate_gather_sweep(big, shape=(1024, 1024), hierarchy=args.hierarchy, progress=_log)
    sim = SimulatedGatherSweep(part_a.results + part_b.results)
    if write:
        notes = (f"simulated (not measured): cachesim Simulator, preset {args.hierarchy!r}, trace per "
                 f"element idx read 8 B + M[idx] read 4 B + W write 4 B, 1 warm-up pass, fresh "
                 f"idx/W lines per pass; W 512x512 for H <= 2 MiB, 1024x1024 above")
        rec = write_record(f"{args.dir}/gather_sim.json", "cpu_gather_simulated", sim.to_cases(),
                           notes=notes, hierarchy=args.hierarchy)
        _log(f"wrote {rec.path}")
    return sim


def _print_table(sweep: GatherSweep, sim: SimulatedGatherSweep, clocks) -> None:
    h = sweep.h_bytes()
    hn_t, ro_t = sweep.curve("hashednet", "torch"), sweep.curve("roast", "torch")
    hn_n, ro_n = sweep.curve("hashednet", "numpy"), sweep.curve("roast", "numpy")
    sim_h = list(sim.h_bytes())
    names = sim.level_names
    sim_curves = {n: sim.curve("hashednet", n) for n in names}
    print(f"{'H bytes':>11s} {'HN torch':>9s} {'RO torch':>9s} {'ratio':>6s} {'HN numpy':>9s} "
          f"{'RO numpy':>9s} {'ratio':>6s}  simulated HashedNet misses/element "
          + " ".join(f"{n:>6s}" for n in names))
    for i, hb in enumerate(h):
        j = sim_h.index(hb) if hb in sim_h else None
        sim_txt = " ".join(f"{sim_curves[n][j]:6.3f}" for n in names) if j is not None else ""
        print(f"{hb:11d} {hn_t[i]:9.3f} {ro_t[i]:9.3f} {hn_t[i] / ro_t[i]:6.2f} {hn_n[i]:9.3f} "
              f"{ro_n[i]:9.3f} {hn_n[i] / ro_n[i]:6.2f}  {'':35s}{sim_txt}")
    if "cpu" in clocks:
        print("CPU time (thread_time) per element, HashedNet torch / ROAST torch / ratio:")
        cpu_hn, cpu_ro = sweep.curve("hashednet", "torch", "cpu"), sweep.curve("roast", "torch", "cpu")
        for hb, a, b in zip(h, cpu_hn, cpu_ro):
            print(f"{hb:11d} {a:9.3f} {b:9.3f} {a / b:6.2f}")


def _effective_l3(args, sizes, sweep: GatherSweep, clock: str) -> None:
    """Fit against a simulation whose last level has ``--effective-l3`` bytes (nothing written)."""
    from dataclasses import replace

    from cachesim import load_hierarchy

    base = load_hierarchy(args.hierarchy)
    levels = base.levels[:-1] + (replace(base.levels[-1], size=args.effective_l3),)
    alt = replace(base, levels=levels, name=f"{base.name}-L3={args.effective_l3}")
    small = [h for h in sizes if h <= 2 << 20]
    big = [h for h in sizes if 2 << 20 < h <= 64 * args.effective_l3]
    sim_alt = SimulatedGatherSweep(
        simulate_gather_sweep(small, shape=(256, 256), hierarchy=alt, schemes=("hashednet",)).results
        + simulate_gather_sweep(big, shape=(512, 512), hierarchy=alt, schemes=("hashednet",)).results)
    for backend in ("torch", "numpy"):
        print(compare_knees(sweep, sim_alt, backend=backend, clock=clock).format())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 KiB..8 MiB, 3 repeats, nothing written")
    ap.add_argument("--skip-measure", action="store_true", help="use the measured record already on disk")
    ap.add_argument("--skip-sim", action="store_true", help="use the simulated record already on disk")
    ap.add_argument("--hierarchy", default="host", help="cachesim preset for the simulation")
    ap.add_argument("--dir", default="measurements/cpu")
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--effective-l3", type=int, default=0, metavar="BYTES",
                    help="also fit against a simulation whose last level has this size (nothing written)")
    args = ap.parse_args(argv)
    top = 8 << 20 if args.quick else 512 << 20
    sizes = [4 << 10 << k for k in range(64) if (4 << 10 << k) <= top]
    write = not args.quick
    sweep = _measured(args, sizes, write)
    sim = _simulated(args, sizes, write)
    clocks = ("wall", "cpu") if all(t.cpu_times_s for t in sweep.timings) else ("wall",)
    _print_table(sweep, sim, clocks)
    for backend in ("torch", "numpy"):
        for clock in clocks:
            print(compare_knees(sweep, sim, backend=backend, clock=clock).format())
    if args.effective_l3:
        _effective_l3(args, sizes, sweep, clocks[-1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
