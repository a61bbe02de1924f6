"""Geometric verification: edits PDQ misses are verified, unrelated pairs are not."""

from __future__ import annotations

import pytest

from detectors.copy.verification import GeometricVerifier
from detectors.testing.copy_fixtures import EDITS, null_images, reference_images


@pytest.fixture(scope="module")
def verifier() -> GeometricVerifier:
    return GeometricVerifier()


@pytest.mark.parametrize("edit", ["crop10", "rotate5", "text-overlay", "border"])
@pytest.mark.parametrize("name", ["rocket", "textured-1"])
def test_edits_are_verified(verifier: GeometricVerifier, name: str, edit: str) -> None:
    reference = reference_images()[name]
    result = verifier.verify(EDITS[edit](reference), reference)
    assert result.verified, result
    assert not result.mirrored
    assert result.homography is not None and result.inliers >= verifier.min_inliers


def test_mirrored_copy_is_verified_as_mirrored(verifier: GeometricVerifier) -> None:
    reference = reference_images()["china"]
    result = verifier.verify(EDITS["hflip"](EDITS["crop10"](reference)), reference)
    assert result.verified and result.mirrored
    assert result.to_json()["mirrored"] is True


@pytest.mark.slow
def test_unrelated_pairs_are_not_verified(verifier: GeometricVerifier) -> None:
    references = reference_images()
    nulls = null_images()
    for null_name in ("camera", "coins", "brick", "hubble", "hubble-crop", "noise-0"):
        for ref_name, reference in references.items():
            result = verifier.verify(
                nulls[null_name], verifier.features(verifier.prepare(reference))
            )
            assert not result.verified, (null_name, ref_name, result)


def test_cost_is_bounded_by_resizing(verifier: GeometricVerifier) -> None:
    big = reference_images()["rocket"].resize((2000, 1400))
    gray = verifier.prepare(big)
    assert max(gray.shape) == verifier.max_side
    assert len(verifier.features(gray).points) <= verifier.max_keypoints + 50
