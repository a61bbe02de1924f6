"""The Ray executor when the database gives up for good: every batch committed before the
failure is still yielded (printed), none is written after it, and the run is marked
interrupted; ``resume`` then finishes it on Ray too."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import func, select

from detectors.base import Verdict
from ray_jobs.ingest import RayIngest
from registry.app import Registry
from registry.db.models import IngestRun, VerdictRow
from registry.errors import DatabaseUnavailableError
from registry.ingest import FileOutcome, IngestLifecycle
from registry.intake.pipeline import IntakeResult
from registry.settings import Settings
from tests.ray_fixtures import make_images, ray_address

pytestmark = pytest.mark.slow  # starts Ray or runs the CLI end to end

__all__ = ["ray_address"]


def test_a_write_that_gives_up_stops_the_run_after_printing_what_was_committed(
    ray_address: str, tmp_path: Path, fresh_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = Registry.open(
        Settings(home=tmp_path / "home", database_url=fresh_database_url, batch_size=10)
    )
    files = make_images(tmp_path / "img", 60)
    write = IngestLifecycle.write
    calls: list[int] = []

    def flaky(
        self: IngestLifecycle,
        facts: Sequence[IntakeResult],
        verdicts: Sequence[Sequence[Verdict]],
        **kw: object,
    ) -> list[FileOutcome]:
        calls.append(len(facts))
        if len(calls) == 3:
            raise DatabaseUnavailableError("database unreachable for 300 s")
        return write(self, facts, verdicts, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(IngestLifecycle, "write", flaky)
    runner = RayIngest(registry, registry.detectors(["file-facts"]), max_in_flight=4, max_actors=1)
    printed: list[FileOutcome] = []
    try:
        with pytest.raises(DatabaseUnavailableError):
            for outcome in runner.run(files, source="ray-faults"):
                printed.append(outcome)
        assert len(calls) == 3  # nothing written after the batch that failed
        with registry.sessions() as session:
            written = session.scalar(select(func.count()).select_from(VerdictRow))
            run = session.scalars(select(IngestRun)).one()
        assert written == 20 and len(printed) == 20  # both committed batches were printed
        assert [o.path for o in printed] == [str(f) for f in files[:20]]
        assert run.status == "interrupted"

        monkeypatch.setattr(IngestLifecycle, "write", write)
        resumed = list(runner.run(files, source="ray-faults", resume=int(run.id)))
        assert [o.path for o in resumed] == [str(f) for f in files]
        assert sum(e.created for o in resumed for e in o.entries) == 40
        with registry.sessions() as session:
            assert session.scalar(select(func.count()).select_from(VerdictRow)) == 60
            assert session.get(IngestRun, run.id).status == "finished"  # type: ignore[union-attr]
    finally:
        runner.shutdown()
        registry.close()
