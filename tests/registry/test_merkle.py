"""RFC 9162 Merkle log: transparency-dev vectors, tampering, and a brute-force oracle."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.errors import LedgerIntegrityError, ProofError
from registry.ledger import merkle

DATA = Path(__file__).parents[1] / "data" / "merkle"
INCLUSION = sorted((DATA / "inclusion").glob("*/*.json"))
CONSISTENCY = sorted((DATA / "consistency").glob("*/*.json"))

# The leaves of the 8-leaf reference tree used by the RFC 6962 / Trillian / Go tests (and by
# the transparency-dev vectors above).
REFERENCE_LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]


# --- brute-force RFC 9162 reference (MTH, PATH, PROOF), written straight from the RFC --------


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = _split(len(leaves))
    return hashlib.sha256(b"\x01" + ref_mth(leaves[:k]) + ref_mth(leaves[k:])).digest()


def ref_path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) <= 1:
        return []
    k = _split(len(leaves))
    if m < k:
        return [*ref_path(m, leaves[:k]), ref_mth(leaves[k:])]
    return [*ref_path(m - k, leaves[k:]), ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [ref_mth(leaves)]
    k = _split(n)
    if m <= k:
        return [*ref_subproof(m, leaves[:k], complete), ref_mth(leaves[k:])]
    return [*ref_subproof(m - k, leaves[k:], False), ref_mth(leaves[:k])]


def ref_proof(m: int, leaves: list[bytes]) -> list[bytes]:
    if m == 0 or m == len(leaves):
        return []
    return ref_subproof(m, leaves, True)


def ref_directions(m: int, n: int) -> list[bool]:
    """Side of each inclusion-path sibling (True: to the right of the leaf), leaf side first."""
    if n <= 1:
        return []
    k = _split(n)
    if m < k:
        return [*ref_directions(m, k), True]
    return [*ref_directions(m - k, n - k), False]


# --- helpers ---------------------------------------------------------------------------------


def b64(text: str) -> bytes:
    return base64.b64decode(text)


def flip(value: bytes, bit: int) -> bytes:
    out = bytearray(value)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def every_flip(value: bytes) -> Iterable[bytes]:
    for bit in range(len(value) * 8):
        yield flip(value, bit)


def load(path: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(path.read_text())
    return data


def inclusion_args(v: Mapping[str, object]) -> tuple[bytes, int, int, list[bytes], bytes]:
    proof = [b64(p) for p in v["proof"] or []]  # type: ignore[attr-defined]
    return b64(v["leafHash"]), v["leafIdx"], v["treeSize"], proof, b64(v["root"])  # type: ignore[arg-type,return-value]


def consistency_args(v: Mapping[str, object]) -> tuple[int, int, list[bytes], bytes, bytes]:
    proof = [b64(p) for p in v["proof"] or []]  # type: ignore[attr-defined]
    return v["size1"], v["size2"], proof, b64(v["root1"]), b64(v["root2"])  # type: ignore[arg-type,return-value]


# --- the transparency-dev/merkle vectors -----------------------------------------------------


def test_vectors_are_present() -> None:
    assert len(INCLUSION) >= 5 and len(CONSISTENCY) >= 5
    assert (DATA / "NOTICE").is_file()


@pytest.mark.parametrize("path", INCLUSION, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_inclusion_vector(path: Path) -> None:
    vector = load(path)
    args = inclusion_args(vector)
    if vector["wantErr"]:
        with pytest.raises(ProofError):
            merkle.verify_inclusion(*args)
    else:
        merkle.verify_inclusion(*args)


@pytest.mark.parametrize("path", CONSISTENCY, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_consistency_vector(path: Path) -> None:
    vector = load(path)
    args = consistency_args(vector)
    if vector["wantErr"]:
        with pytest.raises(ProofError):
            merkle.verify_consistency(*args)
    else:
        merkle.verify_consistency(*args)


HAPPY_INCLUSION = [p for p in INCLUSION if p.stem == "happy-path"]
HAPPY_CONSISTENCY = [p for p in CONSISTENCY if p.stem == "happy-path"]


@pytest.mark.parametrize("path", HAPPY_INCLUSION, ids=lambda p: p.parent.name)
def test_inclusion_vector_tampering(path: Path) -> None:
    leaf, index, size, proof, root = inclusion_args(load(path))
    for i, element in enumerate(proof):
        for bad in every_flip(element):
            with pytest.raises(ProofError):
                merkle.verify_inclusion(leaf, index, size, [*proof[:i], bad, *proof[i + 1 :]], root)
    for bad in every_flip(root):
        with pytest.raises(ProofError):
            merkle.verify_inclusion(leaf, index, size, proof, bad)
    for bad in every_flip(leaf):
        with pytest.raises(ProofError):
            merkle.verify_inclusion(bad, index, size, proof, root)
    for shorter in range(len(proof)):
        with pytest.raises(ProofError):
            merkle.verify_inclusion(leaf, index, size, proof[:shorter], root)
    for extra in (root, leaf, b"\x00" * 32, *proof):
        for at in range(len(proof) + 1):
            with pytest.raises(ProofError):
                merkle.verify_inclusion(leaf, index, size, [*proof[:at], extra, *proof[at:]], root)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(leaf, index, size, [*proof, b""], root)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(leaf[:31], index, size, proof, root)
    # Another (index, size) fails unless it walks the very same path shape: the proof binds the
    # position, the signed checkpoint binds the size to the root.
    shape = ref_directions(index, size)
    for other_size in range(1, 2 * size + 3):
        for other_index in range(other_size + 2):
            if (other_index, other_size) == (index, size):
                continue
            same = other_index < other_size and ref_directions(other_index, other_size) == shape
            if same:
                merkle.verify_inclusion(leaf, other_index, other_size, proof, root)
            else:
                with pytest.raises(ProofError):
                    merkle.verify_inclusion(leaf, other_index, other_size, proof, root)


@pytest.mark.parametrize("path", HAPPY_CONSISTENCY, ids=lambda p: p.parent.name)
def test_consistency_vector_tampering(path: Path) -> None:
    size1, size2, proof, root1, root2 = consistency_args(load(path))
    for i, element in enumerate(proof):
        for bad in every_flip(element):
            with pytest.raises(ProofError):
                merkle.verify_consistency(
                    size1, size2, [*proof[:i], bad, *proof[i + 1 :]], root1, root2
                )
    for bad in every_flip(root1):
        with pytest.raises(ProofError):
            merkle.verify_consistency(size1, size2, proof, bad, root2)
    for bad in every_flip(root2):
        with pytest.raises(ProofError):
            merkle.verify_consistency(size1, size2, proof, root1, bad)
    for shorter in range(len(proof)):
        with pytest.raises(ProofError):
            merkle.verify_consistency(size1, size2, proof[:shorter], root1, root2)
    for extra in (root1, root2, b"\x00" * 32):
        for at in range(len(proof) + 1):
            with pytest.raises(ProofError):
                merkle.verify_consistency(
                    size1, size2, [*proof[:at], extra, *proof[at:]], root1, root2
                )
    with pytest.raises(ProofError):
        merkle.verify_consistency(size2 + 1, size2, proof, root1, root2)


def test_reference_tree_reproduces_vectors() -> None:
    tree = merkle.MemoryTree()
    tree.extend(REFERENCE_LEAVES)
    for path in HAPPY_INCLUSION:
        leaf, index, size, proof, root = inclusion_args(load(path))
        assert tree.leaf(index) == leaf
        assert tree.root(size) == root
        assert tree.inclusion_proof(index, size) == proof
    for path in HAPPY_CONSISTENCY:
        size1, size2, proof, root1, root2 = consistency_args(load(path))
        assert (tree.root(size1), tree.root(size2)) == (root1, root2)
        assert tree.consistency_proof(size1, size2) == proof


# --- malformed input -------------------------------------------------------------------------


def test_malformed_inclusion_input_raises() -> None:
    tree = merkle.MemoryTree()
    tree.extend(REFERENCE_LEAVES)
    leaf, root, proof = tree.leaf(3), tree.root(), tree.inclusion_proof(3)
    for index, size in [(8, 8), (9, 8), (0, 0), (-1, 8), (3, -8), (True, 8)]:
        with pytest.raises(ProofError):
            merkle.verify_inclusion(leaf, index, size, proof, root)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(leaf, 3, 8, proof, root[:16])
    with pytest.raises(ProofError):
        merkle.verify_inclusion(leaf, 0, 1, [], merkle.EMPTY_ROOT)
    with pytest.raises(ProofError):
        merkle.inclusion_proof_coordinates(8, 8)
    with pytest.raises(ProofError):
        merkle.consistency_proof_coordinates(9, 8)
    with pytest.raises(ProofError):
        merkle.range_coordinates(1, 3)  # not a subtree: [1, 3) straddles two pairs


def test_consistency_degenerate_sizes() -> None:
    tree = merkle.MemoryTree()
    tree.extend(REFERENCE_LEAVES)
    merkle.verify_consistency(0, 8, [], merkle.EMPTY_ROOT, tree.root())
    merkle.verify_consistency(8, 8, [], tree.root(), tree.root())
    with pytest.raises(ProofError):
        merkle.verify_consistency(0, 8, [tree.root()], merkle.EMPTY_ROOT, tree.root())
    with pytest.raises(ProofError):
        merkle.verify_consistency(8, 8, [], tree.root(), tree.root(7))
    with pytest.raises(ProofError):
        merkle.verify_consistency(8, 8, [tree.root()], tree.root(), tree.root())
    with pytest.raises(ProofError):
        merkle.verify_consistency(8, 7, [], tree.root(), tree.root(7))


def test_missing_node_is_a_ledger_integrity_error() -> None:
    tree = merkle.MemoryTree()
    tree.extend(REFERENCE_LEAVES)
    nodes = dict(tree.nodes)
    del nodes[(2, 1)]
    with pytest.raises(LedgerIntegrityError):
        merkle.inclusion_proof(0, 8, nodes)
    with pytest.raises(LedgerIntegrityError):
        merkle.new_nodes_for_append(6, [merkle.leaf_hash(b"x")], lambda coords: {})


# --- appends against the brute-force oracle --------------------------------------------------


class CountingStore:
    """A node store that records every read."""

    def __init__(self) -> None:
        self.nodes: dict[merkle.Coord, bytes] = {}
        self.reads: list[list[merkle.Coord]] = []
        self.size = 0

    def get(self, coords: Iterable[merkle.Coord]) -> Mapping[merkle.Coord, bytes]:
        wanted = list(coords)
        self.reads.append(wanted)
        return {c: self.nodes[c] for c in wanted}

    def append(self, leaf_hashes: list[bytes]) -> None:
        before = len(self.reads)
        new = merkle.new_nodes_for_append(self.size, leaf_hashes, self.get)
        assert len(self.reads) - before <= 1
        if len(self.reads) > before:
            assert self.reads[-1] == merkle.frontier_coordinates(self.size)
        assert not set(new) & set(self.nodes), "an append must not rewrite stored nodes"
        self.nodes.update(new)
        self.size += len(leaf_hashes)


def perfect_nodes(leaves: list[bytes]) -> dict[merkle.Coord, bytes]:
    """Every complete perfect subtree of ``leaves``, by brute force."""
    nodes = {}
    level = 0
    while 1 << level <= len(leaves):
        width = 1 << level
        for index in range(len(leaves) // width):
            nodes[(level, index)] = ref_mth(leaves[index * width : (index + 1) * width])
        level += 1
    return nodes


@settings(max_examples=60, deadline=None)
@given(
    leaves=st.lists(st.binary(max_size=8), max_size=40),
    cuts=st.lists(st.integers(min_value=0, max_value=40), max_size=8),
)
def test_batched_appends_match_the_rfc(leaves: list[bytes], cuts: list[int]) -> None:
    store = CountingStore()
    bounds = sorted({0, len(leaves), *(c for c in cuts if c <= len(leaves))})
    for start, end in itertools.pairwise(bounds):
        store.append([merkle.leaf_hash(d) for d in leaves[start:end]])
    assert store.nodes == perfect_nodes(leaves)
    for size in range(len(leaves) + 1):
        assert merkle.root_from_nodes(size, store.nodes) == ref_mth(leaves[:size])
    for size in range(1, len(leaves) + 1):
        root = ref_mth(leaves[:size])
        for index in range(size):
            proof = merkle.inclusion_proof(index, size, store.nodes)
            assert proof == ref_path(index, leaves[:size])
            merkle.verify_inclusion(merkle.leaf_hash(leaves[index]), index, size, proof, root)


@settings(max_examples=40, deadline=None)
@given(leaves=st.lists(st.binary(max_size=4), min_size=1, max_size=70))
def test_single_appends_match_the_rfc(leaves: list[bytes]) -> None:
    store = CountingStore()
    tree = merkle.MemoryTree()
    for data in leaves:
        store.append([merkle.leaf_hash(data)])
        tree.append(data)
        assert tree.root() == ref_mth(leaves[: tree.size])
    assert store.nodes == tree.nodes == perfect_nodes(leaves)
    assert all(len(read) <= len(leaves).bit_length() for read in store.reads)


@settings(max_examples=80, deadline=None)
@given(data=st.data(), leaves=st.lists(st.binary(max_size=4), min_size=1, max_size=50))
def test_consistency_proofs_match_and_verify(data: st.DataObject, leaves: list[bytes]) -> None:
    tree = merkle.MemoryTree()
    tree.extend(leaves)
    n = len(leaves)
    size2 = data.draw(st.integers(min_value=0, max_value=n))
    size1 = data.draw(st.integers(min_value=0, max_value=size2))
    root1, root2 = ref_mth(leaves[:size1]), ref_mth(leaves[:size2])
    proof = tree.consistency_proof(size1, size2)
    assert proof == ref_proof(size1, leaves[:size2])
    merkle.verify_consistency(size1, size2, proof, root1, root2)
    # Tampering: a flipped bit anywhere, a dropped or an extra element.
    if proof:
        i = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
        bit = data.draw(st.integers(min_value=0, max_value=255))
        with pytest.raises(ProofError):
            merkle.verify_consistency(
                size1, size2, [*proof[:i], flip(proof[i], bit), *proof[i + 1 :]], root1, root2
            )
        with pytest.raises(ProofError):
            merkle.verify_consistency(size1, size2, proof[:-1], root1, root2)
    with pytest.raises(ProofError):
        merkle.verify_consistency(size1, size2, [*proof, root2], root1, root2)
    bit = data.draw(st.integers(min_value=0, max_value=255))
    with pytest.raises(ProofError):  # for size1 == 0, root1 must be EMPTY_ROOT
        merkle.verify_consistency(size1, size2, proof, flip(root1, bit), root2)
    if size1 != 0:  # every tree extends the empty one, whatever its root
        with pytest.raises(ProofError):
            merkle.verify_consistency(size1, size2, proof, root1, flip(root2, bit))
    # Other sizes with their true roots: accepted exactly when the proof is theirs too.
    other1 = data.draw(st.integers(min_value=0, max_value=n))
    other2 = data.draw(st.integers(min_value=0, max_value=n))
    if (other1, other2) != (size1, size2):
        true1, true2 = ref_mth(leaves[:other1]), ref_mth(leaves[:other2])
        if other1 <= other2 and proof == ref_proof(other1, leaves[:other2]):
            merkle.verify_consistency(other1, other2, proof, true1, true2)
        else:
            with pytest.raises(ProofError):
                merkle.verify_consistency(other1, other2, proof, true1, true2)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), leaves=st.lists(st.binary(max_size=4), min_size=1, max_size=50))
def test_inclusion_at_other_positions_with_true_roots(
    data: st.DataObject, leaves: list[bytes]
) -> None:
    tree = merkle.MemoryTree()
    tree.extend(leaves)
    size = data.draw(st.integers(min_value=1, max_value=len(leaves)))
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    proof = tree.inclusion_proof(index, size)
    other_size = data.draw(st.integers(min_value=1, max_value=len(leaves)))
    other_index = data.draw(st.integers(min_value=0, max_value=other_size))
    if (other_index, other_size) == (index, size) or other_index >= other_size:
        return
    leaf, root = merkle.leaf_hash(leaves[other_index]), ref_mth(leaves[:other_size])
    if proof == ref_path(other_index, leaves[:other_size]):
        merkle.verify_inclusion(leaf, other_index, other_size, proof, root)
    else:
        with pytest.raises(ProofError):
            merkle.verify_inclusion(leaf, other_index, other_size, proof, root)


def test_big_batch_reads_only_the_frontier() -> None:
    leaves = [i.to_bytes(4, "big") for i in range(13_345)]
    store = CountingStore()
    store.append([merkle.leaf_hash(d) for d in leaves[:12_345]])
    assert store.reads == []  # appending to the empty tree reads nothing
    store.append([merkle.leaf_hash(d) for d in leaves[12_345:]])
    assert store.reads == [merkle.frontier_coordinates(12_345)]
    assert len(store.reads[0]) == bin(12_345).count("1")
    assert merkle.root_from_nodes(13_345, store.nodes) == ref_mth(leaves)
    assert merkle.root_from_nodes(12_345, store.nodes) == ref_mth(leaves[:12_345])
    for index in (0, 12_344, 12_345, 13_000, 13_344):
        proof = merkle.inclusion_proof(index, 13_345, store.nodes)
        merkle.verify_inclusion(
            merkle.leaf_hash(leaves[index]), index, 13_345, proof, ref_mth(leaves)
        )
    proof = merkle.consistency_proof(12_345, 13_345, store.nodes)
    merkle.verify_consistency(12_345, 13_345, proof, ref_mth(leaves[:12_345]), ref_mth(leaves))
    coords = merkle.flatten_coordinates(merkle.inclusion_proof_coordinates(7, 13_345))
    assert len(coords) <= 2 * (13_345).bit_length()


def test_exhaustive_small_trees() -> None:
    """Every root, inclusion and consistency proof of a 33-leaf log built in uneven batches."""
    leaves = [i.to_bytes(2, "big") for i in range(33)]
    tree = merkle.MemoryTree()
    for start, end in itertools.pairwise([0, 1, 2, 5, 12, 13, 20, 32, 33]):
        tree.extend(leaves[start:end])
    roots = [ref_mth(leaves[:size]) for size in range(len(leaves) + 1)]
    for size2 in range(len(leaves) + 1):
        assert tree.root(size2) == roots[size2]
        for size1 in range(size2 + 1):
            proof = tree.consistency_proof(size1, size2)
            assert proof == ref_proof(size1, leaves[:size2])
            merkle.verify_consistency(size1, size2, proof, roots[size1], roots[size2])
        for index in range(size2):
            proof = tree.inclusion_proof(index, size2)
            assert proof == ref_path(index, leaves[:size2])
            merkle.verify_inclusion(tree.leaf(index), index, size2, proof, roots[size2])
