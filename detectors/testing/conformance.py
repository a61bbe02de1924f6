"""The conformance suite every detector's tests inherit, built-in or third-party.

It ships in the package (as python-threatexchange ships its signal-type test helper) so a
detector published elsewhere runs the same contract tests: ``from detectors.testing.conformance
import DetectorConformance``. A detector's test module subclasses
:class:`DetectorConformance`, sets ``detector_class`` (and ``options`` if needed) and
implements :meth:`positive_examples` and
:meth:`negative_examples`. The inherited tests then check the contract from
detectors/base.py: examples are detected with the right label, negatives are not positive,
bad input yields an error verdict, output is deterministic, and every verdict is complete,
JSON-serialisable and aligned with its batch. ``tests/detectors/test_detector_registry.py`` fails if
a
registered detector has no subclass of this class.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from detectors.base import ERROR_LABEL, Detector, Sample, Verdict
from detectors.plugins import available_detectors
from detectors.testing.samples import noise_image, sample_from_bytes, sample_from_image

__all__ = ["DetectorConformance", "noise_image", "sample_from_bytes", "sample_from_image"]


class DetectorConformance:
    """Inherit this in each detector's tests (class name must start with ``Test``)."""

    detector_class: ClassVar[type[Detector]]
    options: ClassVar[Mapping[str, Any]] = {}

    # --- what each detector's tests provide -------------------------------------------

    def positive_examples(self) -> list[tuple[Sample, str]]:
        """Samples the detector must flag, with the label it must give."""
        raise NotImplementedError

    def negative_examples(self) -> list[Sample]:
        """Samples the detector must not flag."""
        raise NotImplementedError

    def bad_examples(self) -> list[Sample]:
        """Samples that cannot be judged; each must yield an error verdict."""
        rng = np.random.default_rng(7)
        junk = rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
        return [
            Sample(sha256="0" * 64, data=b"", media_type="image/png", image=None),
            Sample(sha256="1" * 64, data=junk, media_type="image/png", image=None),
            Sample(
                sha256="2" * 64, data=b"hello, world\n" * 10, media_type="image/jpeg", image=None
            ),
        ]

    # --- the contract ------------------------------------------------------------------

    def make_detector(self) -> Detector:
        detector = self.detector_class(dict(self.options))
        detector.load()
        return detector

    def test_registered_under_its_name(self) -> None:
        assert available_detectors()[self.detector_class.name] is self.detector_class
        assert self.detector_class.version

    def test_positive_examples_detected(self) -> None:
        detector = self.make_detector()
        examples = self.positive_examples()
        assert examples, "a detector's tests must provide positive examples"
        verdicts = detector.detect_batch([sample for sample, _ in examples])
        for (sample, label), verdict in zip(examples, verdicts, strict=True):
            assert verdict.error is None, (label, verdict.error, verdict.evidence)
            assert verdict.positive, (label, verdict)
            assert verdict.label == label, (label, verdict.label, verdict.evidence)
            assert verdict.asset_sha256 == sample.sha256

    def test_negative_examples_not_flagged(self) -> None:
        detector = self.make_detector()
        examples = self.negative_examples()
        assert examples, "a detector's tests must provide negative examples"
        for verdict in detector.detect_batch(examples):
            assert verdict.error is None, verdict
            assert not verdict.positive, verdict

    def test_bad_input_gives_error_verdict(self) -> None:
        detector = self.make_detector()
        bad = self.bad_examples()
        verdicts = detector.detect_batch(bad)
        assert len(verdicts) == len(bad)
        for sample, verdict in zip(bad, verdicts, strict=True):
            assert verdict.error, (sample.data[:16], verdict)
            assert verdict.label == ERROR_LABEL
            assert not verdict.positive
            assert verdict.asset_sha256 == sample.sha256

    def test_deterministic(self) -> None:
        samples = [s for s, _ in self.positive_examples()] + self.negative_examples()
        first = [_stable(v) for v in self.make_detector().detect_batch(samples)]
        second = [_stable(v) for v in self.make_detector().detect_batch(samples)]
        assert first == second

    def test_verdicts_complete(self) -> None:
        detector = self.make_detector()
        samples = (
            [s for s, _ in self.positive_examples()]
            + self.negative_examples()
            + self.bad_examples()
        )
        verdicts = detector.detect_batch(samples)
        assert len(verdicts) == len(samples)
        for sample, verdict in zip(samples, verdicts, strict=True):
            _check_complete(detector, sample, verdict)


def _stable(verdict: Verdict) -> tuple[Any, ...]:
    return (
        verdict.label,
        verdict.positive,
        verdict.score,
        verdict.p_value,
        json.dumps(verdict.evidence, sort_keys=True),
        verdict.error,
    )


def _check_complete(detector: Detector, sample: Sample, verdict: Verdict) -> None:
    assert isinstance(verdict, Verdict)
    assert verdict.detector == detector.name
    assert verdict.version == detector.version
    assert verdict.model_checksum == detector.model_checksum
    assert verdict.asset_sha256 == sample.sha256
    assert isinstance(verdict.label, str) and verdict.label
    assert isinstance(verdict.positive, bool)
    for number in (verdict.score, verdict.p_value):
        assert number is None or (isinstance(number, float | int) and math.isfinite(number))
    if verdict.p_value is not None:
        assert 0.0 <= verdict.p_value <= 1.0
    assert isinstance(verdict.evidence, dict)
    json.dumps(verdict.evidence, allow_nan=False)  # evidence must be canonicalisable
    assert verdict.elapsed_ms >= 0.0
    if verdict.error is not None:
        assert verdict.label == ERROR_LABEL and not verdict.positive
