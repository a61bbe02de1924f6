"""Access-control tables: dashboard users (with roles), the append-only audit log and the
ledger's sequencer row (locked by the writer alone; see ``registry.ledger.writer.lock_sequencer``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    SmallInteger,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from registry.db.models_base import Base

ROLES = ("viewer", "investigator", "admin")


class User(Base):
    """A dashboard user; ``password_hash`` is an argon2id hash (PHC string)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (CheckConstraint("role IN ('viewer', 'investigator', 'admin')", name="role"),)


class AuditEntry(Base):
    """One recorded action: who did what (query parameters as JSON), when. Append-only.

    ``at`` and ``db_role`` (the database role that wrote the row) are set by a trigger on
    every insert (migration 0005c), never by the caller; NULL ``db_role`` means the row
    predates that migration.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    username: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    query: Mapped[dict[str, Any]] = mapped_column(JSONB)
    db_role: Mapped[str | None] = mapped_column(String(63))


class LedgerSequencer(Base):
    """The single row whose ``FOR UPDATE`` lock sequences the log (writer and owner only)."""

    __tablename__ = "ledger_sequencer"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)

    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)
