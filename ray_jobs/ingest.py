"""The Ray executor for ``provreg ingest``: parallel intake, detector actor pools, one writer.

Flow per batch of paths: an intake task (hashing and hardened decoding) returns the file
facts and, as a second object, the decoded samples; every detector pool receives a reference
to those samples; the driver waits for the oldest batch only (results come back in input
order), assembles one verdict list per file exactly as ``registry.ingest.judge_batch`` does,
and writes the batch in one transaction with ``registry.ingest.write_batch``. The driver is
the single sequencing writer; the ledger's advisory lock and identity check make a retried
batch a no-op. At most ``max_in_flight`` batches are submitted ahead, fewer when the images
seen so far are large (about 1 GiB of decoded pixels in flight), which bounds memory and the
work lost to a crash.

Registered as ``[project.entry-points."provreg.executors"] ray``.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ray
from ray.exceptions import RayActorError, RayError, RayTaskError

from detectors.base import Detector, Verdict
from ray_jobs.actors import (
    DetectorPool,
    ObjectRef,
    PackedSamples,
    cpu_scale_for,
    pool_size,
)
from ray_jobs.dbretry import in_transaction
from ray_jobs.runtime import DEFAULT_MAX_ACTORS, cluster_cpus, cluster_gpus, ensure_ray
from registry.errors import ProvregError
from registry.ingest import (
    FileOutcome,
    finish_run,
    intake_error_verdict,
    start_run,
    write_batch,
)
from registry.intake import IntakeLimits, IntakeResult, intake_path
from registry.media_sniff import OCTET_STREAM, sniff
from registry.settings import Settings

if TYPE_CHECKING:
    from registry.app import Registry

log = logging.getLogger(__name__)

INTAKE_MAX_RETRIES = 4
INTAKE_NUM_CPUS = 0.5
RESUBMITS = 3
#: Decoded pixels allowed in flight (in the object store) at once, whatever the batch count.
IN_FLIGHT_PIXEL_BYTES = 1 << 30


def take_in(paths: list[str], limits: IntakeLimits) -> tuple[list[IntakeResult], PackedSamples]:
    """Take in files: their facts (without pixels) and, separately, the decoded samples."""
    results = [intake_path(Path(p), limits) for p in paths]
    samples = [r.sample for r in results if r.sample is not None]
    return [replace(r, sample=None) for r in results], PackedSamples.pack(samples)


#: :func:`take_in` as a Ray task with two returns, so detectors fetch the samples directly.
intake_task = ray.remote(
    num_returns=2, max_retries=INTAKE_MAX_RETRIES, num_cpus=INTAKE_NUM_CPUS
)(take_in)


def crashed_intake(path: str, cause: BaseException) -> IntakeResult:
    """The result for a file whose intake killed its worker: content-addressed if readable."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
            handle.seek(0)
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
            size = os.fstat(handle.fileno()).st_size
    except OSError as exc:
        return IntakeResult(path, "", 0, OCTET_STREAM, error="unreadable",
                            error_detail=exc.strerror or type(exc).__name__)
    detail = f"decoding crashed the intake worker: {type(cause).__name__}"
    return IntakeResult(path, digest, size, sniff(head) if head else OCTET_STREAM,
                        error="corrupt", error_detail=detail)


def assemble(
    facts: Sequence[IntakeResult], per_detector: Sequence[Sequence[Verdict]]
) -> list[list[Verdict]]:
    """One verdict list per file: every detector's for readable media, the intake error else."""
    output: list[list[Verdict]] = []
    position = 0
    for result in facts:
        if result.ok:
            output.append([verdicts[position] for verdicts in per_detector])
            position += 1
        else:
            output.append([intake_error_verdict(result)])
    return output


@dataclass
class PixelTally:
    """Decoded bytes per file seen so far, to keep large images from piling up in flight."""

    files: int = 0
    pixel_bytes: int = 0

    def add(self, facts: Sequence[IntakeResult]) -> None:
        """Count a collected batch (RGBA-sized, an upper bound for the common modes)."""
        for fact in facts:
            self.files += 1
            if fact.ok and fact.width and fact.height:
                self.pixel_bytes += fact.width * fact.height * 4

    def window(self, max_batches: int, batch_size: int, budget_bytes: int) -> int:
        """Batches allowed in flight: ``max_batches``, fewer when batches are large."""
        if not self.files:
            return max_batches
        per_batch = self.pixel_bytes / self.files * batch_size
        return max(1, min(max_batches, int(budget_bytes // max(per_batch, 1.0))))


@dataclass
class _Batch:
    paths: list[str]
    facts: ObjectRef
    samples: ObjectRef
    calls: list[tuple[ObjectRef, int]]


class RayJudge:
    """Detector pools on Ray and the bounded intake/detect pipeline (no database)."""

    def __init__(
        self,
        settings: Settings,
        detectors: Sequence[Detector],
        *,
        batch_size: int | None = None,
        max_in_flight: int | None = None,
        max_actors: int = DEFAULT_MAX_ACTORS,
        intake: Any = None,
    ) -> None:
        ensure_ray(settings)
        #: The intake remote function (tests substitute one that crashes on purpose).
        self.intake: Any = intake or intake_task
        self.settings = settings
        self.detectors = list(detectors)
        self.batch_size = batch_size or settings.batch_size
        cpus, gpus = cluster_cpus(), cluster_gpus()
        self.max_in_flight = max_in_flight or max(2, int(cpus) * 2)
        scale = cpu_scale_for(self.detectors, cpus=cpus)
        share = 0.5 / max(1, len(self.detectors))  # the detectors split half the cluster
        self.pools = [
            DetectorPool(
                d,
                pool_size(
                    replace(d.resources, num_cpus=d.resources.num_cpus * scale),
                    cpus=cpus, gpus=gpus, max_actors=max_actors, cpu_share=share,
                ),
                gpus_available=gpus > 0,
                cpu_scale=scale,
            )
            for d in self.detectors
        ]

    def actor_info(self) -> list[dict[str, Any]]:
        """Every detector actor's pid, node and assigned resources (for tests and status)."""
        return [info for pool in self.pools for info in pool.info()]

    def shutdown(self) -> None:
        """Stop the detector actors."""
        for pool in self.pools:
            pool.shutdown()

    def judge(
        self, paths: Sequence[Path]
    ) -> Iterator[tuple[list[IntakeResult], list[list[Verdict]]]]:
        """Intake and detectors only (no database): per batch, file facts and verdicts."""
        pending: deque[_Batch] = deque()
        limits = self.settings.limits
        names = [str(p) for p in paths]
        seen = PixelTally()
        for start in range(0, len(names), self.batch_size):
            while pending and len(pending) >= seen.window(
                self.max_in_flight, self.batch_size, IN_FLIGHT_PIXEL_BYTES
            ):
                done = self._collect(pending.popleft())
                seen.add(done[0])
                yield done
            chunk = names[start: start + self.batch_size]
            refs: Any = self.intake.remote(chunk, limits)
            facts, samples = refs
            calls = [pool.submit(samples) for pool in self.pools]
            pending.append(_Batch(chunk, facts, samples, calls))
        while pending:
            yield self._collect(pending.popleft())

    def _collect(self, batch: _Batch) -> tuple[list[IntakeResult], list[list[Verdict]]]:
        try:
            facts: list[IntakeResult] = ray.get(batch.facts)
        except RayError as exc:
            for pool, (_ref, index) in zip(self.pools, batch.calls, strict=True):
                pool.release(index)
            return self._isolate(batch.paths, exc)
        per_detector = [
            self._result(pool, batch, ref, index)
            for pool, (ref, index) in zip(self.pools, batch.calls, strict=True)
        ]
        return facts, assemble(facts, per_detector)

    def _isolate(
        self, paths: Sequence[str], cause: RayError
    ) -> tuple[list[IntakeResult], list[list[Verdict]]]:
        """Take in a batch whose intake task failed past its retries one file at a time, so a
        file that crashes the decoder (killing its worker) costs only its own verdict."""
        log.warning("intake of a batch failed (%s); isolating its %d files", cause, len(paths))
        facts: list[IntakeResult] = []
        verdicts: list[list[Verdict]] = []
        for path in paths:
            refs: Any = self.intake.options(max_retries=1).remote([path], self.settings.limits)
            try:
                (fact,) = ray.get(refs[0])
            except RayError as exc:
                fact = crashed_intake(path, exc)
                facts.append(fact)
                verdicts.extend(assemble([fact], []))
                continue
            single = _Batch([path], refs[0], refs[1], [pool.submit(refs[1]) for pool in self.pools])
            per_detector = [
                self._result(pool, single, ref, index)
                for pool, (ref, index) in zip(self.pools, single.calls, strict=True)
            ]
            facts.append(fact)
            verdicts.extend(assemble([fact], per_detector))
        return facts, verdicts

    def _result(
        self, pool: DetectorPool, batch: _Batch, ref: ObjectRef, index: int
    ) -> list[Verdict]:
        """A pool's verdicts for a batch; resubmitted if the actor died past its retries."""
        try:
            for attempt in itertools.count():
                try:
                    verdicts: list[Verdict] = ray.get(ref)
                    return verdicts
                except (RayActorError, RayTaskError) as exc:
                    if attempt >= RESUBMITS:
                        # Every actor keeps dying: a detector that cannot load or run here
                        # (missing weights, out of memory) is a deployment error, not a verdict.
                        raise ProvregError(
                            f"detector {pool.name!r} failed {RESUBMITS + 1} times on Ray: "
                            f"{type(exc).__name__}: {str(exc)[:500]}"
                        ) from exc
                    log.warning("detector %s lost a batch (%s); resubmitting", pool.name, exc)
                    pool.release(index)
                    ref, index = pool.submit(batch.samples)
            raise AssertionError("unreachable")
        finally:
            pool.release(index)


class RayIngest(RayJudge):
    """:class:`RayJudge` plus the single writer: one ledger transaction per batch."""

    def __init__(
        self,
        registry: Registry,
        detectors: Sequence[Detector],
        *,
        batch_size: int | None = None,
        max_in_flight: int | None = None,
        max_actors: int = DEFAULT_MAX_ACTORS,
        intake: Any = None,
    ) -> None:
        super().__init__(registry.settings, detectors, batch_size=batch_size,
                         max_in_flight=max_in_flight, max_actors=max_actors, intake=intake)
        self.registry = registry

    def run(self, files: Sequence[Path], *, source: str | None) -> Iterator[FileOutcome]:
        """Ingest ``files``: one transaction per batch, in input order, then a checkpoint."""
        registry = self.registry
        ledger = registry.ledger

        def begin(session: Any) -> int:
            ledger.register_key(session)
            params: dict[str, object] = {
                "detectors": [d.name for d in self.detectors], "executor": "ray"
            }
            return start_run(session, "ingest", source, params)

        run_id = in_transaction(registry.sessions, begin)
        for facts, verdicts in self.judge(files):

            def write(session: Any, facts: list[IntakeResult] = facts,
                      verdicts: list[list[Verdict]] = verdicts) -> list[FileOutcome]:
                outcomes = write_batch(
                    session, ledger, facts, verdicts, ingest_run_id=run_id, source=source
                )
                finish_run(session, run_id, outcomes)
                return outcomes

            yield from in_transaction(registry.sessions, write)
        in_transaction(registry.sessions, ledger.checkpoint)


def ray_executor(
    registry: Registry,
    detectors: Sequence[Detector],
    files: Sequence[Path],
    *,
    source: str | None,
) -> Iterator[FileOutcome]:
    """``provreg ingest`` on Ray (local by default, the cluster at ``RAY_ADDRESS`` otherwise)."""
    runner = RayIngest(registry, detectors)
    try:
        yield from runner.run(files, source=source)
    finally:
        runner.shutdown()

