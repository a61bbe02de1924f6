"""The Ray executor on a real local Ray and a real PostgreSQL: a detector worker SIGKILLed
mid-run, a dropped database connection mid-batch, the GPU fallback on a CPU-only cluster."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from ray_jobs.actors import DetectorPool
from ray_jobs.ingest import RayIngest, ray_executor
from registry.app import Registry
from registry.db.models import VerdictRow
from registry.db.retry import in_transaction
from registry.errors import ProvregError
from registry.ingest import load_executor
from registry.ledger.verify import verify_ledger
from registry.settings import Settings
from tests.ray_fixtures import make_images, ray_address
from tests.ray_jobs.ray_detectors import (
    BrokenLoadFacts,
    HalfGpuFacts,
    crashing_intake,
    heavy_variants,
)

pytestmark = pytest.mark.slow  # starts Ray or runs the CLI end to end

__all__ = ["ray_address"]


@pytest.fixture
def registry(tmp_path: Path, fresh_database_url: str) -> Registry:
    settings = Settings(home=tmp_path / "home", database_url=fresh_database_url, batch_size=25)
    return Registry.open(settings)


def test_ray_is_the_default_executor() -> None:
    assert load_executor(None) is ray_executor


def test_500_images_survive_a_killed_detector_worker(
    ray_address: str, registry: Registry, tmp_path: Path
) -> None:
    files = make_images(tmp_path / "img", 500)
    runner = RayIngest(registry, registry.detectors(["file-facts"]), max_in_flight=4, max_actors=2)
    before = runner.actor_info()
    victim = before[0]["pid"]
    outcomes = []
    try:
        for outcome in runner.run(files, source="ray-test"):
            outcomes.append(outcome)
            if len(outcomes) == 100:  # batches 5-8 are in flight on the actors now
                os.kill(victim, signal.SIGKILL)
        after = runner.actor_info()
    finally:
        runner.shutdown()

    assert victim not in {info["pid"] for info in after}, "the killed actor was restarted"
    assert [o.path for o in outcomes] == [str(f) for f in files]  # one outcome each, in order
    assert all(o.status == "ok" and len(o.entries) == 1 for o in outcomes)
    with registry.sessions() as session:
        per_asset = session.execute(
            select(VerdictRow.asset_sha256, func.count())
            .where(VerdictRow.detector == "file-facts")
            .group_by(VerdictRow.asset_sha256)
        ).all()
        assert len(per_asset) == 500 and {n for _, n in per_asset} == {1}
        report = verify_ledger(session, registry.verifier(), registry.checkpoint_vkeys())
    # 500 verdicts and a signed sighting per file
    assert report.tree_size == 1000 and report.latest_checkpoint_size == 1000

    # A retried batch (the same files again) writes nothing new.
    again = list(
        ray_executor(registry, registry.detectors(["file-facts"]), files[:60], source="retry")
    )
    assert len(again) == 60 and not any(e.created for o in again for e in o.entries)
    assert {e.log_index for o in again for e in o.entries} == {
        e.log_index for o in outcomes[:60] for e in o.entries
    }


def test_a_file_that_crashes_its_worker_costs_only_its_own_verdict(
    ray_address: str, registry: Registry, tmp_path: Path
) -> None:
    files = make_images(tmp_path / "img", 30, seed=9)
    crash = files[12].rename(files[12].with_name("crash.png"))
    files[12] = crash
    runner = RayIngest(
        registry, registry.detectors(["file-facts"]), intake=crashing_intake, max_actors=1
    )
    try:
        outcomes = list(runner.run(files, source="crash"))
    finally:
        runner.shutdown()
    assert [o.path for o in outcomes] == [str(f) for f in files]
    bad = outcomes[12]
    assert bad.status == "error" and bad.error == "corrupt"
    assert bad.error_detail is not None and "crashed the intake worker" in bad.error_detail
    assert [e.verdict.detector for e in bad.entries] == ["intake"]
    assert all(o.status == "ok" and len(o.entries) == 1 for i, o in enumerate(outcomes) if i != 12)


def test_database_outage_mid_ingest_is_ridden_out(
    ray_address: str,
    registry: Registry,
    tmp_path: Path,
    pg_admin: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The database refuses connections for two seconds mid-run, as during a restart."""
    files = make_images(tmp_path / "img", 150, seed=5)
    name = make_url(registry.url).database
    admin = (
        make_url(pg_admin.admin_url)
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )

    def outage() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')  # type: ignore[arg-type]
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            time.sleep(2.0)
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')  # type: ignore[arg-type]

    outcomes, thread = [], threading.Thread(target=outage)
    for outcome in ray_executor(
        registry, registry.detectors(["file-facts"]), files, source="outage"
    ):
        outcomes.append(outcome)
        if len(outcomes) == 50:
            thread.start()
            time.sleep(0.3)  # the outage is on before the next batch is written
    thread.join()
    assert "database unavailable" in caplog.text  # a batch's write was retried
    assert [o.path for o in outcomes] == [str(f) for f in files]
    with registry.sessions() as session:
        report = verify_ledger(session, registry.verifier(), registry.checkpoint_vkeys())
        assert report.tree_size == 150 + 150  # verdicts and a signed sighting each
        assert session.scalar(select(func.count(func.distinct(VerdictRow.asset_sha256)))) == 150


def test_write_retried_after_the_connection_drops(registry: Registry) -> None:
    attempts = []

    def work(session: object) -> int:
        attempts.append(1)
        if len(attempts) == 1:  # the server drops us mid-transaction, as on a restart
            session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))  # type: ignore[attr-defined]
        return int(session.execute(text("SELECT 41 + 1")).scalar_one())  # type: ignore[attr-defined]

    assert in_transaction(registry.sessions, work, first_delay=0.01) == 42
    assert len(attempts) == 2


def test_gpu_detector_falls_back_to_cpu(ray_address: str) -> None:
    pool = DetectorPool(HalfGpuFacts(), 1, gpus_available=False)
    try:
        (info,) = pool.info()
    finally:
        pool.shutdown()
    assert info["resources"].get("GPU", 0) == 0
    assert info["resources"]["CPU"] == pytest.approx(0.25)


def test_a_detector_that_cannot_load_stops_the_run_with_a_clear_error(
    ray_address: str, registry: Registry, tmp_path: Path
) -> None:
    files = make_images(tmp_path / "img", 5, seed=17)
    with pytest.raises(ProvregError, match="broken-load"):
        list(ray_executor(registry, [BrokenLoadFacts()], files, source="broken"))
    with registry.sessions() as session:
        assert session.scalar(select(func.count()).select_from(VerdictRow)) == 0


def test_more_declared_cpus_than_the_cluster_has_still_completes(
    ray_address: str, registry: Registry, tmp_path: Path
) -> None:
    """Four one-CPU detectors on a two-CPU cluster: every pool must still get an actor."""
    files = make_images(tmp_path / "img", 12, seed=23)
    detectors = heavy_variants(4)
    done: list[Any] = []
    worker = threading.Thread(
        target=lambda: done.extend(ray_executor(registry, detectors, files, source="heavy"))
    )
    worker.start()
    worker.join(timeout=180)
    assert not worker.is_alive(), "ingest hung: detector actors could not be scheduled"
    assert len(done) == 12
    assert all(len(outcome.entries) == 4 for outcome in done)
