"""Measure the metadata detector: TPR on the tool-format fixtures, FPR on the named null set.

Usage (from the repository root)::

    nice -n 10 .venv/bin/python -m bench.metadata_eval

Prints Markdown tables:

1. per expected label: fixtures detected with the right label (TPR), as written by the tools;
2. the same fixtures after a metadata-stripping re-save (Pillow PNG re-save, JPEG q=90
   re-encode) — what the detector does *not* survive;
3. false positives on the null set (scikit-image and scikit-learn photos: shipped bytes and
   PNG/JPEG/WebP re-encodes of full images and crops);
4. median and 95th-percentile time per ``detect_one`` call.
"""

from __future__ import annotations

import io
import os
import platform
import statistics
import time
from collections import defaultdict

from PIL import Image

from detectors.base import Sample, Verdict
from detectors.metadata import MetadataDetector
from detectors.testing import metadata_fixtures as fx
from detectors.testing.samples import sample_from_bytes


def _resave(data: bytes, fmt: str) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        picture = image.convert("RGB") if fmt == "JPEG" else image.copy()
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def _timed(detector: MetadataDetector, samples: list[Sample]) -> tuple[list[Verdict], list[float]]:
    verdicts, times = [], []
    for sample in samples:
        started = time.perf_counter()
        verdicts.append(detector.detect_one(sample))
        times.append((time.perf_counter() - started) * 1000.0)
    return verdicts, times


def main() -> None:
    """Run the evaluation and print the tables."""
    detector = MetadataDetector()
    detector.load()
    positives = fx.positive_fixtures()
    all_times: list[float] = []

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}\n")
    print("| condition | expected label | fixtures | detected (right label) | TPR |")
    print("|---|---|---|---|---|")
    for condition in ("as written", "PNG re-save", "JPEG q90 re-encode"):
        per_label: dict[str, list[bool]] = defaultdict(list)
        samples = []
        for _, data, _label in positives:
            if condition == "PNG re-save":
                data = _resave(data, "PNG")
            elif condition == "JPEG q90 re-encode":
                data = _resave(data, "JPEG")
            samples.append(sample_from_bytes(data))
        verdicts, times = _timed(detector, samples)
        all_times += times
        for (_, _, label), verdict in zip(positives, verdicts, strict=True):
            per_label[label].append(verdict.positive and verdict.label == label)
        total = [hit for hits in per_label.values() for hit in hits]
        for label, hits in sorted(per_label.items()):
            print(f"| {condition} | {label} | {len(hits)} | {sum(hits)} | "
                  f"{sum(hits) / len(hits):.2f} |")
        print(f"| {condition} | **all** | {len(total)} | {sum(total)} | "
              f"{sum(total) / len(total):.2f} |")

    named = list(fx.null_images())
    null_samples = [sample_from_bytes(data) for _, data in named]
    verdicts, times = _timed(detector, null_samples)
    all_times += times
    flagged = [name for (name, _), v in zip(named, verdicts, strict=True) if v.positive]
    errors = [name for (name, _), v in zip(named, verdicts, strict=True) if v.error]
    print("\n| null set | images | positives | FPR | error verdicts |")
    print("|---|---|---|---|---|")
    print(f"| skimage + sklearn photos (shipped bytes, PNG/JPEG/WebP, crops) | {len(named)} "
          f"| {len(flagged)} | {len(flagged) / len(named):.4f} | {len(errors)} |")
    if flagged:
        print("flagged:", ", ".join(flagged))
    if not flagged:
        print(f"\n95% upper bound on FPR with 0/{len(named)} (rule of three): "
              f"{3 / len(named):.3f}")
    ordered = sorted(all_times)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    print(f"\ndetect_one over {len(ordered)} calls: median {statistics.median(ordered):.2f} ms, "
          f"p95 {p95:.2f} ms, max {ordered[-1]:.2f} ms")


if __name__ == "__main__":
    main()
