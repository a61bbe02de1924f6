"""Re-scan: run one detector identity over an archive as a Ray Data job, resumably.

The items (ledger assets, a folder, or a URI) become a dataset; ``map_batches`` runs a
stateful :class:`RescanWorker` (detector built and loaded once per actor) with a fixed
``concurrency``, so a re-scan occupies a bounded share of the cluster and live ingestion keeps
its latency; Ray Data's streaming executor back-pressures reading against that pool. The
driver consumes batches as they finish and, per batch, in ONE transaction appends the
verdicts (new identity, so nothing is overwritten) and marks the items done in
``rescan_progress``. A crash loses at most the batches in flight; ``resume=True`` skips every
item the progress table already holds for this identity.

Items are listed lazily and judged a window at a time (one dataset per window, its done
items looked up in one query), so the driver holds one window of items, never the whole
archive: a first pass only counts them, for the progress bar and ``provreg status``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import ray
from sqlalchemy import Text, any_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from detectors.base import Detector, Verdict
from ray_jobs.actors import DetectorSpec, DetectorWorker, PackedSamples
from ray_jobs.runtime import cluster_gpus, ensure_ray
from ray_jobs.sources import ARCHIVE, Item, items_for, read_item
from registry.app import Registry
from registry.db.models import IngestRun, VerdictRow
from registry.db.models_rescan import RescanProgress
from registry.ingest import IngestLifecycle, assemble, write_batch
from registry.intake.pipeline import IntakeLimits, IntakeResult, intake_bytes
from registry.intake.sniff import OCTET_STREAM
from registry.media.policy import MediaPolicy
from registry.media.store import MediaStore

FACT_FIELDS = (
    "path",
    "sha256",
    "size_bytes",
    "media_type",
    "width",
    "height",
    "frames",
    "error",
    "error_detail",
)


@dataclass(frozen=True)
class RescanIdentity:
    """The detector identity a re-scan writes: a new version or checksum is a new identity."""

    detector: str
    version: str
    model_checksum: str

    @classmethod
    def of(cls, detector: Detector) -> RescanIdentity:
        """The identity ``detector`` stamps on its verdicts."""
        return cls(detector.name, detector.version, detector.model_checksum or "")


@dataclass(frozen=True)
class RescanResult:
    """What one re-scan invocation did."""

    run_id: int
    identity: RescanIdentity
    total: int
    skipped: int
    processed: int
    errors: int
    verdicts_written: int


class RescanWorker:
    """Ray Data callable class: reads items, takes them in, runs the detector on one batch."""

    def __init__(
        self, spec: DetectorSpec, limits: IntakeLimits, media_url: str | None = None
    ) -> None:
        """``media_url``: the media store archive items are read from (registry.media)."""
        self.worker = DetectorWorker(spec)
        self.limits = limits
        self.store = MediaStore(media_url) if media_url else None

    def read(self, key: str, location: str) -> IntakeResult:
        """An archive item from the media store (SHA-256 checked), else from its location."""
        if self.store is not None and key.startswith("sha256:"):
            try:
                data = self.store.read_original(key.removeprefix("sha256:"))
            except Exception:  # an unreachable store: fall back to the original path
                data = None
            if data is not None:
                return intake_bytes(data, self.limits, path=location or key)
        if not location:
            return IntakeResult(
                key,
                "",
                0,
                OCTET_STREAM,
                error="unreadable",
                error_detail="not in the media store and no stored location",
            )
        return read_item(location, self.limits)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[str]]:
        """Columns ``key``, ``facts`` (JSON intake facts) and ``verdict`` (JSON or empty)."""
        results = [
            self.read(str(key), str(location))
            for key, location in zip(batch["key"], batch["location"], strict=True)
        ]
        samples = [r.sample for r in results if r.sample is not None]
        verdicts = iter(self.worker.detect(PackedSamples.pack(samples)))
        facts, judged = [], []
        for result in results:
            facts.append(json.dumps({name: getattr(result, name) for name in FACT_FIELDS}))
            judged.append(json.dumps(asdict(next(verdicts))) if result.sample is not None else "")
        return {"key": [str(k) for k in batch["key"]], "facts": facts, "verdict": judged}


@dataclass(frozen=True)
class Outdated:
    """A detector whose archive verdicts were made by another version or model."""

    detector: Detector
    identity: RescanIdentity
    previous: tuple[str, ...]
    """The other identities found in the archive, as ``version`` or ``version@checksum``."""
    assets: int
    """Archive assets judged by another identity and not yet by the current one."""


def outdated_detectors(session: Session, detectors: Sequence[Detector]) -> list[Outdated]:
    """The detectors ``provreg rescan`` without ``--detector`` re-runs.

    A detector is outdated when some archive asset carries a verdict from it made with a
    different version or model checksum and none from its current version and checksum. A
    detector that never ran on the archive is not outdated (nothing changed for it).
    """
    found = []
    for detector in detectors:
        identity = RescanIdentity.of(detector)
        current = (
            (VerdictRow.detector == identity.detector)
            & (VerdictRow.version == identity.version)
            & (func.coalesce(VerdictRow.model_checksum, "") == identity.model_checksum)
        )
        # Retro-match verdicts (registry.banks.retro: "<version>+retro") are not a detector
        # version the archive was judged with.
        other = (
            (VerdictRow.detector == identity.detector)
            & ~current
            & ~VerdictRow.version.endswith("+retro")
        )
        judged_now = select(VerdictRow.asset_sha256).where(current)
        assets = (
            session.scalar(
                select(func.count(func.distinct(VerdictRow.asset_sha256))).where(
                    other, VerdictRow.asset_sha256.not_in(judged_now)
                )
            )
            or 0
        )
        if not assets:
            continue
        previous = session.execute(
            select(VerdictRow.version, VerdictRow.model_checksum).where(other).distinct()
        ).all()
        found.append(
            Outdated(
                detector,
                identity,
                tuple(sorted(v if not c else f"{v}@{c[:12]}" for v, c in previous)),
                int(assets),
            )
        )
    return found


#: Items listed, checked against the progress table and judged together (driver memory).
RESCAN_WINDOW = 20_000


def windows(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    """``items`` in consecutive lists of ``size`` (the last one shorter)."""
    iterator = iter(items)
    while window := list(itertools.islice(iterator, size)):
        yield window


def pending(session: Session, identity: RescanIdentity, window: Sequence[Item]) -> list[Item]:
    """The items of ``window`` that ``identity`` has not done yet, in order."""
    done = set(
        session.scalars(
            select(RescanProgress.item).where(
                RescanProgress.detector == identity.detector,
                RescanProgress.version == identity.version,
                RescanProgress.model_checksum == identity.model_checksum,
                RescanProgress.item
                == any_(bindparam("items", [item.key for item in window], type_=ARRAY(Text))),
            )
        )
    )
    return [item for item in window if item.key not in done]


def _todo(
    registry: Registry, identity: RescanIdentity, window: Sequence[Item], resume: bool
) -> list[Item]:
    if not resume:
        return list(window)
    with registry.sessions() as session:
        return pending(session, identity, window)


def _decode_rows(
    batch: dict[str, Any],
) -> tuple[list[str], list[IntakeResult], list[list[Verdict]]]:
    keys, facts, judged = [], [], []
    for key, fact_json, verdict_json in zip(
        batch["key"], batch["facts"], batch["verdict"], strict=True
    ):
        result = IntakeResult(**json.loads(str(fact_json)))
        keys.append(str(key))
        facts.append(result)
        if result.ok:
            judged.append(Verdict(**json.loads(str(verdict_json))))
    verdicts = assemble(facts, [judged])
    # A file with no content address (unreadable) leaves nothing in the ledger.
    return keys, facts, [v if f.sha256 else [] for f, v in zip(facts, verdicts, strict=True)]


def write_rescan_batch(
    session: Session,
    registry: Registry,
    identity: RescanIdentity,
    run_id: int,
    source: str,
    batch: dict[str, Any],
) -> tuple[int, int, int]:
    """Verdicts and progress rows of one batch, in the caller's transaction.

    Returns (items, errors, verdicts newly written).
    """
    keys, facts, verdicts = _decode_rows(batch)
    statuses = ["ok" if fact.ok else "error" for fact in facts]
    if source == ARCHIVE:
        for i, (key, fact) in enumerate(zip(keys, facts, strict=True)):
            if fact.sha256 and key != f"sha256:{fact.sha256}":
                # The file at the stored location is no longer that asset's content: judging
                # it would attach a verdict to content the ledger has never taken in.
                verdicts[i], statuses[i] = [], "changed"
        # Archive assets already have their rows; a re-scan is not a new sighting.
        flat = [v for per_item in verdicts for v in per_item]
        entries = registry.ledger.append(session, flat, ingest_run_id=run_id)
        written = sum(e.created for e in entries)
    else:
        outcomes = write_batch(
            session, registry.ledger, facts, verdicts, ingest_run_id=run_id, source=source
        )
        written = sum(e.created for o in outcomes for e in o.entries)
    errors = sum(status != "ok" for status in statuses)
    session.execute(
        pg_insert(RescanProgress)
        .values(
            [
                {
                    "detector": identity.detector,
                    "version": identity.version,
                    "model_checksum": identity.model_checksum,
                    "item": key,
                    "asset_sha256": fact.sha256 or None,
                    "status": status,
                    "run_id": run_id,
                }
                for key, fact, status in zip(keys, facts, statuses, strict=True)
            ]
        )
        .on_conflict_do_nothing()
    )
    session.execute(
        update(IngestRun)
        .where(IngestRun.id == run_id)
        .values(
            files_ok=IngestRun.files_ok + len(keys) - errors,
            files_error=IngestRun.files_error + errors,
            verdicts_written=IngestRun.verdicts_written + written,
        )
    )
    return len(keys), errors, written


def run_rescan(
    registry: Registry,
    detector: Detector,
    *,
    source: str = ARCHIVE,
    resume: bool = False,
    concurrency: int = 1,
    batch_size: int = 32,
    on_progress: Callable[[int, int], None] | None = None,
    window_size: int = RESCAN_WINDOW,
) -> RescanResult:
    """Re-scan ``source`` with ``detector``; ``on_progress(done, total)`` after each batch.

    ``window_size`` items are listed, checked and judged at a time (bounds driver memory).
    """
    identity = RescanIdentity.of(detector)
    total = todo_total = 0
    for window in windows(items_for(registry.sessions, source), window_size):
        total += len(window)
        todo_total += len(_todo(registry, identity, window, resume))

    lifecycle = IngestLifecycle.for_registry(
        registry,
        kind="rescan",
        source=source,
        detectors=[detector],
        parameters={
            **asdict(identity),
            "total": todo_total,
            "skipped": total - todo_total,
            "resume": resume,
            "concurrency": concurrency,
        },
    )
    listed = skipped = processed = errors = written = 0
    with lifecycle:
        run_id = lifecycle.id
        for window in windows(items_for(registry.sessions, source), window_size):
            listed += len(window)
            todo = _todo(registry, identity, window, resume)
            skipped += len(window) - len(todo)
            for batch in _judged_batches(registry, detector, todo, concurrency, batch_size):

                def write(session: Session, batch: dict[str, Any] = batch) -> tuple[int, int, int]:
                    return write_rescan_batch(session, registry, identity, run_id, source, batch)

                count, failed, created = lifecycle.write_with(write)
                processed, errors, written = processed + count, errors + failed, written + created
                if on_progress is not None:
                    on_progress(processed, max(todo_total, processed))
    return RescanResult(run_id, identity, listed, skipped, processed, errors, written)


def _judged_batches(
    registry: Registry,
    detector: Detector,
    todo: Sequence[Item],
    concurrency: int,
    batch_size: int,
) -> Iterator[dict[str, Any]]:
    if not todo:
        return
    ensure_ray(registry.settings)
    # The CLI draws its own bar; Ray Data's per-operator bars would interleave with it.
    ray.data.DataContext.get_current().enable_progress_bars = False
    resources = detector.resources
    options: dict[str, Any] = {
        "num_cpus": resources.num_cpus,
        "memory": resources.memory_mb * 1024 * 1024,
    }
    if resources.num_gpus > 0 and cluster_gpus() > 0:
        options["num_gpus"] = resources.num_gpus
    dataset = ray.data.from_items(
        [{"key": item.key, "location": item.location} for item in todo],
        override_num_blocks=max(1, len(todo) // batch_size),
    ).map_batches(
        RescanWorker,
        fn_constructor_args=(
            DetectorSpec.of(detector),
            registry.settings.limits,
            MediaPolicy.parse(registry.settings.media, registry.settings.home).url,
        ),
        batch_size=batch_size,
        concurrency=concurrency,
        batch_format="numpy",
        max_restarts=4,
        max_task_retries=4,
        **options,
    )
    yield from dataset.iter_batches(batch_size=None, batch_format="numpy")
