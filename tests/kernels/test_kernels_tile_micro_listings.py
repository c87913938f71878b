"""The tile-path microbenchmark's compiled B path against the fused kernels' (stored listings only, no
Triton): which A-streamed rows price the tile path's excess (``tile_astream_same_b_path``)."""

import json
from pathlib import Path

from cachesim.kernels import get_target
from cachesim.kernels.sass import listing_sections, load_batch, read_listings, remainder_path

ROOT = Path(__file__).resolve().parents[2] / "measurements" / "gpu" / "sass_offline"


def _cases():
    return [c for c in json.loads((ROOT / "gpu_sass_tile_micro.json").read_text())["cases"]
            if c.get("type") == "sass"]


def _sections(path):
    """``{(name, second header word): section}`` of a listings file (the config, or the micro's warps)."""
    return {tuple(head.split()[:2]): sec for head, sec in listing_sections(read_listings(path)).items()}


def test_offline_compiles_are_the_devices():
    """Every timed launch of call21/call26/call28: 24 compiles, each with the device's registers and shared
    bytes."""
    cases = _cases()
    assert len(cases) == 24 and all(c["loop_closed"] for c in cases)
    assert all((c["registers"], c["shared_bytes"]) == (c["device_registers"], c["device_shared_bytes"])
               for c in cases)


def test_load_batch_is_recounted_from_the_listings():
    sec = _sections(ROOT / "sass_tile_micro.txt")
    for c in _cases():
        assert load_batch(sec[(c["name"], "w4")]) == c["load_batch"], c["name"]


def test_same_b_path_flag_is_recounted():
    """Align 8 / 64: LDGSTS copies, no shared store in the loop, in both variants. Align 1: the fixed-A loop
    issues all of its scalar B loads (BK x BN / 128 threads) before the first store, the A-streamed loop
    fewer than one tile's."""
    cases = _cases()
    by = {(c["align"], tuple(c["tile"]), c["bm"], c["a_stream"]): c["load_batch"] for c in cases}
    flags = {}
    for (align, tile, bm, stream), batch in by.items():
        if stream:
            flags.setdefault(1 if align == 1 else (8 if align < 64 else 64), set()).add(
                batch == by[(align, tile, bm, False)])
    assert flags == {1: {False}, 8: {True}, 64: {True}}
    for (align, tile, _bm, stream), batch in by.items():
        per_thread = tile[0] * tile[1] // 128
        if align == 1:
            assert (batch == per_thread) if not stream else (batch < per_thread)
        else:
            assert batch is None
    cal = get_target("h200").calibration
    assert cal["tile_astream_same_b_path"] == {k: v == {True} for k, v in flags.items()}


def test_fused_align1_kernels_issue_a_whole_tile_first():
    """Every fused align-1 listing (offline, every timed configuration) issues at least 15/16 of one ROAST
    tile's scalar loads per thread before its first shared store (the prefetched table loop at 128x64x64:
    15 of 16; all others the whole tile or more), as the fixed-A microbenchmark does (all of them); the
    A-streamed microbenchmark issues 8-13 of 16 (32x64) and 13-20 of 64 (64x128)."""
    micro = [c["load_batch"] / (c["tile"][0] * c["tile"][1] // 128) for c in _cases()
             if c["align"] == 1 and c["a_stream"]]
    assert max(micro) <= 13 / 16
    n = 0
    for (name, cfg), sec in _sections(ROOT / "sass_offline.txt.gz").items():
        if "-a1-" not in name:
            continue
        warps = int(cfg.split("-w")[1].split("-")[0])
        tk, tn = map(int, name.rsplit("-t", 1)[1].split("x"))
        assert load_batch(sec, remainder_path(name)) >= 15 / 16 * (tk * tn // (32 * warps)), (name, cfg)
        n += 1
    assert n == 30
