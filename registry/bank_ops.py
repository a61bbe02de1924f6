"""Bank operations end to end: rows in PostgreSQL, then the copy index, in that order.

Each operation commits its rows first and then updates the index under the index lock
(:func:`registry.copy_index.updating`). PostgreSQL is the source of truth: if a process
dies between the two, ``provreg bank rebuild-index`` brings the index back in line, and an
index never holds a reference the database does not.

Used by ``provreg bank …`` and available to the dashboard.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from detectors.copy import signals
from registry import banks
from registry.app import Registry
from registry.bank_csv import HashRow
from registry.copy_index import (
    IndexChange,
    index_reference,
    rebuild,
    remove_references,
    set_thresholds,
    updating,
)
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
        thresholds = banks.bank_thresholds(session)
    if bank.enabled:
        with updating(registry.settings) as references:
            set_thresholds(references, thresholds)
            for pending, (row, _) in zip(chunk, rows, strict=True):
                index_reference(references, row, bank, pending.image)
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
        thresholds = banks.bank_thresholds(session)
    if target.enabled:
        with updating(registry.settings) as references:
            set_thresholds(references, thresholds)
            for row, _ in results:
                index_reference(references, row, target)
    added = sum(created for _, created in results)
    return added, len(results) - added


def set_enabled(registry: Registry, bank: str, enabled: bool) -> IndexChange:
    """Enable or disable a bank and add its references to / drop them from the index."""
    with registry.sessions.begin() as session:
        target = banks.set_enabled(session, bank, enabled)
        rows = [(row, target) for row in banks.bank_references(session, bank)]
        thresholds = banks.bank_thresholds(session)
    return _apply(registry, rows if enabled else [], [] if enabled else rows, thresholds)


def set_threshold(registry: Registry, bank: str, pdq_threshold: int) -> IndexChange:
    """Change a bank's PDQ threshold (takes effect at the detector's next reload)."""
    with registry.sessions.begin() as session:
        banks.get_bank(session, bank)
        banks.ensure_bank(session, bank, pdq_threshold=pdq_threshold)
        thresholds = banks.bank_thresholds(session)
    return _apply(registry, [], [], thresholds)


def remove(registry: Registry, bank: str, key: str, *,
           removed_by: str | None) -> list[BankReference]:
    """Tombstone a bank's references with SHA-256 or PDQ ``key`` and drop them from the index."""
    with registry.sessions.begin() as session:
        target = banks.get_bank(session, bank)
        rows = banks.remove_reference(session, bank, key, removed_by=removed_by)
        thresholds = banks.bank_thresholds(session)
    _apply(registry, [], [(row, target) for row in rows], thresholds)
    return rows


def rebuild_index(registry: Registry) -> IndexChange:
    """Rebuild the index from PostgreSQL: every active reference of every enabled bank."""
    with registry.sessions() as session:
        rows = banks.matchable_references(session)
        thresholds = banks.bank_thresholds(session)
    return rebuild(registry.settings, rows, thresholds)


def _apply(registry: Registry, add: list[tuple[BankReference, Bank]],
           drop: list[tuple[BankReference, Bank]], thresholds: dict[str, int]) -> IndexChange:
    change = IndexChange()
    with updating(registry.settings) as references:
        set_thresholds(references, thresholds)
        change.removed = remove_references(references, [row.id for row, _ in drop])
        for row, bank in add:
            from_pixels = index_reference(references, row, bank, settings=registry.settings)
            (change.added if from_pixels else change.hash_only).append(row.id)
    change.generation, change.size = references.generation, len(references)
    return change
