"""Pure detection: bytes and pixels in, verdicts out.

This package imports neither ``registry`` nor ``ray``: a detector can be tested,
benchmarked and reused on its own.
"""

from detectors.base import (
    Detector,
    JSONValue,
    Resources,
    Sample,
    Verdict,
)
from detectors.plugins import (
    DetectorLoadError,
    DuplicateDetectorError,
    UnknownDetectorError,
    available_detectors,
    create_detectors,
)

__all__ = [
    "Detector",
    "DetectorLoadError",
    "DuplicateDetectorError",
    "JSONValue",
    "Resources",
    "Sample",
    "UnknownDetectorError",
    "Verdict",
    "available_detectors",
    "create_detectors",
]
