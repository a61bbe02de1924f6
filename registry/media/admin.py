"""Media administration: what the store holds, legal deletion, retention.

**Legal deletion** removes an asset's original and thumbnail from the store, stamps their
``media_objects`` rows (``deleted_at``, ``deleted_reason``, ``deleted_by``) and appends an
audit-log entry (action ``media_deleted``, through ``provreg_audit``) in one transaction.
The ledger is not touched: verdicts, sightings and their signatures hold hashes of the
content, never the content, so ``provreg verify`` keeps passing; the asset's PDQ hash stays
in the archive index (a perceptual hash, not the media) unless the reason says otherwise
(``--drop-hash``). The bytes are never stored again if ingested again.

**Retention** (``gc``): originals older than their source's ``retain_days`` are removed
(thumbnails and hashes stay); each removal is stamped ``retention`` and the run is audited
once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from registry.auth.accounts import Identity, record_audit
from registry.banks.retro.models import ArchiveHash
from registry.db.models import Asset
from registry.errors import ProvregError
from registry.media.models import MediaObject
from registry.media.policy import MediaPolicy
from registry.media.store import ORIGINAL, THUMBNAIL, MediaStore, object_path


class MediaError(ProvregError):
    """A media operation cannot be done (unknown asset)."""

    hint = "see `provreg show SHA256` for what the registry knows about the asset"


@dataclass(frozen=True)
class KindStats:
    """Counts and bytes of one kind of object."""

    kind: str
    stored: int
    stored_bytes: int
    deleted: int


@dataclass(frozen=True)
class Deletion:
    """What a legal deletion removed."""

    sha256: str
    objects_removed: int
    audit_id: int


def stats(session: Session) -> list[KindStats]:
    """Objects held and deleted, per kind."""
    rows = session.execute(
        select(
            MediaObject.kind,
            MediaObject.deleted_at.is_(None),
            func.count(),
            func.coalesce(func.sum(MediaObject.size_bytes), 0),
        ).group_by(MediaObject.kind, MediaObject.deleted_at.is_(None))
    )
    table: dict[str, list[int]] = {ORIGINAL: [0, 0, 0], THUMBNAIL: [0, 0, 0]}
    for kind, alive, count, size in rows:
        entry = table.setdefault(str(kind), [0, 0, 0])
        if alive:
            entry[0], entry[1] = int(count), int(size)
        else:
            entry[2] = int(count)
    return [KindStats(k, *v) for k, v in sorted(table.items())]


def delete_media(
    session: Session,
    store: MediaStore,
    sha256: str,
    *,
    reason: str,
    actor: str,
    drop_hash: bool = False,
) -> Deletion:
    """Delete an asset's media for a legal reason (caller commits); audited."""
    sha256 = sha256.lower()
    if not reason.strip():
        raise MediaError("a legal deletion needs a reason")
    if session.get(Asset, sha256) is None:
        raise MediaError(f"no asset {sha256}")
    removed = 0
    for kind in (ORIGINAL, THUMBNAIL):
        removed += store.delete(object_path(sha256, kind))
    now = datetime.now(UTC)
    existing = {
        row.kind: row
        for row in session.scalars(select(MediaObject).where(MediaObject.asset_sha256 == sha256))
    }
    for kind in (ORIGINAL, THUMBNAIL):
        row = existing.get(kind)
        if row is None:  # a tombstone all the same: the bytes are never stored again
            row = MediaObject(asset_sha256=sha256, kind=kind, size_bytes=0)
            session.add(row)
        if row.deleted_at is None:
            row.deleted_at, row.deleted_reason, row.deleted_by = now, reason, actor
    if drop_hash:
        session.execute(delete(ArchiveHash).where(ArchiveHash.asset_sha256 == sha256))
    session.flush()
    audit_id = record_audit(
        session,
        Identity(actor, "operator"),
        "media_deleted",
        {"sha256": sha256, "reason": reason, "objects": removed, "drop_hash": drop_hash},
    )
    return Deletion(sha256, removed, audit_id)


def collect(
    session: Session,
    store: MediaStore,
    policy: MediaPolicy,
    *,
    actor: str,
    now: datetime | None = None,
) -> int:
    """Remove originals past their source's ``retain_days`` (caller commits); audited."""
    now = now or datetime.now(UTC)
    removed = 0
    rows = session.scalars(
        select(MediaObject).where(MediaObject.kind == ORIGINAL, MediaObject.deleted_at.is_(None))
    )
    for row in rows:
        days = policy.for_source(row.source).retain_days
        if days and row.stored_at < now - timedelta(days=days):
            store.delete(object_path(row.asset_sha256, ORIGINAL))
            session.execute(
                update(MediaObject)
                .where(MediaObject.asset_sha256 == row.asset_sha256, MediaObject.kind == ORIGINAL)
                .values(deleted_at=now, deleted_reason="retention", deleted_by=actor)
            )
            removed += 1
    if removed:
        record_audit(
            session, Identity(actor, "operator"), "media_retention", {"originals_removed": removed}
        )
    return removed
