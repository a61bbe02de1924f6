"""Detectors used only by the command-line experience tests (staged as entry points)."""

from __future__ import annotations

import os
from typing import ClassVar

from detectors.base import Resources, Sample, Verdict
from detectors.file_facts import FileFactsDetector


class CrashFacts(FileFactsDetector):
    """file-facts that kills its own process on an image 13 pixels wide, like a segfault in a
    native decoder: the Ray worker dies mid-task and Ray reports it (``(raylet) ...``)."""

    name: ClassVar[str] = "crash-facts"
    resources: ClassVar[Resources] = Resources(num_cpus=0.25, memory_mb=64)

    def detect_one(self, sample: Sample) -> Verdict:
        if sample.image is not None and sample.image.width == 13:
            os._exit(1)
        return super().detect_one(sample)
