"""Old spellings keep working for one release and warn with the new name."""

import numpy as np
import pytest

import roast_theory as rt
from roast_theory.errors import RoastTheoryError
from roast_theory.experiments import TrainRun, TrainSharingResult, layer_mapping


def test_mapping_m_slots_is_a_warning_alias_of_memory():
    mp = rt.TileMapping((8, 8), 40, tile=(2, 4))
    with pytest.warns(DeprecationWarning, match=r"use \.memory"):
        assert mp.m_slots == mp.memory == 40
    with pytest.raises(AttributeError, match="frozen"):
        mp.m_slots = 3


def test_layout_m_slots_is_module_memory():
    lay = rt.ModelLayout.local([(4, 4), (4, 2)], 12)
    with pytest.warns(DeprecationWarning, match="module_memory"):
        assert lay.m_slots == lay.module_memory
    assert sum(lay.module_memory) == 12


def test_layer_mapping_old_keywords():
    new = layer_mapping(scheme="element", k=5, n=6, memory=11, seed=2)
    with pytest.warns(DeprecationWarning):
        old = layer_mapping(indexing="element", k=5, n=6, m_slots=11, seed=2)
    np.testing.assert_array_equal(new.index, old.index)
    with pytest.raises(RoastTheoryError, match="only memory="):
        layer_mapping("element", 5, 6, memory=11, m_slots=11)


def test_recorded_train_case_round_trips_with_its_old_keys():
    run = TrainRun("tile", "global", 10.0, 0, 16, (50,), 500, 0.9, 0.95, 1.0)
    case = run.to_case()
    assert case["indexing"] == "tile" and case["m_slots"] == [50]  # the recorded file's keys
    with pytest.warns(DeprecationWarning):
        back = TrainRun(**{**case, "m_slots": tuple(case["m_slots"])})
    assert back == run == TrainRun.from_case(case)
    assert TrainRun.from_case({**run.__dict__, "memory": [50]}) == run  # the new key names
    with pytest.warns(DeprecationWarning, match=r"\.scheme"):
        assert back.indexing == "tile"
    res = TrainSharingResult((run,), (), {})
    with pytest.warns(DeprecationWarning):
        s = res.summary(indexing="tile", sharing="global", compression=10.0)
    assert (s.scheme, s.mean, s.n_seeds) == ("tile", 0.9, 1)


def test_shared_memory_old_keyword_and_attribute():
    tl = pytest.importorskip("roast_theory.torch_layers")
    pytest.importorskip("torch")
    with pytest.warns(DeprecationWarning):
        mem = tl.SharedMemory(m_slots=7, seed=0)
    assert mem.memory == 7
    with pytest.warns(DeprecationWarning):
        mem.m_slots = 9  # a harness resizes a wrapped memory this way
    assert mem.memory == 9


def test_tile_shape_keyword_is_tile():
    x, w = np.linspace(-1, 1, 16).reshape(4, 4), np.cos(np.arange(16.0)).reshape(4, 4)
    new = rt.block_tile_moments(x, w, 10, tile=(2, 2))
    with pytest.warns(DeprecationWarning, match="use tile="):
        assert rt.block_tile_moments(x, w, 10, tile_shape=(2, 2)) == new
    with pytest.warns(DeprecationWarning):
        assert rt.kernel_slot_load((8, 8), tile_shape=(2, 4), memory=40).overload() == \
            rt.kernel_slot_load((8, 8), (2, 4), 40).overload()
    with pytest.warns(DeprecationWarning):
        old = rt.mc_placement_load((8, 8), tile_shape=(2, 4), memory=40, trials=20, seed=1)
    assert old == rt.mc_placement_load((8, 8), (2, 4), 40, trials=20, seed=1)


def test_element_slots_m_keyword_is_memory():
    fam = rt.make_family("rz-v1", 3)
    with pytest.warns(DeprecationWarning, match="use memory="):
        old = fam.element_slots(np.arange(5), 2, m=17)
    np.testing.assert_array_equal(old, fam.element_slots(np.arange(5), 2, memory=17))
