"""Signed sightings: "this asset was seen at this place, at this time, by this run" as log entries.

A sighting is a record of its own type in the same Merkle log as verdicts (the log's leaves
are verdicts and sightings interleaved in the order they were sequenced)::

    {"asset_sha256": ..., "ingest_run_id": int | null, "key_id": ..., "location": ...,
     "log_index": n, "schema": "provreg.sighting/v1", "seen_at": RFC 3339, "source": ...}

canonicalised with the ledger's RFC 8785 function and signed like a verdict, so verify,
inclusion proofs, evidence bundles and the published tiles cover it. Sightings recorded
before signing existed (migration 0005d) keep their rows untouched with ``log_index`` NULL:
they are reported as unsigned legacy sightings, never rewritten or back-signed (signing them
now would vouch today for facts nobody signed then).

Strings are made storable and signable the same way on both sides: a non-UTF-8 file name
(Python's surrogate escapes) becomes ``\\xNN`` text and NUL becomes U+FFFD, so the column
and the signed bytes say the same thing.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from registry.db.models import Sighting, VerdictRow
from registry.errors import LedgerIntegrityError, VerificationError
from registry.ledger import merkle
from registry.ledger.records import canonical_bytes, format_time, signed_record
from registry.ledger.signing import Verifier

SIGHTING_SCHEMA = "provreg.sighting/v1"

#: Record fields stored as columns of ``sightings`` that must agree with the signed bytes.
SIGHTING_FIELDS = ("asset_sha256", "ingest_run_id", "source", "location")


def clean_text(value: str | None) -> str | None:
    """``value`` as storable, signable text: surrogate escapes to ``\\xNN``, NUL to U+FFFD."""
    if value is None:
        return None
    text = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text.replace("\x00", "\ufffd")


def sighting_record(
    *,
    asset_sha256: str,
    ingest_run_id: int | None,
    source: str | None,
    location: str | None,
    seen_at: datetime,
    log_index: int,
    key_id: str,
) -> dict[str, Any]:
    """The signed record of one sighting (strings already passed through :func:`clean_text`)."""
    return {
        "schema": SIGHTING_SCHEMA,
        "log_index": log_index,
        "key_id": key_id,
        "asset_sha256": asset_sha256,
        "ingest_run_id": ingest_run_id,
        "source": source,
        "location": location,
        "seen_at": format_time(seen_at),
    }


def sighting_bytes(record: Mapping[str, Any]) -> bytes:
    """The canonical (RFC 8785) bytes that are signed and hashed."""
    return canonical_bytes(record)


def check_sighting_row(row: Sighting, expected_index: int, verifier: Verifier) -> bytes:
    """Check one signed sighting row against its signed bytes; return its leaf hash."""
    index = int(row.log_index) if row.log_index is not None else -1
    if index != expected_index:
        missing = "missing" if index > expected_index else "duplicated"
        raise LedgerIntegrityError(expected_index, f"log entry {missing} (found {index} next)")
    if row.canonical is None or row.signature is None or row.key_id is None:
        raise LedgerIntegrityError(index, "signed sighting lost its signed bytes or signature")
    canonical = bytes(row.canonical)
    record = signed_record(canonical, index, row.key_id, "sighting")
    if record.get("schema") != SIGHTING_SCHEMA:
        raise LedgerIntegrityError(index, "entry is not a signed sighting record")
    for name in SIGHTING_FIELDS:
        if record.get(name) != getattr(row, name):
            raise LedgerIntegrityError(
                index, f"sighting column {name!r} differs from the signed record"
            )
    if record.get("seen_at") != format_time(row.seen_at):
        raise LedgerIntegrityError(index, "column 'seen_at' differs from the signed sighting")
    return signed_leaf(index, canonical, row.leaf_hash, row.key_id, bytes(row.signature), verifier)


def signed_leaf(
    index: int,
    canonical: bytes,
    stored_leaf: bytes | None,
    key_id: str,
    signature: bytes,
    verifier: Verifier,
) -> bytes:
    """The leaf hash of a log entry's signed bytes, once the stored leaf hash matches it and
    the signature holds (any log entry: verdict or sighting); else :class:`LedgerIntegrityError`."""
    leaf = merkle.leaf_hash(canonical)
    if stored_leaf is None or bytes(stored_leaf) != leaf:
        raise LedgerIntegrityError(index, "stored leaf hash does not match the signed bytes")
    try:
        verifier.verify(key_id, canonical, signature)
    except VerificationError as exc:
        raise LedgerIntegrityError(index, f"signature: {exc}") from exc
    return leaf


def log_rows(session: Session, batch: int) -> Iterator[VerdictRow | Sighting]:
    """Every log entry row (verdicts and signed sightings) in log-index order, streamed."""
    verdicts = session.scalars(
        select(VerdictRow).order_by(VerdictRow.log_index).execution_options(yield_per=batch)
    )
    sightings = session.scalars(
        select(Sighting)
        .where(Sighting.log_index.is_not(None))
        .order_by(Sighting.log_index)
        .execution_options(yield_per=batch)
    )
    rows: list[Iterator[VerdictRow | Sighting]] = [iter(verdicts), iter(sightings)]
    yield from heapq.merge(*rows, key=_log_index)


def _log_index(row: VerdictRow | Sighting) -> int:
    return int(row.log_index or 0)


def legacy_sightings(session: Session) -> int:
    """How many sightings predate signing (migration 0005d) and are not in the log."""
    stmt = select(func.count()).select_from(Sighting).where(Sighting.log_index.is_(None))
    return int(session.scalar(stmt) or 0)


def entries_between(session: Session, start: int, end: int) -> list[bytes]:
    """The signed bytes of log entries ``[start, end)``, verdicts and sightings, in order."""
    verdicts = select(VerdictRow.log_index, VerdictRow.canonical).where(
        VerdictRow.log_index >= start, VerdictRow.log_index < end
    )
    sightings = select(Sighting.log_index, Sighting.canonical).where(
        Sighting.log_index >= start, Sighting.log_index < end
    )
    both = union_all(verdicts, sightings).subquery()
    rows = session.execute(select(both).order_by(both.c.log_index)).all()
    found = [int(index) for index, _ in rows]
    if found != list(range(start, end)):
        raise LedgerIntegrityError(start, f"log entries [{start}, {end}) are not all stored")
    return [bytes(canonical) for _, canonical in rows]


def entry_at(session: Session, log_index: int) -> tuple[str, bytes, bytes, str] | None:
    """``(kind, signed bytes, signature, key id)`` of one log entry; kind is verdict/sighting."""
    verdict = session.get(VerdictRow, log_index)
    if verdict is not None:
        return "verdict", bytes(verdict.canonical), bytes(verdict.signature), verdict.key_id
    sighting = session.scalars(select(Sighting).where(Sighting.log_index == log_index)).first()
    if sighting is None or sighting.canonical is None or sighting.signature is None:
        return None
    return "sighting", bytes(sighting.canonical), bytes(sighting.signature), str(sighting.key_id)


def sighting_rows_for(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The caller's sighting dicts with their strings cleaned (see :func:`clean_text`)."""
    return [
        {
            "asset_sha256": row["asset_sha256"],
            "ingest_run_id": row.get("ingest_run_id"),
            "source": clean_text(row.get("source")),
            "location": clean_text(row.get("location")),
        }
        for row in rows
    ]
