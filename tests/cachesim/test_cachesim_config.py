"""Configuration parsing, validation messages and presets of cachesim."""

import json

import pytest

from cachesim import CacheSimError, HierarchyConfig, LevelConfig, get_preset, load_hierarchy, preset_names
from cachesim.config import parse_size
from cachesim.presets import host_hierarchy

KiB, MiB = 1 << 10, 1 << 20


def test_level_derived_quantities():
    c = LevelConfig("L1", "32 KiB", 64, 8)
    assert (c.size, c.sets, c.n_lines, c.sectors_per_line, c.sector_size) == (32768, 64, 512, 1, 64)
    s = LevelConfig("L1", 4096, 128, 2, sector=32)
    assert (s.sets, s.sectors_per_line, s.sector_size) == (16, 4, 32)
    fa = LevelConfig("FA", 1024, 64, "full")
    assert (fa.ways, fa.sets, fa.fully_associative) == (16, 1, True)
    assert LevelConfig("FA", 1024, 64, 0).ways == 16


@pytest.mark.parametrize(
    "text,expected",
    [
        (4096, 4096),
        ("32 KiB", 32 * KiB),
        ("1MiB", MiB),
        ("1.875 MiB", 1966080),
        ("50M", 50 * MiB),
        ("64B", 64),
    ],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("bad", ["", "12 parsecs", -4, 0, 1.5, True, "0.5 B"])
def test_parse_size_rejects(bad):
    with pytest.raises(CacheSimError, match="size"):
        parse_size(bad)


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        (dict(size=1000, line=64, ways=8), "size=1000 is not a multiple of line=64"),
        (dict(size=3 * 64 * 8, line=64, ways=8), "number of sets"),
        (dict(size=4096, line=48, ways=2), "line=48 must be a power of two"),
        (dict(size=4096, line=64, ways=2, sector=48), "sector=48 must be a power of two"),
        (dict(size=4096, line=64, ways=2, sector=128), "sector=128 must be <= line=64"),
        (dict(size=12 * 64, line=64, ways=12, policy="plru"), "policy='plru' needs power-of-two ways"),
        (dict(size=4096, line=64, ways=2, policy="lfu"), "policy='lfu' must be one of"),
        (dict(size=4096, line=64, ways=2, write_policy="write-around"), "write_policy='write-around'"),
        (dict(size=4096, line=64, ways=2, index_hash="crc"), "index_hash='crc'"),
        (dict(size=4096, line=64, ways=-1), "ways=-1"),
        (dict(size=4096, line=64, ways="many"), "ways='many'"),
        (dict(size=4096, line=64, ways=2, seed=-3), "seed=-3"),
        (dict(size=4096, line=64, ways=2, latency_cycles=-1), "latency_cycles=-1"),
        (dict(size=1 << 16, line=1024, ways=2, sector=8), "line/sector=128 must be <= 64"),
    ],
)
def test_bad_level_names_field_and_value(kwargs, needle):
    with pytest.raises(CacheSimError, match="L9") as e:
        LevelConfig("L9", **kwargs)
    assert needle in str(e.value)


def test_unknown_keys_rejected():
    with pytest.raises(CacheSimError, match="unknown level field 'colour'"):
        LevelConfig.from_dict({"name": "L1", "size": 1024, "colour": "red"})
    with pytest.raises(CacheSimError, match="unknown hierarchy field 'flavour'"):
        HierarchyConfig.from_dict({"levels": [{"name": "L1", "size": 1024}], "flavour": 1})
    with pytest.raises(CacheSimError, match="needs at least 'name' and 'size'"):
        LevelConfig.from_dict({"name": "L1"})


def test_hierarchy_rules():
    l1 = LevelConfig("L1", 4096, 64, 4)
    with pytest.raises(CacheSimError, match="names .* must be unique"):
        HierarchyConfig((l1, l1))
    with pytest.raises(CacheSimError, match="line=32 must be >= line=64"):
        HierarchyConfig((l1, LevelConfig("L2", 8192, 32, 4)))
    with pytest.raises(CacheSimError, match="inclusion='sideways'"):
        HierarchyConfig((l1,), inclusion="sideways")
    with pytest.raises(CacheSimError, match="needs write-back levels: level 'L2'"):
        HierarchyConfig(
            (l1, LevelConfig("L2", 8192, 64, 4, write_policy="write-through")), inclusion="exclusive"
        )
    with pytest.raises(CacheSimError, match="needs unsectored levels"):
        HierarchyConfig((LevelConfig("L1", 4096, 64, 4, sector=32),), inclusion="exclusive")
    with pytest.raises(CacheSimError, match="one line size"):
        HierarchyConfig((l1, LevelConfig("L2", 8192, 128, 4)), inclusion="exclusive")
    with pytest.raises(CacheSimError, match="levels=.* non-empty"):
        HierarchyConfig(())
    with pytest.raises(CacheSimError, match="num_sms=0"):
        HierarchyConfig((l1,), num_sms=0)


SPEC = {
    "name": "toy",
    "inclusion": "inclusive",
    "frequency_ghz": 2.0,
    "levels": [
        {"name": "L1", "size": "4 KiB", "line": 64, "ways": 4, "policy": "plru"},
        {
            "name": "L2",
            "size": 65536,
            "line": 64,
            "ways": "full",
            "policy": "random",
            "seed": 7,
            "sector": 32,
            "index_hash": "xor",
            "latency_cycles": 12,
        },
    ],
}


def test_dict_json_toml_agree(tmp_path):
    from_dict = load_hierarchy(SPEC)
    jp = tmp_path / "h.json"
    jp.write_text(json.dumps(SPEC))
    tp = tmp_path / "h.toml"
    tp.write_text(
        'name = "toy"\ninclusion = "inclusive"\nfrequency_ghz = 2.0\n'
        '[[levels]]\nname = "L1"\nsize = "4 KiB"\nline = 64\nways = 4\npolicy = "plru"\n'
        '[[levels]]\nname = "L2"\nsize = 65536\nline = 64\nways = "full"\npolicy = "random"\nseed = 7\n'
        'sector = 32\nindex_hash = "xor"\nlatency_cycles = 12\n'
    )
    assert load_hierarchy(jp) == from_dict == load_hierarchy(str(tp))
    assert from_dict.level("L2").ways == 1024 and from_dict.level("L2").sets == 1
    assert load_hierarchy(from_dict.to_dict()) == from_dict
    assert load_hierarchy(from_dict) is from_dict


def test_load_hierarchy_errors(tmp_path):
    with pytest.raises(CacheSimError, match="neither a preset"):
        load_hierarchy("no-such-preset")
    with pytest.raises(CacheSimError, match="does not exist"):
        load_hierarchy(tmp_path / "missing.toml")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CacheSimError, match="cannot parse"):
        load_hierarchy(bad)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"levels": [{"name": "L1", "size": 1000}]}))
    with pytest.raises(CacheSimError, match="wrong.json.*size=1000"):
        load_hierarchy(wrong)
    with pytest.raises(CacheSimError, match="not supported"):
        load_hierarchy(3.5)
    with pytest.raises(CacheSimError, match="no level named 'L7'"):
        load_hierarchy("zen4").level("L7")


def test_presets_values_from_their_sources():
    assert set(preset_names()) >= {"zen4", "host", "intel-server", "h100", "h200"}
    z = get_preset("zen4")
    assert [(c.size, c.ways, c.line) for c in z.levels] == [
        (32 * KiB, 8, 64),
        (MiB, 8, 64),
        (32 * MiB, 16, 64),
    ]
    i = get_preset("intel-server")
    assert [(c.size, c.ways) for c in i.levels] == [(48 * KiB, 12), (2 * MiB, 16), (1966080, 15)]
    for name, l2 in (("h100", 50 * MiB), ("h200", 60 * MiB)):
        g = get_preset(name)
        l1c, l2c = g.levels
        assert (l1c.line, l1c.sector, l1c.write_policy) == (128, 32, "write-through")
        assert l1c.size <= 256 * KiB
        assert (l2c.size, l2c.line, l2c.sector, l2c.write_policy) == (l2, 128, 32, "write-back")
        assert g.num_sms == 132
    with pytest.raises(CacheSimError, match="preset='nope'"):
        get_preset("nope")


def test_host_preset_reads_sysfs(tmp_path):
    def level(i, lvl, typ, size, ways):
        d = tmp_path / f"index{i}"
        d.mkdir()
        for k, v in dict(
            level=lvl, type=typ, size=size, ways_of_associativity=ways, coherency_line_size=64
        ).items():
            (d / k).write_text(f"{v}\n")

    level(0, 1, "Data", "32K", 8)
    level(1, 1, "Instruction", "32K", 8)
    level(2, 2, "Unified", "512K", 8)
    h = host_hierarchy(tmp_path)
    assert [(c.name, c.size, c.ways, c.sets) for c in h.levels] == [
        ("L1", 32768, 8, 64),
        ("L2", 524288, 8, 1024),
    ]
    with pytest.raises(CacheSimError, match="does not exist"):
        host_hierarchy(tmp_path / "nothing")


def test_numpy_integers_are_accepted_and_stored_as_int():
    import numpy as np

    lv = LevelConfig("L1", np.int64(32768), line=np.int64(64), ways=np.int32(8), sector=np.int64(32),
                     seed=np.uint8(1), latency_cycles=np.float32(4))
    assert (lv.size, lv.line, lv.ways, lv.sector, lv.seed) == (32768, 64, 8, 32, 1)
    assert all(type(v) is int for v in (lv.size, lv.line, lv.ways, lv.sector, lv.seed))
    assert HierarchyConfig(levels=[lv], num_sms=np.int64(4)).num_sms == 4
    with pytest.raises(CacheSimError, match=r"level 'L1': line=48 must be a power of two \(bytes\)"):
        LevelConfig("L1", 32768, line=np.int64(48))
    with pytest.raises(CacheSimError, match="line=True must be a power of two"):
        LevelConfig("L1", 32768, line=True)
