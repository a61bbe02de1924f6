"""Who owns an ingest run: a PostgreSQL session-level advisory lock, keyed by the run id,
held by the running process on a connection of its own (see
:mod:`registry.ingest.lifecycle` for why a lock and not a heartbeat). A ``running`` row whose
lock anyone can take belongs to a process that is gone: :func:`sweep_interrupted` marks it
``interrupted``."""

from __future__ import annotations

import logging

from sqlalchemy import Connection, Engine, func, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from registry.db.models import IngestRun

log = logging.getLogger(__name__)

#: First key of the two-key advisory locks that mark a live run ("prov"); the run id is the
#: second. Two-key locks never collide with the ledger's one-key sequencer lock.
RUN_LOCK_NAMESPACE = 0x70726F76
RUNNING, FINISHED, INTERRUPTED = "running", "finished", "interrupted"


def lock_key(run_id: int) -> int:
    return run_id & 0x7FFFFFFF


def sweep_interrupted(session: Session) -> list[int]:
    """Mark ``interrupted`` every ``running`` run whose owner is gone (its lock is free).

    The probe takes each lock for this transaction only (released at commit), so it never
    outlives the sweep."""
    candidates = session.scalars(
        select(IngestRun.id).where(IngestRun.status == RUNNING).order_by(IngestRun.id)
    ).all()
    gone = [
        int(run_id)
        for run_id in candidates
        if session.scalar(
            select(func.pg_try_advisory_xact_lock(RUN_LOCK_NAMESPACE, lock_key(int(run_id))))
        )
    ]
    if gone:
        session.execute(update(IngestRun).where(IngestRun.id.in_(gone)).values(status=INTERRUPTED))
        log.warning("marked interrupted: run(s) %s (their process is gone)", gone)
    return gone


class RunLock:
    """The session-level advisory lock that says "this run's process is alive"."""

    def __init__(self, engine: Engine, run_id: int) -> None:
        self.engine = engine
        self.run_id = run_id
        self._connection: Connection | None = None

    def acquire(self) -> bool:
        """Take the lock on a connection of its own; False if another process holds it."""
        if self._connection is None:
            self._connection = self.engine.connect()
        taken = bool(
            self._connection.scalar(
                text("SELECT pg_try_advisory_lock(:ns, :key)"),
                {"ns": RUN_LOCK_NAMESPACE, "key": lock_key(self.run_id)},
            )
        )
        self._connection.commit()
        return taken

    def refresh(self) -> None:
        """Take the lock again if its connection was lost (database restarted); quiet on
        failure, since the next write retries anyway."""
        try:
            if self._connection is not None:
                self._connection.scalar(text("SELECT 1"))
                self._connection.commit()
                return
        except SQLAlchemyError:
            self._drop()
        try:
            if not self.acquire():
                log.warning("run %d: its lock is held by another process", self.run_id)
        except SQLAlchemyError as exc:
            self._drop()
            log.warning("run %d: cannot take its lock yet: %s", self.run_id, exc)

    def release(self) -> None:
        """Drop the lock by closing its connection (never returned to the pool with it)."""
        self._drop()

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            except SQLAlchemyError:
                pass
            self._connection = None
