"""Fused actors: intake and every CPU detector of a batch in ONE stateful actor call.

Like Ray Data's operator fusion (``map_batches`` with a stateful callable): each fused actor
constructs every CPU detector and calls its ``load()`` once, then takes a batch of *paths*,
reads and decodes them, runs every detector it holds and returns the file facts and the
verdicts. The pixels never leave the actor, so a batch costs one hop and no object-store
copy, and every actor does every detector's share of the work. The earlier design (an
intake task, then one actor pool per detector sized from its declared CPUs, samples by
object reference) measured 1.07x the sequential loop on 2 cores against 1.85x for two plain
processes: the watermark decoder, over 90 % of the detector work, had one actor and set the
pace while the other core idled (the actors were busy 52 % of the 2 CPUs' time), with four
hops and a copy of the pixels per batch on top (see docs/benchmarks.md).

Detectors that declare GPUs (or more CPUs than one fused actor holds) keep their own
:class:`ray_jobs.actors.DetectorPool`; for them the fused call also returns the packed samples
as a second object, which those pools fetch by reference, never through the driver.

Each fused actor pins its native thread pools (OpenMP, MKL, OpenBLAS, OpenCV, torch) to the
CPUs it was given, so N actors on N cores do not oversubscribe them.

Fault tolerance: actors restart without limit (a file that crashes the decoder kills its
actor on every attempt, so a finite budget would run out on a bad archive) and Ray retries
a call lost to a dead actor ``FUSED_BATCH_RETRIES`` times; a detector that cannot load is
caught by :meth:`FusedPool.check`, which the driver calls on start and whenever a call
fails past its retries.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayError

from detectors.base import Detector, Resources, Sample, Verdict
from ray_jobs.actors import DetectorSpec, ObjectRef, PackedSamples, pin_threads
from ray_jobs.metrics import record_verdicts
from registry.errors import ProvregError
from registry.ingest import run_detector
from registry.intake.pipeline import IntakeLimits, IntakeResult, intake_batches, intake_path

#: Ray retries a batch lost to a dead actor this many times before the driver isolates it.
FUSED_BATCH_RETRIES = 2
#: How long a (re)starting fused actor may take to load its detectors.
ACTOR_START_TIMEOUT_S = 300.0
#: Logical CPUs each fused actor requests. Less than one on purpose: the actor count, not
#: this request, decides how many cores are used (one actor per CPU), and the headroom lets
#: an actor whose node was removed restart on the surviving nodes instead of waiting forever.
FUSED_ACTOR_CPUS = 0.5

Intake = Callable[[Path, IntakeLimits], IntakeResult]


def is_fusable(resources: Resources) -> bool:
    """Whether a detector can run inside a fused actor: CPU only, at most one CPU."""
    return resources.num_gpus <= 0 and resources.num_cpus <= 1.0


@dataclass(frozen=True)
class FusedSpec:
    """How to build a fused actor: its detectors, how it takes files in, its thread count."""

    detectors: tuple[DetectorSpec, ...]
    intake: Intake = intake_path
    threads: int = 1

    @classmethod
    def of(cls, detectors: Sequence[Detector], *, intake: Intake | None = None) -> FusedSpec:
        """The spec for ``detectors`` (all CPU detectors of an ingest)."""
        return cls(tuple(DetectorSpec.of(d) for d in detectors), intake or intake_path)


@dataclass(frozen=True)
class FusedResult:
    """One batch judged by a fused actor: facts (no pixels) and, per file, its verdicts from
    the actor's detectors in their order (empty for files intake could not read)."""

    facts: list[IntakeResult]
    verdicts: list[list[Verdict]]


class FusedWorker:
    """The body of a fused actor: intake plus every CPU detector, each loaded once."""

    def __init__(self, spec: FusedSpec) -> None:
        pin_threads(spec.threads)
        self.intake = spec.intake
        self.detectors = [s.cls(s.options) for s in spec.detectors]
        for detector in self.detectors:
            detector.load()
        pin_threads(spec.threads)  # again: loading may have imported torch

    def judge(
        self, paths: Sequence[str], limits: IntakeLimits, keep_samples: bool
    ) -> tuple[FusedResult, PackedSamples | None]:
        """Take in ``paths``, run every detector; never raises for bad input.

        The samples are returned (packed) only when ``keep_samples``, for detectors that
        run in pools of their own.
        """
        facts: list[IntakeResult] = []
        kept: list[Sample] = []
        verdicts_per_file: list[list[Verdict]] = []
        # Judged in chunks bounded by decoded pixels, and each chunk's images dropped before
        # the next is decoded (unless pooled detectors need the samples afterwards).
        for results in intake_batches((Path(p) for p in paths), limits, len(paths), self.intake):
            samples = [r.sample for r in results if r.sample is not None]
            per_detector = []
            for detector in self.detectors:
                verdicts = run_detector(detector, samples)
                record_verdicts(detector.name, detector.version, verdicts)
                per_detector.append(verdicts)
            position = 0
            for result in results:
                if result.sample is None:
                    verdicts_per_file.append([])
                else:
                    verdicts_per_file.append([v[position] for v in per_detector])
                    position += 1
            if keep_samples:
                kept.extend(samples)
            facts.extend(replace(r, sample=None) for r in results)
        packed = PackedSamples.pack(kept) if keep_samples else None
        return FusedResult(facts, verdicts_per_file), packed

    def ping(self) -> int:
        """The actor's process id (answers once its detectors are loaded)."""
        return os.getpid()

    def info(self) -> dict[str, Any]:
        """Process id, node, detectors, OpenCV's thread count and the resources Ray assigned."""
        import cv2

        context = ray.get_runtime_context()
        return {
            "pid": os.getpid(),
            "opencv_threads": cv2.getNumThreads(),
            "node_id": context.get_node_id(),
            "detector": "+".join(d.name for d in self.detectors) or "intake",
            "resources": context.get_assigned_resources(),  # type: ignore[no-untyped-call]
        }


def fused_count(cpus: float, reserved_cpus: float, max_actors: int | None = None) -> int:
    """One fused actor per CPU left after the other pools' requests (at least one)."""
    count = max(1, math.floor(cpus - reserved_cpus + 1e-9))
    return count if max_actors is None else max(1, min(count, max_actors))


class FusedPool:
    """A fixed set of fused actors; each batch goes to the least-loaded one."""

    def __init__(self, spec: FusedSpec, size: int, *, memory_mb: int) -> None:
        self.spec = spec
        self.name = "+".join(s.cls.name for s in spec.detectors) or "intake"
        remote_cls = ray.remote(FusedWorker)
        options: dict[str, Any] = {
            "num_cpus": FUSED_ACTOR_CPUS,
            "memory": memory_mb * 1024 * 1024,
            "max_restarts": -1,
            "max_task_retries": FUSED_BATCH_RETRIES,
            "scheduling_strategy": "SPREAD",
        }
        self.actors: list[Any] = [remote_cls.options(**options).remote(spec) for _ in range(size)]
        self._load = [0] * size

    def submit(
        self,
        paths: list[str],
        limits: IntakeLimits,
        *,
        keep_samples: bool,
        index: int | None = None,
        retries: int | None = None,
    ) -> tuple[ObjectRef, ObjectRef, int]:
        """Queue one batch (on actor ``index``, else the least-loaded one): the result ref,
        the packed-samples ref and the actor index."""
        if index is None:
            index = min(range(len(self.actors)), key=self._load.__getitem__)
        self._load[index] += 1
        options: dict[str, Any] = {"num_returns": 2}
        if retries is not None:
            options["max_task_retries"] = retries
        result, samples = (
            self.actors[index].judge.options(**options).remote(paths, limits, keep_samples)
        )
        return result, samples, index

    def release(self, index: int) -> None:
        """Mark a call on actor ``index`` finished."""
        self._load[index] -= 1

    def check(self, index: int | None = None) -> None:
        """Wait until the actor (every actor by default) has loaded its detectors; raise
        :class:`ProvregError` if it cannot (a detector that fails to load is a deployment
        error, not a verdict)."""
        actors = self.actors if index is None else [self.actors[index]]
        try:
            ray.get([actor.ping.remote() for actor in actors], timeout=ACTOR_START_TIMEOUT_S)
        except (RayError, GetTimeoutError) as exc:
            raise ProvregError(
                f"fused detector actor ({self.name}) cannot start on Ray: "
                f"{type(exc).__name__}: {str(exc)[:500]}"
            ) from exc

    def info(self) -> list[dict[str, Any]]:
        """``FusedWorker.info`` of every actor."""
        return list(ray.get([actor.info.remote() for actor in self.actors]))

    def shutdown(self) -> None:
        """Kill the actors (no restart)."""
        for actor in self.actors:
            ray.kill(actor, no_restart=True)
