"""The Ray executor for ``provreg ingest``: fused intake+detector actors, GPU pools, one writer.

Flow per batch of paths: a fused actor (:mod:`ray_jobs.fused`) reads and decodes the files
and runs every CPU detector on them in one call, returning the file facts and verdicts; the
pixels stay in that actor. Detectors that declare GPUs keep their own actor pools
(:class:`ray_jobs.actors.DetectorPool`); for them the fused call also returns the packed
samples as a second object, which the pools fetch by reference, never through the driver.
The driver waits for the oldest batch only (results come back in input order), assembles
one verdict list per file in the detectors' order (``registry.ingest.assemble``, as the
inline executor does), and hands the batch to the single sequencing writer, which writes it
through the run's :class:`~registry.ingest.lifecycle.IngestLifecycle` (one retried
transaction) on its own thread while the next batches are collected. When a write fails for
good, no later batch is written, and every batch committed before it is still yielded
(printed) before the error goes up. The ledger's advisory lock and identity check make a
retried batch a no-op. About two batches per fused actor are in flight (``max_in_flight``),
fewer when the images seen so far are large (about 1 GiB of decoded pixels in flight),
which bounds memory and the work lost to a crash.

A batch whose fused call fails past Ray's retries (a file that kills the decoder kills the
actor on every attempt) is taken in again one file at a time, so that file alone gets an
error verdict.

Registered as ``[project.entry-points."provreg.executors"] ray``.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import ray
from ray.exceptions import RayActorError, RayError, RayTaskError

from detectors.base import Detector, Verdict
from ray_jobs.actors import (
    DetectorPool,
    ObjectRef,
    cpu_scale_for,
    pool_size,
)
from ray_jobs.batch_results import PixelTally, crashed_intake, merge
from ray_jobs.fused import (
    FusedPool,
    FusedResult,
    FusedSpec,
    Intake,
    fused_count,
    is_fusable,
)
from ray_jobs.runtime import DEFAULT_MAX_ACTORS, cluster_cpus, cluster_gpus, ensure_ray
from registry.errors import ProvregError
from registry.ingest import (
    FileOutcome,
    IngestLifecycle,
    intake_error_verdict,
    run_parameters,
)
from registry.intake.pipeline import IntakeLimits, IntakeResult
from registry.settings import Settings

if TYPE_CHECKING:
    from registry.app import Registry

log = logging.getLogger(__name__)

RESUBMITS = 3
#: Batches queued per fused actor, so none idles while the driver collects and writes.
BATCHES_PER_ACTOR = 2
#: Decoded pixels allowed in flight (in the object store) at once, whatever the batch count.
IN_FLIGHT_PIXEL_BYTES = 1 << 30
#: Memory a fused actor needs for intake (decoding) besides its detectors' declared memory.
INTAKE_MEMORY_MB = 256


@dataclass
class _Batch:
    paths: list[str]
    result: ObjectRef
    samples: ObjectRef
    actor: int
    calls: list[tuple[ObjectRef, int]]


Judged = tuple[list[IntakeResult], list[list[Verdict]]]


class RayJudge:
    """Fused actors, GPU detector pools and the bounded pipeline between them (no database)."""

    def __init__(
        self,
        settings: Settings,
        detectors: Sequence[Detector],
        *,
        batch_size: int | None = None,
        max_in_flight: int | None = None,
        max_actors: int | None = None,
        intake: Intake | None = None,
    ) -> None:
        """``max_actors`` caps every pool, the fused one included (by default: one fused actor
        per free CPU, GPU pools up to ``DEFAULT_MAX_ACTORS``); ``intake`` replaces
        ``intake_path`` inside the fused actors (tests make it crash on purpose)."""
        ensure_ray(settings)
        self.settings = settings
        self.detectors = list(detectors)
        self.batch_size = batch_size or settings.batch_size
        cpus, gpus = cluster_cpus(), cluster_gpus()
        fused = [d for d in self.detectors if is_fusable(d.resources)]
        pooled = [d for d in self.detectors if not is_fusable(d.resources)]
        self.order = [
            (True, fused.index(d)) if is_fusable(d.resources) else (False, pooled.index(d))
            for d in self.detectors
        ]
        scale = cpu_scale_for(pooled, cpus=cpus)
        share = 0.5 / max(1, len(pooled))  # the pooled detectors split at most half the cluster
        self.pools: list[DetectorPool] = []
        reserved = 0.0
        for detector in pooled:
            resources = replace(detector.resources, num_cpus=detector.resources.num_cpus * scale)
            size = pool_size(
                resources,
                cpus=cpus,
                gpus=gpus,
                max_actors=max_actors or DEFAULT_MAX_ACTORS,
                cpu_share=share,
            )
            self.pools.append(
                DetectorPool(detector, size, gpus_available=gpus > 0, cpu_scale=scale)
            )
            reserved += size * resources.num_cpus
        count = fused_count(cpus, reserved, max_actors)
        memory = INTAKE_MEMORY_MB + sum(d.resources.memory_mb for d in fused)
        self.fused = FusedPool(FusedSpec.of(fused, intake=intake), count, memory_mb=memory)
        self.fused.check()
        self.max_in_flight = max_in_flight or BATCHES_PER_ACTOR * count

    def actor_info(self) -> list[dict[str, Any]]:
        """Every actor's pid, node, detectors and assigned resources (for tests and status)."""
        return [*self.fused.info(), *(info for pool in self.pools for info in pool.info())]

    def shutdown(self) -> None:
        """Stop the actors."""
        self.fused.shutdown()
        for pool in self.pools:
            pool.shutdown()

    def judge(self, paths: Sequence[Path]) -> Iterator[Judged]:
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
            pending.append(self._submit(names[start : start + self.batch_size], limits))
        while pending:
            yield self._collect(pending.popleft())

    def _submit(
        self, paths: list[str], limits: IntakeLimits, *, retries: int | None = None
    ) -> _Batch:
        result, samples, actor = self.fused.submit(
            paths, limits, keep_samples=bool(self.pools), retries=retries
        )
        calls = [pool.submit(samples) for pool in self.pools]
        return _Batch(paths, result, samples, actor, calls)

    def _collect(self, batch: _Batch) -> Judged:
        try:
            fused = cast(FusedResult, ray.get(batch.result))
        except RayError as exc:
            for pool, (_ref, index) in zip(self.pools, batch.calls, strict=True):
                pool.release(index)
            return self._isolate(batch.paths, exc)
        finally:
            self.fused.release(batch.actor)
        pooled = [
            self._result(pool, batch, ref, index)
            for pool, (ref, index) in zip(self.pools, batch.calls, strict=True)
        ]
        return fused.facts, merge(fused, pooled, self.order)

    def _isolate(self, paths: Sequence[str], cause: RayError) -> Judged:
        """Judge a batch whose fused call failed past its retries one file at a time, so a
        file that crashes the decoder (killing its actor) costs only its own verdict."""
        log.warning("a fused batch failed (%s); isolating its %d files", cause, len(paths))
        self.fused.check()  # a detector that no longer loads is an error, not a verdict
        facts: list[IntakeResult] = []
        verdicts: list[list[Verdict]] = []
        for path in paths:
            single = self._submit([path], self.settings.limits, retries=1)
            try:
                fused = cast(FusedResult, ray.get(single.result))
            except RayError as exc:
                for pool, (_ref, index) in zip(self.pools, single.calls, strict=True):
                    pool.release(index)
                self.fused.check(single.actor)
                fact = crashed_intake(path, exc)
                facts.append(fact)
                verdicts.append([intake_error_verdict(fact)])
                continue
            finally:
                self.fused.release(single.actor)
            pooled = [
                self._result(pool, single, ref, index)
                for pool, (ref, index) in zip(self.pools, single.calls, strict=True)
            ]
            facts.extend(fused.facts)
            verdicts.extend(merge(fused, pooled, self.order))
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
    """:class:`RayJudge` plus the single writer: one ledger transaction per batch, written on
    one writer thread while the driver collects the next batch (so the commit overlaps with
    actor work), at most one batch ahead of what the caller has consumed."""

    def __init__(
        self,
        registry: Registry,
        detectors: Sequence[Detector],
        *,
        batch_size: int | None = None,
        max_in_flight: int | None = None,
        max_actors: int | None = None,
        intake: Intake | None = None,
    ) -> None:
        super().__init__(
            registry.settings,
            detectors,
            batch_size=batch_size,
            max_in_flight=max_in_flight,
            max_actors=max_actors,
            intake=intake,
        )
        self.registry = registry

    def run(
        self, files: Sequence[Path], *, source: str | None, resume: int | None = None
    ) -> Iterator[FileOutcome]:
        """Ingest ``files``: one transaction per batch, in input order, then a checkpoint."""
        lifecycle = IngestLifecycle.for_registry(
            self.registry,
            kind="ingest",
            source=source,
            detectors=self.detectors,
            parameters=run_parameters(self.detectors, executor="ray"),
            resume=resume,
        )
        failed = threading.Event()

        def write(judged: Judged) -> list[FileOutcome]:
            if failed.is_set():  # an earlier batch failed for good: write nothing after it
                raise _NotWritten
            try:
                return lifecycle.write(*judged)
            except BaseException:
                failed.set()
                raise

        with lifecycle:
            todo = lifecycle.skip_judged(files)
            yield from lifecycle.replay()
            # One thread: the writes stay sequential, in input order.
            writes: deque[Future[list[FileOutcome]]] = deque()
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="provreg-writer") as writer:
                try:
                    for judged in self.judge(todo):
                        writes.append(writer.submit(write, judged))
                        while len(writes) > 1:
                            yield from writes.popleft().result()
                    while writes:
                        yield from writes.popleft().result()
                except Exception:
                    yield from _committed(writes)
                    raise
                finally:
                    for pending in writes:
                        pending.cancel()


class _NotWritten(Exception):
    """A batch left unwritten because an earlier one failed for good."""


def _committed(writes: deque[Future[list[FileOutcome]]]) -> Iterator[FileOutcome]:
    """The outcomes of the writes that committed, in order, up to the first that did not."""
    while writes:
        future = writes.popleft()
        if future.cancel():
            return
        try:
            outcomes = future.result()
        except Exception:
            return
        yield from outcomes


def ray_executor(
    registry: Registry,
    detectors: Sequence[Detector],
    files: Sequence[Path],
    *,
    source: str | None,
    resume: int | None = None,
) -> Iterator[FileOutcome]:
    """``provreg ingest`` on Ray (local by default, the cluster at ``RAY_ADDRESS`` otherwise)."""
    runner = RayIngest(registry, detectors)
    try:
        yield from runner.run(files, source=source, resume=resume)
    finally:
        runner.shutdown()
