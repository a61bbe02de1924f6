"""One batch of an ingest: judge it (no database) and write it (the caller's transaction).

:func:`judge_batch` takes intake results and detectors and gives verdicts per file (pure, no
database); :func:`assemble` is the one place that lays detector outputs out per file (intake
errors get their own verdict); :func:`write_batch` records assets, sightings and ledger
entries in the caller's transaction. :mod:`registry.ingest.lifecycle` runs them for every
executor.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from detectors.base import ERROR_LABEL, Detector, Sample, Verdict
from detectors.model.tensors import MODEL_TYPES
from registry import __version__
from registry.db.models import Asset, IngestRun
from registry.intake.pipeline import IntakeResult, path_location
from registry.ledger.writer import Ledger, LedgerEntry

INTAKE_DETECTOR = "intake"


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


def assemble(
    facts: Sequence[IntakeResult], per_detector: Sequence[Sequence[Verdict]]
) -> list[list[Verdict]]:
    """One verdict list per file: each detector's verdict (``per_detector[k]`` holds one per
    readable file, in order) for readable media, the intake error verdict otherwise."""
    output: list[list[Verdict]] = []
    position = 0
    for result in facts:
        if result.ok:
            output.append(
                [
                    verdicts[position]
                    for verdicts in per_detector
                    if _applies(verdicts[position].detector, result.media_type)
                ]
            )
            position += 1
        else:
            output.append([intake_error_verdict(result)])
    return output


def _applies(detector: str, media_type: str) -> bool:
    """Model files are judged by the ``model.*`` detectors only and media by the others: each
    family would only answer ``unsupported-format`` for the other's files (issue 19)."""
    return (media_type in MODEL_TYPES) == detector.startswith("model.")


def judge_batch(
    batch: Sequence[IntakeResult], detectors: Sequence[Detector]
) -> list[list[Verdict]]:
    """Verdicts per intake result: one per detector for readable media, one error otherwise."""
    samples = [result.sample for result in batch if result.ok and result.sample is not None]
    return assemble(batch, [run_detector(detector, samples) for detector in detectors])


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
            "location": _location(result.path),
        }
    if assets:
        stmt = pg_insert(Asset).values(sorted(assets.values(), key=lambda a: str(a["sha256"])))
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["sha256"],
                set_={
                    "last_seen": func.now(),
                    "location": func.coalesce(Asset.location, stmt.excluded.location),
                },
            )
        )
    flat = [v for r, per_file in zip(batch, verdicts, strict=True) if r.sha256 for v in per_file]
    entries = ledger.append(session, flat, ingest_run_id=ingest_run_id)
    ledger.record_sightings(  # signed log entries too, sequenced after the batch's verdicts
        session,
        [
            {
                "asset_sha256": r.sha256,
                "ingest_run_id": ingest_run_id,
                "source": source,
                "location": _location(r.path),
            }
            for r in batch
            if r.sha256
        ],
    )
    outcomes = []
    cursor = 0
    for result, per_file in zip(batch, verdicts, strict=True):
        count = len(per_file) if result.sha256 else 0
        mine = entries[cursor : cursor + count]
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


def _location(path: str | None) -> str | None:
    """A path as stored (lossless text even for names that are not UTF-8)."""
    return None if path is None else path_location(path)


def start_run(
    session: Session, kind: str, source: str | None, parameters: dict[str, object]
) -> int:
    """Create an ingest run row (status ``running``) and return its id; the caller takes its
    owner lock (:class:`registry.ingest.lifecycle.RunLock`) before committing."""
    run = IngestRun(kind=kind, source=source, parameters=parameters, status="running")
    session.add(run)
    session.flush()
    return int(run.id)


def count_outcomes(session: Session, run_id: int, outcomes: Iterable[FileOutcome]) -> None:
    """Add a written batch's files and new verdicts to its run's counts."""
    ok = error = written = 0
    for outcome in outcomes:
        ok += outcome.status == "ok"
        error += outcome.status != "ok"
        written += sum(entry.created for entry in outcome.entries)
    session.execute(
        update(IngestRun)
        .where(IngestRun.id == run_id)
        .values(
            files_ok=IngestRun.files_ok + ok,
            files_error=IngestRun.files_error + error,
            verdicts_written=IngestRun.verdicts_written + written,
        )
    )
