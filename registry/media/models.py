"""What the media store holds, per asset: one row per (asset, kind), never deleted.

A legal deletion removes the object and stamps ``deleted_at`` / ``deleted_reason`` on its row;
the row stays, so the same bytes ingested again are not stored again, and ``provreg media
stats`` can say what was removed and why.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from registry.db.models_base import Base


class MediaObject(Base):
    """One object in the media store: an asset's original bytes or its thumbnail."""

    __tablename__ = "media_objects"

    asset_sha256: Mapped[str] = mapped_column(ForeignKey("assets.sha256"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    """``original`` or ``thumbnail``."""
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str | None] = mapped_column(Text)
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_reason: Mapped[str | None] = mapped_column(Text)
    deleted_by: Mapped[str | None] = mapped_column(String(128))
