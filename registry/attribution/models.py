"""Tables of generator attribution: versioned enrolment records and gallery calibrations.

Enrolments are never edited: enrolling a name again (``--replace``) adds version ``n + 1``,
removing it adds a ``remove`` record; the active set is the latest record of each name whose
action is ``enrol``. Each enrol record pins its fingerprint by SHA-256 (the file lives in the
model store). A calibration record keeps the gallery-wide threshold, the FAR it was set at and
what it was measured on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Float, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from registry.db.models_base import Base


class GeneratorEnrolment(Base):
    """One enrol or remove event of one generator name."""

    __tablename__ = "generator_enrolments"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))  # enrol, remove
    method: Mapped[str | None] = mapped_column(String(16))
    image_count: Mapped[int | None] = mapped_column(Integer)
    image_size: Mapped[str | None] = mapped_column(String(32))
    far: Mapped[float | None] = mapped_column(Float)
    calibration: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    fingerprint_sha256: Mapped[str | None] = mapped_column(String(64))
    store_entry: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AttributionCalibration(Base):
    """One ``provreg generator calibrate`` run: the gallery-wide threshold it set."""

    __tablename__ = "attribution_calibrations"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    far: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    known_images: Mapped[int] = mapped_column(Integer)
    unknown_images: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONB)
    generators: Mapped[dict[str, Any]] = mapped_column(JSONB)  # name -> fingerprint sha256
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
