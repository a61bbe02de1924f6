"""The archive index (PDQ hash of every ingested image) and retro-match runs.

``archive_hashes`` gets one row per ingested image, in the ingest batch's transaction;
``id`` is the row's id in the archive's binary index (a high-water mark lets the saved index
catch up with rows added since). ``retro_runs`` records each search of the archive for a
bank's references: its bank generation (1, 2, … per bank), what triggered it, and whether it
finished; an unfinished run is resumed by the next one for that bank.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from registry.db.models_base import Base


class ArchiveHash(Base):
    """The PDQ hash (and embedding, when an embedder is configured) of one archived image."""

    __tablename__ = "archive_hashes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    asset_sha256: Mapped[str] = mapped_column(ForeignKey("assets.sha256"), unique=True)
    pdq: Mapped[str] = mapped_column(String(64))
    quality: Mapped[int] = mapped_column(SmallInteger)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    """float32 vector from the configured copy embedder; null without one."""
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class RetroRun(Base):
    """One search of the archive for references of one bank."""

    __tablename__ = "retro_runs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"))
    generation: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(32))
    """``add``, ``import``, ``enable``, ``remove`` or ``manual``."""
    reference_ids: Mapped[list[Any]] = mapped_column(JSONB)
    ingest_run_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_runs.id"))
    status: Mapped[str] = mapped_column(String(16), server_default="running")
    archive_size: Mapped[int] = mapped_column(BigInteger, default=0)
    matches: Mapped[int] = mapped_column(Integer, default=0)
    verdicts_written: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("bank_id", "generation"),)
