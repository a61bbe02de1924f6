"""What a re-scan changed: assets whose label or positive flag differs from the previous
version of the same detector (the latest verdict of any other identity of that detector)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.orm import Session


class RescanIdentity(Protocol):
    """The detector identity a re-scan wrote (``ray_jobs.rescan.RescanIdentity`` is one).

    A protocol, not an import, so this pure read does not depend on the Ray executor."""

    @property
    def detector(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def model_checksum(self) -> str: ...


_CHANGES = text("""
WITH fresh AS (
    SELECT v.asset_sha256, v.label, v.positive, v.log_index
    FROM verdicts v
    WHERE v.detector = :detector AND v.version = :version
      AND coalesce(v.model_checksum, '') = :checksum
), previous AS (
    SELECT DISTINCT ON (v.asset_sha256) v.asset_sha256, v.version, v.label, v.positive
    FROM verdicts v JOIN fresh f ON f.asset_sha256 = v.asset_sha256
    WHERE v.detector = :detector
      AND NOT (v.version = :version AND coalesce(v.model_checksum, '') = :checksum)
    ORDER BY v.asset_sha256, v.log_index DESC
)
SELECT f.asset_sha256, a.location, p.version, p.label, p.positive, f.label, f.positive,
       (f.label <> p.label OR f.positive <> p.positive) AS changed
FROM fresh f JOIN previous p USING (asset_sha256) JOIN assets a ON a.sha256 = f.asset_sha256
ORDER BY f.asset_sha256
""")


@dataclass(frozen=True)
class Change:
    """One asset whose verdict differs from the previous version's."""

    sha256: str
    location: str | None
    before_version: str
    before_label: str
    before_positive: bool
    after_label: str
    after_positive: bool


@dataclass(frozen=True)
class ChangeReport:
    """Comparison of one detector identity with the previous version, asset by asset."""

    identity: RescanIdentity
    compared: int
    changes: list[Change]

    @property
    def newly_positive(self) -> int:
        """Assets positive now and not before."""
        return sum(c.after_positive and not c.before_positive for c in self.changes)

    @property
    def no_longer_positive(self) -> int:
        """Assets positive before and not now."""
        return sum(c.before_positive and not c.after_positive for c in self.changes)

    def as_json(self) -> dict[str, Any]:
        """The report as plain JSON-ready data."""
        return {
            "detector": self.identity.detector,
            "version": self.identity.version,
            "model_checksum": self.identity.model_checksum or None,
            "compared": self.compared,
            "changed": len(self.changes),
            "newly_positive": self.newly_positive,
            "no_longer_positive": self.no_longer_positive,
            "changes": [
                {
                    "sha256": c.sha256,
                    "location": c.location,
                    "before": {
                        "version": c.before_version,
                        "label": c.before_label,
                        "positive": c.before_positive,
                    },
                    "after": {"label": c.after_label, "positive": c.after_positive},
                }
                for c in self.changes
            ],
        }


def change_report(session: Session, identity: RescanIdentity) -> ChangeReport:
    """Compare every verdict of ``identity`` with the same asset's previous-version verdict."""
    rows = session.execute(
        _CHANGES,
        {
            "detector": identity.detector,
            "version": identity.version,
            "checksum": identity.model_checksum,
        },
    ).all()
    changes = [
        Change(str(r[0]), r[1], str(r[2]), str(r[3]), bool(r[4]), str(r[5]), bool(r[6]))
        for r in rows
        if r[7]
    ]
    return ChangeReport(identity, len(rows), changes)
