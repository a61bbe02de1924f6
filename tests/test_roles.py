"""infra/postgres/roles.sql: the writer may insert into the ledger but never update or delete."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from registry.ledger import Ledger
from registry.signing import Signer
from registry.testing.ledger_helpers import ORIGIN, seed, synthetic_verdicts

ROLES_SQL = Path(__file__).resolve().parents[1] / "infra" / "postgres" / "roles.sql"


@pytest.fixture
def roles(fresh_database_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    suffix = uuid.uuid4().hex[:8]
    names = {base: f"{base}_{suffix}" for base in ("provreg_admin", "provreg_writer",
                                                     "provreg_reader")}
    script = ROLES_SQL.read_text()
    for base, name in names.items():
        script = script.replace(base, name)
    url = fresh_database_url.replace("postgresql+psycopg://", "postgresql://")
    engine = create_engine(fresh_database_url)
    with sessionmaker(engine).begin() as session:
        seed(session, Ledger(Signer.generate(), ORIGIN), synthetic_verdicts(3))
    engine.dispose()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(script)  # type: ignore[arg-type]
    yield url, names
    with psycopg.connect(url, autocommit=True) as conn:
        for name in names.values():
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def _as(url: str, role: str) -> psycopg.Connection:
    conn = psycopg.connect(url)
    conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
    return conn


def test_writer_inserts_but_cannot_rewrite_history(roles: tuple[str, dict[str, str]]) -> None:
    url, names = roles
    with _as(url, names["provreg_writer"]) as conn:
        conn.execute("INSERT INTO assets (sha256, size_bytes, media_type) "
                     "VALUES (repeat('a', 64), 1, 'image/png')")
        conn.execute("UPDATE assets SET last_seen = now() WHERE sha256 = repeat('a', 64)")
        conn.commit()
        for statement in ("UPDATE verdicts SET label = 'x'", "DELETE FROM verdicts",
                          "DELETE FROM merkle_nodes", "UPDATE checkpoints SET note = ''",
                          "TRUNCATE verdicts CASCADE"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
            conn.rollback()


def test_reader_only_reads(roles: tuple[str, dict[str, str]]) -> None:
    url, names = roles
    with _as(url, names["provreg_reader"]) as conn:
        assert conn.execute("SELECT count(*) FROM verdicts").fetchone() == (3,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO assets (sha256, size_bytes, media_type) "
                         "VALUES (repeat('b', 64), 1, 'image/png')")
