"""BinaryHashIndex against a brute-force numpy oracle on random hashes with planted neighbours."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from detectors.copy.binary_index import BinaryHashIndex, DuplicateIdError, IndexFileError
from detectors.copy.signals import hamming_matrix


def planted(
    n: int, nq: int, seed: int
) -> tuple[
    npt.NDArray[np.int64], npt.NDArray[np.uint8], npt.NDArray[np.uint8], npt.NDArray[np.int64]
]:
    """n random hashes with ids, nq queries each within distance 0..31 of a planted target."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    ids = rng.permutation(10 * n)[:n].astype(np.int64) + 1000
    targets = rng.integers(0, n, nq)
    bits = np.unpackbits(codes[targets], axis=1)
    for row in range(nq):
        flip = rng.choice(256, int(rng.integers(0, 32)), replace=False)
        bits[row, flip] ^= 1
    return ids, codes, np.packbits(bits, axis=1), ids[targets]


def oracle(
    queries: npt.NDArray[np.uint8],
    ids: npt.NDArray[np.int64],
    codes: npt.NDArray[np.uint8],
    radius: int,
) -> list[set[tuple[int, int]]]:
    dist = hamming_matrix(queries, codes)
    return [{(int(ids[j]), int(row[j])) for j in np.flatnonzero(row <= radius)} for row in dist]


@pytest.mark.parametrize("radius", [0, 8, 31, 60, 100])
def test_flat_range_search_equals_oracle(radius: int) -> None:
    ids, codes, queries, _ = planted(3000, 200, seed=1)
    index = BinaryHashIndex(kind="flat")
    index.add(ids, codes)
    result = index.range_search(queries, radius)
    expected = oracle(queries, ids, codes, radius)
    for q in range(len(queries)):
        hits = result.hits(q)
        assert set(hits) == expected[q]
        assert [d for _, d in hits] == sorted(d for _, d in hits)


def test_flat_knn_equals_oracle() -> None:
    ids, codes, queries, _ = planted(2000, 50, seed=2)
    index = BinaryHashIndex(kind="flat")
    index.add(ids, codes)
    result = index.search(queries, 5)
    dist = hamming_matrix(queries, codes)
    for q in range(len(queries)):
        got = [d for _, d in result.hits(q)]
        assert got == sorted(dist[q])[:5]


def test_mih_recall_at_radius_31() -> None:
    ids, codes, queries, targets = planted(60_000, 2000, seed=3)
    index = BinaryHashIndex(kind="mih")
    index.add(ids, codes)
    assert index.layout == "mih"
    result = index.range_search(queries, 31)
    found = [targets[q] in {i for i, _ in result.hits(q)} for q in range(len(queries))]
    assert np.mean(found) >= 0.99
    # no false hits: everything returned really is within the radius
    dist_of = {int(i): c for i, c in zip(ids, codes, strict=True)}
    for q in range(0, len(queries), 97):
        for i, d in result.hits(q):
            assert d <= 31
            assert d == int(hamming_matrix(queries[q : q + 1], dist_of[i][None])[0, 0])


@pytest.mark.parametrize("kind", ["flat", "mih"])
def test_remove_add_and_persist(kind: str, tmp_path: Path) -> None:
    ids, codes, queries, targets = planted(500, 20, seed=4)
    index = BinaryHashIndex(kind=kind)  # type: ignore[arg-type]
    index.add(ids, codes)
    with pytest.raises(DuplicateIdError):
        index.add(ids[:1], codes[:1])
    gone = targets[:5]
    assert index.remove(gone) == len(set(gone.tolist()))
    assert index.remove(gone) == 0
    assert len(index) == 500 - len(set(gone.tolist()))
    result = index.range_search(queries, 31)
    for q in range(5):
        assert targets[q] not in {i for i, _ in result.hits(q)}
    for q in range(5, 20):
        if targets[q] not in gone:
            assert targets[q] in {i for i, _ in result.hits(q)}
    knn = index.search(queries[:5], 3)
    assert not set(knn.ids.tolist()) & set(gone.tolist())

    path = tmp_path / "pdq.index"
    index.save(path)
    loaded = BinaryHashIndex.load(path)
    assert len(loaded) == len(index) and loaded.layout == index.layout
    again = loaded.range_search(queries, 31)
    assert [again.hits(q) for q in range(20)] == [result.hits(q) for q in range(20)]

    # re-adding a removed id works (compacts the MIH tombstones first)
    loaded.add(gone[:1], codes[ids == gone[0]])
    assert gone[0] in {i for i, _ in loaded.range_search(queries[:1], 31).hits(0)}
    loaded.compact()
    assert not loaded.tombstones
    live_ids, _ = loaded.entries()
    assert len(live_ids) == len(loaded)


def test_auto_switches_layout_by_size() -> None:
    ids, codes, _, _ = planted(300, 1, seed=5)
    index = BinaryHashIndex(kind="auto", flat_max_size=100)
    index.add(ids[:100], codes[:100])
    assert index.layout == "flat"
    index.add(ids[100:], codes[100:])
    layout: str = index.layout
    assert layout == "mih" and len(index) == 300
    index.rebuild(ids[:50], codes[:50])
    layout = index.layout
    assert layout == "flat" and len(index) == 50


def test_bad_file_is_typed_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.index"
    bad.write_bytes(b"not an index")
    with pytest.raises(IndexFileError):
        BinaryHashIndex.load(bad)
    with pytest.raises(IndexFileError):
        BinaryHashIndex.load(tmp_path / "missing.index")


@pytest.mark.parametrize("layout", ["13x19x3", "14x18x2", "12x21x4", "8x16x3"])
@pytest.mark.parametrize("radius", [0, 5, 7, 20, 31])
def test_mih_range_search_against_oracle(layout: str, radius: int) -> None:
    """Every hit is a true neighbour at its exact distance; below the number of chunks per
    permutation (pigeonhole) nothing is missed; at larger radii recall stays high."""
    ids, codes, queries, _ = planted(6000, 300, seed=11)
    index = BinaryHashIndex(kind="mih", layout=layout)
    index.add(ids, codes)
    result = index.range_search(queries, radius)
    expected = oracle(queries, ids, codes, radius)
    chunks = int(layout.split("x")[0])
    total = hit = 0
    for q in range(len(queries)):
        got = result.hits(q)
        assert set(got) <= expected[q]
        assert len(got) == len(set(got))  # each neighbour once
        assert got == sorted(got, key=lambda h: (h[1], h[0]))
        total += len(expected[q])
        hit += len(got)
        if radius < chunks:
            assert set(got) == expected[q]
    assert total > 0 and hit / total >= (0.97 if layout == "8x16x3" else 0.98)


def test_mih_threads_and_knn_agree_with_one_thread() -> None:
    ids, codes, queries, targets = planted(5000, 1200, seed=12)
    index = BinaryHashIndex(kind="mih", layout="14x18x2")
    index.add(ids, codes)
    one = index.range_search(queries, 31)
    two = index.range_search(queries, 31, threads=2)
    assert [one.hits(q) for q in range(len(queries))] == [two.hits(q) for q in range(len(queries))]
    knn = index.search(queries[:50], 3)
    dist = hamming_matrix(queries[:50], codes)
    for q in range(50):
        got = knn.hits(q)
        assert len(got) <= 3 and [d for _, d in got] == sorted(d for _, d in got)
        if (targets[q], int(dist[q][ids == targets[q]][0])) in one.hits(q):
            assert got[0][1] == int(dist[q].min())  # the planted neighbour is the nearest


@pytest.mark.slow
def test_mih_pending_merge_removal_and_reload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Appends (searched exhaustively, then merged in bulk), removals and a save/load
    round trip give the same answers as the oracle over the live entries."""
    from detectors.copy import mih

    monkeypatch.setattr(mih, "MERGE_AT", 300)
    ids, codes, queries, _ = planted(4000, 200, seed=13)
    index = BinaryHashIndex(kind="mih", layout="12x21x4")
    index.add(ids[:3000], codes[:3000])
    for lo in range(3000, 4000, 100):  # 10 appends: some pending, some merged
        index.add(ids[lo : lo + 100], codes[lo : lo + 100])
    assert len(index) == 4000
    gone = ids[::7]
    assert index.remove(gone) == len(gone)
    live = ~np.isin(ids, gone)
    radius = 11  # < 12 chunks: exact, so the oracle comparison is strict

    def check(ix: BinaryHashIndex) -> None:
        expected = oracle(queries, ids[live], codes[live], radius)
        got = ix.range_search(queries, radius)
        assert [set(got.hits(q)) for q in range(len(queries))] == expected

    check(index)
    assert index.tombstones == frozenset(gone.tolist())
    path = tmp_path / "pdq.index"
    index.save(path)
    loaded = BinaryHashIndex.load(path)
    assert loaded.mih_layout == index.mih_layout and len(loaded) == len(index)
    check(loaded)
    loaded.add(gone[:3], codes[np.isin(ids, gone[:3])])  # re-adding removed ids
    live |= np.isin(ids, gone[:3])
    check(loaded)
    loaded.compact()
    assert not loaded.tombstones and len(loaded) == int(live.sum())
    check(loaded)


def test_auto_layout_follows_size() -> None:
    ids, codes, _, _ = planted(400, 1, seed=14)
    index = BinaryHashIndex(kind="mih")
    index.add(ids, codes)
    assert str(index.mih_layout) == "13x19x3"
    with pytest.raises(ValueError):
        BinaryHashIndex(kind="mih", layout="20x20")


def test_reads_format_1_files(tmp_path: Path) -> None:
    """Index files of the FAISS-MIH versions still load (re-indexed, tombstones dropped)."""
    import json

    import faiss

    ids, codes, queries, _ = planted(800, 30, seed=15)
    inner = faiss.IndexBinaryMultiHash(256, 17, 15)
    old = faiss.IndexBinaryIDMap2(inner)
    old.add_with_ids(codes, ids)
    meta = {
        "format": 1,
        "bits": 256,
        "kind": "auto",
        "layout": "mih",
        "nhash": 17,
        "mih_bits": 15,
        "flat_max_size": 50_000,
    }
    path = tmp_path / "old.index"
    with open(path, "wb") as fh:
        np.savez(
            fh,
            meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
            faiss=np.asarray(faiss.serialize_index_binary(old), dtype=np.uint8),
            tombstones=ids[:10],
        )
    loaded = BinaryHashIndex.load(path)
    assert len(loaded) == 790
    expected = oracle(queries, ids[10:], codes[10:], 31)
    got = loaded.range_search(queries, 31)
    assert [set(got.hits(q)) for q in range(len(queries))] == expected
