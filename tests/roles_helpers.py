"""Install infra/postgres/roles.sql under per-test role names (roles are cluster-wide)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

ROLES_SQL = Path(__file__).resolve().parents[1] / "infra" / "postgres" / "roles.sql"
#: The matrix's short names for the roles in roles.sql.
ROLE_BASES = {
    "owner": "provreg_admin",
    "writer": "provreg_writer",
    "reader": "provreg_reader",
    "banks": "provreg_banks",
    "accounts": "provreg_accounts",
}
_ROLE_NAME = re.compile(r"\b(" + "|".join(ROLE_BASES.values()) + r")\b")


def role_names() -> dict[str, str]:
    """Short name -> a fresh, unique role name for each role in roles.sql."""
    suffix = uuid.uuid4().hex[:8]
    return {short: f"{base}_{suffix}" for short, base in ROLE_BASES.items()}


def plain_url(url: str) -> str:
    """A SQLAlchemy URL as a libpq one."""
    return url.replace("postgresql+psycopg://", "postgresql://")


def as_user(url: str, user: str) -> str:
    """``url`` logging in as ``user`` (the test server trusts local connections)."""
    return make_url(url).set(username=user, password=None).render_as_string(hide_password=False)


def create_roles(url: str, names: dict[str, str]) -> None:
    """Create the roles without grants (for a database the owner role will migrate)."""
    with psycopg.connect(plain_url(url), autocommit=True) as conn:
        for name in names.values():
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))


def install_roles(url: str, names: dict[str, str]) -> None:
    """Run roles.sql (as the superuser) in the database at ``url`` with ``names``."""
    bases = {base: names[short] for short, base in ROLE_BASES.items()}
    script = _ROLE_NAME.sub(lambda m: bases[m.group(1)], ROLES_SQL.read_text())
    with psycopg.connect(plain_url(url), autocommit=True) as conn:
        conn.execute(script)  # type: ignore[arg-type]


def drop_roles(url: str, names: dict[str, str]) -> None:
    """Drop what the roles own or were granted in ``url``'s database, then the roles."""
    with psycopg.connect(plain_url(url), autocommit=True) as conn:
        for name in names.values():
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))
