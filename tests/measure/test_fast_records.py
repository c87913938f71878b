"""The headline reader against FAST.md, whose tables ``drivers/fast_report.py`` writes by its own code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cachesim.errors import CacheSimError
from cachesim.measure.fast_records import fast_headline, fast_train_steps

GPU = Path(__file__).resolve().parents[2] / "measurements" / "gpu"


def _fast_md_forward_rows() -> dict:
    rows = {}
    for line in (GPU / "FAST.md").read_text().splitlines():
        m = re.match(r"\| (\d+x\d+x\d+) \| (\d+) \(\d+x\) \| ([\d.]+) \| ([\d.]+) \(.*?\) \| "
                     r"([\d.]+) \((\S+), (\S+)\) \| ([\d.]+) \| ([\d.]+) \| ([\d./ ]+) \| ([\d.]+) \|", line)
        if m:
            rows[(m[1], int(m[2]))] = m
    return rows


def test_headline_equals_the_fast_md_tables():
    rows = _fast_md_forward_rows()
    heads = fast_headline(GPU)
    assert len(heads) == len(rows) == 10
    for h in heads:
        m = rows[(h.shape, h.memory)]
        assert (float(m[3]), float(m[5])) == (round(h.cublas_ms, 4), round(h.roast_ms, 4))
        assert m[6] == h.roast_variant and m[7] == h.roast_config
        assert float(m[8]) == round(h.roast_over_cublas, 2)
        assert float(m[9]) == round(h.roast_over_dense_same_config, 2)
        hn = [float(v) for v in m[10].split(" / ")]
        assert hn == [round(h.hashednet_ms[i], 3) for i in ("hash", "mulshift", "table", "arith-only")]
        assert float(m[11]) == round(h.hashednet_over_roast("hash"), 1)
        assert set(h.to_dict()["hashednet_over_roast"]) == {"hash", "mulshift", "table", "arith-only"}


def test_train_steps_pair_each_kernel_with_its_cublas_step():
    steps = fast_train_steps(GPU)
    assert steps and all(s.passed for s in steps)
    bert = [s for s in steps if s.shape == "4096x768x3072" and s.impl == "roast-a64"]
    assert bert and all(1.0 < s.over_cublas < 3.0 for s in bert)
    assert all(s.to_dict()["over_cublas"] == s.ms_graph / s.cublas_ms_graph for s in steps)


def test_tuned_train_steps_are_read_and_checked():
    tuned = fast_train_steps(GPU, "gpu-fast-train-tuned")
    assert tuned and all(s.passed for s in tuned)
    bert = ("roast-a64", "4096x768x3072")
    best = min(s.over_cublas for s in tuned if (s.impl, s.shape) == bert)
    first = min(s.over_cublas for s in fast_train_steps(GPU) if (s.impl, s.shape) == bert)
    assert best < first  # the tuned backward configurations are faster than the first ones


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(CacheSimError, match="gpu-fast-focus"):
        fast_headline(tmp_path)
    with pytest.raises(CacheSimError, match="index='nope'"):
        fast_headline(GPU)[0].hashednet_over_roast("nope")
