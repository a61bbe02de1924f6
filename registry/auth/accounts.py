"""Dashboard users and the audit log: the only writes the dashboard makes.

Passwords are hashed with argon2id through argon2-cffi (its ``PasswordHasher`` defaults:
RFC 9106 low-memory profile); nothing here stores or logs a clear-text password. Roles:

- ``viewer``: the Overview page (aggregate charts) only;
- ``investigator``: Search, Asset (with integrity check) and evidence export, plus Overview;
- ``admin``: everything, including the Audit page.

Every login attempt, search and asset view is written to ``audit_log`` (append-only,
migration 0004) through the ``provreg_audit`` database function, which stamps the database
role and the time itself (migration 0005c). Password hashes are read only through
``provreg_password_hash`` (the dashboard role cannot select the column). Throttling and
lockout of logins are in ``registry.auth.login_policy``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry.db.models_auth import ROLES, AuditEntry, User
from registry.errors import ProvregError
from registry.ledger.records import json_safe

PAGES_BY_ROLE: Mapping[str, tuple[str, ...]] = {
    "viewer": ("Overview",),
    "investigator": ("Recent", "Search", "Asset", "Overview"),
    "admin": ("Recent", "Search", "Asset", "Overview", "Audit"),
}


class AuthError(ProvregError):
    """A user could not be created or authenticated."""


@dataclass(frozen=True)
class Identity:
    """An authenticated user (what the dashboard keeps in its session)."""

    username: str
    role: str

    def may_open(self, page: str) -> bool:
        """Whether this user's role grants ``page``."""
        return page in PAGES_BY_ROLE.get(self.role, ())


def _hasher() -> PasswordHasher:
    return PasswordHasher()


def add_user(session: Session, username: str, password: str, role: str) -> User:
    """Create a user with an argon2id password hash (caller commits)."""
    username = username.strip()
    if not username or len(username) > 64:
        raise AuthError("user name must be 1 to 64 characters")
    if role not in ROLES:
        raise AuthError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise AuthError("password must be at least 8 characters")
    user = User(username=username, password_hash=_hasher().hash(password), role=role)
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:
        raise AuthError(f"user {username!r} already exists") from exc
    return user


@dataclass(frozen=True)
class UserSummary:
    """A user as listed (never with the password hash)."""

    username: str
    role: str
    created_at: datetime


def list_users(session: Session) -> list[UserSummary]:
    """Every user, by name."""
    rows = session.execute(
        select(User.username, User.role, User.created_at).order_by(User.username)
    )
    return [UserSummary(name, role, created) for name, role, created in rows]


def authenticate(session: Session, username: str, password: str) -> Identity | None:
    """The user's identity if the password matches; ``None`` otherwise (never raises).

    The hash comes through ``provreg_password_hash`` (SECURITY DEFINER), the only way the
    dashboard's database role can read one.
    """
    name = username.strip()
    stored = session.scalar(select(func.provreg_password_hash(name)))
    hasher = _hasher()
    if stored is None:
        # Spend the same time as a real check so user names cannot be probed by timing.
        with contextlib.suppress(VerificationError, InvalidHashError):
            hasher.verify(_dummy_hash(), password)
        return None
    try:
        hasher.verify(str(stored), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    role = session.scalar(select(User.role).where(User.username == name))
    return None if role is None else Identity(name, role)


@cache
def _dummy_hash() -> str:
    return _hasher().hash("provreg-dummy-password")


def record_audit(session: Session, who: Identity, action: str, query: Mapping[str, Any]) -> int:
    """Append one audit entry through ``provreg_audit`` (caller commits); returns its id.

    The database stamps the time and its own role on the row; user names longer than the
    column are cut (a failed login records what was typed, as data).
    """
    payload = json.dumps(json_safe(dict(query)), sort_keys=True)
    entry_id = session.scalar(
        text("SELECT provreg_audit(:username, :role, :action, CAST(:query AS jsonb))"),
        {
            "username": who.username[:64],
            "role": who.role[:16],
            "action": action[:32],
            "query": payload,
        },
    )
    return int(cast(int, entry_id))


@dataclass(frozen=True)
class AuditRecord:
    """One audit entry as read back."""

    id: int
    at: datetime
    username: str
    role: str
    action: str
    query: Mapping[str, Any]
    db_role: str | None = None


def audit_entries(
    session: Session,
    *,
    username: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> Sequence[AuditRecord]:
    """Audit entries newest first, keyset-paginated by id."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if username:
        stmt = stmt.where(AuditEntry.username == username)
    if before_id is not None:
        stmt = stmt.where(AuditEntry.id < before_id)
    return [
        AuditRecord(e.id, e.at, e.username, e.role, e.action, e.query, e.db_role)
        for e in session.scalars(stmt)
    ]
