"""Tables of registered models (with per-tensor fingerprints) and owners' weight keys.

A key's secret part (bits, seed, positions) is only ever stored sealed (AES-256-GCM under the
watermark master key, :mod:`registry.lineage.keys`); its name, method, layer names, bit
count and HMAC id are plain, for listings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, LargeBinary, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from registry.db.models_base import Base


class LineageModel(Base):
    """A registered model that uploads are compared with."""

    __tablename__ = "lineage_models"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(64))
    tensor_count: Mapped[int] = mapped_column(Integer)
    parameters: Mapped[int] = mapped_column(BigInteger)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class LineageTensor(Base):
    """One tensor's fingerprint of a registered model."""

    __tablename__ = "lineage_tensors"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("lineage_models.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(Text)
    dtype: Mapped[str] = mapped_column(String(16))
    shape: Mapped[list[Any]] = mapped_column(JSONB)
    sha256: Mapped[str] = mapped_column(String(64))
    multiset_hash: Mapped[str] = mapped_column(String(64))
    sketch: Mapped[bytes] = mapped_column(LargeBinary)


class LineageKey(Base):
    """An owner's weight-watermark key; ``sealed`` is its encrypted secret."""

    __tablename__ = "lineage_keys"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    key_id: Mapped[str] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(16))
    layers: Mapped[list[Any]] = mapped_column(JSONB)
    bits: Mapped[int] = mapped_column(Integer)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
