"""Read queries for the dashboard's evidence views (where a reference image may be found)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.db.models import Asset
from registry.db.models_banks import BankReference


def image_locations(session: Session, sha256: str, limit: int = 5) -> list[str]:
    """Paths last recorded for ``sha256``: the asset's own location, then bank references'."""
    found: list[str] = []
    asset_location = session.execute(
        select(Asset.location).where(Asset.sha256 == sha256)
    ).scalar_one_or_none()
    if asset_location:
        found.append(asset_location)
    rows = session.execute(
        select(BankReference.location)
        .where(BankReference.sha256 == sha256, BankReference.location.is_not(None))
        .order_by(BankReference.id.desc())
        .limit(limit)
    ).scalars()
    found.extend(location for location in rows if location and location not in found)
    return found[:limit]


def asset_locations(session: Session, sha256s: list[str]) -> dict[str, str | None]:
    """Each asset's last recorded location, by sha256 (assets not found are left out)."""
    if not sha256s:
        return {}
    rows = session.execute(select(Asset.sha256, Asset.location).where(Asset.sha256.in_(sha256s)))
    return {sha: location for sha, location in rows}
