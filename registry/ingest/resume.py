"""Resuming an ingest run: which files it already judged, and their outcomes as logged."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.db.models import Sighting, VerdictRow
from registry.ingest.batch import INTAKE_DETECTOR, FileOutcome
from registry.ledger.writer import LedgerEntry, row_to_verdict


def judged_shas(session: Session, run_id: int, wanted: set[tuple[str, str]]) -> set[str]:
    """The contents run ``run_id`` sighted that have a verdict from every ``wanted`` identity
    (or the intake error verdict)."""
    rows = session.execute(
        select(VerdictRow.asset_sha256, VerdictRow.detector, VerdictRow.version).where(
            VerdictRow.asset_sha256.in_(
                select(Sighting.asset_sha256).where(Sighting.ingest_run_id == run_id)
            )
        )
    )
    have: dict[str, set[tuple[str, str]]] = {}
    for sha256, detector, version in rows:
        have.setdefault(str(sha256), set()).add((str(detector), str(version)))
    return {
        sha256
        for sha256, identities in have.items()
        if wanted <= identities or any(name == INTAKE_DETECTOR for name, _ in identities)
    }


def logged_rows(
    session: Session, shas: list[str], identities: set[tuple[str, str]]
) -> dict[str, list[VerdictRow]]:
    """The logged verdict rows of ``shas`` from ``identities`` or intake, in log order."""
    rows = session.scalars(
        select(VerdictRow).where(VerdictRow.asset_sha256.in_(shas)).order_by(VerdictRow.log_index)
    )
    found: dict[str, list[VerdictRow]] = {}
    for row in rows:
        wanted_row = (row.detector, row.version) in identities
        if wanted_row or row.detector == INTAKE_DETECTOR:
            found.setdefault(row.asset_sha256, []).append(row)
    return found


def logged_outcomes(
    wanted: list[tuple[str, str]], found: dict[str, list[VerdictRow]]
) -> list[FileOutcome]:
    """One outcome per ``(path, sha256)`` in ``wanted``, rebuilt from its logged rows."""
    outcomes = []
    for path, sha256 in wanted:
        rows = found.get(sha256, [])
        entries = [
            LedgerEntry(
                int(r.log_index),
                row_to_verdict(r),
                bytes(r.canonical),
                bytes(r.signature),
                r.key_id,
                False,
            )
            for r in rows
        ]
        intake = next((r for r in rows if r.detector == INTAKE_DETECTOR), None)
        if intake is not None:
            outcomes.append(
                FileOutcome(
                    path,
                    sha256,
                    "error",
                    intake.error,
                    str((intake.evidence or {}).get("detail") or ""),
                    [
                        e
                        for e, r in zip(entries, rows, strict=True)
                        if r.detector == INTAKE_DETECTOR
                    ],
                )
            )
        else:
            outcomes.append(FileOutcome(path, sha256, "ok", None, None, entries))
    return outcomes
