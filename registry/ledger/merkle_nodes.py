"""RFC 9162 hashes and the coordinates of the ledger's stored perfect-subtree nodes.

The foundation of :mod:`registry.ledger.merkle` (which re-exports every public name here): node
``(level, index)`` covers leaves ``[index * 2**level, (index + 1) * 2**level)``; any range in
RFC 9162 shape is the right fold of at most ``log2 n`` of them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

from registry.errors import LedgerIntegrityError, ProofError

Coord = tuple[int, int]
"""A perfect subtree node: ``(level, index)``."""

NodeGetter = Callable[[Iterable[Coord]], Mapping[Coord, bytes]]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def largest_power_of_two_below(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def check_size(size: int, what: str = "tree size") -> None:
    """:class:`ProofError` unless ``size`` is a non-negative integer."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ProofError(f"{what} must be a non-negative integer, got {size!r}")


# --- coordinates -----------------------------------------------------------------------------


def range_coordinates(start: int, end: int) -> list[Coord]:
    """The perfect subtrees making up leaves ``[start, end)``, largest first.

    The range must have RFC 9162 shape: ``start`` is a multiple of the largest power of two not
    above ``end - start`` (true of every range that appears in a root or proof). Then the RFC's
    MTH of those leaves is the right fold of these nodes (:func:`range_hash`).
    """
    check_size(start, "range start")
    check_size(end, "range end")
    if end < start:
        raise ProofError(f"range [{start}, {end}) is reversed")
    length = end - start
    if length and start % (1 << (length.bit_length() - 1)):
        raise ProofError(f"range [{start}, {end}) is not an RFC 9162 subtree")
    coords: list[Coord] = []
    offset = start
    for level in range(length.bit_length() - 1, -1, -1):
        if length >> level & 1:
            coords.append((level, offset >> level))
            offset += 1 << level
    return coords


def frontier_coordinates(size: int) -> list[Coord]:
    """The perfect subtrees covering leaves ``[0, size)``, largest first.

    They are the only existing nodes an append needs (the left siblings of new nodes).
    """
    return range_coordinates(0, size)


def root_coordinates(size: int) -> list[Coord]:
    """The stored nodes whose right fold is the root at ``size`` (empty for the empty tree)."""
    return frontier_coordinates(size)


def range_hash(hashes: Sequence[bytes]) -> bytes:
    """Right fold of the node hashes of a range (:func:`range_coordinates` order)."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for left in reversed(hashes[:-1]):
        acc = node_hash(left, acc)
    return acc


def lookup_nodes(nodes: Mapping[Coord, bytes], coords: Iterable[Coord]) -> list[bytes]:
    """The hashes at ``coords``; :class:`LedgerIntegrityError` naming the first missing one."""
    found = []
    for coord in coords:
        value = nodes.get(coord)
        if value is None:
            raise LedgerIntegrityError(None, f"Merkle node (level, index) = {coord} is missing")
        found.append(value)
    return found


def root_from_nodes(size: int, nodes: Mapping[Coord, bytes]) -> bytes:
    """The RFC 9162 root hash of the first ``size`` leaves, from stored perfect nodes."""
    return range_hash(lookup_nodes(nodes, root_coordinates(size)))


def flatten_coordinates(groups: Iterable[Iterable[Coord]]) -> list[Coord]:
    """Every distinct coordinate in ``groups``, in first-seen order (one fetch for a proof)."""
    return list(dict.fromkeys(coord for group in groups for coord in group))
