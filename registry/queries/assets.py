"""One asset as plain frozen records: what ``provreg show``, the dashboard's asset page and the
public API (:func:`registry.show_asset`) read.

Readers get values, never ORM rows: a record outlives its session and cannot write back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from registry.db.models import Asset, Sighting, VerdictRow
from registry.errors import UnknownAssetError
from registry.ledger.integrity import IntegrityReport, check_verdicts
from registry.ledger.signing import Verifier
from registry.media.models import MediaObject
from registry.queries.reads import asset_story, find_assets_by_prefix


@dataclass(frozen=True)
class AssetFacts:
    """One piece of content, addressed by its SHA-256."""

    sha256: str
    size_bytes: int
    media_type: str
    width: int | None
    height: int | None
    frames: int | None
    location: str | None
    """Where it was first read from (a path or URL, as given: untrusted text)."""
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True)
class SightingFacts:
    """One time the asset was ingested."""

    source: str | None
    location: str | None
    seen_at: datetime
    ingest_run_id: int | None
    log_index: int | None
    """Its signed log entry; None for a sighting recorded before sightings were signed."""


@dataclass(frozen=True)
class VerdictFacts:
    """One signed verdict about the asset and its place in the log."""

    log_index: int
    detector: str
    version: str
    model_checksum: str | None
    label: str
    positive: bool
    score: float | None
    p_value: float | None
    error: str | None
    evidence: dict[str, Any]
    created_at: datetime
    key_id: str
    signature: bytes


@dataclass(frozen=True)
class AssetView:
    """Everything known about one asset: its facts, verdicts (log order), sightings (time)."""

    asset: AssetFacts
    verdicts: tuple[VerdictFacts, ...]
    sightings: tuple[SightingFacts, ...]


def asset_facts(row: Asset) -> AssetFacts:
    """The record of an asset row."""
    return AssetFacts(
        sha256=row.sha256,
        size_bytes=int(row.size_bytes),
        media_type=row.media_type,
        width=row.width,
        height=row.height,
        frames=row.frames,
        location=row.location,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
    )


def verdict_facts(row: VerdictRow) -> VerdictFacts:
    """The record of a verdict row."""
    return VerdictFacts(
        log_index=int(row.log_index),
        detector=row.detector,
        version=row.version,
        model_checksum=row.model_checksum,
        label=row.label,
        positive=row.positive,
        score=row.score,
        p_value=row.p_value,
        error=row.error,
        evidence=row.evidence,
        created_at=row.created_at,
        key_id=row.key_id,
        signature=bytes(row.signature),
    )


def _sighting_facts(row: Sighting) -> SightingFacts:
    return SightingFacts(
        source=row.source,
        location=row.location,
        seen_at=row.seen_at,
        ingest_run_id=row.ingest_run_id,
        log_index=None if row.log_index is None else int(row.log_index),
    )


def resolve_asset(session: Session, sha256: str) -> str:
    """The full sha256 for a full one or a unique prefix; :class:`UnknownAssetError` if none
    or several assets match."""
    if len(sha256) >= 64:
        return sha256.lower()
    matches = find_assets_by_prefix(session, sha256, limit=2)
    if len(matches) != 1:
        raise UnknownAssetError(
            f"{'no' if not matches else 'more than one'} asset matches {sha256!r}"
        )
    return matches[0].sha256


def assets_by_prefix(session: Session, prefix: str, limit: int = 20) -> list[AssetFacts]:
    """Assets whose sha256 starts with ``prefix`` (hex, case-insensitive), in sha256 order."""
    return [asset_facts(row) for row in find_assets_by_prefix(session, prefix, limit)]


def known_asset(session: Session, sha256: str) -> AssetFacts | None:
    """The asset with exactly this sha256, if known."""
    row = session.get(Asset, sha256.strip().lower())
    return None if row is None else asset_facts(row)


def stored_locations(session: Session, *, after: str, limit: int) -> list[tuple[str, str]]:
    """``(sha256, location)`` of up to ``limit`` assets with a stored location or an original
    kept in the media store (location ``""`` when only the store has it), whose sha256 sorts
    after ``after``, in sha256 order (one keyset page of the archive)."""
    kept_in_store = exists().where(
        MediaObject.asset_sha256 == Asset.sha256,
        MediaObject.kind == "original",
        MediaObject.deleted_at.is_(None),
    )
    rows = session.execute(
        select(Asset.sha256, Asset.location)
        .where(Asset.location.is_not(None) | kept_in_store, Asset.sha256 > after)
        .order_by(Asset.sha256)
        .limit(limit)
    ).all()
    return [(str(sha256), str(location or "")) for sha256, location in rows]


def asset_view(session: Session, sha256: str) -> AssetView | None:
    """The asset with exactly this sha256 as records, or None when it is unknown."""
    story = asset_story(session, sha256)
    if story is None:
        return None
    return AssetView(
        asset_facts(story.asset),
        tuple(verdict_facts(row) for row in story.verdicts),
        tuple(_sighting_facts(row) for row in story.sightings),
    )


def asset_integrity(
    session: Session, sha256: str, verifier: Verifier, checkpoint_vkeys: Sequence[str]
) -> IntegrityReport:
    """Each verdict about ``sha256``: its signature under ``verifier`` and its inclusion in
    the latest checkpoint signed by one of ``checkpoint_vkeys``."""
    rows = session.scalars(
        select(VerdictRow)
        .where(VerdictRow.asset_sha256 == sha256.lower())
        .order_by(VerdictRow.log_index)
    ).all()
    return check_verdicts(session, rows, verifier, checkpoint_vkeys)
