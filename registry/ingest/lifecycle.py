"""The one ingest run lifecycle every executor (inline, Ray, Serve, re-scan) goes through.

::

    begin ──► [skip_judged] ──► write ×N ──► finish (status finished + checkpoint)
      │                           │
      │ register key, sweep       └─ one transaction per batch under the retry policy
      │ interrupted runs, start        (registry.db.retry); the run stays "running"
      │ or reopen the run, hold
      │ its owner lock             on an exception: status interrupted (best effort)

The executors supply only how samples are judged; assembling verdicts per file
(:func:`registry.ingest.batch.assemble`), writing them, counting, retrying and signing the
checkpoint live here.

**Who owns a run.** A running process holds a PostgreSQL session-level advisory lock keyed by
its run id on a connection of its own for as long as the run lasts. When the process dies
(SIGKILL, OOM, power), its connection closes and PostgreSQL drops the lock; the next start
(any ``begin``, or ``provreg status``) finds a ``running`` row whose lock it can take and
marks it ``interrupted``, then signs a checkpoint over what it wrote. A lock is exact where a
heartbeat is a guess: a heartbeat needs a staleness threshold longer than the longest batch
and the whole outage window (minutes), so a killed run would look alive that long, and a slow
batch could look dead. The lock's cost is one idle connection per run. Should the database
restart under a live run, its lock goes with the server; the run takes it again after its
next write and sets itself back to ``running`` in that write's transaction.

**Resume.** ``begin(resume=RUN)`` reopens an interrupted run; :meth:`IngestLifecycle.skip_judged`
then drops every file whose content (SHA-256) that run already sighted and that has a verdict
from every detector of this run (or the intake error verdict), so only what was missing is
judged. The files skipped are not silent: :meth:`IngestLifecycle.replay` gives their outcomes
as logged (``created`` false), so the resumed run's output has a line for every file, even
for a batch that was committed but never printed because its process was killed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import func, update
from sqlalchemy.orm import Session, sessionmaker

from detectors.base import Detector, Verdict
from registry.db.models import IngestRun
from registry.db.retry import RetryPolicy
from registry.errors import ConfigurationError
from registry.ingest.batch import (
    FileOutcome,
    count_outcomes,
    start_run,
    write_batch,
)
from registry.ingest.ownership import (
    FINISHED,
    INTERRUPTED,
    RUNNING,
    RunLock,
    sweep_interrupted,
)
from registry.ingest.resume import judged_shas, logged_outcomes, logged_rows
from registry.intake.pipeline import IntakeResult
from registry.ledger.writer import Ledger

if TYPE_CHECKING:
    from registry.app import Registry
    from registry.media.archiver import Archiver

T = TypeVar("T")
log = logging.getLogger(__name__)


class IngestLifecycle:
    """One ingest run: begin, write batches, finish (or be marked interrupted).

    Usable as a context manager (``begin`` on entry; ``finish`` on a clean exit,
    ``interrupt`` on an exception)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        ledger: Ledger,
        *,
        kind: str,
        source: str | None,
        parameters: dict[str, object],
        retry: RetryPolicy | None = None,
        resume: int | None = None,
        detectors: Sequence[Detector] = (),
        archiver: Archiver | None = None,
    ) -> None:
        """``detectors`` name the identities a resumed file must already have verdicts from;
        ``archiver`` keeps each written batch's media and archive hashes (registry.media)."""
        self.sessions = sessions
        self.ledger = ledger
        self.kind = kind
        self.source = source
        self.parameters = parameters
        self.retry = retry or RetryPolicy()
        self.resume = resume
        self.identities = {(d.name, d.version) for d in detectors}
        self.archiver = archiver
        self.run_id: int | None = None
        self.skipped = 0
        self._lock: RunLock | None = None
        self._judged: set[str] = set()
        self._replay: list[tuple[str, str]] = []

    @classmethod
    def for_registry(
        cls,
        registry: Registry,
        *,
        kind: str,
        source: str | None,
        parameters: dict[str, object],
        detectors: Sequence[Detector] = (),
        resume: int | None = None,
    ) -> IngestLifecycle:
        """A lifecycle with the registry's sessions, ledger, retry policy and media store."""
        from registry.media.archiver import Archiver  # PIL, detectors.copy: only when used

        return cls(
            registry.sessions,
            registry.ledger,
            kind=kind,
            source=source,
            parameters=parameters,
            retry=registry.settings.retry,
            resume=resume,
            detectors=detectors,
            archiver=Archiver(registry.settings, registry.sessions),
        )

    @property
    def id(self) -> int:
        """The run id (after :meth:`begin`)."""
        if self.run_id is None:
            raise RuntimeError("the ingest run has not begun")
        return self.run_id

    def run(self, work: Callable[[Session], T]) -> T:
        """``work`` in one transaction under the retry policy."""
        return self.retry.run(self.sessions, work)

    def begin(self) -> int:
        """Register the key, mark dead runs interrupted (and checkpoint them), then start a
        run or reopen ``resume``; hold its owner lock. Returns the run id."""
        engine = self.sessions.kw["bind"]
        holder: list[RunLock] = []

        def sweep(session: Session) -> None:
            self.ledger.register_key(session)
            if sweep_interrupted(session):
                self.ledger.checkpoint(session)

        def work(session: Session) -> int:
            if self.resume is not None:
                run_id = self._reopen(session, self.resume)
            else:
                run_id = start_run(session, self.kind, self.source, self.parameters)
            # Locked before the row is committed: a sweep never sees it unowned. A lock
            # from an attempt whose transaction was lost is dropped first.
            while holder:
                holder.pop().release()
            lock = RunLock(engine, run_id)
            if not lock.acquire():
                lock.release()
                raise ConfigurationError(f"run {run_id} is still running in another process")
            holder.append(lock)
            return run_id

        # Its own transaction: the sweep's probe locks last until its commit.
        self.run(sweep)
        try:
            self.run_id = self.run(work)
        except BaseException:
            for lock in holder:
                lock.release()
            raise
        self._lock = holder[-1]
        if self.resume is not None:
            self._judged = self.run(lambda session: judged_shas(session, self.id, self.identities))
        return self.run_id

    def _reopen(self, session: Session, run_id: int) -> int:
        row = session.get(IngestRun, run_id, with_for_update=True)
        if row is None:
            raise ConfigurationError(f"no ingest run {run_id} to resume")
        if row.status == RUNNING:
            raise ConfigurationError(f"run {run_id} is still running in another process")
        row.status = RUNNING
        row.finished_at = None
        row.parameters = {**(row.parameters or {}), "resumed": True}
        return run_id

    def skip_judged(self, paths: Iterable[Path]) -> list[Path]:
        """The paths whose content a resumed run has not judged yet (all, for a new run).

        Hashes each file once here; a file that cannot be read is kept (intake reports it)."""
        if not self._judged:
            return list(paths)
        todo: list[Path] = []
        for path in paths:
            try:
                if not stat.S_ISREG(os.stat(path).st_mode):
                    todo.append(path)  # never opened here (a FIFO would block): intake says why
                    continue
                with open(path, "rb") as handle:
                    digest = hashlib.file_digest(handle, "sha256").hexdigest()
            except OSError:
                todo.append(path)
                continue
            if digest in self._judged:
                self.skipped += 1
                self._replay.append((str(path), digest))
            else:
                todo.append(path)
        if self.skipped:
            log.warning("run %d resumed: %d file(s) already judged, skipped", self.id, self.skipped)
        return todo

    def replay(self) -> list[FileOutcome]:
        """The outcomes, as logged, of the files :meth:`skip_judged` skipped (then forgotten)."""
        if not self._replay:
            return []
        wanted = self._replay
        self._replay = []
        shas = sorted({sha256 for _, sha256 in wanted})

        found = self.run(lambda session: logged_rows(session, shas, self.identities))
        return logged_outcomes(wanted, found)

    def write(
        self,
        facts: Sequence[IntakeResult],
        verdicts: Sequence[Sequence[Verdict]],
        *,
        sources: Sequence[str | None] | None = None,
    ) -> list[FileOutcome]:
        """Write one judged batch in one transaction (retried) and count it into the run.

        ``sources`` gives each file its own source tag (Serve); by default the run's."""
        tags = list(sources) if sources is not None else [self.source] * len(facts)
        kept = self.archiver.prepare(facts, tags) if self.archiver is not None else None

        def work(session: Session) -> list[FileOutcome]:
            outcomes: list[FileOutcome | None] = [None] * len(facts)
            for tag in sorted(set(tags), key=lambda t: (t is not None, t or "")):
                picked = [i for i, t in enumerate(tags) if t == tag]
                written = write_batch(
                    session,
                    self.ledger,
                    [facts[i] for i in picked],
                    [verdicts[i] for i in picked],
                    ingest_run_id=self.id,
                    source=tag,
                )
                for i, outcome in zip(picked, written, strict=True):
                    outcomes[i] = outcome
            done = [outcome for outcome in outcomes if outcome is not None]
            if kept is not None and self.archiver is not None:
                self.archiver.record(session, kept)
            count_outcomes(session, self.id, done)
            return done

        return self.write_with(work)

    def write_with(self, work: Callable[[Session], T]) -> T:
        """A custom batch write (re-scan) in one retried transaction, keeping the run alive."""

        def alive(session: Session) -> T:
            result = work(session)
            session.execute(
                update(IngestRun)
                .where(IngestRun.id == self.id, IngestRun.status != RUNNING)
                .values(status=RUNNING)
            )
            return result

        result = self.run(alive)
        if self._lock is not None:
            self._lock.refresh()
        return result

    def checkpoint(self) -> None:
        """Sign a checkpoint over the log as it stands (retried)."""
        self.run(self.ledger.checkpoint)

    def finish(self) -> None:
        """Mark the run finished and sign a checkpoint, in one retried transaction."""

        def work(session: Session) -> None:
            session.execute(
                update(IngestRun)
                .where(IngestRun.id == self.id)
                .values(status=FINISHED, finished_at=func.now())
            )
            self.ledger.checkpoint(session)

        try:
            self.run(work)
        finally:
            self._release()

    def interrupt(self) -> None:
        """Mark the run interrupted and checkpoint what it wrote; one try, quiet on failure
        (if the database is away the next start's sweep does it)."""
        if self.run_id is None:
            return
        try:
            with self.sessions.begin() as session:
                session.execute(
                    update(IngestRun).where(IngestRun.id == self.run_id).values(status=INTERRUPTED)
                )
                self.ledger.checkpoint(session)
        except Exception as exc:
            log.warning("run %d: could not mark it interrupted: %s", self.run_id, exc)
        finally:
            self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> IngestLifecycle:
        self.begin()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is None:
            self.finish()
        else:
            self.interrupt()


def run_parameters(detectors: Sequence[Detector], **extra: Any) -> dict[str, object]:
    """The parameters recorded on an ingest run: its detectors and executor settings."""
    return {"detectors": [d.name for d in detectors], **extra}
