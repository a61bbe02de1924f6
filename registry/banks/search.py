"""Copy-detection search: ranked reference candidates for a query image.

Used by ``provreg search`` and the dashboard. Reads the index the banks maintain
(:mod:`registry.banks.index`); the decision rules are the ``copy`` detector's
(:class:`~detectors.copy.matcher.ReferenceSet`), so a candidate with ``match`` True is one an
ingest of the same image would report in its ``copy`` verdict.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from detectors.copy.matcher import ReferenceSet
from registry.banks.index import load_references
from registry.errors import IntakeError
from registry.intake.pipeline import IntakeResult, intake_bytes, intake_path
from registry.settings import Settings


@dataclass(frozen=True)
class Candidate:
    """One ranked candidate reference for a query (the ``search --json`` line)."""

    query: str
    rank: int
    bank: str
    reference_sha256: str | None
    """Null for a hash-only reference (imported from a hash list)."""
    signal: str
    """``pdq`` or ``verification``: what decided (or would decide) this candidate."""
    distance: int
    """Best PDQ Hamming distance over the query's dihedral variants."""
    match: bool
    """True when the candidate is beyond the decision threshold (a copy)."""
    match_kind: str | None
    """``hash`` (PDQ alone decided) or ``verified`` (SIFT + RANSAC confirmed, possibly beyond
    the bank's PDQ threshold); null when not a match."""
    verified: int | None
    """SIFT + RANSAC inlier count when geometric verification ran, else null."""
    ref_id: int
    query_quality: int

    def to_json(self) -> dict[str, Any]:
        """The JSON object for one output line."""
        return asdict(self)


def search_image(
    settings: Settings,
    image_bytes: bytes,
    k: int = 10,
    *,
    query: str = "-",
    references: ReferenceSet | None = None,
) -> list[Candidate]:
    """Candidates for an image given as bytes (decoded through the hardened intake)."""
    result = intake_bytes(image_bytes, settings.limits, path=query)
    return search_intake(settings, result, k, query=query, references=references)


def search_path(
    settings: Settings, path: Path, k: int = 10, *, references: ReferenceSet | None = None
) -> list[Candidate]:
    """Candidates for the image file at ``path``."""
    result = intake_path(path, settings.limits)
    return search_intake(settings, result, k, query=str(path), references=references)


def search_intake(
    settings: Settings,
    result: IntakeResult,
    k: int,
    *,
    query: str,
    references: ReferenceSet | None = None,
) -> list[Candidate]:
    """Candidates for an intake result; :class:`IntakeError` when it did not decode.

    ``references`` defaults to the newest saved index (none saved: no candidates).
    """
    if not result.ok or result.sample is None or result.sample.image is None:
        raise IntakeError(result.error or "not-an-image", result.error_detail or query)
    refs = references if references is not None else load_references(settings)
    if refs is None or len(refs) == 0 or k < 1:
        return []
    report = refs.query(result.sample.image)
    return [
        Candidate(
            query=query,
            rank=rank,
            bank=m.reference.bank,
            reference_sha256=m.reference.sha256 or None,
            signal=m.signal,
            distance=m.distance,
            match=m.matched,
            match_kind=m.match_kind,
            verified=None if m.verification is None else m.verification.inliers,
            ref_id=m.reference.ref_id,
            query_quality=report.query_quality,
        )
        for rank, m in enumerate(report.matches[:k], start=1)
    ]
