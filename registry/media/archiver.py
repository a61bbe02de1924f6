"""The ingest lifecycle's hook: keep each batch's media and archive hashes.

:meth:`Archiver.prepare` runs before the batch's transaction (object-store writes and
hashing are slow and must not hold the sequencer): per file it stores the original bytes
(by the source's policy, the size cap and the store's total cap) and a thumbnail, and
computes the archive signals (PDQ hash, embedding). :meth:`Archiver.record` then writes
``media_objects`` and ``archive_hashes`` rows inside the batch's transaction, so the rows
commit with the verdicts or not at all. An object stored for a batch that is then rolled back
is harmless: it is content-addressed, and the retried or resumed batch finds it in place.

Nothing here fails an ingest: a store that cannot be written is logged and the file's
verdicts are written without media (``provreg media stats`` counts what is missing).
Content deleted for legal reasons is never stored again.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, sessionmaker

from registry.banks.retro.hashing import ArchiveHasher, ArchiveSignals, record_signals
from registry.intake.pipeline import IntakeResult, intake_bytes
from registry.media.models import MediaObject
from registry.media.policy import MediaPolicy
from registry.media.store import ORIGINAL, THUMBNAIL, MediaStore, object_path, pack_thumbnail
from registry.settings import Settings

log = logging.getLogger(__name__)

THUMB_SIDE = 256
"""Longest side of a thumbnail, in pixels."""


@dataclass
class Prepared:
    """What :meth:`Archiver.prepare` stored and computed for one batch."""

    objects: list[dict[str, object]] = field(default_factory=list)
    signals: list[ArchiveSignals] = field(default_factory=list)


def thumbnail_jpeg(image: Image.Image) -> bytes:
    """A JPEG of ``image`` whose longest side is at most :data:`THUMB_SIDE`."""
    small = image.convert("RGB")
    small.thumbnail((THUMB_SIDE, THUMB_SIDE))
    out = io.BytesIO()
    small.save(out, "JPEG", quality=85)
    return out.getvalue()


class Archiver:
    """Stores media and archive signals for the batches of one process's ingest runs."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session]) -> None:
        self.settings = settings
        self.sessions = sessions
        self.policy = MediaPolicy.parse(settings.media, settings.home)
        self.store = MediaStore(self.policy.url)
        self.hasher = ArchiveHasher(settings)

    def prepare(self, facts: Sequence[IntakeResult], sources: Sequence[str | None]) -> Prepared:
        """Store the batch's media and hash its images (before its transaction)."""
        prepared = Prepared()
        shas = sorted({f.sha256 for f in facts if f.sha256})
        if not shas:
            return prepared
        try:
            banned, held = self._state(shas)
        except Exception as exc:  # the batch's own transaction reports a database outage
            log.warning("media store: cannot read its state (%s); batch kept without media", exc)
            return prepared
        seen: set[str] = set()
        for fact, source in zip(facts, sources, strict=True):
            if not fact.sha256 or fact.sha256 in seen:
                continue
            seen.add(fact.sha256)
            try:
                self._one(fact, source, fact.sha256 in banned, held, prepared)
            except Exception as exc:  # a store outage or a bad file: never the whole batch
                log.warning(
                    "media store: %s not kept: %s: %s", fact.sha256, type(exc).__name__, exc
                )
        return prepared

    def _state(self, shas: list[str]) -> tuple[set[str], int]:
        with self.sessions() as session:
            banned = set(
                session.scalars(
                    select(MediaObject.asset_sha256).where(
                        MediaObject.asset_sha256.in_(shas), MediaObject.deleted_at.is_not(None)
                    )
                )
            )
            held = 0
            if self.policy.max_total_bytes:
                held = int(
                    session.scalar(
                        select(func.coalesce(func.sum(MediaObject.size_bytes), 0)).where(
                            MediaObject.kind == ORIGINAL, MediaObject.deleted_at.is_(None)
                        )
                    )
                    or 0
                )
        return banned, held

    def _one(
        self, fact: IntakeResult, source: str | None, banned: bool, held: int, prepared: Prepared
    ) -> None:
        policy = self.policy.for_source(source)
        data = (
            fact.sample.data
            if fact.sample is not None
            else _reread(fact, self.settings.limits.max_bytes)
        )
        image = fact.sample.image if fact.sample is not None else None
        if image is None and data is not None and fact.ok:
            decoded = intake_bytes(data, self.settings.limits)
            image = decoded.sample.image if decoded.sample is not None else None
        if image is not None:
            found = self.hasher.signals(fact.sha256, image)
            if found is not None:
                prepared.signals.append(found)
        if banned or policy.keep == "none":
            return
        if image is not None:
            blob = pack_thumbnail(thumbnail_jpeg(image))
            self.store.put(object_path(fact.sha256, THUMBNAIL), blob)
            prepared.objects.append(
                {
                    "asset_sha256": fact.sha256,
                    "kind": THUMBNAIL,
                    "size_bytes": len(blob),
                    "source": source,
                }
            )
        if policy.keep != "original" or data is None:
            return
        size = len(data)
        if size > self.policy.max_object_bytes:
            return
        if self.policy.max_total_bytes and held + size > self.policy.max_total_bytes:
            log.warning(
                "media store is at its cap (%d bytes): %s keeps only its thumbnail",
                self.policy.max_total_bytes,
                fact.sha256,
            )
            return
        self.store.put(object_path(fact.sha256, ORIGINAL), data)
        prepared.objects.append(
            {"asset_sha256": fact.sha256, "kind": ORIGINAL, "size_bytes": size, "source": source}
        )

    def record(self, session: Session, prepared: Prepared) -> None:
        """Write the batch's media and archive rows in its transaction (after its assets)."""
        if prepared.objects:
            session.execute(
                pg_insert(MediaObject)
                .values(prepared.objects)
                .on_conflict_do_nothing(index_elements=["asset_sha256", "kind"])
            )
        record_signals(session, prepared.signals)


def _reread(fact: IntakeResult, limit: int) -> bytes | None:
    """The file's bytes when it still holds the content ingested (Ray facts carry none)."""
    if not fact.path or fact.size_bytes > limit:
        return None
    try:
        data = Path(fact.path).read_bytes()
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == fact.sha256 else None
