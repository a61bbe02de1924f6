"""Measure an attribution gallery: closed-set accuracy, AUROC known-vs-unknown, OSCR.

Known test images come from enrolled generators (held out from enrolment); unknown ones
from generators that are not enrolled. The open-set score of an image is its top margin
(:class:`~.gallery.Score`): AUROC is how well it separates known from unknown, OSCR weighs
that with being right about which known generator it was.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from detectors.attribution.gallery import UNKNOWN, Gallery
from detectors.attribution.images import Pixels
from detectors.attribution.metrics import auroc, closed_set_accuracy, oscr
from detectors.attribution.residual import residual


@dataclass(frozen=True)
class Evaluation:
    """Figures for one gallery on one labelled test set."""

    closed_set_accuracy: float
    auroc: float
    oscr: float
    known_attributed: float  # share of known images given their own generator's name
    unknown_rejected: float  # share of unknown images labelled unknown-generator
    known: int
    unknown: int

    def to_json(self) -> dict[str, Any]:
        """Plain JSON."""
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def open_set_scores(
    gallery: Gallery, images: Sequence[Pixels], backbone: Any = None
) -> list[tuple[str, str, float]]:
    """(top-1 by margin, label, top margin) per image."""
    features: list[Any] = [None] * len(images)
    if backbone is not None and gallery.needs_features:
        from detectors.attribution.features import embed

        features = list(embed(backbone[0], backbone[1], images))
    out = []
    for img, feature in zip(images, features, strict=True):
        scores = gallery.scores(residual(img), feature)
        out.append((scores[0].name, gallery.decide(scores), scores[0].margin))
    return out


def evaluate(
    gallery: Gallery,
    known: Mapping[str, Sequence[Pixels]],
    unknown: Mapping[str, Sequence[Pixels]],
    backbone: Any = None,
) -> Evaluation:
    """Score every test image and compute the figures."""
    truth, top, labels, known_scores = [], [], [], []
    for name, images in known.items():
        for top1, label, margin in open_set_scores(gallery, images, backbone):
            truth.append(name)
            top.append(top1)
            labels.append(label)
            known_scores.append(margin)
    unknown_results = [
        r for images in unknown.values() for r in open_set_scores(gallery, images, backbone)
    ]
    unknown_scores = [m for _, _, m in unknown_results]
    correct = [t == p for t, p in zip(truth, top, strict=True)]
    return Evaluation(
        closed_set_accuracy=closed_set_accuracy(truth, top),
        auroc=auroc(unknown_scores, known_scores),
        oscr=oscr(known_scores, correct, unknown_scores),
        known_attributed=sum(t == lab for t, lab in zip(truth, labels, strict=True))
        / max(1, len(truth)),
        unknown_rejected=sum(lab == UNKNOWN for _, lab, _ in unknown_results)
        / max(1, len(unknown_results)),
        known=len(truth),
        unknown=len(unknown_results),
    )
