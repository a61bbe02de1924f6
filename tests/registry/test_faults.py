"""Faults during ingest: a dropped connection, a killed driver and ``--resume``, a retry
policy that gives up with a clear error, and interrupted runs seen by ``provreg status``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from detectors.base import Verdict
from registry.app import Registry
from registry.db.models import IngestRun, Sighting, VerdictRow
from registry.db.retry import RetryPolicy
from registry.errors import DatabaseUnavailableError
from registry.ingest import IngestLifecycle, ingest_paths
from registry.ingest.ownership import INTERRUPTED, sweep_interrupted
from registry.ledger.batch import BatchWriter
from registry.ledger.verify import verify_ledger
from registry.settings import Settings
from registry.testing.badfiles import make_good_files

REPO = Path(__file__).resolve().parents[2]


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _terminate_others(url: str) -> int:
    """Kill every other backend of this database (as a server restart would)."""
    database = make_url(url).database
    with psycopg.connect(_plain(url), autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchall()
    return len(rows)


def _verify(registry: Registry) -> int:
    with registry.sessions() as session:
        return verify_ledger(session, registry.verifier(), registry.checkpoint_vkeys()).tree_size


def test_retry_policy_gives_up_after_the_outage_window() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    class Down:
        def begin(self) -> object:
            raise psycopg.OperationalError("connection refused")

    policy = RetryPolicy(outage_s=60, first_delay=1, max_delay=8, sleep=sleep, clock=lambda: now[0])
    with pytest.raises(DatabaseUnavailableError, match="outage window 60 s"):
        policy.run(Down(), lambda session: 1)  # type: ignore[arg-type]
    assert slept[:5] == [1, 2, 4, 8, 8]
    assert 52 <= sum(slept) <= 60  # kept trying for the window, not a fixed count


def test_settings_read_the_outage_window(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("db_outage_s = 420\n")
    assert Settings.from_env({"PROVREG_HOME": str(tmp_path)}).retry.outage_s == 420
    env = {"PROVREG_HOME": str(tmp_path), "PROVREG_DB_OUTAGE_S": "30"}
    assert Settings.from_env(env).db_outage_s == 30
    assert Settings(home=tmp_path).db_outage_s >= 300


def test_inline_ingest_survives_a_dropped_connection(
    tmp_path: Path, fresh_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every backend (the batch's COPY and the run's lock connection) is killed while the
    second batch is being written; the batch is retried and the ingest goes on."""
    registry = Registry.open(Settings(home=tmp_path / "home", database_url=fresh_database_url))
    files = make_good_files(tmp_path / "in", 12)
    encode = BatchWriter._encode
    batches: list[int] = []
    killed: list[int] = []

    def encode_then_drop(self: BatchWriter, number: int, chunk: Sequence[Verdict]) -> object:
        if number == 0:
            batches.append(1)
            if len(batches) == 2 and not killed:
                killed.append(_terminate_others(fresh_database_url))
        return encode(self, number, chunk)

    monkeypatch.setattr(BatchWriter, "_encode", encode_then_drop)
    try:
        outcomes = list(
            ingest_paths(
                registry.sessions,
                registry.ledger,
                registry.detectors(["file-facts"]),
                [tmp_path / "in"],
                limits=registry.settings.limits,
                batch_size=4,
                retry=RetryPolicy(first_delay=0.01),
            )
        )
        assert killed and killed[0] >= 2  # the writer's and the run lock's backends
        assert len(batches) == 4  # three batches, the second written twice
        assert sorted(o.path or "" for o in outcomes) == sorted(str(p) for p in files)
        assert all(o.status == "ok" for o in outcomes)
        assert _verify(registry) == 12 + 12  # 12 verdicts and their 12 signed sightings
        with registry.sessions() as session:
            run = session.scalars(select(IngestRun)).one()
            assert (run.status, run.files_ok, run.verdicts_written) == ("finished", 12, 12)
    finally:
        registry.close()


def test_a_run_whose_process_is_alive_is_not_swept(tmp_path: Path, fresh_database_url: str) -> None:
    registry = Registry.open(Settings(home=tmp_path / "home", database_url=fresh_database_url))
    lifecycle = IngestLifecycle(
        registry.sessions, registry.ledger, kind="ingest", source=None, parameters={}
    )
    try:
        run_id = lifecycle.begin()
        with registry.sessions.begin() as session:
            assert sweep_interrupted(session) == []
        lifecycle._release()  # as if the process died: its lock goes with its connection
        with registry.sessions.begin() as session:
            assert sweep_interrupted(session) == [run_id]
            assert session.get(IngestRun, run_id).status == INTERRUPTED  # type: ignore[union-attr]
    finally:
        registry.close()


def _provreg(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "registry", *args],
        env=env,
        cwd=REPO,
        text=True,
        capture_output=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def _status(env: dict[str, str]) -> dict[int, str]:
    result = _provreg(env, "status", "--json")
    assert result.returncode == 0, result.stderr
    return {run["id"]: run["status"] for run in json.loads(result.stdout)["runs"]}


@pytest.mark.slow
def test_killed_driver_is_interrupted_and_resume_judges_only_what_was_missing(
    tmp_path: Path, provreg_env: dict[str, str]
) -> None:
    """The driver is SIGKILLed mid-run (blocked on a full stdout pipe, after committing some
    batches). ``status`` shows the run interrupted; ``--resume`` judges only the files it
    had not judged and prints a line for every file; every file ends with exactly one
    verdict and the log verifies."""
    home = Path(provreg_env["PROVREG_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text("batch_size = 4\n")
    env = {**provreg_env, "PROVREG_DETECTORS": "file-facts", "PROVREG_EXECUTOR": "inline"}
    files = make_good_files(tmp_path / "in", 300)
    registry = Registry.open(Settings.from_env(env))
    driver = subprocess.Popen(
        [sys.executable, "-m", "registry", "ingest", str(tmp_path / "in"), "--json"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        # Nobody reads its stdout: it blocks once the pipe is full (~100 lines), mid-run.
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            with registry.sessions() as session:
                if session.scalar(select(func.count()).select_from(VerdictRow)) >= 40:
                    break
            time.sleep(0.2)
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
        with registry.sessions() as session:
            (run_id,) = session.scalars(select(IngestRun.id)).all()
            judged = session.scalar(select(func.count()).select_from(VerdictRow))
            signed_sightings = session.scalar(
                select(func.count()).select_from(Sighting).where(Sighting.log_index.is_not(None))
            )
        assert judged is not None and 40 <= judged < 300
        log_size_at_kill = judged + (signed_sightings or 0)  # verdicts and signed sightings
        deadline = time.monotonic() + 30  # the server notices the closed connection
        while _status(env)[run_id] != INTERRUPTED and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _status(env)[run_id] == INTERRUPTED

        result = _provreg(env, "ingest", str(tmp_path / "in"), "--json", "--resume", str(run_id))
        assert result.returncode == 0, result.stderr
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        # A line for every file: those judged before the kill replayed from the ledger (even
        # the batch committed but never printed), the rest judged now, each exactly once.
        assert sorted(line["path"] for line in lines) == sorted(str(p) for p in files)
        fresh = [
            v for line in lines for v in line["verdicts"] if v["log_index"] >= log_size_at_kill
        ]
        assert len(fresh) == 300 - judged
        with registry.sessions() as session:
            per_asset = session.execute(
                select(VerdictRow.asset_sha256, func.count()).group_by(VerdictRow.asset_sha256)
            ).all()
            sighted = session.scalar(select(func.count()).select_from(Sighting))
            run = session.get(IngestRun, run_id)
            assert run is not None and run.status == "finished" and run.files_ok == 300
        assert len(per_asset) == len(files) and all(n == 1 for _, n in per_asset)
        assert sighted == 300
        assert _verify(registry) == 300 + 300  # each verdict and its signed sighting
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
        registry.close()


def test_resume_refuses_a_run_that_is_still_running(
    tmp_path: Path, fresh_database_url: str
) -> None:
    registry = Registry.open(Settings(home=tmp_path / "home", database_url=fresh_database_url))
    lifecycle = IngestLifecycle(
        registry.sessions, registry.ledger, kind="ingest", source=None, parameters={}
    )
    try:
        run_id = lifecycle.begin()
        again = IngestLifecycle(
            registry.sessions,
            registry.ledger,
            kind="ingest",
            source=None,
            parameters={},
            resume=run_id,
        )
        with pytest.raises(Exception, match="still running"):
            again.begin()
        lifecycle.finish()
        with registry.sessions() as session:
            assert session.get(IngestRun, run_id).status == "finished"  # type: ignore[union-attr]
    finally:
        registry.close()
