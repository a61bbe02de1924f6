"""FeatureStore: memory-mapped base plus overlay, removal, legacy files, and the reference set
reading features from disk after a compaction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detectors.copy.feature_store import FeatureStore, FeatureStoreError
from detectors.copy.matcher import ReferenceSet
from detectors.copy.verification import Features
from detectors.testing.copy_fixtures import EDITS, reference_images


def _features(seed: int, n: int, with_desc: bool = True) -> Features:
    rng = np.random.default_rng(seed)
    desc = rng.integers(0, 256, (n, 128), dtype=np.uint8) if with_desc else None
    return Features(rng.random((n, 2), dtype=np.float32), desc)


def _same(a: Features | None, b: Features | None) -> bool:
    if a is None or b is None:
        return a is b
    if a.descriptors is None or b.descriptors is None:
        return a.descriptors is b.descriptors and np.array_equal(a.points, b.points)
    return np.array_equal(a.points, b.points) and np.array_equal(a.descriptors, b.descriptors)


def test_round_trip_overlay_and_removal(tmp_path: Path) -> None:
    store = FeatureStore()
    originals = {1: _features(1, 30), 5: _features(5, 0, with_desc=False), 9: _features(9, 7)}
    for ref_id, feats in originals.items():
        store.put(ref_id, feats)
    files = store.save(tmp_path, 1)
    loaded = FeatureStore.load(tmp_path, files)
    assert loaded.resident_bytes() == 0  # nothing in memory: the base is memory-mapped
    assert all(_same(loaded.get(i), f) for i, f in originals.items())
    assert loaded.get(2) is None
    loaded.pop(1)
    loaded.put(3, _features(3, 4))
    assert loaded.get(1) is None and _same(loaded.get(3), _features(3, 4))
    assert loaded.ids() == [3, 5, 9] and loaded.resident_bytes() > 0
    loaded.put(1, _features(11, 2))  # re-added after removal: the new features win
    assert _same(loaded.get(1), _features(11, 2))
    again = FeatureStore.load(tmp_path, loaded.save(tmp_path, 2))
    assert again.ids() == [1, 3, 5, 9] and _same(again.get(1), _features(11, 2))


def test_empty_and_broken_files(tmp_path: Path) -> None:
    files = FeatureStore().save(tmp_path, 1)
    assert FeatureStore.load(tmp_path, files).ids() == []
    (tmp_path / files["fdesc"]).write_bytes(b"junk")
    with pytest.raises(FeatureStoreError):
        FeatureStore.load(tmp_path, files)


def test_reads_single_file_features_of_earlier_versions(tmp_path: Path) -> None:
    a, b = _features(1, 3), _features(2, 5)
    with open(tmp_path / "features.1.npz", "wb") as fh:
        np.savez_compressed(
            fh,
            ids=np.array([4, 8]),
            counts=np.array([3, 5]),
            points=np.concatenate([a.points, b.points]),
            descriptors=np.concatenate([a.descriptors, b.descriptors]),
        )
    store = FeatureStore.load(tmp_path, {"features": "features.1.npz"})
    assert _same(store.get(4), a) and _same(store.get(8), b)


def test_reference_set_verifies_from_disk_after_compaction(tmp_path: Path) -> None:
    images = reference_images()
    refs = ReferenceSet()
    refs.add(1, images["rocket"], bank="b")
    refs.add(2, images["coffee"], bank="b")
    refs.save(tmp_path, compact=True)
    loaded = ReferenceSet.load(tmp_path)
    assert loaded._features.resident_bytes() == 0
    query = EDITS["border"](images["rocket"])  # found through geometric verification
    (match,) = [m for m in loaded.match(query) if m.matched]
    assert match.reference.ref_id == 1 and match.verification is not None
    assert match.verification.verified
