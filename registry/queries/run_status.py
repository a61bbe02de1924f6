"""Read-only summaries for ``provreg status``: recent runs (``running``, ``finished`` or
``interrupted``), re-scan progress, per-detector verdict and error counts, all from PostgreSQL.

A run still marked ``running`` whose owner lock is free (its process is gone) is shown as
``interrupted`` here without writing anything; the next ingest records it so
(:func:`registry.ingest.lifecycle.sweep_interrupted`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from registry.db.models import IngestRun, VerdictRow
from registry.db.models_rescan import RescanProgress
from registry.ingest.ownership import INTERRUPTED, RUN_LOCK_NAMESPACE, RUNNING, lock_key
from registry.queries.reads import RunRecord


@dataclass(frozen=True)
class RunSummary(RunRecord):
    """One ingest or re-scan run; ``done``/``total`` are set for re-scans."""

    parameters: dict[str, Any]
    done: int | None
    total: int | None


@dataclass(frozen=True)
class DetectorCounts:
    """Verdict totals of one detector identity."""

    detector: str
    version: str
    verdicts: int
    positive: int
    errors: int


def recent_runs(session: Session, limit: int = 10) -> list[RunSummary]:
    """The latest runs, newest first, with re-scan progress from ``rescan_progress``."""
    runs = session.scalars(select(IngestRun).order_by(IngestRun.id.desc()).limit(limit)).all()
    rescans = [r.id for r in runs if r.kind == "rescan"]
    done: dict[int, int] = {}
    if rescans:
        rows = session.execute(
            select(RescanProgress.run_id, func.count())
            .where(RescanProgress.run_id.in_(rescans))
            .group_by(RescanProgress.run_id)
        )
        done = {int(run_id): int(count) for run_id, count in rows}
    return [
        RunSummary(
            id=int(r.id),
            kind=r.kind,
            status=_live_status(session, r),
            source=r.source,
            started_at=r.started_at,
            finished_at=r.finished_at,
            files_ok=r.files_ok,
            files_error=r.files_error,
            verdicts_written=r.verdicts_written,
            parameters=dict(r.parameters or {}),
            done=done.get(int(r.id), 0) if r.kind == "rescan" else None,
            total=int(r.parameters.get("total", 0)) if r.kind == "rescan" else None,
        )
        for r in runs
    ]


def _live_status(session: Session, run: IngestRun) -> str:
    """``run.status``, except ``interrupted`` for a running run whose owner lock is free (the
    probe's lock is transaction-scoped: it ends with this read's transaction)."""
    if run.status != RUNNING:
        return run.status
    free = session.scalar(
        select(func.pg_try_advisory_xact_lock(RUN_LOCK_NAMESPACE, lock_key(int(run.id))))
    )
    return INTERRUPTED if free else RUNNING


def detector_counts(session: Session) -> list[DetectorCounts]:
    """Per (detector, version): verdicts, positives and errors."""
    rows = session.execute(
        select(
            VerdictRow.detector,
            VerdictRow.version,
            func.count(),
            func.sum(case((VerdictRow.positive, 1), else_=0)),
            func.count(VerdictRow.error),
        )
        .group_by(VerdictRow.detector, VerdictRow.version)
        .order_by(VerdictRow.detector, VerdictRow.version)
    )
    return [DetectorCounts(str(d), str(v), int(n), int(p or 0), int(e)) for d, v, n, p, e in rows]
