"""The ``laundering`` detector trained on the stand-in data: pristine tiles, tiles passed
through a small AutoencoderKL (laundered) and its decoder's outputs (fully synthetic)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import pytest

from detectors.base import Sample
from detectors.laundering.detector import LaunderingDetector
from detectors.testing.conformance import DetectorConformance
from tests import learned_fixtures
from tests.detectors.test_synthetic_detector import held_out


@pytest.mark.slow
class TestLaunderingConformance(DetectorConformance):
    detector_class: ClassVar[type[LaunderingDetector]] = LaunderingDetector

    @property
    def options(self) -> Mapping[str, Any]:  # type: ignore[override]
        return {"model": learned_fixtures.spec("laundering-test").to_options()}

    def positive_examples(self) -> list[tuple[Sample, str]]:
        detector = self.make_detector()
        out = []
        for folder, label, seed in (
            ("laundered", "laundered", 1),
            ("synthetic", "fully-synthetic", 2),
        ):
            samples = held_out(folder, 12, seed)
            verdicts = detector.detect_batch(samples)
            right = [s for s, v in zip(samples, verdicts, strict=True) if v.label == label]
            assert len(right) >= 6, f"{folder}: {[v.label for v in verdicts]}"
            out += [(s, label) for s in right[:3]]
        return out

    def negative_examples(self) -> list[Sample]:
        samples = held_out("real", 12, 0)
        verdicts = self.make_detector().detect_batch(samples)
        passed = [s for s, v in zip(samples, verdicts, strict=True) if not v.positive]
        assert len(passed) >= 9, [v.score for v in verdicts]
        return passed[:4]


def test_evidence_has_distances_and_an_anomaly_map() -> None:
    spec = learned_fixtures.spec("laundering-test")
    detector = LaunderingDetector({"model": spec.to_options()})
    laundered = detector.detect_batch(held_out("laundered", 4, 1))
    pristine = detector.detect_batch(held_out("real", 4, 0))
    for verdict in laundered + pristine:
        grid = verdict.evidence["anomaly_map"]
        assert isinstance(grid, list) and len(grid) >= 2
        assert all(0.0 <= x <= 1.0 for row in grid for x in row)  # type: ignore[union-attr]
        ae = verdict.evidence["autoencoders"]["tiny-vae"]  # type: ignore[index]
        assert 0 <= ae["distance"] <= 1 and 0 < ae["fpr"] <= 1  # type: ignore[index]
    # AEROBLADE: an autoencoder's own outputs reconstruct better than real photos
    d_laundered = sorted(
        v.evidence["autoencoders"]["tiny-vae"]["distance"]  # type: ignore[index]
        for v in laundered
    )
    d_pristine = sorted(
        v.evidence["autoencoders"]["tiny-vae"]["distance"]  # type: ignore[index]
        for v in pristine
    )
    assert d_laundered[len(d_laundered) // 2] < d_pristine[len(d_pristine) // 2]


def test_card_has_a_confusion_matrix_over_the_held_out_split() -> None:
    card = learned_fixtures.store().get("laundering-test").card
    matrix = card["confusion"]["matrix"]
    assert len(matrix) == 3 and all(len(row) == 3 for row in matrix)
    held = card["trained_on"]
    assert [sum(row) for row in matrix] == [
        held["held_out_pristine"],
        held["held_out_laundered"],
        held["held_out_fully-synthetic"],
    ]
    assert card["metrics"]["auroc_pristine_vs_rest"] > 0.8, card["metrics"]
