"""Conformance and behaviour tests for the file-facts detector."""

from __future__ import annotations

from PIL import Image

from detectors.base import Sample
from detectors.file_facts import FileFactsDetector
from detectors.testing.conformance import DetectorConformance, noise_image, sample_from_image


class TestFileFacts(DetectorConformance):
    detector_class = FileFactsDetector

    def positive_examples(self) -> list[tuple[Sample, str]]:
        # file-facts is informational and never positive; the base test is replaced below.
        return []

    def negative_examples(self) -> list[Sample]:
        return [sample_from_image(noise_image(1)), sample_from_image(noise_image(2), "JPEG")]

    def test_positive_examples_detected(self) -> None:
        verdicts = self.make_detector().detect_batch(self.negative_examples())
        assert all(v.label == "file-facts" and not v.positive for v in verdicts)

    def test_records_camera_exif(self) -> None:
        image = noise_image(3)
        exif = Image.Exif()
        exif[0x010F] = "Canon"
        exif[0x0110] = "EOS 5D"
        sample = sample_from_image(image, "JPEG", exif=exif.tobytes())
        (verdict,) = self.make_detector().detect_batch([sample])
        assert verdict.evidence["camera_make"] == "Canon"
        assert verdict.evidence["camera_model"] == "EOS 5D"
        assert verdict.evidence["has_camera_exif"] is True
        assert verdict.evidence["width"] == 256 and verdict.evidence["format"] == "JPEG"
