"""The enrolled generators together, and the open-set decision over them.

Per generator ``g`` and query ``q``: the residual score is :func:`~.residual.match` of their
residuals, the feature score the cosine of ``q``'s feature with ``g``'s prototype; each is
put on ``g``'s own scale: the affinity ``z`` is 0 at the mean score of its open-space negatives
and 1 at the mean leave-one-out score of its own enrolment images (so generators whose raw
correlations differ in scale compare); a generator enrolled with both methods gets
``(z_residual + z_features) / sqrt(2)``. ``g``'s margin is its z minus
its threshold: its own (the z its open-space null exceeds at the enrolment FAR), or, once
``provreg generator calibrate`` has run, the gallery-wide threshold calibrated on held-out
known and unknown generators. Generators are ranked by margin; the top one is the label when
its margin is at least 0, else ``unknown-generator``.

The gallery file is one safetensors (``<i>.residual`` / ``<i>.prototype`` per generator, the
rest in metadata), rebuilt by the registry from the enrolled fingerprints; its SHA-256 is the
detector's model checksum, so any change to the enrolled set is a new detector identity.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from detectors.attribution.fingerprint import Fingerprint, Null, from_metadata
from detectors.attribution.residual import Residual, match

UNKNOWN = "unknown-generator"


@dataclass(frozen=True)
class Score:
    """One generator's score for one query."""

    name: str
    z: float
    threshold: float
    residual: float | None
    feature: float | None

    @property
    def margin(self) -> float:
        """``z - threshold``: at least 0 means the generator claims the query."""
        return self.z - self.threshold

    def to_json(self) -> dict[str, Any]:
        """Evidence form."""
        out: dict[str, Any] = {
            "generator": self.name,
            "z": round(self.z, 4),
            "threshold": round(self.threshold, 4),
            "margin": round(self.margin, 4),
        }
        if self.residual is not None:
            out["residual_ncc"] = round(self.residual, 6)
        if self.feature is not None:
            out["feature_cosine"] = round(self.feature, 6)
        return out


def combined_null(fp: Fingerprint) -> Null:
    """The z scores of ``fp``'s own negatives under its method (the null of its z)."""
    parts = [n for n in (fp.residual_null, fp.feature_null) if n is not None]
    zs = np.sum([[n.z(s) for s in n.scores] for n in parts], axis=0) / math.sqrt(len(parts))
    return Null(tuple(float(z) for z in zs))


@dataclass
class Gallery:
    """Enrolled fingerprints, their record details and the gallery-wide calibration."""

    fingerprints: list[Fingerprint]
    records: list[dict[str, Any]] = field(default_factory=list)
    calibration: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self._own = [combined_null(fp).z_threshold(fp.far) for fp in self.fingerprints]

    @property
    def needs_features(self) -> bool:
        """Whether any generator was enrolled with backbone features."""
        return any(fp.prototype is not None for fp in self.fingerprints)

    @property
    def names(self) -> list[str]:
        """Enrolled generator names, in gallery order."""
        return [fp.name for fp in self.fingerprints]

    def threshold(self, index: int) -> float:
        """The z threshold generator ``index`` is held to."""
        if self.calibration is not None:
            return float(self.calibration["threshold"])
        return self._own[index]

    def scores(
        self, res: Residual | None, feature: npt.NDArray[np.float32] | None = None
    ) -> list[Score]:
        """Every generator's score for one query, best margin first."""
        out = []
        for index, fp in enumerate(self.fingerprints):
            zs: list[float] = []
            r = f = None
            if fp.residual is not None and fp.residual_null is not None and res is not None:
                r = match(res, fp.residual)
                zs.append(fp.residual_null.z(r))
            if fp.prototype is not None and fp.feature_null is not None and feature is not None:
                f = float(feature @ fp.prototype)
                zs.append(fp.feature_null.z(f))
            if not zs:
                continue
            out.append(Score(fp.name, sum(zs) / math.sqrt(len(zs)), self.threshold(index), r, f))
        return sorted(out, key=lambda s: s.margin, reverse=True)

    @staticmethod
    def decide(scores: Sequence[Score]) -> str:
        """The top generator if it claims the query, else :data:`UNKNOWN`."""
        return scores[0].name if scores and scores[0].margin >= 0 else UNKNOWN

    def describe(self) -> dict[str, Any]:
        """The calibration a verdict came from (evidence)."""
        if self.calibration is not None:
            keep = (
                "threshold",
                "far",
                "known_images",
                "unknown_images",
                "calibrated_at",
                "calibrated_by",
                "metrics",
            )
            return {
                "source": "provreg generator calibrate",
                **{k: self.calibration[k] for k in keep if k in self.calibration},
            }
        return {
            "source": "enrolment open-space negatives (POSE-style), per generator",
            "far": {fp.name: fp.far for fp in self.fingerprints},
            "negatives": {fp.name: len(combined_null(fp).scores) for fp in self.fingerprints},
        }

    def save(self, path: str | Path) -> None:
        """Write the gallery safetensors file."""
        from safetensors.numpy import save_file

        tensors: dict[str, npt.NDArray[np.float32]] = {}
        for index, fp in enumerate(self.fingerprints):
            if fp.residual is not None:
                tensors[f"{index}.residual"] = np.ascontiguousarray(fp.residual)
            if fp.prototype is not None:
                tensors[f"{index}.prototype"] = np.ascontiguousarray(fp.prototype)
        meta = {
            "generators": [fp.metadata() for fp in self.fingerprints],
            "records": self.records,
            "calibration": self.calibration,
        }
        if not tensors:  # safetensors needs at least one tensor to write a valid file
            tensors["empty"] = np.zeros(1, dtype=np.float32)
        save_file(tensors, str(path), metadata={"gallery": json.dumps(meta, sort_keys=True)})

    @classmethod
    def load(cls, path: str | Path) -> Gallery:
        """Read what :meth:`save` wrote."""
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as handle:  # type: ignore[no-untyped-call]
            meta = json.loads(handle.metadata()["gallery"])
            keys = set(handle.keys())
            tensors = {k: handle.get_tensor(k) for k in keys}
        fps = []
        for index, data in enumerate(meta["generators"]):
            fps.append(
                from_metadata(
                    data, tensors.get(f"{index}.residual"), tensors.get(f"{index}.prototype")
                )
            )
        return cls(fps, list(meta.get("records") or []), meta.get("calibration"))
