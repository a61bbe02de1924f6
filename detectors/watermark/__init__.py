"""Public invisible-watermark detector (SD v1, SD v2, SDXL and registered payloads)."""

from detectors.watermark.detector import WatermarkDetector, WatermarkOptionsError
from detectors.watermark.embed import embed_payload
from detectors.watermark.payloads import BUILTIN_PAYLOADS, Payload, PayloadError

__all__ = [
    "BUILTIN_PAYLOADS",
    "Payload",
    "PayloadError",
    "WatermarkDetector",
    "WatermarkOptionsError",
    "embed_payload",
]
