"""The TMA load path of the issue-aware model: description, traffic, loop mixes from the record."""

from pathlib import Path

import pytest

from cachesim.errors import CacheSimError
from cachesim.kernels import predict
from cachesim.kernels.issue import TMA_LOOP_LOADS, TMA_LOOP_MIXES, describe
from cachesim.kernels.sass import loop_mix, parse_load_profiles, parse_sass_listings

SASS = Path(__file__).resolve().parents[2] / "measurements" / "gpu" / "call18_headline" / "sass_tma.txt"


@pytest.mark.skipif(not SASS.exists(), reason="GPU record not present")
def test_tma_loop_mixes_are_recounted_from_the_recorded_sass():
    text = SASS.read_text()
    mixes = {tuple(h.split()[:2]): m for h, m in parse_sass_listings(text).items()}
    profiles = {tuple(h.split()[:2]): p for h, p in parse_load_profiles(text).items()}
    for key, (n, stall, ldl, gld, regs, shared) in TMA_LOOP_MIXES.items():
        m = mixes[key]
        assert (m.instructions, m.stall_cycles, m.local_loads, m.by_class["global"], m.registers,
                m.shared_bytes) == (n, stall, ldl, gld, regs, shared), key
        assert m.by_class["mma"] > 0  # the k-loop, not the epilogue's barrier-wait loop
        p = profiles[key]
        assert (p.load_chain, p.lsu_instructions, p.spill_bytes) == TMA_LOOP_LOADS[key], key


def test_loop_is_the_shortest_region_holding_the_mma():
    text = "\n".join([
        "--:-:-:-:1\tMOV R1, 0x0;", "LBB0:", "--:-:-:-:1\tIADD3 R2, R2, 1, RZ;", "LBB1:",
        "--:-:-:-:4\tHGMMA.64x128x16.F32.BF16 R24, gdesc[UR20], R24;", "--:-:-:-:2\t@P0 BRA LBB1;",
        "--:-:-:-:1\tFMUL R3, R3, R3;", "--:-:-:-:1\tFMUL R4, R4, R4;", "--:-:-:-:1\t@P1 BRA LBB0;",
        "--:-:-:-:1\tEXIT;"])
    m = loop_mix(text)
    assert m.instructions == 2 and m.stall_cycles == 6 and m.by_class["mma"] == 1


def test_tma_description_rules():
    d = describe("roast", "table", 128, (64, 128), loads="tma")
    assert d.tma and d.variant == "tma-roast-table-a128"
    assert describe("dense", loads="tma").variant == "tma-dense"


@pytest.mark.parametrize("args, msg", [
    (("hashednet", "table", None, None, "tma"), "HashedNet gathers element by element"),
    (("roast", "hash", 128, (64, 128), "tma"), "index='hash'"),
    (("roast", "table", 8, None, "tma"), "align=8 must be one of 64, 128, 256"),
    (("roast", "table", 128, (64, 256), "tma"), "align=128 must equal the tile's BN=256"),
    (("roast", "table", 64, None, "box"), "loads='box' must be one of pointer, tma"),
])
def test_tma_description_errors(args, msg):
    with pytest.raises(CacheSimError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        describe(*args[:4], loads=args[4])


def _predict(kernel, load_path, **kw):
    return predict(kernel, "4096x768x3072", "h200", dtype="bf16", block="128x128x64", num_warps=4,
                   num_stages=3, analytic=True, load_path=load_path, cost_model="issue", **kw)


def test_tma_traffic_sends_every_box_sector_to_l2():
    ptr = _predict("roast", "auto", memory=262144, index="table", align=64, tile=(64, 128))
    tma = _predict("roast", "tma", memory=262144, index="table", align=128, tile=(64, 128))
    for name in ("A", "B"):
        op_t = tma.traffic.operand(name)
        assert op_t.instructions == 0
        assert op_t.l1_sector_misses == op_t.l1_sector_requests
    assert tma.traffic.operand("A").l1_sector_requests == ptr.traffic.operand("A").l1_sector_requests
    # a ROAST box (align == BN) covers whole rows: B elements x 2 bytes / 32, the same as dense W's boxes
    assert tma.traffic.operand("B").l1_sector_requests == 768 * 3072 * (4096 // 128) * 2 / 32
    dense = _predict("dense", "tma")
    assert tma.traffic.operand("B").l1_sector_requests == dense.traffic.operand("B").l1_sector_requests
    assert tma.traffic.l2_sector_requests == pytest.approx(dense.traffic.l2_sector_requests)
    assert tma.traffic.dram_bytes == ptr.traffic.dram_bytes
    assert tma.terms["L1"] == 0.0 and ptr.terms["L1"] > 0.0


def test_tma_needs_the_issue_model():
    with pytest.raises(CacheSimError, match="load_path='tma' needs cost_model='issue'"):
        predict("dense", "512x512x512", "h200", dtype="bf16", load_path="tma", cost_model="roofline",
                analytic=True)


# --- launch schedules (persistent, warp-specialised), from the offline listings of every timed pair -------

TMA_OFFLINE = SASS.parents[1] / "sass_offline" / "gpu_sass_tma_offline.json"
_KW = dict(dtype="bf16", num_stages=3, memory=1 << 20, analytic=True, load_path="tma", tile=(64, 128),
           align=128)


@pytest.mark.skipif(not TMA_OFFLINE.exists(), reason="offline TMA record not present")
def test_offline_tma_loops_equal_the_device_listings():
    import json

    cases = {(c["variant"], c["config"]): c for c in json.loads(TMA_OFFLINE.read_text())["cases"][1:]}
    assert not [k for k, c in cases.items() if "error" in c or not c["loop_closed"]]
    for key, want in TMA_LOOP_MIXES.items():  # the six pairs the device dumped
        m = cases[key]["loop_mix"]
        got = tuple(m[k] for k in ("instructions", "stall_cycles", "local_loads", "global_loads",
                                   "registers", "shared_bytes"))
        assert got == want, key


@pytest.mark.skipif(not TMA_OFFLINE.exists(), reason="offline TMA record not present")
def test_warp_specialised_flags_are_read_from_the_listings():
    import gzip
    import json
    import re

    text = gzip.decompress((TMA_OFFLINE.parent / "sass_tma_offline.txt.gz").read_bytes()).decode()
    sections = {tuple(s.splitlines()[0].split()[:2]): s.split("\n", 1)[1].rstrip("\n")
                for s in re.split(r"^##### ", text, flags=re.M)[1:]}
    cases = [c for c in json.loads(TMA_OFFLINE.read_text())["cases"][1:] if c["config"].endswith("-pw")]
    assert cases
    for c in cases:
        sass = sections[(c["variant"], c["config"])]
        assert c["warp_specialized"] == ("USETMAXREG" in sass)
        persistent = sections[(c["variant"], c["config"][:-1])]
        assert c["same_as_persistent"] == (sass == persistent)
        assert c["same_as_persistent"] != c["warp_specialized"]
        assert c["warp_specialized"] == ("-w4-" in c["config"])  # what Triton 3.6.0 did at every pair


def test_persistent_launch_keeps_one_program_per_sm_and_pays_the_table_wait():
    from cachesim.kernels.targets import get_target

    cal = get_target("h200").calibration
    plain = predict("roast", "4096x768x3072", "h200", index="table", block="64x128x64", num_warps=4, **_KW)
    pers = predict("roast", "4096x768x3072", "h200", index="table", block="64x128x64", num_warps=4,
                   schedule="persistent", **_KW)
    assert plain.issue.programs_per_sm >= 2 and pers.issue.programs_per_sm == 1
    assert pers.issue.schedule == "persistent"
    clock = cal["sm_clock_ghz"] / cal["micro_clock_ghz"]
    elements = 768 * 3072 * (4096 // 64)
    # one program per SM, 2 MiB, 24 KiB of boxes per step (A 64x64, B 64x128): call37's 24 KiB pair
    want = elements / clock * (1 / 2.222e12 - 1 / 3.009e12)
    want *= 1.03125  # 1536 programs on 132 SMs: the busiest runs 12 (12 x 132 / 1536)
    assert pers.terms["lsu_excess"] == pytest.approx(want, rel=1e-3)
    assert pers.predicted_time_s > plain.predicted_time_s


def test_warp_specialised_where_triton_split_the_loop():
    kw = dict(block="64x128x64", **_KW)
    split = predict("roast", "4096x768x3072", "h200", index="table", num_warps=4,
                    schedule="warp-specialized", **kw)
    assert split.issue.schedule == "warp-specialized" and split.terms["lsu_excess"] == 0.0
    assert split.issue.mix_config.endswith("-pw")  # its own (producer / consumer) listing
    same = predict("roast", "4096x768x3072", "h200", index="table", num_warps=8,
                   schedule="warp-specialized", **kw)
    pers = predict("roast", "4096x768x3072", "h200", index="table", num_warps=8, schedule="persistent",
                   **kw)
    assert same.issue.schedule == "persistent" and same.terms["lsu_excess"] == pers.terms["lsu_excess"] > 0


@pytest.mark.parametrize("kw, match", [
    (dict(schedule="pipelined", load_path="tma"), "schedule='pipelined' must be one of"),
    (dict(schedule="persistent", load_path="auto"), "needs load_path='tma'"),
    (dict(schedule=["persistent"], load_path="tma"), "must be one of"),
])
def test_bad_schedule_is_a_clear_error(kw, match):
    with pytest.raises(CacheSimError, match=match):
        predict("roast", "4096x768x3072", "h200", dtype="bf16", block="64x128x64", memory=1 << 20,
                analytic=True, index="table", align=128 if kw["load_path"] == "tma" else 64, **kw)


def test_cli_schedule_flag(capsys):
    import json

    from roast_toolkit.cli.cachesim_cmd import main

    base = ["kernel", "--kernel", "roast", "--shape", "4096x768x3072", "--dtype", "bf16", "--block",
            "64x128x64", "--memory", "1048576", "--analytic", "--index", "table", "--align", "128",
            "--load-path", "tma", "--json"]
    assert main(base + ["--schedule", "persistent"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["predicted_time_s"] > 0
    assert main(base + ["--schedule", "sometimes"]) == 2
    out, err = capsys.readouterr()
    assert "schedule='sometimes' must be one of" in err and "Traceback" not in err


# --- the input-gradient kernel dX = dY W^T ------------------------------------------------------------------

def test_dx_is_priced_as_its_own_gemm_with_its_own_listing():
    kw = dict(block="128x64x128", num_warps=4, **_KW)
    dx = predict("roast", "4096x768x3072", "h200", index="table", transpose=True, **kw)
    assert (dx.shape.m, dx.shape.k, dx.shape.n) == (4096, 3072, 768)  # reduction over the layer's N
    assert dx.issue.mix_config == "128x64x128-g8-w4-s3-dx"
    assert dx.issue.iterations == 3072 // 128
    dense = predict("dense", "4096x768x3072", "h200", transpose=True,
                    **{k: v for k, v in kw.items() if k not in ("tile", "align", "memory")})
    assert dense.issue.mix_config == "128x64x128-g8-w4-s3-dx"
    # the same B elements as the forward kernel, as whole rows: K x N x (M / BM) x 2 bytes / 32
    b = [op for op in dx.traffic.by_operand if op.name.startswith("B")][0]
    assert b.l1_sector_requests == 768 * 3072 * (4096 // 128) * 2 / 32


@pytest.mark.parametrize("kw, match", [
    (dict(transpose=True, load_path="auto", align=64), "transpose=True needs load_path='tma'"),
    (dict(transpose="yes", load_path="tma", align=128), "transpose='yes' must be True or False"),
])
def test_bad_transpose_is_a_clear_error(kw, match):
    with pytest.raises(CacheSimError, match=match):
        predict("roast", "4096x768x3072", "h200", dtype="bf16", block="128x64x128", memory=1 << 20,
                analytic=True, index="table", **kw)


def test_cli_transpose_flag(capsys):
    import json

    from roast_toolkit.cli.cachesim_cmd import main

    base = ["kernel", "--kernel", "dense", "--shape", "4096x768x3072", "--dtype", "bf16", "--block",
            "128x64x128", "--analytic", "--load-path", "tma", "--cost-model", "issue", "--json"]
    assert main(base + ["--transpose"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["predicted_time_s"] > 0
    pointer = [a for a in base if a not in ("--load-path", "tma")]
    assert main(pointer + ["--transpose"]) == 2  # the pointer kernel has no dX model
    out, err = capsys.readouterr()
    assert "needs load_path='tma'" in err and "Traceback" not in err


@pytest.mark.skipif(not TMA_OFFLINE.exists(), reason="offline TMA record not present")
def test_dx_listings_split_like_the_forward_ones():
    import json

    cases = [c for c in json.loads(TMA_OFFLINE.read_text())["cases"][1:] if c["config"].endswith("-pw-dx")]
    assert cases and all(c["loop_closed"] for c in cases)
    for c in cases:
        assert c["warp_specialized"] == ("-w4-" in c["config"]) != c["same_as_persistent"]


@pytest.mark.skipif(not TMA_OFFLINE.exists(), reason="offline TMA record not present")
def test_start_table_loops_ignore_num_stages():
    """Every unsplit start-table listing is the same at 3 and 4 stages; every dense / int32-hash one differs
    (what the table miss cause in COMPARISON.md says)."""
    import json

    cases = {(c["variant"], c["config"]): c for c in json.loads(TMA_OFFLINE.read_text())["cases"][1:]}
    pairs = [(x, cases[(v, c.replace("-s3", "-s4"))]) for (v, c), x in cases.items()
             if "-s3" in c and (v, c.replace("-s3", "-s4")) in cases]
    assert len(pairs) > 50
    for x, y in pairs:
        table = "table" in x["variant"] and not x["warp_specialized"]
        assert (x["sha256"] == y["sha256"]) == table, (x["variant"], x["config"])


def test_schedule_record_absent_or_unreadable(tmp_path):
    from cachesim.kernels.tma import compiled_schedule

    # absent: the listings' rule (split only at 4 warps with 64-row blocks)
    assert compiled_schedule("tma-dense", "64x128x64-g8-w4-s3", "warp-specialized",
                             record=tmp_path / "absent.json") == "warp-specialized"
    assert compiled_schedule("tma-dense", "64x128x64-g8-w8-s3", "warp-specialized",
                             record=tmp_path / "absent.json") == "persistent"
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CacheSimError, match="not a readable record"):
        compiled_schedule("tma-dense", "64x128x64-g8-w4-s3", "warp-specialized", record=bad)
    with pytest.raises(CacheSimError, match="schedule='sometimes' must be one of"):
        compiled_schedule("tma-dense", "64x128x64-g8-w4-s3", "sometimes")
