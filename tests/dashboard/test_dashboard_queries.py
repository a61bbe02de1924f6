"""The dashboard's read API: filters and keyset pagination return exactly the right verdicts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from registry.db.models import Sighting
from registry.ledger.signing import Signer
from registry.ledger.writer import Ledger
from registry.queries import reads as queries
from registry.queries.reads import VerdictFilter, facets, search_verdicts, version_counts
from registry.testing.ledger_helpers import ORIGIN, seed, synthetic_verdicts

COUNT = 60


@pytest.fixture
def seeded(db_session: Session) -> Session:
    seed(db_session, Ledger(Signer.generate(), ORIGIN), synthetic_verdicts(COUNT))
    # Spread created_at over 60 days, one verdict per day (triggers bypassed as a superuser
    # would; these tests read, they do not verify signatures).
    db_session.execute(text("SET LOCAL session_replication_role = replica"))
    db_session.execute(
        text(
            "UPDATE verdicts SET created_at = timestamptz '2026-01-01 00:00+00' "
            "+ log_index * interval '1 day'"
        )
    )
    db_session.execute(text("SET LOCAL session_replication_role = origin"))
    shas = [v.asset_sha256 for v in synthetic_verdicts(COUNT)]
    db_session.add_all(
        Sighting(asset_sha256=s, source="even" if i % 2 == 0 else "odd") for i, s in enumerate(shas)
    )
    db_session.flush()
    return db_session


def walk(session: Session, flt: VerdictFilter, limit: int = 7) -> list[int]:
    seen: list[int] = []
    before = None
    while True:
        page = search_verdicts(session, flt, before=before, limit=limit)
        seen += [r.log_index for r in page.rows]
        if page.next_before is None:
            return seen
        before = page.next_before


def test_keyset_pages_cover_every_match_once_newest_first(seeded: Session) -> None:
    assert walk(seeded, VerdictFilter()) == list(range(COUNT - 1, -1, -1))
    positive = walk(seeded, VerdictFilter(positive_only=True))
    assert positive == [i for i in range(COUNT - 1, -1, -1) if i % 3 == 0]
    assert walk(seeded, VerdictFilter(detector="synthetic", label="sdxl")) == positive
    assert walk(seeded, VerdictFilter(detector="nope")) == []


def test_score_and_source_filters(seeded: Session) -> None:
    rows = walk(seeded, VerdictFilter(score_min=2.0, score_max=4.0))
    assert rows == [i for i in range(COUNT - 1, -1, -1) if 2.0 <= round(i / 7.0, 6) <= 4.0]
    assert walk(seeded, VerdictFilter(source="odd")) == [
        i for i in range(COUNT - 1, -1, -1) if i % 2 == 1
    ]


@pytest.mark.parametrize("probe", [1, 1_000_000], ids=["wide-path", "narrow-path"])
def test_time_range_is_exact_on_both_query_paths(
    seeded: Session, monkeypatch: pytest.MonkeyPatch, probe: int
) -> None:
    monkeypatch.setattr(queries, "TIME_RANGE_PROBE", probe)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    flt = VerdictFilter(since=start + timedelta(days=10), until=start + timedelta(days=20))
    assert walk(seeded, flt, limit=3) == list(range(19, 9, -1))
    flt = VerdictFilter(
        since=start + timedelta(days=10), until=start + timedelta(days=20), positive_only=True
    )
    assert walk(seeded, flt, limit=2) == [18, 15, 12]


def test_facets_and_version_counts(seeded: Session) -> None:
    f = facets(seeded)
    assert list(f.detectors) == ["synthetic"]
    assert list(f.labels) == ["not-found", "sdxl"]
    assert list(f.sources) == ["even", "odd"]
    [count] = version_counts(seeded)
    assert (count.detector, count.version, count.assets) == ("synthetic", "1.0", COUNT)


def test_score_histogram_bins_span_the_scores_and_count_every_verdict(db_session: Session) -> None:
    spread = synthetic_verdicts(30, detector="spread")
    same = [replace(v, score=1.0) for v in synthetic_verdicts(5, start=30, detector="same")]
    seed(db_session, Ledger(Signer.generate(), ORIGIN), spread + same)
    bins = queries.score_histogram(db_session, datetime(2000, 1, 1, tzinfo=UTC), bins=10)
    spread_bins = [b for b in bins if b.detector == "spread"]
    assert sum(b.count for b in spread_bins) == 30
    assert min(b.low for b in spread_bins) == 0.0
    assert max(b.high for b in spread_bins) == pytest.approx(29 / 7, abs=1e-5)
    # All scores equal (1.0): one bin around 1.0, not [1, 2).
    (only,) = [b for b in bins if b.detector == "same"]
    assert only.count == 5
    assert only.low < 1.0 < only.high and only.high - only.low == pytest.approx(0.1)
