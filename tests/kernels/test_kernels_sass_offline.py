"""The offline SASS record (compiled for sm_90 on a CPU host) against the SASS the H200 recorded, and the
cost model's use of it. Reads the stored files only (no Triton)."""

import json
import re
from pathlib import Path

import pytest

from cachesim import CacheSimError
from cachesim.kernels import Block, GemmShape, get_target, loop_table
from cachesim.kernels.issue import LOOP_LOADS, LOOP_MIXES, describe, estimate_issue
from cachesim.kernels.sass import load_profile, loop_mix, read_listings, remainder_path

GPU = Path(__file__).resolve().parents[2] / "measurements" / "gpu"
DEVICE = GPU / "call7_time" / "sass_fast.txt"
OFFLINE = GPU / "sass_offline"
needs_files = pytest.mark.skipif(not (DEVICE.exists() and loop_table.RECORD.exists()),
                                 reason="GPU records not present")


def _sections(text: str) -> dict:
    """``{(variant, config): (header, listing)}`` of a listings file."""
    out = {}
    for sec in re.split(r"^##### ", text, flags=re.M)[1:]:
        head, _, body = sec.partition("\n")
        out[tuple(head.split()[:2])] = (head.strip(), body.rstrip("\n"))
    return out


def _instruction_lines(listing: str) -> list:
    return [ln for ln in listing.splitlines() if re.match(r"^[0-9a-fA-F\-]{2}:", ln)]


def _record_cases() -> dict:
    data = json.loads(loop_table.RECORD.read_text())
    return {(c["variant"], c["config"]): c for c in data["cases"] if c["type"] == "sass"}


#: The device listings of ``table-pf`` were dumped (call7_time) from the kernel source before its start
#: loads went through ``_ld_pair`` (commit d577ddf: the first table row read without the ``min(kb, n_kb -
#: 1)`` clamp); compiled offline from that source they are the device's byte for byte (README of
#: ``measurements/gpu/sass_offline``); the record holds today's source, whose prologue differs.
SOURCE_CHANGED = {("roast-table-pf-a8-t32x64", "128x64x32-g8-w4-s4"),
                  ("roast-table-pf-a8-t32x64", "256x64x64-g8-w8-s4"),
                  ("roast-table-pf-a8-t64x128", "128x128x64-g8-w4-s4"),
                  ("roast-table-pf-a8-t64x128", "256x128x64-g8-w8-s3"),
                  ("roast-table-pf-a64-t64x128", "128x128x64-g8-w4-s4"),
                  ("roast-table-pf-a64-t64x128", "256x128x64-g8-w8-s3"),
                  ("roast-table-pf-a64-t64x256", "128x256x64-g8-w8-s3"),
                  ("roast-table-pf-a64-t64x256", "128x256x64-g8-w8-s4")}


@needs_files
def test_offline_listings_equal_the_device_listings():
    """Every listing the device recorded from today's kernel source is the offline listing, byte for byte
    (the device's HashedNet hash listing is the offline one cut at 4096 instructions, where Triton 3.6's
    disassembler stops); exactly the ``table-pf`` listings, dumped from older source, differ."""
    device = _sections(DEVICE.read_text())
    offline = _sections(read_listings(OFFLINE / "sass_offline.txt.gz"))
    assert len(device) == 23
    differ = set()
    for key, (head, body) in device.items():
        o_head, o_body = offline[key]
        if key == ("hashednet-hash", "128x128x64-g8-w4-s4"):
            # instructions only: branches past the cut add labels inside the first 4096 instructions
            cut, full = _instruction_lines(body), _instruction_lines(o_body)
            assert o_head == head and len(cut) == 4096 and full[:4096] == cut and len(full) > 4096
        elif (o_head, o_body) != (head, body):
            differ.add(key)
    assert differ == SOURCE_CHANGED


@needs_files
def test_offline_loop_counts_equal_the_device_tables():
    """The offline record's loop mix and load profile equal ``LOOP_MIXES`` / ``LOOP_LOADS`` (counted from
    the device's listings) for all 14 recorded pairs."""
    table = loop_table.offline_loops()
    assert len(LOOP_MIXES) == 14
    for key in LOOP_MIXES:
        assert table.mixes[key] == LOOP_MIXES[key], key
        assert table.loads[key] == LOOP_LOADS[key], key


@needs_files
def test_offline_record_counts_are_recounted_from_its_listings():
    cases = _record_cases()
    offline = _sections(read_listings(OFFLINE / "sass_offline.txt.gz"))
    assert set(offline) == set(cases) and len(cases) >= 150
    for key in sorted(cases)[::7] + [("hashednet-hash", "128x128x64-g8-w4-s4")]:
        head, body = offline[key]
        path = remainder_path(key[0])
        mix, prof = loop_mix(body, kernel=head, remainder=path), load_profile(body, remainder=path)
        c = cases[key]
        assert c["specialisations"] == 1 and not c.get("error"), key
        assert (mix.instructions, mix.stall_cycles, mix.local_loads, mix.by_class["global"], mix.registers,
                mix.shared_bytes) == tuple(c["loop_mix"].values()), key
        assert (prof.load_chain, prof.lsu_instructions, prof.spill_bytes, prof.spill_waits) == tuple(
            c["load_profile"].values())
    # the spilling loops: fewer waits than reloads (a wait covers every reload issued before it)
    waits = loop_table.offline_loops().spill_waits
    assert waits[("hashednet-arith-only", "128x128x64-g8-w4-s4")] == 149 < 292
    assert waits[("hashednet-hash", "128x128x64-g8-w4-s4")] == 99 < 170


@needs_files
def test_hashednet_hash_has_a_complete_loop_offline():
    mix = loop_table.offline_loops().mixes[("hashednet-hash", "128x128x64-g8-w4-s4")]
    arith = LOOP_MIXES[("hashednet-arith-only", "128x128x64-g8-w4-s4")]
    # the same per-element hash (64 remainder calls, the subroutine side) with the scattered loads the
    # arith-only kernel lacks and fewer spill reloads: within 2 % of its instructions, as Nsight Compute saw
    # (256.7 M vs 258.8 M executed warp instructions at 4096x768x3072, call8_focus)
    assert abs(mix[0] / arith[0] - 1) < 0.02 and mix[3] > arith[3] and mix[2] < arith[2]


@needs_files
def test_estimate_uses_the_exact_offline_loop():
    """A configuration only the offline compile listed: its counts, unscaled, and its own shared memory."""
    key = ("roast-table-a64-t64x128", "64x128x64-g8-w4-s4")
    assert key not in LOOP_MIXES
    n, stall, _, _, regs, shared = loop_table.offline_loops().mixes[key]
    e = estimate_issue(describe("roast", "table", 64, tile=(64, 128)), GemmShape.parse("4096x768x3072"),
                       Block.parse("64x128x64"), get_target("h200"), num_stages=4)
    assert (e.instructions_per_iteration, e.stall_cycles_per_iteration, e.mix_config) == (n, stall, key[1])
    assert e.lsu_instructions_per_iteration == loop_table.offline_loops().loads[key][1]
    # without a tile the description takes the program's BK x BN tile: the same listing
    d = estimate_issue(describe("roast", "table", 64), GemmShape.parse("4096x768x3072"),
                       Block.parse("64x128x64"), get_target("h200"), num_stages=4)
    assert d.instructions_per_iteration == n


def test_missing_record_falls_back_to_scaling(monkeypatch, tmp_path):
    monkeypatch.setattr(loop_table, "RECORD", tmp_path / "absent.json")
    monkeypatch.setattr(loop_table, "TMA_RECORD", tmp_path / "absent-tma.json")
    assert loop_table.offline_loops().mixes == {}
    e = estimate_issue(describe("roast", "table", 64, tile=(64, 128)), GemmShape.parse("4096x768x3072"),
                       Block.parse("64x128x64"), get_target("h200"), num_stages=4)
    n = LOOP_MIXES[("roast-table-a64-t64x128", "128x128x64-g8-w4-s4")][0]
    assert e.mix_config == "128x128x64-g8-w4-s4"
    assert e.instructions_per_iteration == pytest.approx(n * (64 * 128 / 128) / (64 * 128 / 128))


def test_bad_record_is_an_error(monkeypatch, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"kind": "gpu-fast-time", "cases": []}))
    monkeypatch.setattr(loop_table, "RECORD", bad)
    with pytest.raises(CacheSimError, match="kind='gpu-fast-time'"):
        loop_table.offline_loops()
    bad.write_text("{not json")
    loop_table._read.cache_clear()
    with pytest.raises(CacheSimError, match="not readable JSON"):
        loop_table.offline_loops()


def test_failed_and_open_cases_are_kept_apart(monkeypatch, tmp_path):
    rec = tmp_path / "r.json"
    names = ("instructions", "stall_cycles", "local_loads", "global_loads", "registers", "shared_bytes")
    mix = dict(zip(names, (10, 20, 0, 2, 64, 1024)))
    rec.write_text(json.dumps({"kind": "gpu-sass-offline", "cases": [
        {"type": "env"},
        {"type": "sass", "variant": "dense", "config": "a", "loop_mix": mix,
         "load_profile": {"chain": 0, "lsu": 3, "spill": 0}},
        {"type": "sass", "variant": "dense", "config": "b", "error": "CompilationError: x"},
        {"type": "sass", "variant": "dense", "config": "c", "loop_mix": None}]}))
    monkeypatch.setattr(loop_table, "RECORD", rec)
    monkeypatch.setattr(loop_table, "TMA_RECORD", tmp_path / "absent-tma.json")
    t = loop_table.offline_loops()
    assert t.mixes == {("dense", "a"): (10, 20, 0, 2, 64, 1024)} and t.loads == {("dense", "a"): (0, 3, 0)}
    assert t.failed == {("dense", "b"): "CompilationError: x",
                        ("dense", "c"): "no closed k-loop in the listing"}
    assert t.to_dict()["mixes"] == {"dense a": [10, 20, 0, 2, 64, 1024]}


@needs_files
def test_loop_counts_against_nsight_compute():
    """Warp instructions of the launch from the loop count (``n x programs x warps x K / BK``) against
    ``smsp__inst_executed`` (call8_focus, 512x10240x10240: 160 k-iterations, the prologue and epilogue a few
    percent): 95-100 % for every kernel, the hashed ones included, once each guarded 64-bit remainder is
    counted on the side the hash runs (the ROAST in-loop hash: the inline 32-bit path; the HashedNet hash:
    the subroutine). Counting both sides, as a plain listing walk does, over-counts the ROAST hash loop
    2.2x and the HashedNet hash loop 17 %."""
    data = json.loads((GPU / "call8_focus" / "gpu_fast_focus.json").read_text())
    table = loop_table.offline_loops()
    ratios = {}
    for c in data["cases"]:
        if c.get("type") != "ncu" or c["variant"] == "cublas" or c["M"] != 512:
            continue
        key = (c["variant"], c["config"])
        bm, bn, bk = (int(v) for v in c["config"].split("-")[0].split("x"))
        warps = int(c["config"].split("-w")[1].split("-")[0])
        launch = table.mixes[key][0] * (c["M"] // bm) * (c["N"] // bn) * warps * (c["K"] // bk)
        ratios[key] = launch / c["metrics"]["smsp__inst_executed.sum"]
    assert len(ratios) == 18
    for key, ratio in ratios.items():
        assert 0.95 <= ratio <= 1.0, (key, ratio)


def test_guarded_remainder_counts_one_side():
    """A guarded 64-bit remainder: ``narrow`` keeps the inline side, ``wide`` the subroutine call,
    ``both`` (a listing walk) counts each."""
    text = "\n".join([
        "LBB9:", "--:-:-:-:1\tISETP.NE.U32.AND P0, PT, R3, RZ, PT;", "--:-:-:-:2\t@P0 BRA LBB0;",
        "--:-:-:-:3\tIMAD R4, R4, R5, RZ;", "--:-:-:-:3\tIADD3 R4, R4, 1, RZ;", "--:-:-:-:1\tBRA LBB1;",
        "LBB0:", "--:-:-:-:5\tCALL.REL.NOINC 0x90;", "LBB1:",
        "--:-:-:-:4\tHMMA.16816.F32.BF16 R8, R4, R6, R8;", "--:-:-:-:1\t@P1 BRA LBB9;",
        "--:-:-:-:1\tEXIT;", "--:-:-:-:7\tIMAD.WIDE R4, R4, R5, RZ;", "--:-:-:-:1\tRET.REL.NODEC R2 0x0;"])
    narrow = loop_mix(text, remainder="narrow")
    wide = loop_mix(text, remainder="wide")
    both = loop_mix(text)
    assert (narrow.instructions, narrow.calls) == (7, 0)      # ISETP, BRA, IMAD, IADD3, BRA, HMMA, BRA
    assert (wide.instructions, wide.calls) == (7, 1)         # ISETP, BRA, CALL + 2 subroutine, HMMA, BRA
    assert both.instructions == 10 and both.calls == 1
    assert narrow.stall_cycles == 1 + 2 + 3 + 3 + 1 + 4 + 1
    with pytest.raises(CacheSimError, match="remainder='odd'"):
        loop_mix(text, remainder="odd")


def test_tma_record_joins_the_table_and_is_checked(monkeypatch, tmp_path):
    rec = tmp_path / "tma.json"
    names = ("instructions", "stall_cycles", "local_loads", "global_loads", "registers", "shared_bytes")
    rec.write_text(json.dumps({"kind": "gpu-sass-tma-offline", "cases": [
        {"type": "sass", "variant": "tma-dense", "config": "a-p",
         "loop_mix": dict(zip(names, (9, 8, 0, 0, 64, 4))),
         "load_profile": {"chain": 0, "lsu": 0, "spill": 0}}]}))
    monkeypatch.setattr(loop_table, "RECORD", tmp_path / "absent.json")
    monkeypatch.setattr(loop_table, "TMA_RECORD", rec)
    assert loop_table.offline_loops().mixes == {("tma-dense", "a-p"): (9, 8, 0, 0, 64, 4)}
    monkeypatch.setattr(loop_table, "TMA_RECORD", tmp_path / "absent.json")
    monkeypatch.setattr(loop_table, "RECORD", rec)  # the TMA record where the pointer kernels' belongs
    with pytest.raises(CacheSimError, match="expected 'gpu-sass-offline'"):
        loop_table.offline_loops()
