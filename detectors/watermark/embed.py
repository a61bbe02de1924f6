"""Embed a payload the way the reference pipelines do, for fixtures, benchmarks and checks.

Operators registering a payload can embed it into a test image and confirm the detector
finds it; tests and ``bench/watermark_robustness.py`` build their marked carriers with it.
It calls invisible-watermark's own encoder, so what it writes is what the pipelines write.
"""

from __future__ import annotations

import numpy as np

from detectors.watermark.decode import ORDERS
from detectors.watermark.payloads import DOMAINS, Payload


def embed_payload(
    rgb: np.ndarray, payload: Payload, order: str = "bgr", domain: str = "uint8"
) -> np.ndarray:
    """Return a copy of ``rgb`` (H x W x 3 uint8, RGB) carrying ``payload``.

    ``order`` is the channel order handed to the encoder: ``bgr`` converts first, as the
    CompVis / Stability scripts do with cv2; ``rgb`` passes the RGB array unchanged.
    ``domain`` is the array type handed to it: ``uint8`` (CompVis / Stability SD scripts) or
    ``float32`` 0..255 (diffusers, generative-models), clipped and rounded back to uint8 as
    those pipelines do when they save.
    """
    if order not in ORDERS:
        raise ValueError(f"unknown channel order {order!r}; use one of {ORDERS}")
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; use one of {DOMAINS}")
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError("expected an H x W x 3 uint8 RGB array")
    from imwatermark import WatermarkEncoder  # its package import pulls torch: not at start-up

    encoder = WatermarkEncoder()
    encoder.set_watermark("bits", list(payload.bits))
    array = np.ascontiguousarray(rgb[:, :, ::-1] if order == "bgr" else rgb, dtype=domain)
    marked = np.asarray(encoder.encode(array, payload.method))
    out = marked[:, :, ::-1] if order == "bgr" else marked
    if domain == "float32":
        out = np.rint(np.clip(out, 0.0, 255.0))
    return np.ascontiguousarray(out, dtype=np.uint8)
