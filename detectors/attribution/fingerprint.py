"""One generator's fingerprint: the averaged noise residual, a feature prototype, their nulls.

Enrolment touches only the new generator: its residual mean (and prototype, when a backbone
is given) and the scores of its own open-space negatives (:mod:`.open_space`), whose mean
and spread put its scores on a common z scale and whose upper tail sets its own rejection
threshold at the stated false-attribution rate. Other enrolled generators are never read,
so enrolling or removing one never retrains another.

Stored as safetensors (tensors ``residual`` and optionally ``prototype``; the rest as JSON
in the file's metadata), so the SHA-256 of the file pins everything.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from detectors.attribution.images import MIN_IMAGES, Pixels, check_images
from detectors.attribution.open_space import negatives
from detectors.attribution.residual import Residual, match, residual

METHODS = ("residual", "features", "both")
#: Open-space negatives drawn per enrolment (at most; at least one per enrolment image).
NEGATIVES = 64


@dataclass(frozen=True)
class Null:
    """Scores of the open-space negatives against one fingerprint component, and the mean
    leave-one-out score of the enrolment images themselves (``positive``)."""

    scores: tuple[float, ...]
    positive: float = 1.0

    @property
    def mean(self) -> float:
        """Mean null score."""
        return float(np.mean(self.scores))

    @property
    def std(self) -> float:
        """Spread of the null scores (floored so z stays finite)."""
        return max(float(np.std(self.scores)), 1e-6)

    def z(self, score: float) -> float:
        """Affinity of ``score``: 0 at the null mean, 1 at the generator's own typical
        (leave-one-out) score, so generators whose raw scores differ in scale compare."""
        return (score - self.mean) / max(self.positive - self.mean, self.std)

    def z_threshold(self, far: float) -> float:
        """The affinity above which at most ``far`` of the null lies (empirical, +1
        corrected)."""
        from detectors.learned.calibration import calibrate

        return self.z(calibrate(list(self.scores), far, "open-space").threshold)


@dataclass(frozen=True)
class Fingerprint:
    """What enrolment produced for one generator."""

    name: str
    method: str
    size: tuple[int, int]  # height, width of the enrolment images
    image_count: int
    far: float
    residual: Residual | None = None
    residual_null: Null | None = None
    prototype: npt.NDArray[np.float32] | None = None
    feature_null: Null | None = None
    backbone: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        """Everything but the tensors, as JSON-ready data."""
        return {
            "name": self.name,
            "method": self.method,
            "size": list(self.size),
            "image_count": self.image_count,
            "far": self.far,
            "backbone": self.backbone,
            "residual_null": list(self.residual_null.scores) if self.residual_null else None,
            "residual_positive": self.residual_null.positive if self.residual_null else None,
            "feature_null": list(self.feature_null.scores) if self.feature_null else None,
            "feature_positive": self.feature_null.positive if self.feature_null else None,
            **self.extra,
        }

    def save(self, path: str | Path) -> None:
        """Write the safetensors file."""
        from safetensors.numpy import save_file

        tensors = {}
        if self.residual is not None:
            tensors["residual"] = np.ascontiguousarray(self.residual, dtype=np.float32)
        if self.prototype is not None:
            tensors["prototype"] = np.ascontiguousarray(self.prototype, dtype=np.float32)
        save_file(tensors, str(path), metadata={"fingerprint": json.dumps(self.metadata())})

    @classmethod
    def load(cls, path: str | Path) -> Fingerprint:
        """Read what :meth:`save` wrote."""
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as handle:  # type: ignore[no-untyped-call]
            meta = json.loads(handle.metadata()["fingerprint"])
            keys = set(handle.keys())
            res = handle.get_tensor("residual") if "residual" in keys else None
            proto = handle.get_tensor("prototype") if "prototype" in keys else None
        return from_metadata(meta, res, proto)


def _null(meta: Mapping[str, Any], which: str) -> Null | None:
    scores = meta.get(f"{which}_null")
    if not scores:
        return None
    return Null(tuple(float(x) for x in scores), float(meta.get(f"{which}_positive") or 1.0))


def from_metadata(meta: Mapping[str, Any], res: Any, proto: Any) -> Fingerprint:
    """A fingerprint from its metadata and tensors (a file's or a gallery's)."""
    return Fingerprint(
        name=str(meta["name"]),
        method=str(meta["method"]),
        size=(int(meta["size"][0]), int(meta["size"][1])),
        image_count=int(meta["image_count"]),
        far=float(meta["far"]),
        residual=res,
        prototype=proto,
        backbone=meta.get("backbone"),
        residual_null=_null(meta, "residual"),
        feature_null=_null(meta, "feature"),
    )


def enrol(
    name: str,
    images: Sequence[Pixels],
    method: str = "residual",
    *,
    far: float = 0.05,
    backbone: Any = None,
    minimum: int = MIN_IMAGES,
    seed: int = 0,
) -> Fingerprint:
    """Build the fingerprint of generator ``name`` from its images (all of one size).

    ``backbone`` is ``(runner, spec)`` for the features method. Raises
    :class:`~detectors.attribution.errors.EnrolmentError` on too few or mixed-size images.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}")
    if method != "residual" and backbone is None:
        raise ValueError(f"method {method!r} needs a backbone (a store entry of kind backbone)")
    check_images(list(images), minimum)
    height, width = images[0].shape[:2]
    negs = negatives(
        images, max(len(images), NEGATIVES) if len(images) < NEGATIVES else NEGATIVES, seed=seed
    )
    res = res_null = proto = feat_null = None
    if method in ("residual", "both"):
        residuals = [residual(img) for img in images]
        res = np.mean(residuals, axis=0).astype(np.float32)
        count = len(residuals)
        loo = [match(r, (res * count - r) / (count - 1)) for r in residuals]
        res_null = Null(tuple(match(residual(n), res) for n in negs), float(np.mean(loo)))
    if method in ("features", "both"):
        from detectors.attribution.features import embed, prototype

        runner, spec = backbone
        feats = embed(runner, spec, images)
        proto = prototype(feats)
        loo = [float(feats[i] @ prototype(np.delete(feats, i, axis=0))) for i in range(len(feats))]
        feat_null = Null(
            tuple(float(x) for x in embed(runner, spec, negs) @ proto), float(np.mean(loo))
        )
    return Fingerprint(
        name,
        method,
        (height, width),
        len(images),
        far,
        res,
        res_null,
        proto,
        feat_null,
        getattr(backbone[1], "name", None) if backbone else None,
    )
