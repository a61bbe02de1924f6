"""The file-facts detector: format, size, dimensions, frames and camera EXIF presence.

It judges nothing about provenance on its own; it records facts investigators ask for first
("what is this file?") and exercises the detector path end to end. ``anomalies`` lists what
intake tolerated while decoding (a bad CRC on an ancillary chunk, an oversized text chunk,
trailing data): flagged here, while every detector still judges the pixels. Its label is always
``file-facts`` and it is never positive.
"""

from __future__ import annotations

from typing import ClassVar

from PIL import ExifTags

from detectors.base import Detector, JSONValue, Resources, Sample, Verdict

_MAKE = ExifTags.Base.Make.value
_MODEL = ExifTags.Base.Model.value
_SOFTWARE = ExifTags.Base.Software.value


class FileFactsDetector(Detector):
    """Records format, byte size, dimensions, frame count and camera make/model presence."""

    name: ClassVar[str] = "file-facts"
    version: ClassVar[str] = "1.1.0"
    media_types: ClassVar[frozenset[str]] = frozenset({"image/*"})
    resources: ClassVar[Resources] = Resources(num_cpus=0.25, memory_mb=128)

    def detect_one(self, sample: Sample) -> Verdict:
        image = sample.image
        if image is None:
            return self.error(sample, "not-an-image", {"media_type": sample.media_type})
        exif = image.getexif()
        make = _text(exif.get(_MAKE))
        model = _text(exif.get(_MODEL))
        software = _text(exif.get(_SOFTWARE))
        evidence: dict[str, JSONValue] = {
            "media_type": sample.media_type,
            "format": image.format,
            "size_bytes": len(sample.data),
            "width": image.width,
            "height": image.height,
            "mode": image.mode,
            "frames": int(getattr(image, "n_frames", 1)),
            "has_exif": len(exif) > 0,
            "camera_make": make,
            "camera_model": model,
            "has_camera_exif": bool(make or model),
            "software": software,
            "anomalies": list(sample.anomalies),
        }
        return self.verdict(sample, "file-facts", False, evidence=evidence)


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value).strip("\x00 ").strip()
    return text[:200] or None
