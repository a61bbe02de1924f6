"""Detector ``attribution``: which enrolled generator made this image (open set).

The model-store entry of kind ``attribution`` is the gallery the registry builds from the
enrolled generators (:mod:`.gallery`; ``provreg generator enroll``). Labels:

``<generator name>``
    an enrolled generator claims the image (its margin over its threshold is at least 0);
    ``positive``.
``unknown-generator``
    no enrolled generator is close enough: made by a generator we have not enrolled, or by
    none; not positive.
``not-found``
    the configured synthetic detector (option ``synthetic``, a resolved store entry) says the
    image looks real, so no attribution is attempted.

Evidence: the top-k generators with their scores (z, threshold, margin, raw NCC / cosine),
the open-set threshold and the calibration it came from, the resampling check of the
query's residual, and the synthetic detector's verdict when one is configured. ``score`` is
the top margin. With no enrolled generator the detector answers ``model-unavailable``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from detectors.base import JSONValue, Sample, Verdict
from detectors.learned.detector import LearnedDetector

UNKNOWN = "unknown-generator"
#: Generators listed in evidence (best margin first).
TOP_K = 5


@dataclass(frozen=True)
class Query:
    """One image's residual, its pixels (for features) and the resampling check."""

    residual: npt.NDArray[np.float32]
    pixels: npt.NDArray[np.uint8]
    resampling: dict[str, float | bool]


class AttributionDetector(LearnedDetector[Query]):
    """Open-set generator attribution by noise-residual fingerprints and feature prototypes."""

    name: ClassVar[str] = "attribution"
    version: ClassVar[str] = "1.0.0"
    model_kind: ClassVar[str] = "attribution"

    def load_model(self, spec: Any) -> None:
        from detectors.attribution.gallery import Gallery
        from detectors.learned.errors import ModelFormatError, ModelUnavailableError
        from detectors.learned.files import verify_checksum

        verify_checksum(spec.path, spec.sha256)
        try:
            self.gallery = Gallery.load(spec.path)
        except Exception as exc:  # safetensors / JSON errors of a damaged file
            raise ModelFormatError(f"cannot read attribution gallery {spec.path}: {exc}") from exc
        if not self.gallery.fingerprints:
            raise ModelUnavailableError("no generator is enrolled (provreg generator enroll)")
        self.top_k = int(self.options.get("top_k", TOP_K))
        self.backbone: Any = None
        device = self.options.get("device")
        if self.gallery.needs_features:
            from detectors.learned.runtime import load_runner

            if spec.backbone is None:
                raise ModelUnavailableError("the gallery has feature prototypes but no backbone")
            self.backbone = (load_runner(spec.backbone, device), spec.backbone)
        self.gate: Any = None
        synthetic = self.options.get("synthetic")
        if synthetic:
            from detectors.synthetic.detector import SyntheticDetector

            self.gate = SyntheticDetector({"model": synthetic, "device": device})
            self.gate.load()
        self.device = self.backbone[0].device if self.backbone else "cpu"

    def prepare(self, sample: Sample) -> Query:
        from detectors.attribution.residual import resampling, residual
        from detectors.learned.preprocess import TooSmallError, to_rgb_array

        assert sample.image is not None
        pixels = to_rgb_array(sample.image)
        if min(pixels.shape[:2]) < 16:
            raise TooSmallError(
                f"image is {pixels.shape[1]}x{pixels.shape[0]}; attribution "
                "needs at least 16x16 pixels"
            )
        res = residual(pixels)
        return Query(res, pixels, resampling(res).to_json())

    def judge(self, samples: Sequence[Sample], prepared: Sequence[Query]) -> list[Verdict]:
        gates = self.gate.detect_batch(samples) if self.gate is not None else [None] * len(samples)
        features: Sequence[Any] = [None] * len(prepared)
        if self.backbone is not None:
            from detectors.attribution.features import embed

            runner, spec = self.backbone
            features = list(embed(runner, spec, [q.pixels for q in prepared]))
        calibration: JSONValue = self.gallery.describe()
        out = []
        for sample, query, feature, gate in zip(samples, prepared, features, gates, strict=True):
            evidence: dict[str, JSONValue] = {
                "device": self.device,
                "resampling": dict(query.resampling),
                "calibration": calibration,
                "enrolled": len(self.gallery.fingerprints),
            }
            if gate is not None:
                evidence["synthetic"] = {
                    "label": gate.label,
                    "positive": gate.positive,
                    "score": gate.score,
                    "error": gate.error,
                }
                if gate.error is None and not gate.positive:
                    out.append(self.not_found(sample, evidence=evidence))
                    continue
            scores = self.gallery.scores(query.residual, feature)
            if not scores:
                out.append(
                    self.error(
                        sample,
                        "detector-exception",
                        {"message": "no enrolled generator could be scored"},
                    )
                )
                continue
            label = self.gallery.decide(scores)
            evidence["top_k"] = [s.to_json() for s in scores[: self.top_k]]
            evidence["threshold"] = round(scores[0].threshold, 4)
            out.append(
                self.verdict(
                    sample,
                    label,
                    label != UNKNOWN,
                    score=round(scores[0].margin, 6),
                    evidence=evidence,
                )
            )
        return out
