"""Re-scan listing without holding the archive: keyset pages of ledger assets, windows of
items, and the per-window lookup of what a detector identity has already done."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ray_jobs.rescan import RescanIdentity, pending, windows
from ray_jobs.sources import Item, archive_items
from registry.db.engine import make_engine
from registry.db.models import Asset
from registry.db.models_rescan import RescanProgress
from registry.ingest import start_run

IDENTITY = RescanIdentity("slow-facts", "2.0.0", "")


@pytest.fixture
def fresh_engine(fresh_database_url: str) -> Iterator[Engine]:
    engine = make_engine(fresh_database_url)
    yield engine
    engine.dispose()


def _sha(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


def test_archive_items_come_in_keyset_pages_each_once(fresh_engine: Engine) -> None:
    sessions = sessionmaker(fresh_engine)
    with sessions.begin() as session:
        for i in range(10):
            session.add(
                Asset(
                    sha256=_sha(i),
                    size_bytes=1,
                    media_type="image/png",
                    location=None if i == 4 else f"/archive/{i}.png",
                )
            )
    expected = sorted(f"sha256:{_sha(i)}" for i in range(10) if i != 4)
    for page in (1, 3, 9, 100):  # page boundaries inside, at and past the end
        items = list(archive_items(sessions, page=page))
        assert [item.key for item in items] == expected
    located = {f"sha256:{_sha(i)}": f"/archive/{i}.png" for i in range(10) if i != 4}
    assert all(located[item.key] == item.location for item in archive_items(sessions))


def test_windows_split_in_order() -> None:
    items = [Item(str(i), str(i)) for i in range(7)]
    assert [[int(i.key) for i in w] for w in windows(items, 3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(windows([], 3)) == []


def test_pending_skips_only_what_this_identity_did(fresh_engine: Engine) -> None:
    items = [Item(f"/archive/{i}.png", f"/archive/{i}.png") for i in range(6)]
    with Session(fresh_engine) as session, session.begin():
        run = start_run(session, "rescan", "archive", {})
        for key, version in [
            (items[1].key, "2.0.0"),
            (items[4].key, "2.0.0"),
            (items[2].key, "1.0.0"),
        ]:  # another version's progress
            session.add(
                RescanProgress(
                    detector="slow-facts",
                    version=version,
                    model_checksum="",
                    item=key,
                    status="ok",
                    run_id=run,
                )
            )
    with Session(fresh_engine) as session:
        assert pending(session, IDENTITY, items) == [items[i] for i in (0, 2, 3, 5)]
        assert pending(session, IDENTITY, items[1:2]) == []
