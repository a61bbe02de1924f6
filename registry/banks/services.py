"""Bank services: create, add, disable/enable, remove (tombstone), list.

Every function takes a :class:`~sqlalchemy.orm.Session` and flushes at most: the caller owns
the transaction. The FAISS index is updated separately (:mod:`registry.banks.index`), after
the rows are committed, because PostgreSQL is the source of truth and the index can always
be rebuilt from it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from registry.db.models_banks import DEFAULT_PDQ_THRESHOLD, Bank, BankReference
from registry.errors import ProvregError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class BankError(ProvregError):
    """A bank operation cannot be done: unknown bank, bad name, bad hash, nothing to remove."""

    hint = "see `provreg bank list` for the banks and their states"


@dataclass(frozen=True)
class BankSummary:
    """One bank with its reference counts, for listing."""

    name: str
    enabled: bool
    pdq_threshold: int
    description: str | None
    created_by: str | None
    created_at: datetime
    active: int
    removed: int


@dataclass(frozen=True)
class NewReference:
    """What is known about a reference before it gets a row."""

    pdq: str
    quality: int | None
    sha256: str | None = None
    phash: str | None = None
    location: str | None = None


def get_bank(session: Session, name: str) -> Bank:
    """The bank called ``name``; :class:`BankError` if there is none."""
    bank = session.scalar(select(Bank).where(Bank.name == name))
    if bank is None:
        raise BankError(f"no bank called {name!r}")
    return bank


def ensure_bank(
    session: Session,
    name: str,
    *,
    created_by: str | None = None,
    pdq_threshold: int | None = None,
    description: str | None = None,
) -> Bank:
    """The bank called ``name``, created (enabled, threshold 31 unless given) if missing.

    A threshold or description given for an existing bank updates it.
    """
    if not _NAME.match(name):
        raise BankError(f"bad bank name {name!r}: letters, digits, '_', '.', '-' (max 128)")
    if pdq_threshold is not None and not 0 <= pdq_threshold <= 128:
        raise BankError(f"PDQ threshold {pdq_threshold} outside 0..128")
    # INSERT … ON CONFLICT: two processes creating the same bank at once both succeed.
    created = session.execute(
        insert(Bank)
        .values(
            name=name,
            enabled=True,
            created_by=created_by,
            description=description,
            pdq_threshold=DEFAULT_PDQ_THRESHOLD if pdq_threshold is None else pdq_threshold,
        )
        .on_conflict_do_nothing(index_elements=[Bank.name])
        .returning(Bank.id)
    ).scalar_one_or_none()
    bank = session.scalars(
        select(Bank)
        .where(Bank.name == name)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if created is not None:
        return bank
    if pdq_threshold is not None and pdq_threshold != bank.pdq_threshold:
        bank.pdq_threshold = pdq_threshold
        bank.updated_at = datetime.now(UTC)
    if description is not None:
        bank.description = description
    session.flush()
    return bank


def add_reference(
    session: Session,
    bank: Bank,
    new: NewReference,
    *,
    added_by: str | None = None,
    reason: str | None = None,
) -> tuple[BankReference, bool]:
    """Add a reference to ``bank``; returns ``(row, created)``.

    Adding content already active in the bank (same SHA-256, or for a hash-only reference
    the same PDQ hash) returns the existing row with ``created`` False.
    """
    pdq = new.pdq.lower()
    if not _HEX64.match(pdq):
        raise BankError(f"not a PDQ hash (64 hex characters): {new.pdq[:70]!r}")
    active = (BankReference.bank_id == bank.id) & BankReference.removed_at.is_(None)
    same = (
        (BankReference.sha256 == new.sha256)
        if new.sha256
        else (BankReference.sha256.is_(None) & (BankReference.pdq == pdq))
    )
    existing = session.scalar(select(BankReference).where(active & same).limit(1))
    if existing is not None:
        return existing, False
    row = BankReference(
        bank_id=bank.id,
        sha256=new.sha256,
        pdq=pdq,
        quality=new.quality,
        phash=new.phash,
        location=new.location,
        added_by=added_by,
        reason=reason,
    )
    session.add(row)
    session.flush()
    return row, True


def set_enabled(session: Session, name: str, enabled: bool) -> Bank:
    """Enable or disable a bank (a disabled bank's references are not matched)."""
    bank = get_bank(session, name)
    if bank.enabled != enabled:
        bank.enabled = enabled
        bank.updated_at = datetime.now(UTC)
        session.flush()
    return bank


def remove_reference(
    session: Session, name: str, key: str, *, removed_by: str | None = None
) -> list[BankReference]:
    """Tombstone the active references of bank ``name`` whose SHA-256 or PDQ hash is ``key``.

    The rows stay, with ``removed_at`` set. :class:`BankError` when nothing matched.
    """
    bank = get_bank(session, name)
    key = key.lower()
    rows = list(
        session.scalars(
            select(BankReference).where(
                (BankReference.bank_id == bank.id)
                & BankReference.removed_at.is_(None)
                & or_(BankReference.sha256 == key, BankReference.pdq == key)
            )
        )
    )
    if not rows:
        raise BankError(f"bank {name!r} has no active reference {key}")
    now = datetime.now(UTC)
    for row in rows:
        row.removed_at = now
        row.removed_by = removed_by
    session.flush()
    return rows


def list_banks(session: Session) -> list[BankSummary]:
    """Every bank with its active and removed reference counts, by name."""
    counts = {
        (bank_id, removed): n
        for bank_id, removed, n in session.execute(
            select(
                BankReference.bank_id, BankReference.removed_at.is_not(None), func.count()
            ).group_by(BankReference.bank_id, BankReference.removed_at.is_not(None))
        )
    }
    return [
        BankSummary(
            b.name,
            b.enabled,
            b.pdq_threshold,
            b.description,
            b.created_by,
            b.created_at,
            counts.get((b.id, False), 0),
            counts.get((b.id, True), 0),
        )
        for b in session.scalars(select(Bank).order_by(Bank.name))
    ]


def bank_references(
    session: Session, name: str, *, include_removed: bool = False
) -> list[BankReference]:
    """The references of one bank, by id."""
    bank = get_bank(session, name)
    query = select(BankReference).where(BankReference.bank_id == bank.id)
    if not include_removed:
        query = query.where(BankReference.removed_at.is_(None))
    return list(session.scalars(query.order_by(BankReference.id)))


def matchable_references(
    session: Session, bank: str | None = None
) -> list[tuple[BankReference, Bank]]:
    """Active references of enabled banks (optionally of one bank): what the index holds."""
    query = (
        select(BankReference, Bank)
        .join(Bank, Bank.id == BankReference.bank_id)
        .where(Bank.enabled.is_(True) & BankReference.removed_at.is_(None))
    )
    if bank is not None:
        query = query.where(Bank.name == bank)
    return [(ref, b) for ref, b in session.execute(query.order_by(BankReference.id))]


def references_with_banks(
    session: Session, *, ids: Sequence[int] | None = None, bank: str | None = None
) -> list[tuple[BankReference, Bank]]:
    """References (removed ones included) with their banks, by id, for index syncing."""
    query = select(BankReference, Bank).join(Bank, Bank.id == BankReference.bank_id)
    if ids is not None:
        query = query.where(BankReference.id.in_(list(ids)))
    if bank is not None:
        query = query.where(Bank.name == bank)
    return [(ref, b) for ref, b in session.execute(query.order_by(BankReference.id))]


def bank_thresholds(session: Session) -> dict[str, int]:
    """PDQ threshold of every bank, by name."""
    return {name: int(t) for name, t in session.execute(select(Bank.name, Bank.pdq_threshold))}
