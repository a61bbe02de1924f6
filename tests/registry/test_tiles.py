"""The C2SP tlog-tiles layout, against the spec's own worked examples."""

from __future__ import annotations

import pytest

from registry.errors import ProofError
from registry.ledger import standalone_monitor as monitor
from registry.ledger import tiles


@pytest.mark.parametrize(
    ("index", "path"),
    [
        (1234067, "x001/x234/067"),  # the spec's example
        (0, "000"),
        (7, "007"),
        (999, "999"),
        (1000, "x001/000"),
        (1_000_000, "x001/x000/000"),
    ],
)
def test_tile_index_path_encoding(index: int, path: str) -> None:
    assert tiles.encode_index(index) == path
    assert monitor.encode_index(index) == path  # the standalone copy agrees


def test_tile_paths_full_and_partial() -> None:
    assert tiles.tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert tiles.tile_path(2, 5, 17) == "tile/2/005.p/17"
    assert tiles.entry_bundle_path(3, 112) == "tile/entries/003.p/112"
    assert monitor.tile_name("entries", 3, 112) == "tile/entries/003.p/112"
    with pytest.raises(ProofError):
        tiles.tile_path(0, 1, 0)
    with pytest.raises(ProofError):
        tiles.encode_index(-1)


def test_spec_example_tree_of_70000() -> None:
    # "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial
    # level 0 tile of width 112, one full level 1 tile, one partial level 1 tile of width 17,
    # and one partial level 2 tile of width 1."
    level0 = list(tiles.tiles_for_size(70_000, 0))
    assert sum(t.full for t in level0) == 273 and level0[-1].width == 112
    level1 = list(tiles.tiles_for_size(70_000, 1))
    assert [t.width for t in level1] == [256, 17]
    assert [t.width for t in tiles.tiles_for_size(70_000, 2)] == [1]
    assert tiles.tile_levels(70_000) == 3
    assert monitor.widths(70_000, 1) == [(0, 256), (1, 17)]


def test_spec_example_tree_of_256() -> None:
    # "a tree of size 256 will be represented by a full level 0 tile and a partial level 1
    # tile of width 1."
    assert [
        (t.level, t.width)
        for lvl in range(tiles.tile_levels(256))
        for t in tiles.tiles_for_size(256, lvl)
    ] == [(0, 256), (1, 1)]
    assert tiles.tile_levels(0) == 0


def test_entry_bundles_are_uint16_length_prefixed() -> None:
    assert tiles.encode_entry_bundle([b"ab", b""]) == b"\x00\x02ab\x00\x00"
    with pytest.raises(ProofError, match="does not fit"):
        tiles.encode_entry_bundle([b"x" * 65536])
