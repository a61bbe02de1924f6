"""The detector contract: one abstract base class, the sample it reads, the verdict it returns.

A detector declares its name, version, the media types it judges and the resources one
instance needs. ``load()`` runs once per process or Ray actor (weights, tables); then
``detect_batch()`` turns a batch of :class:`Sample` into exactly one :class:`Verdict` per
sample, in order. A detector never raises for bad input: the base class turns any exception
raised while judging one sample into an error verdict for that sample and goes on.

Verdict conventions shared by every detector:

- ``label`` comes from the documented vocabulary (docs/labels in DESIGN.md); a detector that
  looked and found nothing uses :data:`NOT_FOUND` with ``positive=False`` — "not found",
  never "clean".
- ``error`` is set (and ``label`` is :data:`ERROR_LABEL`) when the sample could not be judged.
- ``p_value`` is the probability of a result at least this strong by chance, where the
  detector can state one; otherwise ``None``.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

if TYPE_CHECKING:
    from PIL import Image

JSONValue: TypeAlias = (
    bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None
)

NOT_FOUND = "not-found"
ERROR_LABEL = "error"


@dataclass(frozen=True)
class Resources:
    """What one detector instance needs; Ray actor pools are sized from this."""

    num_cpus: float = 1.0
    num_gpus: float = 0.0
    memory_mb: int = 512


@dataclass(frozen=True)
class Sample:
    """One media item after intake: its bytes, sniffed type and decoded pixels.

    ``image`` is the first frame decoded by the hardened intake, EXIF orientation applied,
    in its original mode (callers convert as they need). It is ``None`` for media that
    is not an image.
    """

    sha256: str
    data: bytes
    media_type: str
    image: Image.Image | None = None
    source: str | None = None


@dataclass(frozen=True)
class Verdict:
    """What one detector concluded about one asset (before signing and logging)."""

    detector: str
    version: str
    model_checksum: str | None
    asset_sha256: str
    label: str
    positive: bool
    score: float | None = None
    p_value: float | None = None
    evidence: dict[str, JSONValue] = field(default_factory=dict)
    error: str | None = None
    elapsed_ms: float = 0.0

    @property
    def is_error(self) -> bool:
        """True when the asset could not be judged."""
        return self.error is not None


class Detector(ABC):
    """Base class for every detector, built-in or third-party.

    Subclasses set the class attributes and implement :meth:`detect_one` (or override
    :meth:`detect_batch` when the model benefits from real batching). Construction must be
    cheap and side-effect free; heavy work belongs in :meth:`load`.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    media_types: ClassVar[frozenset[str]] = frozenset({"image/*"})
    resources: ClassVar[Resources] = Resources()

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.options: Mapping[str, Any] = dict(options or {})
        self._loaded = False

    @property
    def model_checksum(self) -> str | None:
        """SHA-256 of the weights or tables the verdicts depend on; ``None`` if there are none."""
        return None

    def load(self) -> None:
        """Load weights or tables; called once per process or actor before the first batch."""
        self._loaded = True

    def accepts(self, media_type: str) -> bool:
        """Whether this detector judges media of this (sniffed) MIME type."""
        if media_type in self.media_types:
            return True
        major = media_type.split("/", 1)[0]
        return f"{major}/*" in self.media_types

    @abstractmethod
    def detect_one(self, sample: Sample) -> Verdict:
        """Judge one sample. May raise: :meth:`detect_batch` turns exceptions into errors."""

    def detect_batch(self, samples: Sequence[Sample]) -> list[Verdict]:
        """Judge a batch: exactly one verdict per sample, in the same order, never raising."""
        if not self._loaded:
            self.load()
        verdicts: list[Verdict] = []
        for sample in samples:
            started = time.perf_counter()
            if not self.accepts(sample.media_type):
                verdict = self.error(
                    sample, "unsupported-format", {"media_type": sample.media_type}
                )
            else:
                try:
                    verdict = self.detect_one(sample)
                except Exception as exc:
                    verdict = self.error(
                        sample,
                        "detector-exception",
                        {"exception": type(exc).__name__, "message": str(exc)[:500]},
                    )
            elapsed = (time.perf_counter() - started) * 1000.0
            verdicts.append(_with_elapsed(verdict, elapsed))
        return verdicts

    def verdict(
        self,
        sample: Sample,
        label: str,
        positive: bool,
        *,
        score: float | None = None,
        p_value: float | None = None,
        evidence: Mapping[str, JSONValue] | None = None,
    ) -> Verdict:
        """Build a judged verdict for ``sample`` stamped with this detector's identity."""
        return Verdict(
            detector=self.name,
            version=self.version,
            model_checksum=self.model_checksum,
            asset_sha256=sample.sha256,
            label=label,
            positive=positive,
            score=score,
            p_value=p_value,
            evidence=dict(evidence or {}),
        )

    def not_found(
        self,
        sample: Sample,
        *,
        score: float | None = None,
        p_value: float | None = None,
        evidence: Mapping[str, JSONValue] | None = None,
    ) -> Verdict:
        """A negative verdict: the detector looked and found nothing (not "clean")."""
        return self.verdict(
            sample, NOT_FOUND, False, score=score, p_value=p_value, evidence=evidence
        )

    def error(
        self, sample: Sample, reason: str, evidence: Mapping[str, JSONValue] | None = None
    ) -> Verdict:
        """An error verdict: ``sample`` could not be judged, for ``reason``."""
        return Verdict(
            detector=self.name,
            version=self.version,
            model_checksum=self.model_checksum,
            asset_sha256=sample.sha256,
            label=ERROR_LABEL,
            positive=False,
            evidence=dict(evidence or {}),
            error=reason,
        )


def _with_elapsed(verdict: Verdict, elapsed_ms: float) -> Verdict:
    return replace(verdict, elapsed_ms=round(elapsed_ms, 3))
