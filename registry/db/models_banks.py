"""Reference banks for copy detection: named collections of known content and their hashes.

PostgreSQL is the source of truth; the FAISS index under ``$PROVREG_HOME/indexes/copy`` is
derived from these rows (``provreg bank rebuild-index``). References are never deleted:
removing one sets ``removed_at`` (a tombstone), so who added what, and when it stopped
counting, stays on record.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from registry.db.models_base import Base

DEFAULT_PDQ_THRESHOLD = 31
"""PDQ Hamming distance at or below which a bank's references match (Meta's value)."""


class Bank(Base):
    """A named collection of reference content."""

    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    pdq_threshold: Mapped[int] = mapped_column(SmallInteger, default=DEFAULT_PDQ_THRESHOLD)
    created_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class BankReference(Base):
    """One reference in a bank; ``id`` is its id in the copy-detection index."""

    __tablename__ = "bank_references"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"))
    sha256: Mapped[str | None] = mapped_column(String(64))
    """SHA-256 of the reference file; null for a hash-only (imported) reference."""
    pdq: Mapped[str] = mapped_column(String(64))
    quality: Mapped[int | None] = mapped_column(SmallInteger)
    """PDQ quality 0..100; null when an imported hash list did not carry one."""
    phash: Mapped[str | None] = mapped_column(String(16))
    location: Mapped[str | None] = mapped_column(Text)
    """Where the reference file was read from (re-read by a rebuild while still there)."""
    added_by: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    removed_by: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (
        Index("ix_bank_references_bank_sha256", "bank_id", "sha256"),
        Index("ix_bank_references_bank_pdq", "bank_id", "pdq"),
    )
