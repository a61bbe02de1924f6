"""RFC 9162 Merkle log algorithms over a storage-agnostic node store.

The ledger stores every *perfect* subtree node ``(level, index)``, covering leaves
``[index * 2**level, (index + 1) * 2**level)``; level 0 holds the leaf hashes. Such nodes never
change once complete, so every root and proof for any past tree size can be computed from them:
the hash of any range in RFC 9162 shape is a right fold of at most ``log2 n`` stored nodes.

This module only does arithmetic on coordinates and hashes. Callers fetch nodes however they
like (one SQL query for the coordinates a function asks for) and hand back a mapping.

Written here rather than taken from a library: the Python packages for RFC 6962/9162 either
rebuild whole trees in memory or store nodes in their own layout, while the ledger needs the
coordinates of the few nodes a proof needs so that it can read them in one query. The hashes
and node coordinates live in :mod:`registry.ledger.merkle_nodes` and are re-exported here. The
verifiers follow RFC 9162 §2.1.3.2 and §2.1.4.2 step by step and are checked against the
transparency-dev/merkle test vectors (tests/data/merkle).

Cost: an append of k leaves to a tree of n reads at most ``popcount(n)`` stored nodes in one
call and writes about 2k new ones; a proof needs at most ``2 * log2 n`` stored nodes.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping, Sequence

from registry.errors import ProofError
from registry.ledger.merkle_nodes import (
    EMPTY_ROOT,
    HASH_SIZE,
    Coord,
    NodeGetter,
    check_size,
    flatten_coordinates,
    frontier_coordinates,
    largest_power_of_two_below,
    leaf_hash,
    lookup_nodes,
    node_hash,
    range_coordinates,
    range_hash,
    root_coordinates,
    root_from_nodes,
)

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Coord",
    "MemoryTree",
    "NodeGetter",
    "consistency_proof",
    "consistency_proof_coordinates",
    "flatten_coordinates",
    "frontier_coordinates",
    "inclusion_proof",
    "inclusion_proof_coordinates",
    "leaf_hash",
    "new_nodes_for_append",
    "node_hash",
    "range_coordinates",
    "range_hash",
    "root_coordinates",
    "root_from_nodes",
    "verify_consistency",
    "verify_inclusion",
]

# --- appends ---------------------------------------------------------------------------------


def new_nodes_for_append(
    start_size: int, leaf_hashes: Sequence[bytes], get_node: NodeGetter
) -> dict[Coord, bytes]:
    """Every node (leaves included) completed by appending ``leaf_hashes`` to ``start_size``.

    ``get_node`` is called at most once, with :func:`frontier_coordinates` of ``start_size``
    (at most ``log2 n`` nodes), so a batch costs one read however large it is.
    """
    check_size(start_size, "start size")
    for leaf in leaf_hashes:
        if len(leaf) != HASH_SIZE:
            raise ProofError(f"leaf hash must be {HASH_SIZE} bytes, got {len(leaf)}")
    end = start_size + len(leaf_hashes)
    new: dict[Coord, bytes] = {(0, start_size + i): h for i, h in enumerate(leaf_hashes)}
    if not leaf_hashes:
        return new
    frontier = frontier_coordinates(start_size)
    old: dict[Coord, bytes] = {}
    if frontier:
        old = dict(get_node(frontier))
        lookup_nodes(old, frontier)  # fail early, naming the missing node
    level = 0
    # Parents at level+1 that become complete: those containing leaf start_size onwards
    # and ending at or before `end`.
    while (end >> (level + 1)) > (start_size >> (level + 1)):
        for j in range(start_size >> (level + 1), end >> (level + 1)):
            left = (level, 2 * j)
            left_hash = new[left] if left in new else old[left]
            new[(level + 1, j)] = node_hash(left_hash, new[(level, 2 * j + 1)])
        level += 1
    return new


# --- proofs ----------------------------------------------------------------------------------


def _path_ranges(index: int, lo: int, hi: int) -> list[tuple[int, int]]:
    """RFC 9162 PATH(index, D[lo:hi]) as leaf ranges, leaf side first."""
    ranges: list[tuple[int, int]] = []
    while hi - lo > 1:
        k = largest_power_of_two_below(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo = lo + k
    ranges.reverse()
    return ranges


def _subproof_ranges(m: int, lo: int, hi: int) -> list[tuple[int, int]]:
    """RFC 9162 SUBPROOF(m, D[lo:hi], true) as leaf ranges (``m`` absolute)."""
    ranges: list[tuple[int, int]] = []
    complete = True
    while m != hi:
        k = largest_power_of_two_below(hi - lo)
        if m <= lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo = lo + k
            complete = False
    if not complete:
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges


def inclusion_proof_coordinates(index: int, size: int) -> list[list[Coord]]:
    """For each element of the RFC 9162 inclusion proof, the stored nodes to fold."""
    check_size(size)
    check_size(index, "leaf index")
    if index >= size:
        raise ProofError(f"leaf index {index} is not below tree size {size}")
    return [range_coordinates(a, b) for a, b in _path_ranges(index, 0, size)]


def consistency_proof_coordinates(size1: int, size2: int) -> list[list[Coord]]:
    """For each element of the RFC 9162 consistency proof, the stored nodes to fold."""
    check_size(size1, "first size")
    check_size(size2, "second size")
    if size1 > size2:
        raise ProofError(f"first size {size1} exceeds second size {size2}")
    if size1 == 0 or size1 == size2:
        return []
    return [range_coordinates(a, b) for a, b in _subproof_ranges(size1, 0, size2)]


def _hashes(groups: list[list[Coord]], nodes: Mapping[Coord, bytes]) -> list[bytes]:
    return [range_hash(lookup_nodes(nodes, group)) for group in groups]


def inclusion_proof(index: int, size: int, nodes: Mapping[Coord, bytes]) -> list[bytes]:
    """The RFC 9162 inclusion proof (PATH) of leaf ``index`` in the tree of ``size`` leaves."""
    return _hashes(inclusion_proof_coordinates(index, size), nodes)


def consistency_proof(size1: int, size2: int, nodes: Mapping[Coord, bytes]) -> list[bytes]:
    """The RFC 9162 consistency proof (PROOF) between tree sizes ``size1`` and ``size2``."""
    return _hashes(consistency_proof_coordinates(size1, size2), nodes)


# --- verification ----------------------------------------------------------------------------


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        raise ProofError(f"{what} must be {HASH_SIZE} bytes")


def _equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Return if ``proof`` shows leaf ``index`` of tree ``size`` hashes to ``root``; else raise.

    RFC 9162 §2.1.3.2. Raises :class:`ProofError` for any failure, malformed input included.
    """
    check_size(size)
    check_size(index, "leaf index")
    _check_hash(leaf_hash, "leaf hash")
    _check_hash(root, "root hash")
    for i, element in enumerate(proof):
        _check_hash(element, f"proof element {i}")
    if index >= size:
        raise ProofError(f"leaf index {index} is not below tree size {size}")
    fn, sn, r = index, size - 1, bytes(leaf_hash)
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    if not _equal(r, root):
        raise ProofError(f"inclusion proof for leaf {index} does not lead to the root")


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Return if ``proof`` shows tree ``size1`` is a prefix of tree ``size2``; else raise.

    RFC 9162 §2.1.4.2, plus the degenerate cases: equal sizes need an empty proof and equal
    roots; an empty first tree needs an empty proof (it is a prefix of every tree).
    """
    check_size(size1, "first size")
    check_size(size2, "second size")
    _check_hash(root1, "first root")
    _check_hash(root2, "second root")
    for i, element in enumerate(proof):
        _check_hash(element, f"proof element {i}")
    if size1 > size2:
        raise ProofError(f"first size {size1} exceeds second size {size2}")
    if size1 == size2 or size1 == 0:
        if proof:
            raise ProofError("consistency proof must be empty for these sizes")
        if size1 == size2 and not _equal(root1, root2):
            raise ProofError("equal tree sizes with different roots")
        if size1 == 0 and not _equal(root1, EMPTY_ROOT):
            raise ProofError("the empty tree's root must be SHA-256 of nothing")
        return
    if not proof:
        raise ProofError("consistency proof is empty")
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # a power of two: the old root is itself a node of the path
        path.insert(0, bytes(root1))
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if not _equal(fr, root1):
        raise ProofError(f"consistency proof does not lead to the root of size {size1}")
    if not _equal(sr, root2):
        raise ProofError(f"consistency proof does not lead to the root of size {size2}")


# --- in-memory reference tree ----------------------------------------------------------------


class MemoryTree:
    """An in-memory Merkle log built on the functions above (tests and reference use)."""

    def __init__(self) -> None:
        self.nodes: dict[Coord, bytes] = {}
        self.size = 0

    def _get(self, coords: Iterable[Coord]) -> Mapping[Coord, bytes]:
        return {c: self.nodes[c] for c in coords if c in self.nodes}

    def append_hashes(self, hashes: Sequence[bytes]) -> int:
        """Append leaf hashes; returns the index of the first one."""
        first = self.size
        self.nodes.update(new_nodes_for_append(self.size, hashes, self._get))
        self.size += len(hashes)
        return first

    def append(self, data: bytes) -> int:
        """Append one entry (hashed as a leaf); returns its index."""
        return self.append_hashes([leaf_hash(data)])

    def extend(self, entries: Iterable[bytes]) -> int:
        """Append many entries in one batch; returns the index of the first one."""
        return self.append_hashes([leaf_hash(e) for e in entries])

    def leaf(self, index: int) -> bytes:
        """The leaf hash at ``index``."""
        if not 0 <= index < self.size:
            raise ProofError(f"leaf index {index} is not below tree size {self.size}")
        return self.nodes[(0, index)]

    def _size(self, size: int | None) -> int:
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ProofError(f"tree size {size} is beyond the log's {self.size} leaves")
        return size

    def root(self, size: int | None = None) -> bytes:
        """The root hash at ``size`` (default: now)."""
        return root_from_nodes(self._size(size), self.nodes)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The inclusion proof of leaf ``index`` in the tree of ``size`` leaves."""
        return inclusion_proof(index, self._size(size), self.nodes)

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """The consistency proof from ``size1`` to ``size2`` (default: now)."""
        return consistency_proof(size1, self._size(size2), self.nodes)
