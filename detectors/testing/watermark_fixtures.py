"""Natural photos and watermarked carriers for the watermark tests and benchmark.

Everything is built from the photos scikit-image and scikit-learn ship (no downloads).
"""

from __future__ import annotations

import io
from functools import cache

import numpy as np
from PIL import Image

from detectors.base import Sample
from detectors.testing.samples import sample_from_bytes
from detectors.watermark import BUILTIN_PAYLOADS, Payload, embed_payload

_SKIMAGE_COLOR = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
)
_SKIMAGE_GRAY = ("camera", "brick", "grass", "gravel", "moon", "coins", "clock", "cell")


@cache
def natural_photos() -> tuple[tuple[str, np.ndarray], ...]:
    """Every shipped photo as an RGB uint8 array, by name (grey ones stacked to RGB)."""
    from skimage import data
    from sklearn.datasets import load_sample_images

    photos: list[tuple[str, np.ndarray]] = []
    for name in (*_SKIMAGE_COLOR, *_SKIMAGE_GRAY):
        array = np.asarray(getattr(data, name)())
        if array.ndim == 2:
            array = np.stack([array] * 3, axis=-1)
        photos.append((name, np.ascontiguousarray(array[:, :, :3], dtype=np.uint8)))
    left, right, _ = data.stereo_motorcycle()  # type: ignore[no-untyped-call]
    photos += [("motorcycle-left", left), ("motorcycle-right", right)]
    bunch = load_sample_images()
    for filename, image in zip(bunch.filenames, bunch.images, strict=True):
        stem = filename.rsplit("/", 1)[-1].split(".")[0]
        photos.append((f"sklearn-{stem}", np.asarray(image, dtype=np.uint8)))
    return tuple(photos)


def resized(rgb: np.ndarray, size: tuple[int, int] = (512, 512)) -> np.ndarray:
    """``rgb`` resized to ``size`` (width, height) with Lanczos."""
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS))


def photo(name: str, size: tuple[int, int] | None = (512, 512)) -> np.ndarray:
    """One named photo, resized unless ``size`` is None."""
    array = dict(natural_photos())[name]
    return array if size is None else resized(array, size)


def crops(rgb: np.ndarray, size: int = 300) -> list[np.ndarray]:
    """The four corner crops of ``size`` x ``size`` (where the photo is large enough)."""
    height, width = rgb.shape[:2]
    if height < size or width < size:
        return []
    return [rgb[y : y + size, x : x + size] for y in (0, height - size) for x in (0, width - size)]


def encode(rgb: np.ndarray, fmt: str = "PNG", **save: object) -> bytes:
    """``rgb`` encoded as image file bytes."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format=fmt, **save)
    return buffer.getvalue()


def marked_sample(rgb: np.ndarray, payload: Payload, order: str, domain: str = "uint8") -> Sample:
    """``rgb`` carrying ``payload`` embedded in ``order`` on a ``domain`` array, saved as PNG."""
    return sample_from_bytes(encode(embed_payload(rgb, payload, order, domain)))


def e2e_fixtures() -> list[tuple[str, bytes, str]]:
    """``(file name, PNG bytes, label)``: each built-in mark in each channel order, embedded
    the way the reference pipelines do, on distinct natural photos."""
    builtin = {payload.name: payload for payload in BUILTIN_PAYLOADS}
    # Carriers the encoder marks cleanly (some colourful photos lose bits at embedding;
    # docs/detectors/watermark.md measures that).
    carriers = iter(
        ("astronaut", "hubble_deep_field", "immunohistochemistry", "camera", "grass", "moon")
    )
    out = []
    for name in ("sd-v1", "sd-v2", "sdxl"):
        for order in ("bgr", "rgb"):
            rgb = embed_payload(photo(next(carriers)), builtin[name], order, "uint8")
            out.append((f"watermark-{name}-{order}.png", encode(rgb), name))
    return out
