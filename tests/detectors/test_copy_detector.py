"""Conformance and behaviour tests for the copy detector."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from detectors.base import Detector, Sample
from detectors.copy.detector import CopyDetector
from detectors.copy.matcher import ReferenceSet
from detectors.testing.conformance import DetectorConformance, noise_image, sample_from_image
from detectors.testing.copy_fixtures import EDITS, null_images, reference_images

REFS = ["astronaut", "rocket", "textured-1"]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("copy-refs")
    references = ReferenceSet()
    images = reference_images()
    for ref_id, name in enumerate(REFS):
        references.add(ref_id, images[name], sha256=f"{ref_id + 1:064x}", bank=name)
    references.save(directory)
    yield directory


class TestCopyDetector(DetectorConformance):
    detector_class = CopyDetector
    index_dir: Path

    @pytest.fixture(autouse=True)
    def _use_index(self, index_dir: Path) -> None:
        self.index_dir = index_dir

    def make_detector(self) -> Detector:
        detector = CopyDetector({"index_dir": str(self.index_dir)})
        detector.load()
        return detector

    def positive_examples(self) -> list[tuple[Sample, str]]:
        images = reference_images()
        return [
            (sample_from_image(EDITS["jpeg50"](images["astronaut"]), "JPEG"), "copy"),
            (sample_from_image(EDITS["hflip"](images["rocket"])), "copy"),
            (sample_from_image(EDITS["border"](images["textured-1"])), "copy"),
        ]

    def negative_examples(self) -> list[Sample]:
        nulls = null_images()
        return [
            sample_from_image(nulls["camera"]),
            sample_from_image(nulls["flower-crop"]),
            sample_from_image(noise_image(4)),
        ]

    def test_evidence_of_a_match(self) -> None:
        detector = self.make_detector()
        sample = sample_from_image(EDITS["crop10"](reference_images()["rocket"]))
        (verdict,) = detector.detect_batch([sample])
        assert verdict.positive and verdict.label == "copy"
        matches = verdict.evidence["matches"]
        assert isinstance(matches, list) and matches
        best = matches[0]
        assert isinstance(best, dict)
        assert best["bank"] == "rocket" and best["reference_sha256"] == f"{2:064x}"
        assert best["match"] is True and isinstance(best["verification"], dict)
        assert best["verification"]["verified"] is True
        assert {"distance", "quality", "signal"} <= set(best)
        # The score measures what decided: SIFT inliers here, not the far-off PDQ distance.
        inliers = best["verification"]["inliers"]
        assert best["match_kind"] == "verified"
        assert verdict.evidence["score_basis"] == "sift-inliers"
        assert verdict.score == min(1.0, inliers / 100)
        assert verdict.score > 1 - best["distance"] / 256
        pairs = best["verification"]["inlier_pairs"]
        assert 4 <= len(pairs) <= min(40, inliers)
        assert all(len(p) == 4 and all(0 <= v <= 512 for v in p) for p in pairs)

    def test_hash_match_scores_by_pdq_bits(self) -> None:
        sample = sample_from_image(EDITS["exact"](reference_images()["astronaut"]))
        (verdict,) = self.make_detector().detect_batch([sample])
        best = verdict.evidence["matches"][0]
        assert isinstance(best, dict) and best["match_kind"] == "hash"
        assert verdict.evidence["score_basis"] == "pdq-bits-agreeing"
        assert verdict.score == round(1 - best["distance"] / 256, 6)

    def test_not_found_reports_best_distance(self) -> None:
        (verdict,) = self.make_detector().detect_batch([sample_from_image(noise_image(9))])
        assert verdict.label == "not-found" and not verdict.positive
        assert isinstance(verdict.evidence["best_distance"], int)
        assert verdict.evidence["best_distance"] > 31


def _detector(options: dict[str, Any]) -> Detector:
    detector = CopyDetector(options)
    detector.load()
    return detector


@pytest.mark.parametrize("options", [{}, {"index_dir": None}, {"index_dir": "/nonexistent/x"}])
def test_no_references_loaded(options: dict[str, Any]) -> None:
    (verdict,) = _detector(options).detect_batch([sample_from_image(noise_image(1))])
    assert verdict.label == "not-found" and verdict.error is None
    assert verdict.evidence["references_loaded"] == 0
    assert "no references" in str(verdict.evidence["note"])


def test_large_and_odd_images_are_judged(index_dir: Path) -> None:
    from PIL import Image

    rocket = reference_images()["rocket"]
    samples = [
        sample_from_image(rocket.resize((4000, 2670))),  # bounded to 1024 px before hashing
        sample_from_image(rocket.convert("RGBA")),
        sample_from_image(rocket.convert("P")),
        sample_from_image(Image.new("RGB", (1, 1))),
        sample_from_image(Image.new("RGB", (2, 3000), (1, 2, 3))),
    ]
    verdicts = _detector({"index_dir": str(index_dir)}).detect_batch(samples)
    assert [v.error for v in verdicts] == [None] * 5
    assert [v.positive for v in verdicts] == [True, True, True, False, False]
    assert verdicts[3].evidence["low_quality"] is True


def test_picks_up_appends_and_newer_generations(tmp_path: Path) -> None:
    images = reference_images()
    references = ReferenceSet()
    references.add(1, images["coffee"])
    references.save(tmp_path)
    detector = _detector({"index_dir": str(tmp_path)})
    query = sample_from_image(EDITS["jpeg50"](images["china"]), "JPEG")
    assert not detector.detect_batch([query])[0].positive
    references.add(2, images["china"], bank="news")
    references.save(tmp_path)  # appended to the delta log: same generation
    (verdict,) = detector.detect_batch([query])
    assert verdict.positive
    assert (verdict.evidence["generation"], verdict.evidence["revision"]) == (1, 2)
    references.remove(2)
    references.save(tmp_path, compact=True)  # a new generation: the detector reloads
    (verdict,) = detector.detect_batch([query])
    assert not verdict.positive
    assert (verdict.evidence["generation"], verdict.evidence["revision"]) == (2, 3)
