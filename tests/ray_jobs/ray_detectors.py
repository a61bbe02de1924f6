"""Detectors used only by the Ray tests (registered through a staged entry point)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import ClassVar

from detectors.base import Resources, Sample, Verdict
from detectors.file_facts import FileFactsDetector
from registry.intake.pipeline import IntakeLimits, IntakeResult, intake_path


class SlowFactsV1(FileFactsDetector):
    """file-facts under another name; option ``sleep_s`` makes each item take that long."""

    name: ClassVar[str] = "slow-facts"
    version: ClassVar[str] = "1.0.0"

    def detect_one(self, sample: Sample) -> Verdict:
        time.sleep(float(self.options.get("sleep_s", 0.0)))
        return super().detect_one(sample)


class SlowFactsV2(SlowFactsV1):
    """Version 2 flags assets whose content address starts with 0-7 (about half)."""

    version: ClassVar[str] = "2.0.0"

    def detect_one(self, sample: Sample) -> Verdict:
        verdict = super().detect_one(sample)
        if sample.sha256[0] in "01234567":
            return self.verdict(sample, "flagged", True, evidence=verdict.evidence)
        return verdict


class HalfGpuFacts(FileFactsDetector):
    """Declares half a GPU, to check that pools request the declared fraction."""

    name: ClassVar[str] = "half-gpu-facts"
    resources: ClassVar[Resources] = Resources(num_cpus=0.25, num_gpus=0.5, memory_mb=64)


class BrokenLoadFacts(FileFactsDetector):
    """Fails in ``load()``, like a detector whose weights are missing on the worker."""

    name: ClassVar[str] = "broken-load"

    def load(self) -> None:
        raise FileNotFoundError("weights.onnx not found")


class HeavyFacts(FileFactsDetector):
    """Declares a whole CPU per actor, like the copy and watermark detectors."""

    name = "heavy-facts"
    resources: ClassVar[Resources] = Resources(num_cpus=1.0, memory_mb=64)


def heavy_variants(count: int) -> list[FileFactsDetector]:
    """``count`` distinct one-CPU detectors (more CPUs declared than the test cluster has)."""
    made = []
    for index in range(count):
        cls = type(f"HeavyFacts{index}", (HeavyFacts,), {"name": f"heavy-facts-{index}"})
        made.append(cls())
    return made


def crashing_intake(path: Path, limits: IntakeLimits) -> IntakeResult:
    """Intake that kills its process on files named crash*, like a decoder segfault."""
    if path.name.startswith("crash"):
        os._exit(1)
    return intake_path(path, limits)


SLOW_SIDE = 48


class SleepyFacts(FileFactsDetector):
    """file-facts that takes ``sleep_s`` per image exactly ``SLOW_SIDE`` pixels wide, so batches
    holding such images finish after the batches behind them."""

    name: ClassVar[str] = "sleepy-facts"
    resources: ClassVar[Resources] = Resources(num_cpus=0.25, memory_mb=64)

    def detect_one(self, sample: Sample) -> Verdict:
        if sample.image is not None and sample.image.width == SLOW_SIDE:
            time.sleep(float(self.options.get("sleep_s", 0.2)))
        return super().detect_one(sample)
