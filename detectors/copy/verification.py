"""Geometric verification of a candidate (query, reference) pair with SIFT + RANSAC.

PDQ is a global hash: crops of more than a few percent, small rotations, added borders and
overlays move it past its threshold. Local features survive those edits. For a pair we:

1. convert both images to grayscale and shrink them so the longest side is at most
   ``max_side`` (512 px) — this bounds the cost to a few tens of milliseconds;
2. detect at most ``max_keypoints`` (1000) SIFT keypoints in each (OpenCV);
3. match descriptors 2-NN and keep Lowe's ratio test survivors (``ratio`` 0.75);
4. fit a homography with RANSAC (reprojection error ``ransac_px`` 5 px, in the resized
   frame) and count its inliers;
5. repeat with the query mirrored horizontally and keep the better pass.

The pair is *verified* when all of these hold (measured on the edit and null sets in
tests/detectors/test_copy_matcher.py; see docs/detectors/copy.md):

- at least ``min_inliers`` (20) RANSAC inliers — near-copies give 60 to several hundred,
  unrelated photo pairs up to about 30, so the count alone is not enough;
- at least ``min_inlier_ratio`` (0.25) of the ratio-test matches are inliers — true copies
  give 0.4 (images with repeated shapes) to 1.0; chance fits 0.3 to 0.8, so this is only a
  floor and the two geometric checks below do the separating;
- the homography is close to affine: both perspective terms at most ``max_perspective``
  (0.0015 per pixel of the <= 512 px frame; copies give under 1e-4, chance fits 0.002+);
- its 2x2 linear part has a determinant between 0.1 and 10 (area scale within about 3x
  either way in the resized frames, which already share a longest side of 512 px).

OpenCV is used rather than a hand-written matcher: SIFT, FLANN/BF matching and RANSAC are
mature there, and the package is already a dependency.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

MAX_SIDE = 512
MAX_KEYPOINTS = 1000
RATIO = 0.75
RANSAC_PX = 5.0
MIN_INLIERS = 20
MIN_INLIER_RATIO = 0.25
MAX_PERSPECTIVE = 0.0015
MAX_AREA_SCALE = 10.0
MAX_EVIDENCE_PAIRS = 40
"""At most this many inlier keypoint pairs are kept in the evidence (for drawing them)."""


@dataclass(frozen=True)
class VerificationResult:
    """Outcome of verifying one pair.

    ``homography`` maps query pixel coordinates (in the resized, and if ``mirrored`` the
    mirrored, query frame) to the resized reference frame; ``None`` when none was found.
    """

    inliers: int
    matches: int
    mirrored: bool
    verified: bool
    homography: tuple[tuple[float, ...], ...] | None
    pairs: tuple[tuple[float, float, float, float], ...] = ()
    """Up to :data:`MAX_EVIDENCE_PAIRS` RANSAC inliers as ``(qx, qy, rx, ry)`` in the same
    frames as ``homography`` (query x counted in the mirrored frame when ``mirrored``)."""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary (the homography rounded to 4 decimals)."""
        return {
            "inliers": self.inliers,
            "matches": self.matches,
            "mirrored": self.mirrored,
            "verified": self.verified,
            "homography": None
            if self.homography is None
            else [[round(v, 4) for v in row] for row in self.homography],
            "frame_max_side": MAX_SIDE,
            "inlier_pairs": [[round(v, 1) for v in pair] for pair in self.pairs],
        }


@dataclass(frozen=True)
class Features:
    """SIFT keypoint coordinates and descriptors of one prepared image.

    Descriptors are held as ``uint8`` (SIFT components lie in 0..255; rounding moves each by
    at most 0.5), a quarter of float32's memory: about 128 KB per 1000 keypoints.
    """

    points: npt.NDArray[np.float32]
    descriptors: npt.NDArray[np.uint8] | None


class GeometricVerifier:
    """SIFT + ratio test + RANSAC homography, with a mirrored second pass."""

    def __init__(
        self,
        *,
        max_side: int = MAX_SIDE,
        max_keypoints: int = MAX_KEYPOINTS,
        ratio: float = RATIO,
        ransac_px: float = RANSAC_PX,
        min_inliers: int = MIN_INLIERS,
        min_inlier_ratio: float = MIN_INLIER_RATIO,
        max_perspective: float = MAX_PERSPECTIVE,
        max_area_scale: float = MAX_AREA_SCALE,
    ) -> None:
        self.max_side = max_side
        self.max_keypoints = max_keypoints
        self.ratio = ratio
        self.ransac_px = ransac_px
        self.min_inliers = min_inliers
        self.min_inlier_ratio = min_inlier_ratio
        self.max_perspective = max_perspective
        self.max_area_scale = max_area_scale
        self._sift: Any = cv2.SIFT_create(nfeatures=max_keypoints)  # type: ignore[attr-defined]
        self._matcher = cv2.BFMatcher(cv2.NORM_L2)

    def prepare(self, image: Image.Image) -> npt.NDArray[np.uint8]:
        """Grayscale ``uint8`` array with the longest side at most ``max_side``."""
        gray = image.convert("L")
        scale = self.max_side / max(gray.width, gray.height)
        if scale < 1.0:
            size = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
            gray = gray.resize(size, Image.Resampling.BILINEAR)
        return np.ascontiguousarray(np.asarray(gray, dtype=np.uint8))

    def features(self, gray: npt.NDArray[np.uint8]) -> Features:
        """Detect and describe at most ``max_keypoints`` SIFT keypoints."""
        keypoints, descriptors = self._sift.detectAndCompute(gray, None)
        points = np.array([kp.pt for kp in keypoints], dtype=np.float32).reshape(-1, 2)
        if descriptors is None:
            return Features(points, None)
        return Features(points, np.clip(np.rint(descriptors), 0, 255).astype(np.uint8))

    def query_features(self, query: Image.Image) -> tuple[Features, Features]:
        """Features of the query and of its horizontal mirror, to reuse across references."""
        gray = self.prepare(query)
        return self.features(gray), self.features(np.ascontiguousarray(gray[:, ::-1]))

    def verify(
        self,
        query: Image.Image | tuple[Features, Features],
        reference: Image.Image | Features,
    ) -> VerificationResult:
        """Verify ``query`` against ``reference``; either may be given as precomputed
        features (:meth:`query_features` for the query, :meth:`features` for a reference).

        The straight and mirrored passes are both run; a verified pass wins over an
        unverified one, then the one with more inliers.
        """
        ref = (
            reference if isinstance(reference, Features) else self.features(self.prepare(reference))
        )
        straight_f, mirrored_f = query if isinstance(query, tuple) else self.query_features(query)
        straight = self._pass(straight_f, ref, mirrored=False)
        mirrored = self._pass(mirrored_f, ref, mirrored=True)
        return max((straight, mirrored), key=lambda r: (r.verified, r.inliers))

    def _pass(self, query: Features, ref: Features, *, mirrored: bool) -> VerificationResult:
        nothing = VerificationResult(0, 0, mirrored, False, None)
        if (
            query.descriptors is None
            or ref.descriptors is None
            or len(query.points) < 4
            or len(ref.points) < 4
        ):
            return nothing
        pairs = self._matcher.knnMatch(
            query.descriptors.astype(np.float32), ref.descriptors.astype(np.float32), k=2
        )
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < self.ratio * p[1].distance]
        if len(good) < 4:
            return VerificationResult(0, len(good), mirrored, False, None)
        src = query.points[[m.queryIdx for m in good]].reshape(-1, 1, 2)
        dst = ref.points[[m.trainIdx for m in good]].reshape(-1, 1, 2)
        homography, mask = cv2.findHomography(src, dst, cv2.RANSAC, self.ransac_px)
        if homography is None or mask is None:
            return VerificationResult(0, len(good), mirrored, False, None)
        inliers = int(mask.sum())
        rows = tuple(tuple(float(v) for v in row) for row in homography)
        accepted = self._accept(np.asarray(homography, dtype=np.float64), inliers, len(good))
        return VerificationResult(
            inliers, len(good), mirrored, accepted, rows, _sample_pairs(src, dst, mask)
        )

    def _accept(self, homography: npt.NDArray[np.float64], inliers: int, matches: int) -> bool:
        det = float(np.linalg.det(homography[:2, :2]))
        return (
            inliers >= self.min_inliers
            and inliers >= self.min_inlier_ratio * matches
            and float(np.abs(homography[2, :2]).max()) <= self.max_perspective
            and 1.0 / self.max_area_scale <= det <= self.max_area_scale
        )


def _sample_pairs(
    src: npt.NDArray[np.float32], dst: npt.NDArray[np.float32], mask: npt.NDArray[Any]
) -> tuple[tuple[float, float, float, float], ...]:
    """Evenly spaced inlier pairs, at most :data:`MAX_EVIDENCE_PAIRS` (evidence stays small)."""
    index = np.flatnonzero(mask.ravel())
    if len(index) > MAX_EVIDENCE_PAIRS:
        index = index[np.linspace(0, len(index) - 1, MAX_EVIDENCE_PAIRS).astype(int)]
    return tuple(
        (float(src[i, 0, 0]), float(src[i, 0, 1]), float(dst[i, 0, 0]), float(dst[i, 0, 1]))
        for i in index
    )
