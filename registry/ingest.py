"""Ingestion: intake files, run detectors, and write signed verdicts to the ledger.

The seam the Ray pipeline reuses is two functions: :func:`judge_batch` (a batch of intake
results and a list of detectors in, verdicts per file out; pure, no database) and
:func:`write_batch` (one transaction: assets, sightings and ledger entries). This module runs
them in-process; ``ray_jobs`` runs the first on actor pools and the second in one writer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, sessionmaker

from detectors.base import ERROR_LABEL, Detector, Sample, Verdict
from registry import __version__
from registry.errors import ConfigurationError
from registry.intake import IntakeLimits, IntakeResult, intake_path, iter_media_paths
from registry.ledger import Ledger, LedgerEntry
from registry.models import Asset, IngestRun

if TYPE_CHECKING:
    from registry.app import Registry

INTAKE_DETECTOR = "intake"
EXECUTOR_GROUP = "provreg.executors"


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one input file."""

    path: str | None
    sha256: str
    status: str
    error: str | None
    error_detail: str | None
    entries: list[LedgerEntry] = field(default_factory=list)


def intake_error_verdict(result: IntakeResult) -> Verdict:
    """The ledger's record that a file could not be judged, and why."""
    return Verdict(
        detector=INTAKE_DETECTOR,
        version=__version__,
        model_checksum=None,
        asset_sha256=result.sha256,
        label=ERROR_LABEL,
        positive=False,
        evidence={
            "detail": result.error_detail,
            "media_type": result.media_type,
            "size_bytes": result.size_bytes,
        },
        error=result.error,
    )


def judge_batch(
    batch: Sequence[IntakeResult], detectors: Sequence[Detector]
) -> list[list[Verdict]]:
    """Verdicts per intake result: one per detector for readable media, one error otherwise."""
    samples = [result.sample for result in batch if result.sample is not None]
    per_detector = [run_detector(detector, samples) for detector in detectors]
    output: list[list[Verdict]] = []
    position = 0
    for result in batch:
        if result.sample is None:
            output.append([intake_error_verdict(result)])
        else:
            output.append([verdicts[position] for verdicts in per_detector])
            position += 1
    return output


def run_detector(detector: Detector, samples: Sequence[Sample]) -> list[Verdict]:
    """``detector.detect_batch`` with a guard: a plugin that raises or miscounts still yields
    exactly one (error) verdict per sample instead of sinking the batch."""
    try:
        verdicts = detector.detect_batch(samples)
        if len(verdicts) == len(samples):
            return verdicts
        problem = f"returned {len(verdicts)} verdicts for {len(samples)} samples"
    except Exception as exc:
        problem = f"{type(exc).__name__}: {str(exc)[:300]}"
    return [detector.error(sample, "detector-failure", {"detail": problem}) for sample in samples]


def write_batch(
    session: Session,
    ledger: Ledger,
    batch: Sequence[IntakeResult],
    verdicts: Sequence[Sequence[Verdict]],
    *,
    ingest_run_id: int | None,
    source: str | None,
) -> list[FileOutcome]:
    """Record assets and sightings and append the verdicts, in the caller's transaction.

    A file whose bytes could not be read at all (``unreadable``) has no content address;
    it is reported but leaves nothing in the ledger.
    """
    assets = {}
    for result in batch:
        if not result.sha256:
            continue
        assets[result.sha256] = {
            "sha256": result.sha256,
            "size_bytes": result.size_bytes,
            "media_type": result.media_type,
            "width": result.width,
            "height": result.height,
            "frames": result.frames,
            "source": source,
            "location": result.path,
        }
    if assets:
        stmt = pg_insert(Asset).values(sorted(assets.values(), key=lambda a: str(a["sha256"])))
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["sha256"],
                set_={"last_seen": func.now(),
                      "location": func.coalesce(Asset.location, stmt.excluded.location)},
            )
        )
    flat = [v for r, per_file in zip(batch, verdicts, strict=True) if r.sha256 for v in per_file]
    entries = ledger.append(session, flat, ingest_run_id=ingest_run_id)
    ledger.record_sightings(  # signed log entries too, sequenced after the batch's verdicts
        session,
        [
            {"asset_sha256": r.sha256, "ingest_run_id": ingest_run_id, "source": source,
             "location": r.path}
            for r in batch
            if r.sha256
        ],
    )
    outcomes = []
    cursor = 0
    for result, per_file in zip(batch, verdicts, strict=True):
        count = len(per_file) if result.sha256 else 0
        mine = entries[cursor: cursor + count]
        cursor += count
        outcomes.append(
            FileOutcome(
                path=result.path,
                sha256=result.sha256,
                status="ok" if result.ok else "error",
                error=result.error,
                error_detail=result.error_detail,
                entries=list(mine),
            )
        )
    return outcomes


def start_run(
    session: Session, kind: str, source: str | None, parameters: dict[str, object]
) -> int:
    """Create an ingest run row and return its id."""
    run = IngestRun(kind=kind, source=source, parameters=parameters)
    session.add(run)
    session.flush()
    return int(run.id)


def finish_run(session: Session, run_id: int, outcomes: Iterable[FileOutcome]) -> None:
    """Record a run's end and its counts."""
    ok = error = written = 0
    for outcome in outcomes:
        ok += outcome.status == "ok"
        error += outcome.status != "ok"
        written += sum(entry.created for entry in outcome.entries)
    session.execute(
        update(IngestRun)
        .where(IngestRun.id == run_id)
        .values(
            finished_at=datetime.now(UTC),
            files_ok=IngestRun.files_ok + ok,
            files_error=IngestRun.files_error + error,
            verdicts_written=IngestRun.verdicts_written + written,
        )
    )


def _batched(paths: Iterable[Path], size: int) -> Iterator[list[Path]]:
    batch: list[Path] = []
    for path in paths:
        batch.append(path)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


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
) -> Iterator[FileOutcome]:
    """Ingest files and folders in-process, one transaction per batch, then sign a checkpoint."""
    for detector in detectors:
        detector.load()
    with sessions.begin() as session:
        ledger.register_key(session)
        run_id = start_run(session, "ingest", source, {"detectors": [d.name for d in detectors]})
    for batch_paths in _batched(iter_media_paths(paths), batch_size):
        batch = [intake_path(path, limits) for path in batch_paths]
        verdicts = judge_batch(batch, detectors)
        with sessions.begin() as session:
            outcomes = write_batch(
                session, ledger, batch, verdicts, ingest_run_id=run_id, source=source
            )
            finish_run(session, run_id, outcomes)
        if on_batch is not None:
            on_batch(outcomes)
        yield from outcomes
    with sessions.begin() as session:
        ledger.checkpoint(session)


class IngestExecutor(Protocol):
    """Runs an ingest: the in-process loop below, or a distributed one (``ray_jobs``)."""

    def __call__(
        self,
        registry: Registry,
        detectors: Sequence[Detector],
        files: Sequence[Path],
        *,
        source: str | None,
    ) -> Iterator[FileOutcome]: ...


def inline_executor(
    registry: Registry,
    detectors: Sequence[Detector],
    files: Sequence[Path],
    *,
    source: str | None,
) -> Iterator[FileOutcome]:
    """Ingest in this process (no Ray)."""
    return ingest_paths(
        registry.sessions, registry.ledger, detectors, files,
        limits=registry.settings.limits, source=source, batch_size=registry.settings.batch_size,
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
