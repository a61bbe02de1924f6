"""Bank operations end to end: rows in PostgreSQL, then the copy index, in that order.

Each operation commits its rows first and then, holding the index lock
(:func:`registry.banks.index.updating`), re-reads the affected rows and brings the index in
line with them (:func:`_sync`). PostgreSQL is the source of truth.

The index catches up by itself when it lags the database. Before its rows are committed an
operation leaves a marker file under ``indexes/copy.pending/`` (if even that cannot be
written, say on a full disk, the operation stops before touching the database), and removes
it once the index is saved. A marker still there (the disk filled up while the index was
saved, or the process died in between) means the index may lag: the next bank operation,
and :meth:`registry.app.Registry.detectors` when the ``copy`` detector is wanted, rebuild it
from PostgreSQL first (:func:`catch_up`). So a banked image is never ``not-found`` for lack
of someone running ``provreg bank rebuild-index``.

Used by ``provreg bank …`` and available to the dashboard.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from sqlalchemy.orm import Session

from detectors.copy import signals
from detectors.copy.binary_index import BinaryIndexError
from detectors.copy.feature_store import FeatureStoreError
from detectors.copy.journal import JournalError
from detectors.copy.matcher import ReferenceSetError
from registry.app import Registry
from registry.banks import services as banks
from registry.banks.csv_lists import HashRow
from registry.banks.index import (
    CopyIndexError,
    IndexChange,
    index_dir,
    index_reference,
    set_thresholds,
    updating,
)
from registry.db.models_banks import Bank, BankReference
from registry.intake.pipeline import intake_path


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


def add_files(
    registry: Registry,
    bank: str,
    paths: Iterable[Path],
    *,
    added_by: str | None,
    reason: str | None,
    pdq_threshold: int | None = None,
) -> Iterator[AddOutcome]:
    """Decode each file through intake, record it in ``bank`` and index it.

    Bad files are reported as ``error`` outcomes; the others go on. Work is done in chunks
    of ``settings.batch_size`` files: rows committed, then the index saved, per chunk.
    """
    catch_up(registry)
    with registry.sessions.begin() as session:
        banks.ensure_bank(session, bank, created_by=added_by, pdq_threshold=pdq_threshold)
    chunk: list[_Pending] = []
    for path in paths:
        result = intake_path(path, registry.settings.limits)
        image = result.sample.image if result.ok and result.sample is not None else None
        if image is None:
            yield AddOutcome(
                str(path),
                result.sha256,
                "error",
                error=result.error or "not-an-image",
                error_detail=result.error_detail,
            )
            continue
        rgb = image.convert("RGB")
        pdq = signals.pdq(rgb)
        new = banks.NewReference(
            pdq=pdq.hex,
            quality=pdq.quality,
            sha256=result.sha256,
            phash=signals.code_to_hex(signals.phash(rgb)),
            location=str(path.resolve()),
        )
        chunk.append(_Pending(str(path), result.sha256, rgb, new))
        if len(chunk) >= registry.settings.batch_size:
            yield from _add_chunk(registry, bank, chunk, added_by, reason)
            chunk = []
    if chunk:
        yield from _add_chunk(registry, bank, chunk, added_by, reason)


def _add_chunk(
    registry: Registry,
    bank_name: str,
    chunk: list[_Pending],
    added_by: str | None,
    reason: str | None,
) -> list[AddOutcome]:
    with _pending(registry) as marker:
        with registry.sessions.begin() as session:
            bank = banks.get_bank(session, bank_name)
            rows = [
                banks.add_reference(session, bank, p.new, added_by=added_by, reason=reason)
                for p in chunk
            ]
        marker.committed = True
        images = {row.id: p.image for p, (row, _) in zip(chunk, rows, strict=True)}
        _sync(registry, lambda s: banks.references_with_banks(s, ids=list(images)), images)
        marker.done = True
    return [
        AddOutcome(p.path, p.sha256, "added" if created else "exists", row.id, row.pdq, row.quality)
        for p, (row, created) in zip(chunk, rows, strict=True)
    ]


def import_hashes(
    registry: Registry,
    bank: str,
    rows: Iterable[HashRow],
    *,
    added_by: str | None,
    reason: str | None,
    pdq_threshold: int | None = None,
) -> tuple[int, int]:
    """Add hash-only references from a parsed hash list; returns ``(added, existing)``."""
    catch_up(registry)
    with _pending(registry) as marker:
        with registry.sessions.begin() as session:
            target = banks.ensure_bank(
                session, bank, created_by=added_by, pdq_threshold=pdq_threshold
            )
            results = [
                banks.add_reference(
                    session,
                    target,
                    banks.NewReference(pdq=r.pdq, quality=r.quality),
                    added_by=added_by,
                    reason="; ".join(x for x in (reason, r.note) if x) or None,
                )
                for r in rows
            ]
        marker.committed = True
        ids = [row.id for row, _ in results]
        _sync(registry, lambda s: banks.references_with_banks(s, ids=ids))
        marker.done = True
    added = sum(created for _, created in results)
    return added, len(results) - added


def set_enabled(registry: Registry, bank: str, enabled: bool) -> IndexChange:
    """Enable or disable a bank and add its references to / drop them from the index."""
    catch_up(registry)
    with _pending(registry) as marker:
        with registry.sessions.begin() as session:
            banks.set_enabled(session, bank, enabled)
        marker.committed = True
        change = _sync(registry, lambda s: banks.references_with_banks(s, bank=bank))
        marker.done = True
    return change


def set_threshold(registry: Registry, bank: str, pdq_threshold: int) -> IndexChange:
    """Change a bank's PDQ threshold (takes effect at the detector's next reload)."""
    catch_up(registry)
    with _pending(registry) as marker:
        with registry.sessions.begin() as session:
            banks.get_bank(session, bank)
            banks.ensure_bank(session, bank, pdq_threshold=pdq_threshold)
        marker.committed = True
        change = _sync(registry, lambda s: [])
        marker.done = True
    return change


def remove(
    registry: Registry, bank: str, key: str, *, removed_by: str | None
) -> list[BankReference]:
    """Tombstone a bank's references with SHA-256 or PDQ ``key`` and drop them from the index."""
    catch_up(registry)
    with _pending(registry) as marker:
        with registry.sessions.begin() as session:
            rows = banks.remove_reference(session, bank, key, removed_by=removed_by)
        marker.committed = True
        ids = [row.id for row in rows]
        _sync(registry, lambda s: banks.references_with_banks(s, ids=ids))
        marker.done = True
    return rows


def rebuild_index(registry: Registry) -> IndexChange:
    """Rebuild the index from PostgreSQL: every active reference of every enabled bank.

    Clears the markers of operations that had not brought the index in line (older than
    the rebuild: it reads every committed row)."""
    started = time.time()
    change = _sync(registry, banks.matchable_references, fresh=True)
    for marker in _markers(registry):
        try:
            if marker.stat().st_mtime <= started:
                marker.unlink(missing_ok=True)
        except OSError:
            continue
    return change


def pending_dir(registry: Registry) -> Path:
    """Where operations leave their markers while the index may lag the database."""
    directory = index_dir(registry.settings)
    return directory.parent / f"{directory.name}.pending"


def _markers(registry: Registry) -> list[Path]:
    try:
        return [p for p in pending_dir(registry).iterdir() if p.suffix == ".op"]
    except OSError:
        return []


def index_lags(registry: Registry) -> bool:
    """Whether an operation left the index behind the database (its marker is still there)."""
    return bool(_markers(registry))


def catch_up(registry: Registry) -> IndexChange | None:
    """Rebuild the index from PostgreSQL if it lags the database; None if it does not."""
    if not index_lags(registry):
        return None
    return rebuild_index(registry)


@dataclass
class _Marker:
    path: Path
    committed: bool = False
    done: bool = False


@contextmanager
def _pending(registry: Registry) -> Iterator[_Marker]:
    """A marker for one operation: written before its rows are committed (so a disk that
    cannot take even that stops the operation before the database changes), removed once
    the index is saved (``done``) or when the operation failed before its rows were committed
    (``committed``)."""
    directory = pending_dir(registry)
    marker = _Marker(directory / f"{uuid.uuid4().hex}.op")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(marker.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, b"index update pending\n")
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        marker.path.unlink(missing_ok=True)
        raise CopyIndexError(
            f"cannot write to {directory.parent}: {exc.strerror or exc}; nothing was changed"
        ) from exc
    try:
        yield marker
    finally:
        if marker.done or not marker.committed:
            marker.path.unlink(missing_ok=True)


def _sync(
    registry: Registry,
    select_rows: Callable[[Session], list[tuple[BankReference, Bank]]],
    images: Mapping[int, Image.Image] | None = None,
    *,
    fresh: bool = False,
) -> IndexChange:
    """Bring the index in line with the selected rows, reading them while holding the lock.

    Reading under the lock (after the caller committed) makes concurrent operations
    serialise on the index in the same order as their effect on it: a bank disabled while
    a ``bank add`` to it is running never ends up with that add's references indexed.
    A row is indexed when it is active and its bank enabled, and dropped otherwise.
    """
    try:
        return _apply(registry, select_rows, images or {}, fresh=fresh)
    except (OSError, ReferenceSetError, JournalError, BinaryIndexError, FeatureStoreError) as exc:
        cause = exc.__cause__ if isinstance(exc.__cause__, OSError) else exc
        detail = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(exc)
        raise CopyIndexError(
            f"the copy index in {index_dir(registry.settings)} could not be saved ({detail}); "
            "the bank is recorded in the database and the index catches up from it by itself "
            "on the next bank command or ingest once this is fixed (or run "
            "`provreg bank rebuild-index`)"
        ) from exc


def _apply(
    registry: Registry,
    select_rows: Callable[[Session], list[tuple[BankReference, Bank]]],
    images: Mapping[int, Image.Image],
    *,
    fresh: bool,
) -> IndexChange:
    change = IndexChange()
    with updating(registry.settings, fresh=fresh) as references:
        with registry.sessions() as session:
            rows = select_rows(session)
            set_thresholds(references, banks.bank_thresholds(session))
        for row, bank in rows:
            if row.removed_at is None and bank.enabled:
                if row.id in references:
                    continue
                from_pixels = index_reference(
                    references, row, bank, images.get(row.id), settings=registry.settings
                )
                (change.added if from_pixels else change.hash_only).append(row.id)
            elif references.remove(row.id):
                change.removed.append(row.id)
    change.generation, change.size = references.generation, len(references)
    change.revision = references.revision
    return change
