"""``roast-theory`` flags in the glossary's spelling; the old spelling still works and says so on stderr."""

import json

import numpy as np
import pytest

from roast_theory.moments import tile_hashing_moments
from roast_toolkit.cli import theory_cmd as cli


@pytest.fixture
def blocks(tmp_path):
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((8, 8)), rng.standard_normal((8, 8))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "w.npy", w)
    return str(tmp_path / "x.npy"), str(tmp_path / "w.npy"), x, w


def _variance(capsys, argv):
    status = cli.main(["variance", *argv, "--json"])
    out = capsys.readouterr()
    return status, json.loads(out.out) if status == 0 else None, out.err


def test_tile_pair_is_the_block_layout_and_tile_shape_is_deprecated(capsys, blocks):
    px, pw, x, w = blocks
    base = ["--x", px, "--w", pw, "--memory", "40", "--sign", "tile"]
    status, new, err = _variance(capsys, [*base, "--tile", "4,2"])
    assert status == 0 and err == ""
    # element (k, n) of a 4 x 2 block sits at offset (k % 4) * 2 + n % 2: the same as chunks of 8 after
    # reordering the weights block by block
    def blockwise(v):
        return v.reshape(2, 4, 4, 2).transpose(0, 2, 1, 3).ravel()

    chunks = tile_hashing_moments(blockwise(x), blockwise(w), 40, 8, "tile")
    assert new["variance"] == pytest.approx(chunks.variance, rel=1e-12)
    assert new["formula"] == chunks.formula and new["tile"] == 8
    status, old, err = _variance(capsys, [*base, "--tile-shape", "4,2"])
    assert status == 0 and old == new
    assert err.count("\n") == 1 and "--tile-shape is deprecated: use --tile BK,BN" in err


@pytest.mark.parametrize("tile, match", [("a,b", "--tile='a,b'"), ("1,2,3", "--tile='1,2,3'")])
def test_bad_tile_text(capsys, blocks, tile, match):
    px, pw, _, _ = blocks
    status, _, err = _variance(capsys, ["--x", px, "--w", pw, "--memory", "40", "--tile", tile])
    assert status == 2 and match in err and "BK,BN" in err
