"""Detector actors: one pool per detector, sized by the resources the detector declares.

Each actor constructs its detector and calls ``load()`` once (weights, tables), then judges
batch after batch. Samples arrive as an object reference produced by an intake task, so the
pixels go from the intake worker to the actor through the object store, never through the
driver. Actors restart after a crash (``max_restarts``) and Ray retries the calls that were
in flight (``max_task_retries``); detectors are pure per sample, so a retried call yields the
same verdicts and the ledger's idempotency keeps them from being logged twice.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import ray
from PIL import Image

from detectors.base import Detector, Resources, Sample, Verdict
from ray_jobs.metrics import record_verdicts
from registry.ingest import run_detector

#: Ray's handles and refs are untyped here; their payloads are typed at ``ray.get``.
ObjectRef = Any

ACTOR_MAX_RESTARTS = 4
ACTOR_MAX_TASK_RETRIES = 4


#: Environment variables read by native thread pools when they start.
_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


def pin_threads(threads: int) -> None:
    """Limit this process's native thread pools to ``threads`` (OpenMP/BLAS, OpenCV, torch),
    so actors sharing the cores do not each start a thread per core."""
    import cv2  # a dependency of the watermark detector; cheap once imported

    for variable in _THREAD_VARIABLES:
        os.environ[variable] = str(threads)
    cv2.setNumThreads(threads)
    torch = sys.modules.get("torch")  # only if a detector imported it: importing is slow
    if torch is not None:
        torch.set_num_threads(threads)


def threads_for(resources: Resources) -> int:
    """Native threads for an actor holding ``resources``: its whole CPUs, at least one."""
    return max(1, math.floor(resources.num_cpus + 1e-9))


#: Modes whose pixels round-trip exactly through a numpy array (the mode is implied by
#: the array's shape and dtype).
ARRAY_MODES = frozenset({"L", "RGB", "RGBA"})


@dataclass(frozen=True)
class _Packed:
    sample: Sample
    pixels: np.ndarray[Any, Any] | None
    info: dict[Any, Any]
    format: str | None


@dataclass(frozen=True)
class PackedSamples:
    """Samples in transit through the object store.

    Pixels of common modes travel as numpy arrays, which Ray serialises out of band (one copy
    into shared memory, read in place by the actor) instead of through PIL's pickling, which
    is several times slower and drops ``format``. Other modes (palette, 16-bit, CMYK …)
    travel as the PIL image itself. Either way the actor sees the sample intake produced.
    """

    items: list[_Packed]

    @classmethod
    def pack(cls, samples: Sequence[Sample]) -> PackedSamples:
        """Wrap samples for the object store."""
        items = []
        for sample in samples:
            image = sample.image
            if image is not None and image.mode in ARRAY_MODES:
                items.append(
                    _Packed(
                        replace(sample, image=None),
                        np.asarray(image),
                        dict(image.info),
                        image.format,
                    )
                )
            else:
                items.append(_Packed(sample, None, {}, image.format if image else None))
        return cls(items)

    def unpack(self) -> list[Sample]:
        """The samples as intake produced them."""
        samples = []
        for item in self.items:
            sample = item.sample
            if item.pixels is not None:
                image = Image.fromarray(item.pixels)
                image.info = dict(item.info)
                sample = replace(sample, image=image)
            if sample.image is not None:
                sample.image.format = item.format
            samples.append(sample)
        return samples


@dataclass(frozen=True)
class DetectorSpec:
    """How to build a detector inside a worker: its class (importable) and its options."""

    cls: type[Detector]
    options: Mapping[str, Any]

    @classmethod
    def of(cls, detector: Detector) -> DetectorSpec:
        """The spec that rebuilds ``detector``."""
        return cls(type(detector), dict(detector.options))


class DetectorWorker:
    """The body of a detector actor (also usable in-process, e.g. by Ray Data)."""

    def __init__(self, spec: DetectorSpec) -> None:
        threads = threads_for(spec.cls.resources)
        pin_threads(threads)
        self.detector = spec.cls(spec.options)
        self.detector.load()
        pin_threads(threads)  # again: loading may have imported torch

    def detect(self, packed: PackedSamples) -> list[Verdict]:
        """Exactly one verdict per sample, in order; never raises for bad input."""
        verdicts = run_detector(self.detector, packed.unpack())
        record_verdicts(self.detector.name, self.detector.version, verdicts)
        return verdicts

    def info(self) -> dict[str, Any]:
        """Process id, node and the resources Ray assigned to this actor."""
        context = ray.get_runtime_context()
        return {
            "pid": os.getpid(),
            "node_id": context.get_node_id(),
            "detector": self.detector.name,
            "resources": context.get_assigned_resources(),  # type: ignore[no-untyped-call]
        }


def actor_options(
    resources: Resources, *, gpus_available: bool, cpu_scale: float = 1.0
) -> dict[str, Any]:
    """Ray actor options for a detector: GPUs only when the cluster has any; the CPU request
    scaled by ``cpu_scale`` (see :func:`cpu_scale_for`)."""
    options: dict[str, Any] = {
        "num_cpus": resources.num_cpus * cpu_scale,
        "memory": resources.memory_mb * 1024 * 1024,
        "max_restarts": ACTOR_MAX_RESTARTS,
        "max_task_retries": ACTOR_MAX_TASK_RETRIES,
        # Spread a pool over the nodes: more memory bandwidth, and one node lost costs less.
        "scheduling_strategy": "SPREAD",
    }
    if resources.num_gpus > 0 and gpus_available:
        options["num_gpus"] = resources.num_gpus
    return options


def pool_size(
    resources: Resources, *, cpus: float, gpus: float, max_actors: int, cpu_share: float = 0.5
) -> int:
    """How many actors fit: at most ``max_actors``, within ``cpu_share`` of the cluster's CPUs
    (the rest is left to intake tasks) and, for GPU detectors, within its GPUs."""
    size = max_actors
    if resources.num_cpus > 0:
        size = min(size, math.floor(cpus * cpu_share / resources.num_cpus + 1e-9))
    if resources.num_gpus > 0 and gpus > 0:
        size = min(size, math.floor(gpus / resources.num_gpus + 1e-9))
    return max(1, size)


def cpu_scale_for(detectors: Sequence[Detector], *, cpus: float, cpu_share: float = 0.5) -> float:
    """Factor applied to every detector's CPU request so one actor of each fits at once.

    Ray actors hold their CPUs for life: if the detectors' declared CPUs add up to more than
    the cluster's share for detectors (a small box running many detectors), the later pools
    would wait forever for CPUs the earlier ones hold. Scaling the logical requests down keeps
    every pool schedulable; the OS then shares the real cores between them.
    """
    demand = sum(d.resources.num_cpus for d in detectors)
    budget = cpus * cpu_share
    return 1.0 if demand <= budget or demand <= 0 else budget / demand


class DetectorPool:
    """A fixed set of actors for one detector; calls go to the least-loaded actor."""

    def __init__(
        self, detector: Detector, size: int, *, gpus_available: bool, cpu_scale: float = 1.0
    ) -> None:
        self.name = detector.name
        self.spec = DetectorSpec.of(detector)
        remote_cls = ray.remote(DetectorWorker)
        options = actor_options(
            detector.resources, gpus_available=gpus_available, cpu_scale=cpu_scale
        )
        self.actors: list[Any] = [
            remote_cls.options(**options).remote(self.spec) for _ in range(size)
        ]
        self._load = [0] * size

    def submit(self, samples: ObjectRef) -> tuple[ObjectRef, int]:
        """Queue one batch on the least-loaded actor; returns the result ref and the actor."""
        index = min(range(len(self.actors)), key=self._load.__getitem__)
        self._load[index] += 1
        return self.actors[index].detect.remote(samples), index

    def release(self, index: int) -> None:
        """Mark a call on actor ``index`` finished."""
        self._load[index] -= 1

    def info(self) -> list[dict[str, Any]]:
        """``DetectorWorker.info`` of every actor."""
        return list(ray.get([actor.info.remote() for actor in self.actors]))

    def shutdown(self) -> None:
        """Kill the actors (no restart)."""
        for actor in self.actors:
            ray.kill(actor, no_restart=True)
