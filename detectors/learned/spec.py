"""What a learned detector is told about its weights: one resolved model-store entry.

The registry resolves a manifest entry to a :class:`ModelSpec` (local path, pinned SHA-256,
format, architecture and its config, preprocessing, calibration, card) and hands it to the
detector as plain JSON in its options (``options["model"]``), so detectors never import the
registry and a spec survives the trip to a Ray actor unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from detectors.learned.calibration import Calibration
from detectors.learned.errors import ModelFormatError


@dataclass(frozen=True)
class ModelSpec:
    """One weight file and everything needed to run it."""

    name: str
    path: str
    sha256: str
    format: str
    architecture: str | None
    kind: str
    config: Mapping[str, Any] = field(default_factory=dict)
    card: Mapping[str, Any] = field(default_factory=dict)
    #: The backbone a probe head runs on (UnivFD: CLIP ViT-L/14).
    backbone: ModelSpec | None = None
    #: Candidate autoencoders for reconstruction distances (laundering).
    autoencoders: tuple[ModelSpec, ...] = ()
    cache_dir: str | None = None

    @property
    def input_size(self) -> int:
        """Side of the square the model reads (card, else the architecture's default)."""
        pre = self.card.get("preprocess", {})
        if "input_size" in pre:
            return int(pre["input_size"])
        if not self.architecture:
            return 224
        from detectors.learned.archs import get_architecture  # imports torch

        return get_architecture(self.architecture).input_size

    @property
    def mean(self) -> tuple[float, float, float]:
        """Per-channel normalisation mean."""
        return self._norm("mean")

    @property
    def std(self) -> tuple[float, float, float]:
        """Per-channel normalisation std."""
        return self._norm("std")

    def _norm(self, which: str) -> tuple[float, float, float]:
        pre = self.card.get("preprocess", {})
        if which in pre:
            a, b, c = (float(x) for x in pre[which])
            return (a, b, c)
        if self.architecture:
            from detectors.learned.archs import get_architecture  # imports torch

            arch = get_architecture(self.architecture)
            return arch.mean if which == "mean" else arch.std
        return (0.0, 0.0, 0.0) if which == "mean" else (1.0, 1.0, 1.0)

    @property
    def calibration(self) -> Calibration | None:
        """The card's calibration, if it has one."""
        data = self.card.get("calibration")
        if data is None:
            return None
        try:
            return Calibration.from_json(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFormatError(
                f"model {self.name!r} has a malformed calibration: {exc}"
            ) from exc

    @property
    def method(self) -> str:
        """How the detector uses the model (``npr``, ``probe``, ``patch``...) from its card."""
        return str(self.card.get("method") or "")

    def summary(self) -> dict[str, Any]:
        """The part of the card a verdict's evidence carries."""
        keep = ("method", "source", "licence", "trained_on", "metrics", "description")
        return {
            "name": self.name,
            "sha256": self.sha256,
            "architecture": self.architecture,
            **{k: self.card[k] for k in keep if k in self.card},
        }

    def to_options(self) -> dict[str, Any]:
        """Plain JSON for a detector's options."""
        return {
            "name": self.name,
            "path": self.path,
            "sha256": self.sha256,
            "format": self.format,
            "architecture": self.architecture,
            "kind": self.kind,
            "config": dict(self.config),
            "card": dict(self.card),
            "backbone": self.backbone.to_options() if self.backbone else None,
            "autoencoders": [a.to_options() for a in self.autoencoders],
            "cache_dir": self.cache_dir,
        }

    @classmethod
    def from_options(cls, data: Mapping[str, Any]) -> ModelSpec:
        """Read what :meth:`to_options` wrote."""
        try:
            backbone = data.get("backbone")
            return cls(
                name=str(data["name"]),
                path=str(data["path"]),
                sha256=str(data["sha256"]),
                format=str(data["format"]),
                architecture=str(data["architecture"]) if data.get("architecture") else None,
                kind=str(data.get("kind") or ""),
                config=dict(data.get("config") or {}),
                card=dict(data.get("card") or {}),
                backbone=cls.from_options(backbone) if backbone else None,
                autoencoders=tuple(cls.from_options(a) for a in data.get("autoencoders") or ()),
                cache_dir=str(data["cache_dir"]) if data.get("cache_dir") else None,
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ModelFormatError(f"malformed model spec in detector options: {exc}") from exc

    def checksum(self) -> str:
        """What a verdict's ``model_checksum`` is: this file's SHA-256, or, for a model
        built from several files, the SHA-256 of their SHA-256s in a fixed order."""
        parts = [self.sha256]
        if self.backbone:
            parts.append(self.backbone.checksum())
        parts += [a.sha256 for a in self.autoencoders]
        if len(parts) == 1:
            return self.sha256
        return hashlib.sha256(":".join(parts).encode()).hexdigest()
