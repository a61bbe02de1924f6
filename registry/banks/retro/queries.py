"""Reading retro-match verdicts back: ``provreg bank matches`` and the dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.banks.retro.matching import RETRO_VERSION
from registry.db.models import VerdictRow


@dataclass(frozen=True)
class RetroMatch:
    """One archived asset found by retro-matching a bank reference."""

    asset_sha256: str
    bank: str
    reference_id: int
    reference_sha256: str | None
    distance: int
    bank_generation: int
    log_index: int
    created_at: datetime
    withdrawn: bool
    """A later verdict says the reference was removed from the bank."""
    withdrawn_log_index: int | None

    def to_json(self) -> dict[str, object]:
        """The ``--json`` line."""
        return {
            "asset_sha256": self.asset_sha256,
            "bank": self.bank,
            "reference_id": self.reference_id,
            "reference_sha256": self.reference_sha256,
            "distance": self.distance,
            "bank_generation": self.bank_generation,
            "log_index": self.log_index,
            "created_at": self.created_at.isoformat(),
            "withdrawn": self.withdrawn,
            "withdrawn_log_index": self.withdrawn_log_index,
        }


def bank_matches(
    session: Session, bank: str, *, include_withdrawn: bool = True
) -> list[RetroMatch]:
    """Every retro-match of ``bank``, by log index (withdrawn ones flagged, or left out)."""
    rows = session.scalars(
        select(VerdictRow)
        .where(
            VerdictRow.detector == "copy",
            VerdictRow.version == RETRO_VERSION,
            VerdictRow.evidence["bank"].astext == bank,
        )
        .order_by(VerdictRow.log_index)
    ).all()
    withdrawn = {
        (r.asset_sha256, int(r.evidence.get("reference_id") or 0)): int(r.log_index)
        for r in rows
        if r.label == "withdrawn"
    }
    out = []
    for row in rows:
        if row.label != "copy":
            continue
        ev = row.evidence
        ref_id = int(ev.get("reference_id") or 0)
        gone = withdrawn.get((row.asset_sha256, ref_id))
        if gone is not None and not include_withdrawn:
            continue
        out.append(
            RetroMatch(
                row.asset_sha256,
                bank,
                ref_id,
                ev.get("reference_sha256"),
                int(ev.get("distance") or 0),
                int(ev.get("bank_generation") or 0),
                int(row.log_index),
                row.created_at,
                gone is not None,
                gone,
            )
        )
    return out


def asset_retro_matches(session: Session, sha256: str) -> list[VerdictRow]:
    """The retro-match and withdrawal verdicts of one asset, by log index (asset page)."""
    return list(
        session.scalars(
            select(VerdictRow)
            .where(
                VerdictRow.asset_sha256 == sha256,
                VerdictRow.detector == "copy",
                VerdictRow.version == RETRO_VERSION,
            )
            .order_by(VerdictRow.log_index)
        )
    )
