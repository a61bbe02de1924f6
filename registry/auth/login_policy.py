"""Dashboard logins: back-off and lockout per account and per client, every attempt audited.

The state lives in the append-only audit log, not in the dashboard process: every attempt is
recorded there anyway (``login_success``, ``login_failure``, ``login_refused``), so several
dashboard replicas share it, a restart does not reset it, and nobody who can only append
through ``provreg_audit`` can erase it. Written here rather than taken from a library because
the throttle must read that shared, audited state; web-framework rate limiters keep their own
counters in memory or in a cache.

Rules (all configurable, see :class:`LoginPolicy`):

- after the k-th consecutive failure for an account (since its last success), the next
  attempt is refused for ``backoff * 2**(k-1)`` seconds (capped at ``backoff_max``);
- after ``max_failures`` consecutive failures the account is locked for ``lockout`` seconds;
- a client (address) with ``client_max_failures`` failures within ``lockout`` seconds is
  refused for the rest of that window, whatever account it tries; fewer failures back off
  the same way as per account.

A refused attempt never checks the password (no oracle while locked) and is itself audited;
it does not count as a failure, so a lockout ends on time.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.auth.accounts import Identity, authenticate, record_audit
from registry.db.models_auth import AuditEntry
from registry.errors import ConfigurationError

LOGIN_ACTIONS = ("login_success", "login_failure")
UNKNOWN_ROLE = "-"


@dataclass(frozen=True)
class LoginPolicy:
    """Throttling, lockout and session-expiry settings (``PROVREG_LOGIN_*`` variables)."""

    max_failures: int = 5
    lockout_seconds: float = 900.0
    backoff_seconds: float = 1.0
    backoff_max_seconds: float = 60.0
    client_max_failures: int = 20
    session_idle_seconds: float = 1800.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LoginPolicy:
        """The policy from the environment; unset variables keep their defaults."""
        env = os.environ if environ is None else environ
        default = cls()

        def number(name: str, fallback: float) -> float:
            raw = env.get(name, "").strip()
            if not raw:
                return fallback
            try:
                value = float(raw)
            except ValueError as exc:
                raise ConfigurationError(f"{name} must be a number, not {raw!r}") from exc
            if not math.isfinite(value) or value < 0:
                raise ConfigurationError(f"{name} must be a non-negative number")
            return value

        policy = cls(
            max_failures=int(number("PROVREG_LOGIN_MAX_FAILURES", default.max_failures)),
            lockout_seconds=number("PROVREG_LOGIN_LOCKOUT_SECONDS", default.lockout_seconds),
            backoff_seconds=number("PROVREG_LOGIN_BACKOFF_SECONDS", default.backoff_seconds),
            backoff_max_seconds=number(
                "PROVREG_LOGIN_BACKOFF_MAX_SECONDS", default.backoff_max_seconds
            ),
            client_max_failures=int(
                number("PROVREG_LOGIN_CLIENT_MAX_FAILURES", default.client_max_failures)
            ),
            session_idle_seconds=number(
                "PROVREG_SESSION_IDLE_SECONDS", default.session_idle_seconds
            ),
        )
        if policy.max_failures < 1 or policy.client_max_failures < 1:
            raise ConfigurationError("login failure limits must be at least 1")
        return policy

    def backoff(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive failures (0 for none)."""
        if failures <= 0:
            return 0.0
        return float(
            min(self.backoff_max_seconds, self.backoff_seconds * 2 ** min(failures - 1, 30))
        )


@dataclass(frozen=True)
class LoginOutcome:
    """What a login attempt came to: an identity, or why not (and for how long)."""

    identity: Identity | None
    refused: str | None = None
    retry_after: float = 0.0


def _refusal(
    session: Session, username: str, client: str, policy: LoginPolicy
) -> tuple[str, float] | None:
    now = session.execute(select(func.now())).scalar_one()  # the database clock, as the log
    window = (
        select(AuditEntry.action, AuditEntry.at)
        .where(
            AuditEntry.action.in_(LOGIN_ACTIONS),
            AuditEntry.at > func.now() - timedelta(seconds=policy.lockout_seconds),
        )
        .order_by(AuditEntry.id.desc())
    )
    recent = session.execute(
        window.where(AuditEntry.username == username).limit(policy.max_failures)
    ).all()
    streak = 0
    for action, _ in recent:
        if action != "login_failure":
            break
        streak += 1
    if streak:
        since = (now - recent[0][1]).total_seconds()
        if streak >= policy.max_failures and since < policy.lockout_seconds:
            return "account locked after repeated failures", policy.lockout_seconds - since
        if since < policy.backoff(streak):
            return "too many attempts for this account", policy.backoff(streak) - since
    by_client = session.execute(
        window.where(
            AuditEntry.action == "login_failure", AuditEntry.query["client"].astext == client
        ).limit(policy.client_max_failures)
    ).all()
    if by_client:
        since = (now - by_client[0][1]).total_seconds()
        oldest = (now - by_client[-1][1]).total_seconds()
        if len(by_client) >= policy.client_max_failures:
            return "too many failed logins from this client", policy.lockout_seconds - oldest
        if since < policy.backoff(len(by_client)):
            return "too many attempts from this client", policy.backoff(len(by_client)) - since
    return None


def attempt_login(
    session: Session, username: str, password: str, *, client: str, policy: LoginPolicy
) -> LoginOutcome:
    """Check one login under ``policy`` and audit it (caller commits the transaction)."""
    name = username.strip()[:64]
    client = client[:100]
    refusal = _refusal(session, name, client, policy)
    if refusal is not None:
        reason, wait = refusal
        record_audit(
            session,
            Identity(name, UNKNOWN_ROLE),
            "login_refused",
            {"client": client, "reason": reason},
        )
        return LoginOutcome(None, reason, max(1.0, math.ceil(wait)))
    who = authenticate(session, name, password)
    record_audit(
        session,
        who or Identity(name, UNKNOWN_ROLE),
        "login_success" if who else "login_failure",
        {"client": client},
    )
    return LoginOutcome(who)
