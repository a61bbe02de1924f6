"""Detector ``synthetic``: is this image the output of an image generator?

Two methods, chosen by the model-store entry configured for it (docs/detectors/synthetic.md):

``npr``
    A CNN on neighbouring-pixel residuals ``x - up(down(x))`` (NPR, Tan et al. 2024): the
    up-sampling layers of generators leave correlations between neighbouring pixels that the
    residual exposes. The entry is a state dict for ``npr_resnet50`` (the published NPR
    checkpoint) or ``npr_tiny`` (``provreg train synthetic``), or any TorchScript / ONNX graph
    mapping crops to one logit.
``probe``
    A linear probe over a frozen backbone (UnivFD, Ojha et al. 2023): CLIP ViT-L/14 image
    features and one linear layer. The entry is the head (``fc_weights.pth``); its card names
    the backbone's entry.

The image is read as up to ``max_crops`` crops at native resolution (never resized); the score
is the mean logit. Label ``synthetic`` when the score reaches the card's threshold, else
``not-found``; ``p_value`` is the empirical FPR of the score on the card's null set (held-out
real images), named in evidence. Without a calibration the threshold is logit 0 and
``p_value`` is null.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from detectors.base import JSONValue, Sample, Verdict
from detectors.learned.detector import LearnedDetector
from detectors.learned.preprocess import Prepared

LABEL = "synthetic"


class SyntheticDetector(LearnedDetector[Prepared]):
    """Generated-image detector over an NPR CNN or a UnivFD-style linear probe."""

    name: ClassVar[str] = "synthetic"
    version: ClassVar[str] = "1.0.0"
    model_kind: ClassVar[str] = "synthetic"

    def load_model(self, spec: Any) -> None:
        from detectors.learned.runtime import load_runner

        precision = bool(self.options.get("mixed_precision", False))
        device = self.options.get("device")
        self.head = load_runner(spec, device, mixed_precision=precision)
        self.backbone = (
            load_runner(spec.backbone, device, mixed_precision=precision)
            if spec.backbone is not None
            else None
        )
        source = spec.backbone or spec
        self.input_size = source.input_size
        self.mean, self.std = source.mean, source.std
        self.calibration = spec.calibration
        self.threshold = (
            self.calibration.threshold
            if self.calibration is not None
            else float(spec.card.get("threshold", 0.0))
        )
        self.batch_size = int(self.options.get("batch_size", 32))
        self.max_crops = int(self.options.get("max_crops", 9))

    def prepare(self, sample: Sample) -> Prepared:
        from detectors.learned.preprocess import prepare

        assert sample.image is not None
        return prepare(sample.image, self.input_size, self.mean, self.std, self.max_crops)

    def scores(self, prepared: Sequence[Prepared]) -> list[float]:
        """Mean logit over each image's crops."""
        crops = np.concatenate([p.crops for p in prepared])
        logits = []
        for start in range(0, len(crops), self.batch_size):
            chunk = crops[start : start + self.batch_size]
            if self.backbone is not None:
                chunk = self.backbone(chunk)
            logits.append(self.head(chunk).reshape(len(chunk), -1)[:, 0])
        flat = np.concatenate(logits)
        bounds = np.cumsum([0, *(len(p.crops) for p in prepared)])
        return [float(flat[a:b].mean()) for a, b in itertools.pairwise(bounds)]

    def judge(self, samples: Sequence[Sample], prepared: Sequence[Prepared]) -> list[Verdict]:
        verdicts = []
        for sample, prep, score in zip(samples, prepared, self.scores(prepared), strict=True):
            if not np.isfinite(score):
                verdicts.append(
                    self.error(
                        sample,
                        "detector-exception",
                        {"message": "the model returned a non-finite score"},
                    )
                )
                continue
            evidence: dict[str, JSONValue] = {
                "model": self.spec.summary(),
                "device": self.head.device,
                "threshold": self.threshold,
                "crops": len(prep.crops),
                "input_size": self.input_size,
            }
            if prep.padded:
                evidence["padded"] = {
                    "original_size": list(prep.original_size),
                    "reason": "smaller than the model input; padded with the image's mean colour",
                }
            p_value = None
            if self.calibration is not None:
                p_value = self.calibration.fpr_at(score)
                evidence["null_set"] = self.calibration.null_set
                evidence["calibrated_fpr"] = self.calibration.target_fpr
            else:
                evidence["calibrated"] = False
            if score >= self.threshold:
                verdicts.append(
                    self.verdict(
                        sample, LABEL, True, score=score, p_value=p_value, evidence=evidence
                    )
                )
            else:
                verdicts.append(
                    self.not_found(sample, score=score, p_value=p_value, evidence=evidence)
                )
        return verdicts
