"""Embed a payload the way the reference pipelines do, for fixtures, benchmarks and checks.

Operators registering a payload can embed it into a test image and confirm the detector
finds it; tests and ``bench/watermark_robustness.py`` build their marked carriers with it.
It calls invisible-watermark's own encoder, so what it writes is what the pipelines write.
"""

from __future__ import annotations

import numpy as np
from imwatermark import WatermarkEncoder

from detectors.watermark.decode import ORDERS
from detectors.watermark.payloads import Payload


def embed_payload(rgb: np.ndarray, payload: Payload, order: str = "bgr") -> np.ndarray:
    """Return a copy of ``rgb`` (H x W x 3 uint8, RGB) carrying ``payload``.

    ``order`` is the channel order handed to the encoder: ``bgr`` converts first, as the
    CompVis / Stability scripts do with cv2; ``rgb`` passes the RGB array unchanged.
    """
    if order not in ORDERS:
        raise ValueError(f"unknown channel order {order!r}; use one of {ORDERS}")
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError("expected an H x W x 3 uint8 RGB array")
    encoder = WatermarkEncoder()
    encoder.set_watermark("bits", list(payload.bits))
    array = np.ascontiguousarray(rgb[:, :, ::-1] if order == "bgr" else rgb)
    marked = np.asarray(encoder.encode(array, payload.method))
    out = marked[:, :, ::-1] if order == "bgr" else marked
    return np.ascontiguousarray(out, dtype=np.uint8)
