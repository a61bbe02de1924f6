"""Dashboard hardening with AppTest against a real PostgreSQL: back-off and lockout per
account and per client, every login audited, idle sessions expire, rejected searches and
admin views of the Audit page audited, and a database outage shows no details."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.cli import streamlit_command
from registry.app import Registry
from registry.auth.accounts import AuditRecord, add_user, audit_entries
from registry.auth.login_policy import LoginPolicy
from registry.errors import ConfigurationError
from registry.settings import Settings

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
USERS = {"ivy": ("investigator-pw", "investigator"), "ada": ("admin-pass-1", "admin")}


@pytest.fixture
def accounts(provreg_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    for key, value in provreg_env.items():
        if key.startswith("PROVREG_"):
            monkeypatch.setenv(key, value)
    monkeypatch.delenv("PROVREG_DASHBOARD_DATABASE_URL", raising=False)
    settings = Settings.from_env()
    registry = Registry.open(settings)
    with registry.sessions.begin() as session:
        for name, (password, role) in USERS.items():
            add_user(session, name, password, role)
    registry.close()
    yield settings


def policy(monkeypatch: pytest.MonkeyPatch, **values: float) -> None:
    """Set ``PROVREG_LOGIN_*`` / ``PROVREG_SESSION_*`` variables for this test."""
    for name, value in values.items():
        monkeypatch.setenv(f"PROVREG_{name.upper()}", str(value))


def app() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    return at


def login(at: AppTest, user: str, password: str | None = None) -> AppTest:
    at.text_input(key="login_user").input(user)
    at.text_input(key="login_password").input(password or USERS[user][0])
    at.button[0].click().run()
    return at


def everything(at: AppTest) -> str:
    """Every string the page shows, whatever the element."""
    parts: list[object] = []
    for kind in (
        "markdown",
        "caption",
        "text",
        "code",
        "error",
        "info",
        "warning",
        "success",
        "title",
        "header",
        "subheader",
        "exception",
    ):
        parts += [getattr(e, "value", "") for e in getattr(at, kind)]
    parts += [e.message for e in at.exception] + [e.stack_trace for e in at.exception]
    return "\n".join(str(p) for p in parts)


def signed_in(at: AppTest) -> bool:
    return len(at.sidebar.radio) == 1


def entries(settings: Settings, action: str) -> list[AuditRecord]:
    registry = Registry.open(settings)
    try:
        with registry.sessions() as session:
            return [e for e in audit_entries(session, limit=1000) if e.action == action]
    finally:
        registry.close()


@pytest.mark.slow
def test_every_login_attempt_is_audited(
    accounts: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy(monkeypatch, login_backoff_seconds=0)
    at = login(app(), "ivy", "not-the-password")
    assert not signed_in(at) and "wrong password" in everything(at)
    login(at, "nobody-" + "x" * 100, "whatever-pw")
    login(at, "ivy")
    assert signed_in(at) and not at.exception
    failures = entries(accounts, "login_failure")
    assert [(e.username, e.role) for e in failures] == [("nobody-" + "x" * 57, "-"), ("ivy", "-")]
    [success] = entries(accounts, "login_success")
    assert (success.username, success.role, success.query) == (
        "ivy",
        "investigator",
        {"client": "unknown"},
    )
    assert success.db_role == "postgres"  # stamped by the database, not passed in


def test_back_off_refuses_the_next_attempt_even_with_the_right_password(
    accounts: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy(monkeypatch, login_backoff_seconds=600)
    at = login(app(), "ivy", "wrong-password")
    login(at, "ivy")
    assert not signed_in(at)
    assert "Too many failed sign-ins. Try again in" in everything(at)
    [refused] = entries(accounts, "login_refused")
    assert refused.query["reason"] == "too many attempts for this account"
    assert entries(accounts, "login_success") == []


@pytest.mark.slow
def test_account_locks_after_n_failures_and_others_still_sign_in(
    accounts: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy(
        monkeypatch, login_backoff_seconds=0, login_max_failures=3, login_client_max_failures=100
    )
    at = app()
    for _ in range(3):
        login(at, "ivy", "guess-guess")
    login(at, "ivy")
    assert not signed_in(at) and "Too many failed sign-ins" in everything(at)
    assert [e.query["reason"] for e in entries(accounts, "login_refused")] == [
        "account locked after repeated failures"
    ]
    login(at, "ada")
    assert signed_in(at)


@pytest.mark.slow
def test_a_client_failing_across_accounts_is_locked_out(
    accounts: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy(
        monkeypatch, login_backoff_seconds=0, login_max_failures=100, login_client_max_failures=3
    )
    at = app()
    for name in ("alice", "bob", "carol"):
        login(at, name, "spray-password")
    login(at, "ivy")
    assert not signed_in(at)
    assert [e.query["reason"] for e in entries(accounts, "login_refused")] == [
        "too many failed logins from this client"
    ]


def test_idle_sessions_expire(accounts: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    policy(monkeypatch, session_idle_seconds=60)
    at = login(app(), "ivy")
    assert signed_in(at)
    at.session_state["_last_active"] = 0.0  # as if the last click were long ago
    at.run()
    assert not signed_in(at)
    assert "session expired" in everything(at)
    [expired] = entries(accounts, "session_expired")
    assert expired.username == "ivy"


def test_rejected_searches_and_audit_page_views_are_audited(accounts: Settings) -> None:
    at = login(app(), "ada")
    at.sidebar.radio(key="page").set_value("Search").run()  # admins land on Recent
    at.text_input(key="search_sha").input("not-hex!").run()
    assert "hexadecimal" in everything(at)
    [rejected] = entries(accounts, "search_rejected")
    assert rejected.query == {"prefix": "not-hex!", "reason": "not hexadecimal"}
    at.sidebar.radio(key="page").set_value("Audit").run()
    assert not at.exception
    [viewed] = entries(accounts, "view_audit")
    assert (viewed.username, viewed.role) == ("ada", "admin")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_database_down_shows_a_plain_page_without_details(
    accounts: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = _closed_port()
    monkeypatch.setenv(
        "PROVREG_DATABASE_URL", f"postgresql+psycopg://provreg@127.0.0.1:{port}/provreg_gone"
    )
    at = login(app(), "ivy")
    shown = everything(at)
    assert "registry is unavailable right now" in shown
    assert not at.exception
    for secret in (
        str(port),
        "127.0.0.1",
        "provreg_gone",
        "Traceback",
        'File "',
        ".py",
        "psycopg",
        "OperationalError",
    ):
        assert secret not in shown


def test_launcher_hides_error_details_and_keeps_xsrf_protection() -> None:
    command = streamlit_command("127.0.0.1", 8600)
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options["--client.showErrorDetails"] == "none"
    assert options["--server.enableXsrfProtection"] == "true"


def test_login_policy_reads_the_environment_and_backs_off_exponentially() -> None:
    assert LoginPolicy.from_env({}) == LoginPolicy()
    custom = LoginPolicy.from_env(
        {
            "PROVREG_LOGIN_MAX_FAILURES": "7",
            "PROVREG_LOGIN_BACKOFF_SECONDS": "2",
            "PROVREG_LOGIN_BACKOFF_MAX_SECONDS": "10",
            "PROVREG_SESSION_IDLE_SECONDS": "300",
        }
    )
    assert (custom.max_failures, custom.session_idle_seconds) == (7, 300.0)
    assert [custom.backoff(k) for k in range(5)] == [0.0, 2.0, 4.0, 8.0, 10.0]
    for bad in (
        {"PROVREG_LOGIN_MAX_FAILURES": "0"},
        {"PROVREG_LOGIN_LOCKOUT_SECONDS": "-1"},
        {"PROVREG_SESSION_IDLE_SECONDS": "soon"},
    ):
        with pytest.raises(ConfigurationError):
            LoginPolicy.from_env(bad)
