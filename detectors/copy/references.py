"""The records of copy matching: a reference, a candidate match, a query's report, the
decision thresholds, and the one way an image is bounded before hashing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from PIL import Image

from detectors.copy import signals
from detectors.copy.verification import VerificationResult


class ReferenceSetError(Exception):
    """Base class for reference-set errors (bad directory, unknown embedder, bad id)."""


@dataclass(frozen=True)
class Reference:
    """One known image: caller id, content hash, bank and its hashes."""

    ref_id: int
    sha256: str
    bank: str
    pdq: str
    quality: int
    phash: str
    """64-bit pHash hex; empty for a hash-only reference (see :meth:`ReferenceSet.add_hash`)."""

    @property
    def hash_only(self) -> bool:
        """True when only a PDQ hash is known (no image: no pHash, embedding or features)."""
        return not self.phash


@dataclass(frozen=True)
class NewReference:
    """An image to add with :meth:`ReferenceSet.add_many` (see :meth:`ReferenceSet.add`)."""

    ref_id: int
    image: Image.Image
    sha256: str | None = None
    bank: str = "default"


@dataclass(frozen=True)
class Match:
    """One candidate reference for a query and how it was judged."""

    reference: Reference
    signal: str
    """What decided: ``pdq`` (hash within threshold) or ``verification`` (SIFT + RANSAC)."""
    distance: int
    """Best PDQ Hamming distance over the query's eight dihedral variants."""
    variant: str
    """The dihedral variant of the query that gave ``distance``."""
    quality: int
    """PDQ quality of the query."""
    phash_distance: int | None
    """``None`` for a hash-only reference."""
    embedding_similarity: float | None
    matched: bool
    """True when this candidate is beyond the decision threshold (a copy)."""
    verification: VerificationResult | None = None

    @property
    def match_kind(self) -> str | None:
        """How a match was decided: ``hash`` (PDQ within ``threshold - verify_band`` on
        trusted-quality hashes, no verification needed) or ``verified`` (SIFT + RANSAC
        confirmed it, whatever the PDQ distance: a bank's threshold bounds hash matches, not
        verified ones); None when not a match."""
        if not self.matched:
            return None
        return "hash" if self.verification is None else "verified"

    def to_json(self) -> dict[str, Any]:
        """JSON-ready evidence for this candidate."""
        return {
            "ref_id": self.reference.ref_id,
            "bank": self.reference.bank,
            "reference_sha256": self.reference.sha256,
            "signal": self.signal,
            "distance": self.distance,
            "variant": self.variant,
            "quality": self.quality,
            "reference_quality": self.reference.quality,
            "phash_distance": self.phash_distance,
            "embedding_similarity": None
            if self.embedding_similarity is None
            else round(self.embedding_similarity, 4),
            "match": self.matched,
            "match_kind": self.match_kind,
            "verification": None if self.verification is None else self.verification.to_json(),
        }


@dataclass
class QueryReport:
    """Everything :meth:`ReferenceSet.query` learned about one image."""

    matches: list[Match]
    query_quality: int
    best_distance: int | None
    candidates: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MatchConfig:
    """Decision thresholds (defaults documented in docs/detectors/copy.md)."""

    pdq_threshold: int = signals.PDQ_MATCH_THRESHOLD
    verify_band: int = 4
    candidate_radius: int = 48
    phash_threshold: int = signals.PHASH_MATCH_THRESHOLD
    embed_k: int = 5
    max_verify: int = 8
    bank_thresholds: dict[str, int] = field(default_factory=dict)
    """Per-bank PDQ thresholds overriding ``pdq_threshold`` for references of that bank."""

    def threshold_for(self, bank: str) -> int:
        """The PDQ match threshold for references of ``bank``."""
        return self.bank_thresholds.get(bank, self.pdq_threshold)


MAX_SIDE: Final = 1024
"""Images are shrunk to this longest side before any signal is computed (references and
queries alike): it bounds the cost of a 24-megapixel upload to that of a 1-megapixel one and
changes PDQ by a few bits at most."""


def bounded_rgb(image: Image.Image) -> Image.Image:
    """``image`` as RGB with its longest side at most :data:`MAX_SIDE`."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    scale = MAX_SIDE / max(rgb.width, rgb.height, 1)
    if scale >= 1.0:
        return rgb
    size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
    return rgb.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
