"""Bank operations end to end: rows in PostgreSQL, then the copy index, in that order.

Each operation commits its rows first and then, holding the index lock
(:func:`registry.copy_index.updating`), re-reads the affected rows and brings the index in
line with them (:func:`_sync`). PostgreSQL is the source of truth: if a process
dies between the two, ``provreg bank rebuild-index`` brings the index back in line, and an
index never holds a reference the database does not.

Used by ``provreg bank …`` and available to the dashboard.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from sqlalchemy.orm import Session

from detectors.copy import signals
from registry import banks
from registry.app import Registry
from registry.bank_csv import HashRow
from registry.copy_index import IndexChange, index_reference, set_thresholds, updating
from registry.intake import intake_path
from registry.models_banks import Bank, BankReference


@dataclass(frozen=True)
class AddOutcome:
    """What happened to one file given to ``bank add``."""

    path: str
    sha256: str
    status: str
    """``added``, ``exists`` (already active in the bank) or ``error``."""
    ref_id: int | None = None
    pdq: str | None = None
    quality: int | None = None
    error: str | None = None
    error_detail: str | None = None


@dataclass
class _Pending:
    path: str
    sha256: str
    image: Image.Image
    new: banks.NewReference


def add_files(registry: Registry, bank: str, paths: Iterable[Path], *,
              added_by: str | None, reason: str | None,
              pdq_threshold: int | None = None) -> Iterator[AddOutcome]:
    """Decode each file through intake, record it in ``bank`` and index it.

    Bad files are reported as ``error`` outcomes; the others go on. Work is done in chunks
    of ``settings.batch_size`` files: rows committed, then the index saved, per chunk.
    """
    with registry.sessions.begin() as session:
        banks.ensure_bank(session, bank, created_by=added_by, pdq_threshold=pdq_threshold)
    chunk: list[_Pending] = []
    for path in paths:
        result = intake_path(path, registry.settings.limits)
        image = result.sample.image if result.ok and result.sample is not None else None
        if image is None:
            yield AddOutcome(str(path), result.sha256, "error",
                             error=result.error or "not-an-image",
                             error_detail=result.error_detail)
            continue
        rgb = image.convert("RGB")
        pdq = signals.pdq(rgb)
        new = banks.NewReference(pdq=pdq.hex, quality=pdq.quality, sha256=result.sha256,
                                 phash=signals.code_to_hex(signals.phash(rgb)),
                                 location=str(path.resolve()))
        chunk.append(_Pending(str(path), result.sha256, rgb, new))
        if len(chunk) >= registry.settings.batch_size:
            yield from _add_chunk(registry, bank, chunk, added_by, reason)
            chunk = []
    if chunk:
        yield from _add_chunk(registry, bank, chunk, added_by, reason)


def _add_chunk(registry: Registry, bank_name: str, chunk: list[_Pending],
               added_by: str | None, reason: str | None) -> list[AddOutcome]:
    with registry.sessions.begin() as session:
        bank = banks.get_bank(session, bank_name)
        rows = [banks.add_reference(session, bank, p.new, added_by=added_by, reason=reason)
                for p in chunk]
    images = {row.id: p.image for p, (row, _) in zip(chunk, rows, strict=True)}
    _sync(registry, lambda s: banks.references_with_banks(s, ids=list(images)), images)
    return [AddOutcome(p.path, p.sha256, "added" if created else "exists", row.id, row.pdq,
                       row.quality) for p, (row, created) in zip(chunk, rows, strict=True)]


def import_hashes(registry: Registry, bank: str, rows: Iterable[HashRow], *,
                  added_by: str | None, reason: str | None,
                  pdq_threshold: int | None = None) -> tuple[int, int]:
    """Add hash-only references from a parsed hash list; returns ``(added, existing)``."""
    with registry.sessions.begin() as session:
        target = banks.ensure_bank(session, bank, created_by=added_by,
                                   pdq_threshold=pdq_threshold)
        results = [
            banks.add_reference(session, target, banks.NewReference(pdq=r.pdq, quality=r.quality),
                                added_by=added_by,
                                reason="; ".join(x for x in (reason, r.note) if x) or None)
            for r in rows
        ]
    ids = [row.id for row, _ in results]
    _sync(registry, lambda s: banks.references_with_banks(s, ids=ids))
    added = sum(created for _, created in results)
    return added, len(results) - added


def set_enabled(registry: Registry, bank: str, enabled: bool) -> IndexChange:
    """Enable or disable a bank and add its references to / drop them from the index."""
    with registry.sessions.begin() as session:
        banks.set_enabled(session, bank, enabled)
    return _sync(registry, lambda s: banks.references_with_banks(s, bank=bank))


def set_threshold(registry: Registry, bank: str, pdq_threshold: int) -> IndexChange:
    """Change a bank's PDQ threshold (takes effect at the detector's next reload)."""
    with registry.sessions.begin() as session:
        banks.get_bank(session, bank)
        banks.ensure_bank(session, bank, pdq_threshold=pdq_threshold)
    return _sync(registry, lambda s: [])


def remove(registry: Registry, bank: str, key: str, *,
           removed_by: str | None) -> list[BankReference]:
    """Tombstone a bank's references with SHA-256 or PDQ ``key`` and drop them from the index."""
    with registry.sessions.begin() as session:
        rows = banks.remove_reference(session, bank, key, removed_by=removed_by)
    ids = [row.id for row in rows]
    _sync(registry, lambda s: banks.references_with_banks(s, ids=ids))
    return rows


def rebuild_index(registry: Registry) -> IndexChange:
    """Rebuild the index from PostgreSQL: every active reference of every enabled bank."""
    return _sync(registry, banks.matchable_references, fresh=True)


def _sync(registry: Registry,
          select_rows: Callable[[Session], list[tuple[BankReference, Bank]]],
          images: Mapping[int, Image.Image] | None = None, *,
          fresh: bool = False) -> IndexChange:
    """Bring the index in line with the selected rows, reading them while holding the lock.

    Reading under the lock (after the caller committed) makes concurrent operations
    serialise on the index in the same order as their effect on it: a bank disabled while
    a ``bank add`` to it is running never ends up with that add's references indexed.
    A row is indexed when it is active and its bank enabled, and dropped otherwise.
    """
    change = IndexChange()
    images = images or {}
    with updating(registry.settings, fresh=fresh) as references:
        with registry.sessions() as session:
            rows = select_rows(session)
            set_thresholds(references, banks.bank_thresholds(session))
        for row, bank in rows:
            if row.removed_at is None and bank.enabled:
                if row.id in references:
                    continue
                from_pixels = index_reference(references, row, bank, images.get(row.id),
                                              settings=registry.settings)
                (change.added if from_pixels else change.hash_only).append(row.id)
            elif references.remove(row.id):
                change.removed.append(row.id)
    change.generation, change.size = references.generation, len(references)
    change.revision = references.revision
    return change
