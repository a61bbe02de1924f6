"""Samples cross the object store unchanged: every mode, format and EXIF survives packing,
so a detector judges the same on a Ray actor as in-process; how fused and pooled verdicts
are merged and how many fused actors are made (no Ray started here)."""

from __future__ import annotations

import io
import os
import pickle
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from detectors.base import Resources
from detectors.file_facts import FileFactsDetector
from ray_jobs.actors import PackedSamples, pin_threads, pool_size, threads_for
from ray_jobs.batch_results import PixelTally, merge
from ray_jobs.fused import FusedResult, fused_count, is_fusable
from registry.ingest import assemble
from registry.intake.pipeline import IntakeLimits, intake_bytes, intake_path
from registry.testing.badfiles import make_good_files


def _encoded(mode: str, fmt: str, **params: object) -> bytes:
    image = Image.new(mode, (23, 17), 7 if mode in {"L", "P", "1", "I;16"} else None)
    if mode == "RGB":
        exif = Image.Exif()
        exif[0x010F] = "TestCam"  # Make
        params["exif"] = exif
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


CASES = [
    ("RGB", "JPEG"),
    ("L", "PNG"),
    ("RGBA", "PNG"),
    ("P", "GIF"),
    ("1", "BMP"),
    ("I;16", "PNG"),
    ("CMYK", "TIFF"),
    ("LA", "PNG"),
]


@pytest.mark.parametrize(("mode", "fmt"), CASES)
def test_pack_round_trip_keeps_what_detectors_see(mode: str, fmt: str) -> None:
    result = intake_bytes(_encoded(mode, fmt), IntakeLimits())
    assert result.sample is not None and result.sample.image is not None
    packed = PackedSamples.pack([result.sample])
    buffers: list[pickle.PickleBuffer] = []
    blob = pickle.dumps(packed, protocol=5, buffer_callback=buffers.append)
    (back,) = pickle.loads(blob, buffers=buffers).unpack()
    original = result.sample.image
    assert back.image is not None
    assert (back.image.mode, back.image.size, back.image.format) == (
        original.mode,
        original.size,
        original.format,
    )
    assert back.image.tobytes() == original.tobytes()
    detector = FileFactsDetector()
    assert (
        detector.detect_batch([back])[0].evidence
        == detector.detect_batch([result.sample])[0].evidence
    )


def test_good_files_judge_the_same_after_transport(tmp_path: Path) -> None:
    files = make_good_files(tmp_path, 14)
    samples = [intake_path(p, IntakeLimits()).sample for p in files]
    assert all(s is not None for s in samples)
    direct = FileFactsDetector().detect_batch(samples)  # type: ignore[arg-type]
    moved = FileFactsDetector().detect_batch(
        pickle.loads(pickle.dumps(PackedSamples.pack(samples))).unpack()  # type: ignore[arg-type]
    )
    assert [v.evidence for v in moved] == [v.evidence for v in direct]


def test_assemble_gives_intake_errors_their_own_verdict(tmp_path: Path) -> None:
    good = intake_bytes(_encoded("L", "PNG"), IntakeLimits(), path="good.png")
    bad = intake_bytes(b"not an image", IntakeLimits(), path="bad.txt")
    verdicts = FileFactsDetector().detect_batch([good.sample])  # type: ignore[list-item]
    out = assemble([bad, good, bad], [verdicts])
    assert [[v.detector for v in per] for per in out] == [["intake"], ["file-facts"], ["intake"]]
    assert out[0][0].error == "not-an-image"


def test_pool_size_follows_declared_resources() -> None:
    assert pool_size(Resources(num_cpus=0.25), cpus=2, gpus=0, max_actors=4) == 4
    assert pool_size(Resources(num_cpus=1), cpus=2, gpus=0, max_actors=4) == 1
    assert pool_size(Resources(num_cpus=0.5, num_gpus=0.5), cpus=16, gpus=1, max_actors=8) == 2
    assert pool_size(Resources(num_cpus=4), cpus=2, gpus=0, max_actors=4) == 1  # never zero


def test_in_flight_window_shrinks_for_large_images() -> None:
    tally = PixelTally()
    assert tally.window(4, 64, 1 << 30) == 4  # nothing seen yet
    small = intake_bytes(_encoded("L", "PNG"), IntakeLimits())
    tally.add([small] * 10)
    assert tally.window(4, 64, 1 << 30) == 4
    large = PixelTally(files=2, pixel_bytes=2 * 4000 * 3000 * 4)
    assert large.window(4, 64, 1 << 30) == 1  # one 64-image batch is ~3 GB decoded
    assert large.window(4, 4, 1 << 30) == 4


def test_merge_puts_fused_and_pooled_verdicts_in_detector_order() -> None:
    good = intake_bytes(_encoded("L", "PNG"), IntakeLimits(), path="good.png")
    bad = intake_bytes(b"not an image", IntakeLimits(), path="bad.txt")
    assert good.sample is not None
    a, b, c = (FileFactsDetector().detect_batch([good.sample, good.sample]) for _ in range(3))
    a = [replace(v, detector="a") for v in a]
    b = [replace(v, detector="b") for v in b]
    c = [replace(v, detector="c") for v in c]
    facts = [replace(good, sample=None), bad, replace(good, sample=None)]
    fused = FusedResult(facts, [[a[0], c[0]], [], [a[1], c[1]]])
    # detectors a and c are fused (positions 0 and 1), b runs in pool 0
    out = merge(fused, [b], [(True, 0), (False, 0), (True, 1)])
    assert [[v.detector for v in per] for per in out] == [
        ["a", "b", "c"],
        ["intake"],
        ["a", "b", "c"],
    ]
    assert out[2][1] is b[1] and out[1][0].error == "not-an-image"


def test_fusable_detectors_and_fused_actor_count() -> None:
    assert is_fusable(Resources(num_cpus=1.0))
    assert is_fusable(Resources(num_cpus=0.25, memory_mb=4096))
    assert not is_fusable(Resources(num_cpus=0.25, num_gpus=0.5))
    assert not is_fusable(Resources(num_cpus=2.0))
    assert fused_count(2, 0) == 2
    assert fused_count(16, 1.0) == 15
    assert fused_count(2, 1.0) == 1
    assert fused_count(2, 2.0) == 1  # never zero
    assert fused_count(16, 0, max_actors=4) == 4
    assert threads_for(Resources(num_cpus=0.25)) == 1
    assert threads_for(Resources(num_cpus=4.0)) == 4


def test_pin_threads_limits_opencv_and_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import cv2

    before = cv2.getNumThreads()
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.delenv(variable, raising=False)
    try:
        pin_threads(1)
        assert cv2.getNumThreads() == 1
        assert os.environ["OMP_NUM_THREADS"] == "1" and os.environ["MKL_NUM_THREADS"] == "1"
    finally:
        cv2.setNumThreads(before)
