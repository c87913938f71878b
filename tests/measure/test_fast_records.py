"""The headline reader against FAST.md, whose tables ``drivers/fast_report.py`` writes by its own code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cachesim.errors import CacheSimError
from cachesim.measure.fast_records import fast_headline, fast_train_steps

GPU = Path(__file__).resolve().parents[2] / "measurements" / "gpu"


SECTIONS = {"gpu-fast-tma-headline": ("## TMA kernels", "### Forward, independent repeat"),
            "gpu-fast-focus": ("## Pointer kernels: forward", "## Pointer kernels: targets")}


def _fast_md_forward_rows(kind: str) -> dict:
    """Forward rows of the FAST.md section generated from the ``kind`` record."""
    text = (GPU / "FAST.md").read_text()
    start, end = SECTIONS[kind]
    rows = {}
    for line in text[text.index(start):text.index(end)].splitlines():
        m = re.match(r"\| (\d+x\d+x\d+) \| (\d+) \(\d+x\) \| ([\d.]+) \| ([\d.]+) \(.*?\) \| "
                     r"([\d.]+) \((\S+), (\S+)\) \| ([\d.]+) \| ([\d.]+) \| ([\d./ ]+) \| ([\d.]+) \|", line)
        if m:
            rows[(m[1], int(m[2]))] = m
    return rows


@pytest.mark.parametrize("kind", sorted(SECTIONS))
def test_headline_equals_the_fast_md_tables(kind):
    rows = _fast_md_forward_rows(kind)
    heads = fast_headline(GPU, kind)
    assert len(heads) == len(rows) == 10
    assert all(h.source.startswith(("call18_headline", "call9_final")) for h in heads)
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


def test_the_default_headline_is_the_newest_format():
    assert [h.to_dict() for h in fast_headline(GPU)] == [h.to_dict() for h in fast_headline(
        GPU, "gpu-fast-tma-headline")]


def test_the_tma_headline_record_meets_the_kernel_targets():
    """The issue's targets, read from the recorded headline (bf16, do_bench medians, same run)."""
    limit = {"4096x768x3072": 1.25, "4096x3072x768": 1.25, "4096x4096x4096": 1.25, "8192x4096x4096": 1.25,
             "512x10240x10240": 1.6}
    for h in fast_headline(GPU, "gpu-fast-tma-headline"):
        assert h.roast_over_cublas <= limit[h.shape], (h.shape, h.memory)
        assert h.roast_over_dense_same_config <= 1.1, (h.shape, h.memory)
    steps = fast_train_steps(GPU, "gpu-fast-tma-headline")
    assert steps and all(s.passed for s in steps)
    bert = [s.over_cublas for s in steps if (s.impl, s.shape) == ("tma-roast-a128", "4096x768x3072")]
    assert len(bert) == 2 and max(bert) <= 1.5


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
    with pytest.raises(CacheSimError, match="kind='gpu-fast-train'"):
        fast_headline(GPU, "gpu-fast-train")
    with pytest.raises(CacheSimError, match="index='nope'"):
        fast_headline(GPU)[0].hashednet_over_roast("nope")


def test_the_readme_headline_table_is_the_recorded_one():
    """README's GPU table (~8x compression rows) equals the reader's rows of the default record."""
    readme = (GPU.parents[1] / "README.md").read_text()
    heads = {h.shape: h for h in fast_headline(GPU) if h.compression < 20}
    found = 0
    for line in readme.splitlines():
        m = re.match(r"\| (\d+) x (\d+) x (\d+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| "
                     r"([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$", line)
        if not m:
            continue
        h = heads[f"{m[1]}x{m[2]}x{m[3]}"]
        want = (round(h.roast_over_cublas, 2), round(h.roast_over_dense_same_config, 2),
                *(round(h.hashednet_over_roast(i), 1) for i in ("hash", "arith-only", "mulshift", "table")),
                round(h.gather_hashednet_ms / h.roast_ms, 1))
        assert tuple(float(v) for v in m.groups()[3:]) == want
        found += 1
    assert found == 5
