"""Helpers that seed a ledger with synthetic verdicts through the real write path."""

from __future__ import annotations

import hashlib

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from detectors.base import Verdict
from registry.db.models import Asset
from registry.ledger.writer import Ledger, LedgerEntry

ORIGIN = "provreg.test/log"


def synthetic_verdicts(count: int, *, start: int = 0, detector: str = "synthetic") -> list[Verdict]:
    """``count`` distinct verdicts on distinct assets, deterministic by index."""
    verdicts = []
    for i in range(start, start + count):
        sha = hashlib.sha256(f"asset-{i}".encode()).hexdigest()
        verdicts.append(
            Verdict(
                detector=detector,
                version="1.0",
                model_checksum=None,
                asset_sha256=sha,
                label="sdxl" if i % 3 == 0 else "not-found",
                positive=i % 3 == 0,
                score=round(i / 7.0, 6),
                p_value=1.0 / (i + 2),
                evidence={"i": i, "bits": "b3ec907bb19e", "nested": {"k": [1, 2.5, None]}},
            )
        )
    return verdicts


def ensure_assets(session: Session, verdicts: list[Verdict]) -> None:
    """Insert the asset rows the verdicts refer to."""
    rows = [
        {"sha256": sha, "size_bytes": 1, "media_type": "image/png"}
        for sha in sorted({v.asset_sha256 for v in verdicts})
    ]
    session.execute(pg_insert(Asset).values(rows).on_conflict_do_nothing())


def seed(session: Session, ledger: Ledger, verdicts: list[Verdict]) -> list[LedgerEntry]:
    """Register the key, insert assets and append the verdicts (caller commits)."""
    ledger.register_key(session)
    ensure_assets(session, verdicts)
    return ledger.append(session, verdicts)
