"""infra/postgres/roles.sql in use: history cannot be rewritten, audit rows are stamped by the
database, and only the writer can take the log sequencer (with a bounded wait).

The full role × table × statement matrix is tests/registry/test_roles_matrix.py.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from detectors.base import Verdict
from registry.auth.accounts import Identity, record_audit
from registry.ledger.signing import Signer
from registry.ledger.writer import (
    SEQUENCER_TIMEOUT_ENV,
    Ledger,
    SequencerBusyError,
    SequencerDeniedError,
    lock_sequencer,
    sequencer_lock_timeout,
)
from registry.testing.badfiles import noise
from registry.testing.ledger_helpers import ORIGIN, seed, synthetic_verdicts
from tests.roles_helpers import as_user, drop_roles, install_roles, plain_url, role_names

OLD_ADVISORY_LOCK_ID = 0x70726F766C6F67  # the sequencer before migration 0005c


@pytest.fixture
def roles(fresh_database_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    names = role_names()
    engine = create_engine(fresh_database_url)
    with sessionmaker(engine).begin() as session:
        seed(session, Ledger(Signer.generate(), ORIGIN), synthetic_verdicts(3))
    engine.dispose()
    install_roles(fresh_database_url, names)
    yield fresh_database_url, names
    drop_roles(fresh_database_url, names)


def _sessions(url: str, role: str) -> sessionmaker[Session]:
    return sessionmaker(create_engine(as_user(url, role)))


def test_writer_inserts_but_cannot_rewrite_history(roles: tuple[str, dict[str, str]]) -> None:
    url, names = roles
    with psycopg.connect(plain_url(as_user(url, names["writer"]))) as conn:
        conn.execute(
            "INSERT INTO assets (sha256, size_bytes, media_type) "
            "VALUES (repeat('a', 64), 1, 'image/png')"
        )
        conn.execute("UPDATE assets SET last_seen = now() WHERE sha256 = repeat('a', 64)")
        conn.commit()
        for statement in (
            "UPDATE verdicts SET label = 'x'",
            "DELETE FROM verdicts",
            "DELETE FROM merkle_nodes",
            "UPDATE checkpoints SET note = ''",
            "TRUNCATE verdicts CASCADE",
            "INSERT INTO users (username, password_hash, role) VALUES ('mallory', 'x', 'admin')",
            "SELECT password_hash FROM users",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)  # type: ignore[arg-type]
            conn.rollback()


def test_audit_rows_carry_the_database_role_and_server_time(
    roles: tuple[str, dict[str, str]],
) -> None:
    url, names = roles
    reader = _sessions(url, names["reader"])
    with reader.begin() as session:
        entry = record_audit(
            session, Identity("ivy", "investigator"), "view_asset", {"sha256": "ab"}
        )
        stamped = session.execute(
            text("SELECT db_role, at = now() FROM audit_log WHERE id = :id"), {"id": entry}
        ).one()
    assert tuple(stamped) == (names["reader"], True)
    # Even the owner cannot choose the time or the role a row is recorded under.
    with psycopg.connect(plain_url(url)) as conn:
        conn.execute(
            "INSERT INTO audit_log (username, role, action, query, at, db_role) "
            "VALUES ('ivy', 'admin', 'forged', '{}', '2000-01-01', 'someone')"
        )
        row = conn.execute(
            "SELECT db_role, at > '2001-01-01' FROM audit_log WHERE action = 'forged'"
        ).fetchone()
    assert row == ("postgres", True)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):  # noqa: SIM117
        with psycopg.connect(plain_url(as_user(url, names["reader"]))) as conn:
            conn.execute(
                "INSERT INTO audit_log (username, role, action, query) "
                "VALUES ('ada', 'admin', 'forged', '{}')"
            )


def test_reader_cannot_take_the_sequencer(roles: tuple[str, dict[str, str]]) -> None:
    url, names = roles
    with _sessions(url, names["reader"])() as session, pytest.raises(SequencerDeniedError):
        lock_sequencer(session, timeout=1)


def test_reader_holding_the_old_advisory_lock_no_longer_stalls_the_writer(
    roles: tuple[str, dict[str, str]],
) -> None:
    url, names = roles
    with psycopg.connect(plain_url(as_user(url, names["reader"]))) as reader:
        reader.execute("SELECT pg_advisory_lock(%s)", (OLD_ADVISORY_LOCK_ID,))
        writer = _sessions(url, names["writer"])
        with writer.begin() as session:
            entries = seed(
                session, Ledger(Signer.generate(), ORIGIN), synthetic_verdicts(2, start=10)
            )
        assert [e.log_index for e in entries] == [3, 4]


@pytest.mark.slow
def test_a_held_sequencer_gives_the_writer_a_clear_timeout(
    roles: tuple[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, names = roles
    writer = _sessions(url, names["writer"])
    monkeypatch.setenv(SEQUENCER_TIMEOUT_ENV, "0.5")
    with writer() as holder:
        lock_sequencer(holder)  # held until this transaction ends
        ledger = Ledger(Signer.generate(), ORIGIN)
        verdicts: list[Verdict] = synthetic_verdicts(1, start=20)
        with writer() as blocked:
            with pytest.raises(SequencerBusyError, match=r"gave up after 0.5 s"):
                seed(blocked, ledger, verdicts)
            blocked.rollback()
        holder.rollback()
    with writer.begin() as session:  # released: the next writer goes through
        assert seed(session, ledger, verdicts)[0].log_index == 3


def test_sequencer_timeout_is_configurable() -> None:
    assert sequencer_lock_timeout({}) == 30.0
    assert sequencer_lock_timeout({SEQUENCER_TIMEOUT_ENV: "2.5"}) == 2.5
    with pytest.raises(Exception, match="must be"):
        sequencer_lock_timeout({SEQUENCER_TIMEOUT_ENV: "soon"})


def _provreg(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "registry", *args],
        env=env,
        input=stdin,
        text=True,
        capture_output=True,
        timeout=300,
    )


@pytest.mark.slow
def test_each_role_does_its_job_through_the_cli(
    roles: tuple[str, dict[str, str]], provreg_env: dict[str, str], tmp_path: Path
) -> None:
    url, names = roles
    picture = tmp_path / "picture.png"
    noise(3, (64, 48)).save(picture)

    def env(role: str) -> dict[str, str]:
        return {
            **provreg_env,
            "PROVREG_DATABASE_URL": as_user(url, names[role]),
            "PROVREG_DETECTORS": "file-facts",
            "PROVREG_EXECUTOR": "inline",
        }

    ingested = _provreg(env("writer"), "ingest", str(picture), "--json")
    assert ingested.returncode == 0, ingested.stderr
    assert '"status":"ok"' in ingested.stdout
    banked = _provreg(env("banks"), "bank", "add", "flagged", str(picture))
    assert banked.returncode == 0, banked.stderr
    added = _provreg(
        env("accounts"),
        "users",
        "add",
        "olga",
        "--role",
        "admin",
        "--password-stdin",
        stdin="a-long-password\n",
    )
    assert added.returncode == 0, added.stderr
    # ...and the writer cannot do theirs (every other pair is in test_roles_matrix.py).
    for role, args in (
        ("writer", ("bank", "add", "other", str(picture))),
        ("writer", ("users", "add", "eve", "--role", "admin", "--password-stdin")),
    ):
        refused = _provreg(env(role), *args, stdin="a-long-password\n")
        assert refused.returncode != 0, (role, args, refused.stdout)
    with psycopg.connect(plain_url(url)) as conn:
        audit = conn.execute(
            "SELECT username, action, query->>'username', db_role FROM audit_log"
        ).fetchall()
    assert [(a[1], a[2], a[3]) for a in audit] == [("user_added", "olga", names["accounts"])]
