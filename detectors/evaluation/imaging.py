"""Decode and encode helpers shared by the attacks (Pillow; every output is a file's bytes)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

#: Decompression-bomb guard for corpus files (the corpus may come from anyone).
MAX_PIXELS = 40_000_000


class UnreadableImage(Exception):
    """A corpus file or attack input could not be decoded as an image."""


def decode_rgb(data: bytes) -> Image.Image:
    """The first frame of ``data`` as RGB; raises :class:`UnreadableImage` on any failure."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise UnreadableImage(f"{image.width}x{image.height} is over {MAX_PIXELS} px")
            image.load()
            return image.convert("RGB")
    except UnreadableImage:
        raise
    except Exception as exc:
        raise UnreadableImage(f"{type(exc).__name__}: {str(exc)[:200]}") from exc


def encode(image: Image.Image, fmt: str = "PNG", **options: Any) -> bytes:
    """``image`` saved as ``fmt`` (PNG by default: lossless, no metadata carried over)."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def to_array(image: Image.Image) -> np.ndarray[Any, Any]:
    """RGB uint8 array of ``image``."""
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def from_array(array: np.ndarray[Any, Any]) -> Image.Image:
    """An RGB image from a float or uint8 array (clipped and rounded)."""
    return Image.fromarray(np.clip(np.rint(array), 0, 255).astype(np.uint8), "RGB")
