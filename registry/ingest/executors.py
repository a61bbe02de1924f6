"""Executors: how the samples of an ingest are judged. ``inline`` (this process) lives here;
others (``ray``) register under the ``provreg.executors`` entry-point group. Every executor
goes through :class:`~registry.ingest.lifecycle.IngestLifecycle` for everything else."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.orm import Session, sessionmaker

from detectors.base import Detector
from registry.db.retry import RetryPolicy
from registry.errors import ConfigurationError
from registry.ingest.batch import FileOutcome, judge_batch
from registry.ingest.lifecycle import IngestLifecycle, run_parameters
from registry.intake.pipeline import IntakeLimits, intake_batches, iter_media_paths
from registry.ledger.writer import Ledger

if TYPE_CHECKING:
    from registry.app import Registry
    from registry.media.archiver import Archiver

EXECUTOR_GROUP = "provreg.executors"


def ingest_paths(
    sessions: sessionmaker[Session],
    ledger: Ledger,
    detectors: Sequence[Detector],
    paths: Iterable[Path],
    *,
    limits: IntakeLimits,
    source: str | None = None,
    batch_size: int = 64,
    on_batch: Callable[[list[FileOutcome]], None] | None = None,
    retry: RetryPolicy | None = None,
    resume: int | None = None,
    archiver: Archiver | None = None,
) -> Iterator[FileOutcome]:
    """Ingest files and folders in-process, one transaction per batch, then sign a checkpoint.

    ``resume`` reopens an interrupted run and judges only the files it had not judged."""
    for detector in detectors:
        detector.load()
    lifecycle = IngestLifecycle(
        sessions,
        ledger,
        kind="ingest",
        source=source,
        parameters=run_parameters(detectors),
        retry=retry,
        resume=resume,
        detectors=detectors,
        archiver=archiver,
    )
    with lifecycle:
        todo = lifecycle.skip_judged(iter_media_paths(paths))
        yield from lifecycle.replay()
        for batch in intake_batches(todo, limits, batch_size):
            outcomes = lifecycle.write(batch, judge_batch(batch, detectors))
            if on_batch is not None:
                on_batch(outcomes)
            yield from outcomes


class IngestExecutor(Protocol):
    """Runs an ingest: the in-process loop below, or a distributed one (``ray_jobs``)."""

    def __call__(
        self,
        registry: Registry,
        detectors: Sequence[Detector],
        files: Sequence[Path],
        *,
        source: str | None,
        resume: int | None = None,
    ) -> Iterator[FileOutcome]: ...


def inline_executor(
    registry: Registry,
    detectors: Sequence[Detector],
    files: Sequence[Path],
    *,
    source: str | None,
    resume: int | None = None,
) -> Iterator[FileOutcome]:
    """Ingest in this process (no Ray)."""
    from registry.media.archiver import Archiver

    return ingest_paths(
        registry.sessions,
        registry.ledger,
        detectors,
        files,
        limits=registry.settings.limits,
        source=source,
        batch_size=registry.settings.batch_size,
        retry=registry.settings.retry,
        resume=resume,
        archiver=Archiver(registry.settings, registry.sessions),
    )


def executor_names() -> list[str]:
    """``inline`` plus every executor registered under ``provreg.executors``."""
    return ["inline", *sorted(ep.name for ep in entry_points(group=EXECUTOR_GROUP))]


def load_executor(name: str | None) -> IngestExecutor:
    """The named executor; by default ``ray`` when registered, else ``inline``."""
    registered = {ep.name: ep for ep in entry_points(group=EXECUTOR_GROUP)}
    if name is None:
        name = "ray" if "ray" in registered else "inline"
    if name == "inline":
        return inline_executor
    if name not in registered:
        raise ConfigurationError(f"unknown executor {name!r}; have {', '.join(executor_names())}")
    executor: IngestExecutor = registered[name].load()
    return executor
