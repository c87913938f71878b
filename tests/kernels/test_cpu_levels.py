"""The analytic per-level reuse of the CPU gather model against the exact simulator's recorded misses."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachesim.kernels.cpu_levels import INDEX_BYTES, VALUE_BYTES, line_accesses_per_element, lru_hit_fraction
from cachesim.measure.geometry import record_hierarchy
from cachesim.measure.records import load_records

CPU = Path(__file__).resolve().parents[2] / "measurements" / "cpu"


def test_hashednet_misses_per_level_match_the_simulator():
    """measurements/cpu/gather_sim.json: the engine replayed the gather (idx 8 B read, M[idx] 4 B read, W 4 B
    write per element) through set-associative LRU levels. Per element, misses = the idx and W stream lines
    (12 / 64) + the random line of M when it misses, whose hit fraction is :func:`lru_hit_fraction`."""
    rec = load_records(CPU, "cpu_gather_simulated")[0]
    levels = record_hierarchy(rec).levels
    stream = (INDEX_BYTES + VALUE_BYTES) / 64
    checked = 0
    for case in rec.cases:
        if case["pattern"] != "hashednet":
            continue
        lines = case["h_bytes"] / 64
        for lv, misses in zip(levels, case["misses"]):
            model = stream + 1.0 - lru_hit_fraction(lines, lv.size / 64, stream)
            assert misses / case["n_elements"] == pytest.approx(model, abs=0.01), (case["h_bytes"], lv.name)
            checked += 1
    assert checked == 18 * 3


def test_roast_first_level_misses_match_the_simulator_within_a_line_per_run():
    """ROAST's L1 misses: the model counts (BN e - e) / line + 1 lines per 64-element run; the simulator
    finds the line shared with the tile's previous row still in L1 (1/16 per element). Past L1 the
    simulated W (1024 x 1024) touches only 4 MiB of M, which stays in L3 across passes: compared at L1."""
    rec = load_records(CPU, "cpu_gather_simulated")[0]
    l1 = record_hierarchy(rec).levels[0]
    u1, _ = line_accesses_per_element("roast")
    stream = (INDEX_BYTES + VALUE_BYTES) / 64
    for case in rec.cases:
        if case["pattern"] == "roast" and case["h_bytes"] >= 1 << 20:
            model = stream + u1 * (1 - lru_hit_fraction(case["h_bytes"] / 64, l1.size / 64, stream / u1))
            sim = case["misses"][0] / case["n_elements"]
            assert sim <= model <= sim + (u1 - 1 / 16) + 1e-3
