"""Run one database transaction, retrying with backoff when the connection drops.

A PostgreSQL restart mid-ingest kills the pooled connections; the transaction in flight rolls
back as a whole, so running it again is safe (the ledger is idempotent per verdict identity
and progress rows are keyed). Errors other than lost connections are raised at once. The
ledger writes by COPY on the raw psycopg connection, so psycopg's own ``OperationalError``
counts as well as SQLAlchemy's wrapper of it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import psycopg
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")
log = logging.getLogger(__name__)


def transient(exc: BaseException) -> bool:
    """Whether ``exc`` looks like a lost or refused connection rather than a bad statement."""
    if isinstance(exc, OperationalError | psycopg.OperationalError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def in_transaction(
    sessions: sessionmaker[Session],
    work: Callable[[Session], T],
    *,
    attempts: int = 8,
    first_delay: float = 0.5,
    max_delay: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``work(session)`` in one transaction, retried on transient errors with backoff."""
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            with sessions.begin() as session:
                return work(session)
        except (DBAPIError, psycopg.OperationalError) as exc:
            if not transient(exc) or attempt == attempts:
                raise
            log.warning("database unavailable (attempt %d/%d): %s", attempt, attempts, exc)
            sleep(delay)
            delay = min(max_delay, delay * 2)
    raise AssertionError("unreachable")
