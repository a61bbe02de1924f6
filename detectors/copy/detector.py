"""The ``copy`` detector: is this image a (possibly edited) copy of a known reference?

Options:

``index_dir``
    Directory written by :meth:`detectors.copy.matcher.ReferenceSet.save`. Missing, unset or
    without a manifest means no references are loaded: every image gets ``not-found`` with
    evidence saying so. Before each batch the detector replays records appended to the
    set's delta log since it last looked (:meth:`ReferenceSet.refresh`), and reloads when a
    newer generation was written (the check reads the manifest and the log's new tail).
``embedder_path``, ``embedder_sha256``, ``embedder_format`` (``torchscript`` or ``onnx``)
    The model the reference set was built with, when it was not the default training-free
    embedder. The file must hash to ``embedder_sha256`` (else the detector fails to load with
    :class:`~detectors.copy.embedding.ModelChecksumError`); that checksum is the detector's
    ``model_checksum``.

Verdicts: label ``copy`` (positive) when at least one reference matches beyond the decision
threshold (PDQ <= 31 bits with trusted quality, or geometric verification); evidence lists
every candidate, matches first then by PDQ distance, with bank, reference SHA-256, distance,
quality and the verification result. Otherwise ``not-found`` with the best PDQ distance seen.
The score is the strength of the signal that decided the strongest match (``None`` when
nothing matched), named in the evidence's ``score_basis``: for a hash match the fraction of
PDQ bits that agree (``1 - distance / 256``); for a match confirmed by geometric
verification ``min(1, inliers / 100)`` (near-copies give 60 to several hundred inliers;
verification needs at least 20). A verified crop with 314 inliers scores 1.0, not the 0.52
its far-off PDQ distance alone would give.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from detectors.base import Detector, JSONValue, Resources, Sample, Verdict
from detectors.copy.embedding import (
    Embedder,
    EmbeddingError,
    OnnxEmbedder,
    TorchScriptEmbedder,
)
from detectors.copy.matcher import MANIFEST, Match, ReferenceSet, manifest_generation
from detectors.copy.signals import PDQ_BITS

LABEL = "copy"
FULL_SCORE_INLIERS = 100
"""A verified match with this many RANSAC inliers or more scores 1.0."""


def match_strength(match: Match) -> tuple[float, str]:
    """The strength of the evidence that decided ``match`` and what it is measured in."""
    if match.match_kind == "verified" and match.verification is not None:
        return min(1.0, match.verification.inliers / FULL_SCORE_INLIERS), "sift-inliers"
    return 1.0 - match.distance / PDQ_BITS, "pdq-bits-agreeing"


class CopyDetector(Detector):
    """Finds copies of reference images with PDQ, pHash, embeddings and SIFT verification."""

    name: ClassVar[str] = "copy"
    version: ClassVar[str] = "1.1.0"
    media_types: ClassVar[frozenset[str]] = frozenset({"image/*"})
    resources: ClassVar[Resources] = Resources(num_cpus=1.0, memory_mb=1024)

    _references: ReferenceSet | None = None
    _generation: int | None = None
    _embedder_instance: Embedder | None = None

    @property
    def index_dir(self) -> Path | None:
        """The configured reference-set directory, if any."""
        value = self.options.get("index_dir")
        return Path(value) if value else None

    @property
    def model_checksum(self) -> str | None:
        """SHA-256 of the embedding model, when one is configured."""
        value = self.options.get("embedder_sha256")
        return str(value).lower() if value else None

    def _embedder(self) -> Embedder | None:
        path = self.options.get("embedder_path")
        if not path:
            return None
        sha256 = str(self.options.get("embedder_sha256") or "")
        fmt = str(self.options.get("embedder_format") or "torchscript")
        if fmt not in ("torchscript", "onnx"):
            raise EmbeddingError(f"unknown embedder_format {fmt!r}")
        cls = TorchScriptEmbedder if fmt == "torchscript" else OnnxEmbedder
        return cls(path, sha256)

    def load(self) -> None:
        """Load the reference set named by ``index_dir`` (if there is one)."""
        self._reload()
        super().load()

    def _reload(self) -> None:
        directory = self.index_dir
        if directory is None or not (directory / MANIFEST).is_file():
            self._references, self._generation = None, None
            return
        if self._references is not None and self._references.refresh(directory):
            return  # same base (one stat when untouched): appended changes were replayed
        if manifest_generation(directory) is None:
            return  # unreadable: keep what is loaded
        if self._embedder_instance is None:
            self._embedder_instance = self._embedder()
        self._references = ReferenceSet.load(directory, embedder=self._embedder_instance)
        self._generation = self._references.generation

    def detect_batch(self, samples: Sequence[Sample]) -> list[Verdict]:
        """Pick up index changes (appended records or a new generation), then judge."""
        if self._loaded:
            self._reload()
        return super().detect_batch(samples)

    def detect_one(self, sample: Sample) -> Verdict:
        image = sample.image
        if image is None:
            return self.error(sample, "not-an-image", {"media_type": sample.media_type})
        if image.width < 1 or image.height < 1:
            return self.error(sample, "empty-image", {})
        references = self._references
        if references is None or len(references) == 0:
            return self.not_found(
                sample,
                evidence={
                    "references_loaded": 0,
                    "note": "no references are loaded",
                    "index_dir": None if self.index_dir is None else str(self.index_dir),
                },
            )
        report = references.query(image)
        matched = [m for m in report.matches if m.matched]
        evidence: dict[str, JSONValue] = {
            "references_loaded": len(references),
            "generation": references.generation,
            "revision": references.revision,
            "query_quality": report.query_quality,
            "low_quality": report.query_quality < 50,
            "best_distance": report.best_distance,
            "candidates": report.candidates,
            "matches": [m.to_json() for m in report.matches],  # type: ignore[misc]
            "notes": list(report.notes),  # type: ignore[arg-type]
        }
        if matched:
            score, basis = max(match_strength(m) for m in matched)
            evidence["score_basis"] = basis
            return self.verdict(sample, LABEL, True, score=round(score, 6), evidence=evidence)
        return self.not_found(sample, evidence=evidence)
