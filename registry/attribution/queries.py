"""Reads the dashboard makes about attribution: generators seen, assets attributed to one.

An asset's attribution is its newest ``attribution`` verdict without an error (a re-scan
after a new enrolment supersedes the earlier one; both stay in the ledger).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

DETECTOR = "attribution"
#: Labels that do not name a generator.
NOT_A_GENERATOR = ("not-found", "unknown-generator", "error")

_LATEST = """
SELECT DISTINCT ON (asset_sha256) asset_sha256, label, score, log_index, created_at
FROM verdicts WHERE detector = :detector AND error IS NULL
ORDER BY asset_sha256, log_index DESC
"""


@dataclass(frozen=True)
class Attributed:
    """One asset's current attribution."""

    sha256: str
    label: str
    score: float | None
    log_index: int
    created_at: datetime


def attributed_generators(session: Session) -> list[str]:
    """Labels of current attributions, generator names first, then ``unknown-generator``."""
    rows = (
        session.execute(
            text(f"SELECT DISTINCT label FROM ({_LATEST}) latest"), {"detector": DETECTOR}
        )
        .scalars()
        .all()
    )
    names = sorted(str(r) for r in rows if r not in NOT_A_GENERATOR)
    return names + (["unknown-generator"] if "unknown-generator" in rows else [])


def assets_attributed_to(session: Session, generator: str, limit: int = 200) -> list[Attributed]:
    """Assets whose current attribution is ``generator`` (newest verdict first)."""
    rows = session.execute(
        text(
            f"SELECT * FROM ({_LATEST}) latest WHERE label = :label "
            "ORDER BY log_index DESC LIMIT :limit"
        ),
        {"detector": DETECTOR, "label": generator, "limit": limit},
    ).all()
    return [Attributed(str(r[0]), str(r[1]), r[2], int(r[3]), r[4]) for r in rows]
