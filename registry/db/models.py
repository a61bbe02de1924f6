"""SQLAlchemy models. The Alembic migrations are generated from and checked against these.

Ledger tables (append-only for the writer role, guarded by a trigger): ``signing_keys``,
``verdicts``, ``merkle_nodes``, ``checkpoints``. The other tables describe assets and runs
and may be updated (``last_seen``, run counters).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from registry.db.models_base import Base

LEDGER_TABLES = ("signing_keys", "verdicts", "merkle_nodes", "checkpoints")


class SigningKey(Base):
    """A public signing key the ledger has used (the private half never enters the database)."""

    __tablename__ = "signing_keys"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    algorithm: Mapped[str] = mapped_column(String(16), default="ed25519")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Asset(Base):
    """One piece of content, addressed by its SHA-256."""

    __tablename__ = "assets"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    frames: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(Text)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_seen: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )


class Sighting(Base):
    """Each time an asset was ingested: where from and when.

    Since migration 0005d a sighting is a signed log entry (registry/ledger/sighting_log.py):
    ``log_index``, ``canonical``, ``leaf_hash``, ``signature`` and ``key_id`` are set. Older
    rows keep them NULL (unsigned legacy sightings, never rewritten).
    """

    __tablename__ = "sightings"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    asset_sha256: Mapped[str] = mapped_column(ForeignKey("assets.sha256"), index=True)
    ingest_run_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_runs.id"))
    source: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(Text)
    seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    log_index: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    canonical: Mapped[bytes | None] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes | None] = mapped_column(LargeBinary)
    signature: Mapped[bytes | None] = mapped_column(LargeBinary)
    key_id: Mapped[str | None] = mapped_column(ForeignKey("signing_keys.key_id"))

    __table_args__ = (Index("ix_sightings_source_asset", "source", "asset_sha256"),)


class IngestRun(Base):
    """One `provreg ingest` or re-scan invocation."""

    __tablename__ = "ingest_runs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32), default="ingest")
    source: Mapped[str | None] = mapped_column(Text)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    files_ok: Mapped[int] = mapped_column(Integer, default=0)
    files_error: Mapped[int] = mapped_column(Integer, default=0)
    verdicts_written: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), server_default="running")
    """``running`` (its owner holds the run's advisory lock), ``finished``, or
    ``interrupted`` (its owner went away; see :mod:`registry.ingest.lifecycle`)."""


class VerdictRow(Base):
    """A signed verdict and its place in the Merkle log (log_index is the leaf index)."""

    __tablename__ = "verdicts"

    log_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    asset_sha256: Mapped[str] = mapped_column(ForeignKey("assets.sha256"))
    detector: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(50))
    model_checksum: Mapped[str | None] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(100))
    positive: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[float | None] = mapped_column(Double)
    p_value: Mapped[float | None] = mapped_column(Double)
    error: Mapped[str | None] = mapped_column(String(100))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ingest_run_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_runs.id"))
    canonical: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(ForeignKey("signing_keys.key_id"))

    __table_args__ = (
        Index(
            "uq_verdicts_identity",
            "asset_sha256",
            "detector",
            "version",
            "model_checksum",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
        Index("ix_verdicts_detector_label_created", "detector", "label", "created_at"),
        Index("ix_verdicts_positive_created", "positive", "created_at"),
        Index("ix_verdicts_created", "created_at"),
        # The dashboard's read API: keyset pagination (newest first by log_index within the
        # common filters) and time ranges counted with index-only scans.
        Index("ix_verdicts_detector_label_log", "detector", "label", "log_index"),
        Index("ix_verdicts_positive_log", "log_index", postgresql_where=text("positive")),
        Index("ix_verdicts_created_log", "created_at", "log_index"),
    )


class MerkleNode(Base):
    """A perfect-subtree hash: level 0 are leaf hashes; (level, index) covers 2**level leaves."""

    __tablename__ = "merkle_nodes"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class CheckpointRow(Base):
    """A signed checkpoint (C2SP signed note) over the log at ``tree_size``."""

    __tablename__ = "checkpoints"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, index=True)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(ForeignKey("signing_keys.key_id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# Feature tables live in their own modules; importing them here puts them on Base.metadata,
# which is what Alembic compares against (they import Base from registry.db.models_base).
from registry.attribution import models as _attribution_models  # noqa: E402,F401
from registry.banks.retro import models as _models_retro  # noqa: E402,F401
from registry.db import models_auth as _models_auth  # noqa: E402,F401
from registry.db import models_banks as _models_banks  # noqa: E402,F401
from registry.db import models_rescan as _models_rescan  # noqa: E402,F401
from registry.lineage import models as _models_lineage  # noqa: E402,F401
from registry.media import models as _models_media  # noqa: E402,F401
