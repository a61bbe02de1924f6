"""Re-scan progress: which archive items a detector identity has already judged.

A re-scan runs one detector identity (name, version, model checksum) over an archive. Each
batch's verdicts and its progress rows commit in one transaction, so after a crash this table
says exactly which items are done and ``provreg rescan --resume`` skips them. The run itself
is an ``ingest_runs`` row of kind ``rescan``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from registry.db.models_base import Base


class RescanProgress(Base):
    """One archive item done by one detector identity.

    ``item`` is ``sha256:<hex>`` for assets already in the ledger and the location (path or
    URI) for folder and object-store sources. ``model_checksum`` is ``""`` when the detector
    has none, so the key stays a plain primary key.
    """

    __tablename__ = "rescan_progress"

    detector: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[str] = mapped_column(String(50), primary_key=True)
    model_checksum: Mapped[str] = mapped_column(String(64), primary_key=True)
    item: Mapped[str] = mapped_column(Text, primary_key=True)
    asset_sha256: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # ok, error, changed (content moved on)
    run_id: Mapped[int] = mapped_column(ForeignKey("ingest_runs.id"), index=True)
    done_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
