"""Retried transactions: a connection lost inside the ledger's raw COPY is retried like one
lost in an ORM statement, and the retried batch is written exactly once."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from detectors.base import Verdict
from registry.app import Registry
from registry.db.models import VerdictRow
from registry.db.retry import in_transaction, transient
from registry.ledger.batch import BatchWriter
from registry.ledger.verify import verify_ledger
from registry.ledger.writer import LedgerEntry
from registry.settings import Settings
from registry.testing.ledger_helpers import seed, synthetic_verdicts


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def test_connection_lost_during_copy_is_retried(
    tmp_path: Path, fresh_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server drops the connection while the ledger's COPY is open (as on a restart):
    psycopg raises its own error there, not SQLAlchemy's, and it must be retried too."""
    registry = Registry.open(Settings(home=tmp_path / "home", database_url=fresh_database_url))
    verdicts = synthetic_verdicts(300)
    attempts: list[int] = []
    backend: list[int] = []
    encode = BatchWriter._encode

    def encode_then_drop(self: BatchWriter, number: int, chunk: Sequence[Verdict]) -> object:
        if backend:  # first attempt, COPY already open: the server goes away
            with psycopg.connect(_plain(fresh_database_url), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (backend.pop(),))
        return encode(self, number, chunk)

    monkeypatch.setattr(BatchWriter, "_encode", encode_then_drop)

    def work(session: Session) -> list[LedgerEntry]:
        attempts.append(1)
        if len(attempts) == 1:
            backend.append(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
        return seed(session, registry.ledger, verdicts)

    entries = in_transaction(registry.sessions, work, first_delay=0.01)
    assert len(attempts) == 2 and not backend
    assert [e.log_index for e in entries] == list(range(300))
    with registry.sessions() as session:
        assert session.scalar(select(func.count()).select_from(VerdictRow)) == 300
        report = verify_ledger(session, registry.verifier(), registry.checkpoint_vkeys())
    assert report.tree_size == 300


def test_statement_errors_are_not_transient() -> None:
    assert transient(psycopg.OperationalError("server closed the connection unexpectedly"))
    assert not transient(psycopg.errors.UniqueViolation("duplicate key"))
    assert not transient(psycopg.errors.SyntaxError("syntax error"))
    assert not transient(ValueError("not a database error"))


def test_a_bad_statement_is_raised_at_once(tmp_path: Path, fresh_database_url: str) -> None:
    registry = Registry.open(Settings(home=tmp_path / "home", database_url=fresh_database_url))
    attempts: list[int] = []

    def work(session: Session) -> None:
        attempts.append(1)
        session.execute(text("SELECT no_such_column FROM verdicts"))

    with pytest.raises(Exception, match="no_such_column"):
        in_transaction(registry.sessions, work, first_delay=0.01)
    assert len(attempts) == 1


def test_a_raw_psycopg_connection_error_is_retried(tmp_path: Path, fresh_database_url: str) -> None:
    registry = Registry.open(Settings(home=tmp_path / "home", database_url=fresh_database_url))
    attempts: list[int] = []

    def work(session: Session) -> int:
        attempts.append(1)
        if len(attempts) == 1:  # as psycopg raises it from a COPY on the raw connection
            raise psycopg.OperationalError(
                "sending copy data failed: server closed the connection unexpectedly"
            )
        return int(session.execute(text("SELECT 41 + 1")).scalar_one())

    assert in_transaction(registry.sessions, work, first_delay=0.01) == 42
    assert len(attempts) == 2
