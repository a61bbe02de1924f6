"""The C2SP tlog-tiles layout (c2sp.org/tlog-tiles): which files a log of a given size has.

A tile at level ``L``, index ``N`` holds up to 256 consecutive Merkle tree hashes at tree
level ``8 * L`` (the hashes of subtrees of ``256**L`` leaves), starting at node ``256 * N``.
Full tiles hold 256 hashes (8,192 bytes) and never change; the rightmost tile of each level
may be *partial*, of width ``floor(size / 256**L) mod 256``, published as ``.p/<W>``.
Entry bundles (``tile/entries/<N>``) hold the entries of the level-0 tile ``N``, each
prefixed with its length as a big-endian uint16.

Pure arithmetic on sizes and paths, shared by the publisher and its tests; the standalone
monitor repeats the few lines it needs (it must import nothing from ``registry``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from registry.errors import ProofError

__all__ = [
    "MAX_ENTRY_SIZE",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "TileRef",
    "encode_entry_bundle",
    "encode_index",
    "entry_bundle_path",
    "tile_levels",
    "tile_path",
    "tiles_for_size",
]

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
#: Entry bundles prefix each entry with a uint16 length, so no entry may be longer.
MAX_ENTRY_SIZE = 0xFFFF


def encode_index(index: int) -> str:
    """``N`` as zero-padded 3-digit path elements, all but the last prefixed ``x``.

    The spec's example: 1234067 -> ``x001/x234/067``.
    """
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ProofError(f"tile index must be a non-negative integer, got {index!r}")
    groups = []
    while True:
        groups.append(f"{index % 1000:03d}")
        index //= 1000
        if index == 0:
            break
    groups.reverse()
    return "/".join([f"x{g}" for g in groups[:-1]] + [groups[-1]])


def _suffix(width: int) -> str:
    if not 1 <= width <= TILE_WIDTH:
        raise ProofError(f"tile width must be 1..{TILE_WIDTH}, got {width}")
    return "" if width == TILE_WIDTH else f".p/{width}"


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """``tile/<L>/<N>[.p/<W>]`` relative to the log's prefix."""
    if not 0 <= level <= 63:
        raise ProofError(f"tile level must be 0..63, got {level}")
    return f"tile/{level}/{encode_index(index)}{_suffix(width)}"


def entry_bundle_path(index: int, width: int = TILE_WIDTH) -> str:
    """``tile/entries/<N>[.p/<W>]`` relative to the log's prefix."""
    return f"tile/entries/{encode_index(index)}{_suffix(width)}"


@dataclass(frozen=True)
class TileRef:
    """One tile of a tree: level, index, width, and the tree nodes it lists."""

    level: int
    index: int
    width: int

    @property
    def node_level(self) -> int:
        """The Merkle tree level of the hashes in this tile."""
        return self.level * TILE_HEIGHT

    @property
    def first_node(self) -> int:
        """The index (at :attr:`node_level`) of the tile's first hash."""
        return self.index * TILE_WIDTH

    @property
    def full(self) -> bool:
        """Whether the tile is full (and so immutable)."""
        return self.width == TILE_WIDTH

    def path(self) -> str:
        """Its path under the prefix."""
        return tile_path(self.level, self.index, self.width)


def tiles_for_size(size: int, level: int) -> Iterator[TileRef]:
    """Every tile at ``level`` of the tree of ``size`` leaves, full ones then the partial one."""
    if size < 0:
        raise ProofError(f"tree size must be non-negative, got {size}")
    nodes = size >> (TILE_HEIGHT * level)
    for index in range(nodes // TILE_WIDTH):
        yield TileRef(level, index, TILE_WIDTH)
    if nodes % TILE_WIDTH:
        yield TileRef(level, nodes // TILE_WIDTH, nodes % TILE_WIDTH)


def tile_levels(size: int) -> int:
    """How many tile levels a tree of ``size`` leaves has (0 for the empty tree)."""
    levels = 0
    while size >> (TILE_HEIGHT * levels):
        levels += 1
    return levels


def encode_entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Entries as a bundle: each preceded by its length as a big-endian uint16."""
    parts = []
    for entry in entries:
        if len(entry) > MAX_ENTRY_SIZE:
            raise ProofError(
                f"an entry of {len(entry)} bytes does not fit an entry bundle "
                f"(tlog-tiles allows {MAX_ENTRY_SIZE})"
            )
        parts.append(len(entry).to_bytes(2, "big") + entry)
    return b"".join(parts)
