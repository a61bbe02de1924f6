"""Typed read API over the registry (the CLI's `show` and the dashboard read through this)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.models import Asset, Sighting, VerdictRow


@dataclass(frozen=True)
class AssetStory:
    """Everything known about one asset."""

    asset: Asset
    verdicts: Sequence[VerdictRow]
    sightings: Sequence[Sighting]


def find_assets_by_prefix(session: Session, prefix: str, limit: int = 20) -> list[Asset]:
    """Assets whose sha256 starts with ``prefix`` (hex, case-insensitive)."""
    prefix = prefix.lower()
    stmt = (
        select(Asset)
        .where(Asset.sha256 >= prefix, Asset.sha256 < prefix + "g")
        .order_by(Asset.sha256)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def asset_story(session: Session, sha256: str) -> AssetStory | None:
    """The asset, every verdict about it (log order) and every sighting (time order)."""
    asset = session.get(Asset, sha256.lower())
    if asset is None:
        return None
    verdicts = session.scalars(
        select(VerdictRow)
        .where(VerdictRow.asset_sha256 == asset.sha256)
        .order_by(VerdictRow.log_index)
    ).all()
    sightings = session.scalars(
        select(Sighting).where(Sighting.asset_sha256 == asset.sha256).order_by(Sighting.seen_at)
    ).all()
    return AssetStory(asset, verdicts, sightings)
