"""ReferenceSet: the edit set is found, the null set is not, persistence and reload work."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from detectors.copy.matcher import (
    MatchConfig,
    NewReference,
    ReferenceSet,
    ReferenceSetError,
    manifest_generation,
)
from detectors.testing.copy_fixtures import EDITS, null_images, reference_images

VERIFIED_EDITS = {"crop10", "rotate5", "text-overlay", "border"}
QUERIED = ["astronaut", "chelsea", "rocket", "china", "textured-2"]


@pytest.fixture(scope="module")
def refset() -> ReferenceSet:
    references = ReferenceSet()
    added = references.add_many(
        [
            NewReference(ref_id, image, sha256=f"{ref_id:064x}", bank=name)
            for ref_id, (name, image) in enumerate(reference_images().items())
        ]
    )
    assert [r.ref_id for r in added] == list(range(len(reference_images())))
    with pytest.raises(ReferenceSetError):
        references.add_many([NewReference(0, reference_images()["coffee"])])
    return references


def _ref_id(name: str) -> int:
    return list(reference_images()).index(name)


@pytest.mark.parametrize("name", QUERIED)
@pytest.mark.slow
def test_edit_set_found(refset: ReferenceSet, name: str) -> None:
    reference = reference_images()[name]
    for edit, apply in EDITS.items():
        matches = refset.match(apply(reference))
        matched = [m for m in matches if m.matched]
        assert matched, (name, edit, [m.to_json() for m in matches])
        best = matched[0]
        assert best.reference.ref_id == _ref_id(name), (name, edit, best.to_json())
        assert best.reference.bank == name
        assert {m.reference.ref_id for m in matched} == {_ref_id(name)}, (name, edit)
        if edit in VERIFIED_EDITS:  # PDQ alone misses these: SIFT + RANSAC decides
            assert best.distance > refset.config.pdq_threshold - refset.config.verify_band
            assert best.verification is not None and best.verification.verified
        if edit in {"exact", "jpeg50", "blur", "noise"}:
            assert best.signal == "pdq" and best.distance <= 16


@pytest.mark.slow
def test_null_set_not_matched(refset: ReferenceSet) -> None:
    for name, image in null_images().items():
        report = refset.query(image)
        assert not [m for m in report.matches if m.matched], (name, report)
        assert report.best_distance is not None and report.best_distance > 31


def test_low_quality_query_is_not_trusted_on_pdq_alone() -> None:
    flat = Image.new("RGB", (300, 300), (90, 90, 90))
    references = ReferenceSet()
    references.add(1, flat)
    report = references.query(Image.new("RGB", (300, 300), (91, 90, 90)))
    assert report.query_quality < 50 and report.notes
    for match in report.matches:
        assert match.signal == "verification"
        assert not match.matched  # a flat image has no keypoints to verify


def test_configurable_threshold_and_remove() -> None:
    images = reference_images()
    references = ReferenceSet(
        MatchConfig(pdq_threshold=8, verify_band=0, embed_k=0, candidate_radius=8)
    )
    references.add(7, images["coffee"])
    resized = EDITS["resize0.5"](images["coffee"])
    assert references.match(EDITS["exact"](images["coffee"]))[0].matched
    near = references.match(resized)
    assert all(m.distance > 8 or m.matched for m in near)
    with pytest.raises(ReferenceSetError):
        references.add(7, images["coffee"])
    assert references.remove(7) and not references.remove(7)
    assert references.match(images["coffee"]) == []


def test_save_load_and_generations(refset: ReferenceSet, tmp_path: Path) -> None:
    directory = tmp_path / "refs"
    assert manifest_generation(directory) is None
    first = refset.save(directory)
    loaded = ReferenceSet.load(directory)
    assert loaded.generation == first == manifest_generation(directory)
    assert [r.sha256 for r in loaded.references()] == [r.sha256 for r in refset.references()]
    query = EDITS["border"](reference_images()["rocket"])
    before = [(m.reference.ref_id, m.matched, m.distance) for m in refset.match(query)]
    after = [(m.reference.ref_id, m.matched, m.distance) for m in loaded.match(query)]
    assert before == after
    loaded.add(100, reference_images()["coffee"].rotate(180))
    assert loaded.save(directory) == first  # appended to the delta log
    assert (directory / f"delta.{first}.log").stat().st_size > 0
    replayed = ReferenceSet.load(directory)
    assert len(replayed) == len(refset) + 1 and replayed.revision == loaded.revision
    second = loaded.save(directory, compact=True)
    assert second == first + 1 == manifest_generation(directory)
    assert len(ReferenceSet.load(directory)) == len(refset) + 1
    loaded.save(directory, compact=True)
    names = {p.name for p in directory.iterdir()}
    assert f"pdq.{first}.index" not in names and f"pdq.{second}.index" in names
    assert f"delta.{first}.log" not in names


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(ReferenceSetError):
        ReferenceSet.load(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ReferenceSetError):
        ReferenceSet.load(tmp_path)
