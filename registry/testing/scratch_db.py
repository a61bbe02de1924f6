"""Throwaway PostgreSQL databases, for the tests and the benchmarks alike.

The one scratch-database helper: the test fixtures (``tests/conftest.py``), the benchmarks that
need a migrated database of their own, and the private cluster of :mod:`registry.testing.
private_pg` all create and drop databases through :class:`PostgresAdmin`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from sqlalchemy.engine import make_url

from registry.db.engine import upgrade_schema

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
"""The shared development server (trust auth), as a libpq URL."""


@dataclass
class PostgresAdmin:
    """Creates and drops throwaway databases on the server that ``admin_url`` (libpq) names."""

    admin_url: str

    def _connect(self) -> psycopg.Connection:
        return psycopg.connect(self.admin_url, autocommit=True)

    def url_for(self, name: str) -> str:
        """SQLAlchemy (psycopg) URL of database ``name`` on this server."""
        url = make_url(self.admin_url).set(drivername="postgresql+psycopg", database=name)
        return url.render_as_string(hide_password=False)

    def create(self, name: str, template: str | None = None) -> str:
        """Create database ``name`` (a copy of ``template`` if given); returns its URL."""
        with self._connect() as conn:
            sql = f'CREATE DATABASE "{name}"'
            if template:
                sql += f' TEMPLATE "{template}"'
            conn.execute(sql)  # type: ignore[arg-type]
        return self.url_for(name)

    def create_migrated(self, name: str) -> str:
        """Create database ``name`` and migrate it to head; returns its URL."""
        url = self.create(name)
        upgrade_schema(url)
        return url

    def drop(self, name: str) -> None:
        """Drop database ``name`` if it exists, cutting its connections."""
        with self._connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def reachable(url: str) -> bool:
    """Whether a PostgreSQL server answers at libpq ``url`` within 3 s."""
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@contextmanager
def scratch_database(
    admin_url: str = ADMIN_URL, *, prefix: str = "provreg_bench", keep: bool = False
) -> Iterator[str]:
    """A uniquely named database next to ``admin_url``'s, migrated to head: yields its
    SQLAlchemy URL and drops it afterwards unless ``keep``."""
    admin = PostgresAdmin(admin_url)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin.create(name)
    try:
        upgrade_schema(admin.url_for(name))
        yield admin.url_for(name)
    finally:
        if not keep:
            admin.drop(name)
