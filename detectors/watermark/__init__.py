"""Invisible-watermark detector: SD v1, SD v2, SDXL, RivaGAN, learned decoders, registered marks."""

from detectors.watermark.detector import WatermarkDetector, WatermarkOptionsError
from detectors.watermark.embed import embed_payload
from detectors.watermark.files import DecoderFileError, DecoderHashError, DecoderMissingError
from detectors.watermark.learned import DecoderManifest, LearnedDecoder
from detectors.watermark.payloads import BUILTIN_PAYLOADS, Payload, PayloadError

__all__ = [
    "BUILTIN_PAYLOADS",
    "DecoderFileError",
    "DecoderHashError",
    "DecoderManifest",
    "DecoderMissingError",
    "LearnedDecoder",
    "Payload",
    "PayloadError",
    "WatermarkDetector",
    "WatermarkOptionsError",
    "embed_payload",
]
