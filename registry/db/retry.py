"""Run one database transaction, retrying with backoff while the database is away.

A PostgreSQL restart mid-ingest kills the pooled connections; the transaction in flight rolls
back as a whole, so running it again is safe (the ledger is idempotent per verdict identity
and progress rows are keyed). Errors other than lost or refused connections are raised at
once. The ledger writes by COPY on the raw psycopg connection, so psycopg's own
``OperationalError`` counts as well as SQLAlchemy's wrapper of it.

One policy for every writer (inline ingest, Ray, Serve, re-scan): keep trying for an outage
window (``Settings.db_outage_s``, five minutes by default) measured from the first failure,
then give up with :class:`~registry.errors.DatabaseUnavailableError`, which the command line
turns into exit code 2 and one line (never 1, which means tamper found).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import psycopg
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from registry.errors import DatabaseUnavailableError
from registry.settings import DEFAULT_OUTAGE_S

T = TypeVar("T")
log = logging.getLogger(__name__)


def transient(exc: BaseException) -> bool:
    """Whether ``exc`` looks like a lost or refused connection rather than a bad statement."""
    if isinstance(exc, OperationalError | psycopg.OperationalError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often a transaction is retried while the database is unreachable."""

    outage_s: float = DEFAULT_OUTAGE_S
    first_delay: float = 0.5
    max_delay: float = 10.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

    def run(self, sessions: sessionmaker[Session], work: Callable[[Session], T]) -> T:
        """``work(session)`` in one transaction, retried on transient errors until the
        outage window has passed since the first failure; then
        :class:`DatabaseUnavailableError` (chained to the last error)."""
        delay = self.first_delay
        started: float | None = None
        attempt = 0
        while True:
            attempt += 1
            try:
                with sessions.begin() as session:
                    return work(session)
            except (DBAPIError, psycopg.OperationalError) as exc:
                if not transient(exc):
                    raise
                now = self.clock()
                started = now if started is None else started
                waited = now - started
                if waited + delay > self.outage_s:
                    raise DatabaseUnavailableError(
                        f"database unreachable for {waited:.0f} s (outage window "
                        f"{self.outage_s:.0f} s), giving up: {_first_line(exc)}"
                    ) from exc
                log.warning(
                    "database unavailable (attempt %d, %.0f s of %.0f s): %s",
                    attempt,
                    waited,
                    self.outage_s,
                    _first_line(exc),
                )
                self.sleep(delay)
                delay = min(self.max_delay, delay * 2)


def in_transaction(
    sessions: sessionmaker[Session],
    work: Callable[[Session], T],
    *,
    outage_s: float = DEFAULT_OUTAGE_S,
    first_delay: float = 0.5,
    max_delay: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``work(session)`` in one transaction under a :class:`RetryPolicy` built from the
    arguments."""
    policy = RetryPolicy(
        outage_s=outage_s, first_delay=first_delay, max_delay=max_delay, sleep=sleep
    )
    return policy.run(sessions, work)
