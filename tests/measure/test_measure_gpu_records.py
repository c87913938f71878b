"""The GPU records in measurements/gpu: provenance, recorded correctness, and ncu counts vs hand counts.

The hand counts are independent of both the kernels and the model: a tile load of ``rows x cols`` bf16
elements whose rows start on 32-byte boundaries touches ``rows * cols * 2 / 32`` sectors; the grid reads
X once per column block and W once per row block; a HashedNet B load costs one sector per element.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cachesim.measure.records import load_records

GPU = Path(__file__).resolve().parents[2] / "measurements" / "gpu"
LD = "l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum"
REQ = "l1tex__t_requests_pipe_lsu_mem_global_op_ld.sum"


def _cases(kind, type_):
    return [c for r in load_records(GPU, kind) for c in r.cases if c.get("type") == type_]


def test_every_record_was_made_on_the_h200_with_provenance():
    recs = [r for k in ("gpu-smoke", "gpu-timing", "gpu-ncu", "gpu-timing-vec") for r in load_records(GPU, k)]
    assert len(recs) >= 5
    for r in recs:
        assert r.provenance["gpu"] == "NVIDIA H200"
        # records made before the drivers moved keep their old path
        assert r.provenance["command"].startswith(("benchmarks/gpu_", "drivers/gpu_"))
        assert "triton" in r.provenance["versions"]


def test_all_recorded_correctness_checks_passed():
    checks = _cases("gpu-smoke", "check") + _cases("gpu-timing", "check") + _cases("gpu-timing-vec", "check")
    assert len(checks) >= 100
    for c in checks:
        assert c["index_match"], c
        assert max(c["err_fwd"], c["err_dx"], c["err_db"]) <= c["tolerance"], c
    # every method and precision was checked on the GPU
    assert {(c["method"], c["precision"]) for c in checks} >= {
        (m, p) for m in ("dense", "roast", "hashednet") for p in ("fp32", "tf32", "bf16")}


def test_recorded_errors_are_only_shared_memory_overflows():
    errs = [c for k in ("gpu-smoke", "gpu-timing") for c in _cases(k, "error")]
    assert errs, "the sweep tried tiles that do not fit; they must be recorded, not dropped"
    assert all("OutOfResources" in c["error"] and "shared memory" in c["error"] for c in errs)


def _hand_ld_sectors(c, b_sectors_per_elem=None):
    m, k, n = c["M"], c["K"], c["N"]
    bm, bn = c["block_m"], c["block_n"]
    a = m * k * 2 // 32 * (n // bn)          # X read once per column block
    if b_sectors_per_elem is None:
        b = k * n * 2 // 32 * (m // bm)       # W read once per row block
    else:
        b = k * n * (m // bm) * b_sectors_per_elem
    return a + b


@pytest.mark.parametrize("method, per_elem", [("dense", None), ("hashednet", 1)])
def test_ncu_forward_sectors_equal_hand_count(method, per_elem):
    rows = [c for c in _cases("gpu-ncu", "ncu") if c["method"] == method and c["kpass"] == "fwd"
            and c["precision"] == "bf16"]
    assert rows
    for c in rows:
        assert c["metrics"][LD]["value"] == _hand_ld_sectors(c, per_elem), c["M"]


def test_ncu_roast_sectors_between_aligned_and_one_extra_per_request():
    """ROAST B rows of BN bf16 (BN*2/32 sectors) plus at most one extra sector per load request."""
    rows = [c for c in _cases("gpu-ncu", "ncu") if c["method"] == "roast" and c["kpass"] == "fwd"
            and c["precision"] == "bf16"]
    assert rows
    for c in rows:
        aligned = _hand_ld_sectors(c)
        measured = c["metrics"][LD]["value"]
        requests = c["metrics"][REQ]["value"]
        assert aligned < measured <= aligned + requests
        # the diagnostic aligned-start kernel reads exactly the dense count
    for c in _cases("gpu-ncu", "ncu"):
        if c["method"] == "roast_aligned" and c["precision"] == "bf16":
            assert c["metrics"][LD]["value"] == _hand_ld_sectors(c)


def test_roast_faster_than_hashednet_in_every_bf16_and_tf32_timing():
    t = {}
    for c in _cases("gpu-timing", "time"):
        t[(c["impl"], c["precision"], c["M"], c["K"], c["N"], c["m_slots"], c["block_n"])] = c
    pairs = [(v, t.get(("triton_hashednet", *k[1:]))) for k, v in t.items() if k[0] == "triton_roast"]
    pairs = [(r, h) for r, h in pairs if h is not None and r["precision"] != "fp32"]
    assert len(pairs) >= 20
    for r, h in pairs:
        assert h["fwd_ms"] > r["fwd_ms"] and h["train_ms"] > r["train_ms"]


def test_read_once_parses_a_folder_once_and_only_inside_the_block(tmp_path, monkeypatch):
    from cachesim.measure import records

    records.write_record(tmp_path / "a.json", "kind-a", [{"x": 1}])
    records.write_record(tmp_path / "b.json", "kind-b", [{"x": 2}])
    reads = []
    real = records._read_record
    monkeypatch.setattr(records, "_read_record", lambda p: reads.append(p) or real(p))
    with records.read_once():
        assert [r.kind for r in load_records(tmp_path, "kind-a")] == ["kind-a"]
        assert [r.kind for r in load_records(tmp_path, "kind-b")] == ["kind-b"]
        assert len(load_records(tmp_path)) == 2
    assert len(reads) == 2
    load_records(tmp_path, "kind-a")
    assert len(reads) == 4
