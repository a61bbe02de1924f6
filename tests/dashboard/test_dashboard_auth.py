"""Dashboard accounts and audit log: argon2 hashes, roles, the users CLI, append-only audit,
and the read-only database role that may only append to the audit log."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from dashboard.cli import streamlit_command
from dashboard.evidence_view import bits_text, code_rows, looks_like_a1111, parse_a1111
from registry.auth.accounts import (
    AuthError,
    Identity,
    add_user,
    audit_entries,
    authenticate,
    list_users,
    record_audit,
)
from tests.roles_helpers import as_user, drop_roles, install_roles, plain_url, role_names

REPO = Path(__file__).resolve().parents[2]


def test_passwords_are_argon2_hashed_and_checked(db_session: Session) -> None:
    user = add_user(db_session, "iris", "correct horse", "investigator")
    assert user.password_hash.startswith("$argon2id$")
    assert "correct horse" not in user.password_hash
    assert authenticate(db_session, "iris", "correct horse") == Identity("iris", "investigator")
    assert authenticate(db_session, "iris", "wrong horse") is None
    assert authenticate(db_session, "nobody", "correct horse") is None


@pytest.mark.parametrize(
    ("name", "password", "role", "message"),
    [
        ("x", "long enough", "superuser", "unknown role"),
        ("x", "short", "viewer", "at least 8"),
        ("", "long enough", "viewer", "1 to 64"),
    ],
)
def test_bad_accounts_are_refused(
    db_session: Session, name: str, password: str, role: str, message: str
) -> None:
    with pytest.raises(AuthError, match=message):
        add_user(db_session, name, password, role)


def test_duplicate_user_is_refused(db_session: Session) -> None:
    add_user(db_session, "dup", "password-1", "viewer")
    with pytest.raises(AuthError, match="already exists"):
        add_user(db_session, "dup", "password-2", "admin")


def test_roles_grant_pages() -> None:
    assert Identity("v", "viewer").may_open("Overview")
    assert not Identity("v", "viewer").may_open("Search")
    assert Identity("i", "investigator").may_open("Asset")
    assert not Identity("i", "investigator").may_open("Audit")
    assert Identity("a", "admin").may_open("Audit")


def test_audit_log_is_append_only(db_session: Session) -> None:
    record_audit(db_session, Identity("ivy", "investigator"), "view_asset", {"sha256": "ab"})
    [entry] = audit_entries(db_session)
    assert (entry.username, entry.action, entry.query) == ("ivy", "view_asset", {"sha256": "ab"})
    for statement in (
        "UPDATE audit_log SET username = 'someone-else'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ):
        nested = db_session.begin_nested()
        with pytest.raises(Exception, match="append-only"):
            db_session.execute(text(statement))
        nested.rollback()


@pytest.mark.slow
def test_users_cli_adds_and_lists(provreg_env: dict[str, str], fresh_database_url: str) -> None:
    def provreg(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "registry", *args],
            env=provreg_env,
            input=stdin,
            text=True,
            capture_output=True,
            timeout=120,
        )

    added = provreg(
        "users", "add", "olga", "--role", "admin", "--password-stdin", stdin="a-long-password\n"
    )
    assert added.returncode == 0, added.stderr
    assert "added admin olga" in added.stdout
    again = provreg(
        "users", "add", "olga", "--role", "viewer", "--password-stdin", stdin="another-password\n"
    )
    assert again.returncode == 2 and "already exists" in again.stderr
    listed = provreg("users", "list", "--json")
    assert '"username": "olga"' in listed.stdout and '"role": "admin"' in listed.stdout
    url = fresh_database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT password_hash FROM users WHERE username = 'olga'").fetchone()
    assert row is not None and row[0].startswith("$argon2id$")


@pytest.fixture
def reader_role(fresh_database_url: str) -> Iterator[tuple[str, str]]:
    names = role_names()
    install_roles(fresh_database_url, names)
    yield fresh_database_url, names["reader"]
    drop_roles(fresh_database_url, names)


def test_dashboard_role_logs_in_and_audits_only_through_functions(
    reader_role: tuple[str, str],
) -> None:
    url, reader = reader_role
    owner = sessionmaker(create_engine(url))
    with owner.begin() as session:
        add_user(session, "ivy", "investigator-pw", "investigator")
    as_reader = sessionmaker(create_engine(as_user(url, reader)))
    with as_reader.begin() as session:
        assert authenticate(session, "ivy", "investigator-pw") == Identity("ivy", "investigator")
        assert authenticate(session, "ivy", "wrong") is None
        record_audit(session, Identity("ivy", "investigator"), "view_asset", {"sha256": "ab"})
        assert [u.username for u in list_users(session)] == ["ivy"]
    with psycopg.connect(plain_url(as_user(url, reader))) as conn:
        conn.execute("SELECT count(*) FROM verdicts")
        conn.commit()
        for statement in (
            "SELECT password_hash FROM users",
            "INSERT INTO audit_log (username, role, action, query) "
            "VALUES ('ivy', 'investigator', 'view_asset', '{}')",
            "UPDATE audit_log SET username = 'x'",
            "DELETE FROM audit_log",
            "INSERT INTO users (username, password_hash, role) VALUES ('x', 'x', 'admin')",
            "INSERT INTO assets (sha256, size_bytes, media_type) "
            "VALUES (repeat('b', 64), 1, 'image/png')",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)  # type: ignore[arg-type]
            conn.rollback()


def test_dashboard_command_runs_streamlit_headless_without_stats_or_watcher() -> None:
    command = streamlit_command("127.0.0.1", 8600)
    assert command[1:4] == ["-m", "streamlit", "run"]
    assert Path(command[4]) == REPO / "dashboard" / "app.py"
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options["--server.address"] == "127.0.0.1"
    assert options["--server.port"] == "8600"
    assert options["--server.headless"] == "true"
    assert options["--browser.gatherUsageStats"] == "false"
    assert options["--server.fileWatcherType"] == "none"


def test_dashboard_is_a_provreg_subcommand(provreg_env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "registry", "dashboard", "--help"],
        env=provreg_env,
        text=True,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "--port" in result.stdout and "--host" in result.stdout


def test_a1111_parameters_are_parsed() -> None:
    text = (
        "a fox, snow\nmore prompt\nNegative prompt: blurry, lowres\n"
        "Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 1234, Size: 512x768, "
        'Model hash: 31e35c80fc, Lora hashes: "a: 1, b: 2", Version: v1.6.0'
    )
    assert looks_like_a1111(text)
    parsed = parse_a1111(text)
    assert parsed["prompt"] == "a fox, snow\nmore prompt"
    assert parsed["negative_prompt"] == "blurry, lowres"
    assert parsed["settings"]["Sampler"] == "DPM++ 2M Karras"
    assert parsed["settings"]["Seed"] == "1234"
    assert parsed["settings"]["Lora hashes"] == "a: 1, b: 2"
    assert parsed["settings"]["Version"] == "v1.6.0"
    assert not looks_like_a1111("just a caption")


def test_bits_and_codes_are_rendered_readably() -> None:
    assert bits_text("1111000010101010") == "11110000 10101010"
    assert bits_text([1, 0, True, False]) == "1010"
    assert bits_text("not bits") is None
    assert code_rows(
        [
            {"code": "assertion.hashedURI.mismatch", "url": "self#jumbf=c2pa"},
            "claimSignature.validated",
        ]
    ) == [
        {"code": "assertion.hashedURI.mismatch", "url": "self#jumbf=c2pa", "explanation": ""},
        {"code": "claimSignature.validated", "url": "", "explanation": ""},
    ]


def _health_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.mark.slow
def test_stopping_provreg_dashboard_stops_the_server(
    provreg_env: dict[str, str], tmp_path: Path
) -> None:
    """SIGTERM to `provreg dashboard` (what systemd or Kubernetes sends) must stop Streamlit
    too: the command becomes the server instead of leaving it running as an orphan."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    url = f"http://127.0.0.1:{port}"
    with (tmp_path / "dashboard.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "registry", "dashboard", "--port", str(port)],
            env=provreg_env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 120
            while not _health_ok(url):
                assert process.poll() is None, "provreg dashboard exited early"
                assert time.monotonic() < deadline, "dashboard did not become healthy"
                time.sleep(0.5)
            cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
            assert b"streamlit" in cmdline, cmdline
            process.terminate()
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
    deadline = time.monotonic() + 10
    while _health_ok(url) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _health_ok(url), "the Streamlit server outlived provreg dashboard"
