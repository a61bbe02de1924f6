"""Typed read API over the registry (the CLI's `show` and the dashboard read through this)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from registry.db.models import Asset, IngestRun, Sighting, VerdictRow


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


@dataclass(frozen=True)
class VerdictFilter:
    """Filters for the verdict list; ``None`` means "any"."""

    detector: str | None = None
    label: str | None = None
    positive_only: bool = False
    score_min: float | None = None
    score_max: float | None = None
    since: datetime | None = None
    until: datetime | None = None
    source: str | None = None
    bank: str | None = None
    """Only ``copy`` verdicts with a match (beyond the threshold) in this bank."""

    def describe(self) -> dict[str, object]:
        """The non-empty filters, for the audit log."""
        return {k: v for k, v in asdict(self).items() if v not in (None, False)}


@dataclass(frozen=True)
class VerdictSummary:
    """One row of the verdict list."""

    log_index: int
    asset_sha256: str
    detector: str
    version: str
    label: str
    positive: bool
    score: float | None
    p_value: float | None
    error: str | None
    created_at: datetime


@dataclass(frozen=True)
class VerdictPage:
    """A page of verdicts, newest first; pass ``next_before`` to get the next page."""

    rows: Sequence[VerdictSummary]
    next_before: int | None


def search_verdicts(
    session: Session,
    flt: VerdictFilter,
    *,
    before: int | None = None,
    limit: int = 50,
) -> VerdictPage:
    """Verdicts matching ``flt`` with log_index below ``before``, newest first.

    Keyset pagination on ``log_index`` (never OFFSET), so page N costs what page 1 costs; the
    indexes of migration 0004 serve the detector/label and positive-only filters in that order.
    """
    stmt = select(
        VerdictRow.log_index,
        VerdictRow.asset_sha256,
        VerdictRow.detector,
        VerdictRow.version,
        VerdictRow.label,
        VerdictRow.positive,
        VerdictRow.score,
        VerdictRow.p_value,
        VerdictRow.error,
        VerdictRow.created_at,
    )
    conditions: list[ColumnElement[bool]] = []
    if flt.detector:
        conditions.append(VerdictRow.detector == flt.detector)
    if flt.label:
        conditions.append(VerdictRow.label == flt.label)
    if flt.positive_only:
        conditions.append(VerdictRow.positive.is_(True))
    if flt.score_min is not None:
        conditions.append(VerdictRow.score >= flt.score_min)
    if flt.score_max is not None:
        conditions.append(VerdictRow.score <= flt.score_max)
    times: list[ColumnElement[bool]] = []
    if flt.since is not None:
        times.append(VerdictRow.created_at >= flt.since)
    if flt.until is not None:
        times.append(VerdictRow.created_at < flt.until)
    conditions += times
    if times:
        conditions += _time_range_plan(session, times)
    if flt.bank:
        conditions.append(VerdictRow.detector == "copy")
        conditions.append(
            or_(
                VerdictRow.evidence.contains({"matches": [{"bank": flt.bank, "match": True}]}),
                # retro-match verdicts (registry.banks.retro): found when the bank changed
                VerdictRow.evidence.contains({"bank": flt.bank, "retro": True})
                & VerdictRow.positive.is_(True),
            )
        )
    if flt.source:
        seen_there = select(Sighting.asset_sha256).where(Sighting.source == flt.source)
        conditions.append(VerdictRow.asset_sha256.in_(seen_there))
    if before is not None:
        conditions.append(VerdictRow.log_index < before)
    stmt = stmt.where(*conditions).order_by(VerdictRow.log_index.desc()).limit(limit + 1)
    rows = [
        VerdictSummary(
            log_index=int(r.log_index),
            asset_sha256=r.asset_sha256,
            detector=r.detector,
            version=r.version,
            label=r.label,
            positive=r.positive,
            score=r.score,
            p_value=r.p_value,
            error=r.error,
            created_at=r.created_at,
        )
        for r in session.execute(stmt)
    ]
    more = len(rows) > limit
    rows = rows[:limit]
    return VerdictPage(rows, rows[-1].log_index if more and rows else None)


TIME_RANGE_PROBE = 50_000


def _time_range_plan(
    session: Session, times: Sequence[ColumnElement[bool]]
) -> list[ColumnElement[bool]]:
    """Extra, result-preserving conditions that let PostgreSQL find a narrow time range fast.

    Left alone, PostgreSQL walks the log backwards from the newest entry until it reaches the
    range (it cannot know created_at mostly follows log_index): hundreds of ms at 1M rows.
    A narrow range (under TIME_RANGE_PROBE rows, counted by an index-only scan of
    ix_verdicts_created_log) is collected through that index first. A wide range is left to
    the planner: collecting or bounding it costs as much as the walk (docs/benchmarks.md).
    """
    probe = select(VerdictRow.log_index).where(*times).limit(TIME_RANGE_PROBE).subquery()
    count = session.scalar(select(func.count()).select_from(probe)) or 0
    if count >= TIME_RANGE_PROBE:
        return []
    in_range = (
        select(VerdictRow.log_index).where(*times).cte("in_range").prefix_with("MATERIALIZED")
    )
    return [VerdictRow.log_index.in_(select(in_range.c.log_index))]


@dataclass(frozen=True)
class Facets:
    """Values offered in the search filters."""

    detectors: Sequence[str]
    labels: Sequence[str]
    sources: Sequence[str]


def facets(session: Session) -> Facets:
    """Distinct detectors, labels and sources (index-only scans)."""
    pairs = session.execute(
        select(VerdictRow.detector, VerdictRow.label).group_by(
            VerdictRow.detector, VerdictRow.label
        )
    ).all()
    sources = session.scalars(
        select(Sighting.source).where(Sighting.source.is_not(None)).group_by(Sighting.source)
    ).all()
    return Facets(
        sorted({d for d, _ in pairs}),
        sorted({label for _, label in pairs}),
        sorted(s for s in sources if s is not None),
    )


@dataclass(frozen=True)
class DailyCount:
    """Verdicts per day, detector and label."""

    day: datetime
    detector: str
    label: str
    positive: bool
    count: int


def daily_counts(session: Session, since: datetime) -> list[DailyCount]:
    """Counts per day, detector, label and outcome since ``since`` (uses ix_verdicts_created)."""
    day = func.date_trunc("day", VerdictRow.created_at).label("day")
    stmt = (
        select(day, VerdictRow.detector, VerdictRow.label, VerdictRow.positive, func.count())
        .where(VerdictRow.created_at >= since)
        .group_by(day, VerdictRow.detector, VerdictRow.label, VerdictRow.positive)
        .order_by(day)
    )
    return [DailyCount(d, det, lab, pos, int(n)) for d, det, lab, pos, n in session.execute(stmt)]


@dataclass(frozen=True)
class HistogramBin:
    """Scores of one detector in [low, high)."""

    detector: str
    low: float
    high: float
    count: int


def score_histogram(session: Session, since: datetime, *, bins: int = 20) -> list[HistogramBin]:
    """Per-detector score histograms (equal-width bins between each detector's min and max;
    a detector whose scores are all equal gets one narrow bin centred on that score)."""
    bounds = {
        det: (float(lo or 0.0), float(hi or 0.0))
        for det, lo, hi in session.execute(
            select(VerdictRow.detector, func.min(VerdictRow.score), func.max(VerdictRow.score))
            .where(VerdictRow.created_at >= since, VerdictRow.score.is_not(None))
            .group_by(VerdictRow.detector)
        )
    }
    result: list[HistogramBin] = []
    for det, (lo, hi) in sorted(bounds.items()):
        if hi > lo:
            width = (hi - lo) / bins
        else:
            # Every score is the same: one bin as wide as a usual one, centred on that score
            # (not [score, score + 1), which drew scores of 1 out to 2 on the axis).
            width = (abs(lo) or 1.0) / bins
            lo -= width / 2
        bucket = func.least(
            func.width_bucket(VerdictRow.score, lo, lo + width * bins, bins), bins
        ).label("bucket")
        stmt = (
            select(bucket, func.count())
            .where(
                VerdictRow.created_at >= since,
                VerdictRow.detector == det,
                VerdictRow.score.is_not(None),
            )
            .group_by(bucket)
        )
        for b, n in session.execute(stmt):
            low = lo + (int(b) - 1) * width
            result.append(HistogramBin(det, low, low + width, int(n)))
    return result


@dataclass(frozen=True)
class VersionCount:
    """How many assets a detector version has judged (re-scan progress across versions)."""

    detector: str
    version: str
    assets: int


def version_counts(session: Session) -> list[VersionCount]:
    """Verdicts per detector and version (one per asset and model checksum): a re-scan shows
    the new version catching up with the old."""
    stmt = (
        select(VerdictRow.detector, VerdictRow.version, func.count())
        .group_by(VerdictRow.detector, VerdictRow.version)
        .order_by(VerdictRow.detector, VerdictRow.version)
    )
    return [VersionCount(d, v, int(n)) for d, v, n in session.execute(stmt)]


@dataclass(frozen=True)
class RunRecord:
    """One ingest or re-scan run, as the overview lists it (``provreg status`` adds
    re-scan progress: ``registry.queries.run_status.RunSummary``)."""

    id: int
    kind: str
    status: str
    source: str | None
    started_at: datetime
    finished_at: datetime | None
    files_ok: int
    files_error: int
    verdicts_written: int


def recent_runs(session: Session, limit: int = 20) -> list[RunRecord]:
    """The latest ingest and re-scan runs, newest first."""
    rows = session.scalars(select(IngestRun).order_by(IngestRun.id.desc()).limit(limit))
    return [
        RunRecord(
            r.id,
            r.kind,
            r.status,
            r.source,
            r.started_at,
            r.finished_at,
            r.files_ok,
            r.files_error,
            r.verdicts_written,
        )
        for r in rows
    ]


def verdict_rows(session: Session, log_indexes: Sequence[int]) -> list[VerdictRow]:
    """Full verdict rows by log index, in log order."""
    return list(
        session.scalars(
            select(VerdictRow)
            .where(VerdictRow.log_index.in_(list(log_indexes)))
            .order_by(VerdictRow.log_index)
        )
    )
