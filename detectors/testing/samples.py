"""Samples as intake would hand them to a detector, built from trusted fixture bytes."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import numpy as np
from PIL import Image

from detectors.base import Sample


def sample_from_image(image: Image.Image, fmt: str = "PNG", **save: Any) -> Sample:
    """Encode ``image`` and wrap it as a Sample the way intake would hand it over."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    data = buffer.getvalue()
    return sample_from_bytes(data)


def sample_from_bytes(data: bytes, media_type: str | None = None) -> Sample:
    """Decode ``data`` with Pillow (no intake limits: fixtures are trusted) into a Sample."""
    image: Image.Image | None
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
        media_type = media_type or Image.MIME.get(image.format or "", "application/octet-stream")
    except Exception:
        image = None
        media_type = media_type or "application/octet-stream"
    return Sample(
        sha256=hashlib.sha256(data).hexdigest(), data=data, media_type=media_type, image=image
    )


def noise_image(seed: int, size: tuple[int, int] = (256, 256)) -> Image.Image:
    """A deterministic RGB noise image."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8), "RGB")
