"""Per-detector counters exported to the Ray dashboard (Prometheus) through ``ray.util.metrics``.

Created lazily inside each worker, so importing this module costs nothing on the driver.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from ray.util.metrics import Counter, Histogram

from detectors.base import Verdict

LATENCY_BOUNDARIES_MS = [1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 5000.0]


@cache
def _instruments() -> tuple[Counter, Counter, Histogram]:
    items = Counter(
        "provreg_detector_items", "Items judged per detector.", tag_keys=("detector", "version")
    )
    errors = Counter(
        "provreg_detector_errors", "Error verdicts per detector.", tag_keys=("detector", "version")
    )
    latency = Histogram(
        "provreg_detector_latency_ms",
        "Per-item detector latency in milliseconds.",
        boundaries=LATENCY_BOUNDARIES_MS,
        tag_keys=("detector", "version"),
    )
    return items, errors, latency


def record_verdicts(detector: str, version: str, verdicts: Sequence[Verdict]) -> None:
    """Count items, errors and latency for one batch of one detector."""
    if not verdicts:
        return
    items, errors, latency = _instruments()
    tags = {"detector": detector, "version": version}
    items.inc(len(verdicts), tags=tags)
    failed = sum(v.is_error for v in verdicts)
    if failed:
        errors.inc(failed, tags=tags)
    for verdict in verdicts:
        latency.observe(verdict.elapsed_ms, tags=tags)
