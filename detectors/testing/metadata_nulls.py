"""The metadata detector's null set: clean photos shipped with scikit-image and scikit-learn."""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Iterator

from PIL import Image


@functools.cache
def null_images() -> tuple[tuple[str, bytes], ...]:
    """The named null set (cached); see :func:`_null_images`."""
    return tuple(_null_images())


def _null_images() -> Iterator[tuple[str, bytes]]:
    """The named null set: clean photos from scikit-image and scikit-learn.

    Yields the shipped files' own bytes (with their real metadata: ICC, EXIF, XMP,
    comments) and re-encodes as PNG, JPEG and WebP of the full image and of two crops.
    """
    import skimage
    from sklearn.datasets import images as sk_images

    folders = {
        "skimage": os.path.join(os.path.dirname(skimage.__file__), "data"),
        "sklearn": os.path.dirname(sk_images.__file__),
    }
    names = {
        "skimage": [
            "astronaut.png",
            "coffee.png",
            "chelsea.png",
            "rocket.jpg",
            "camera.png",
            "coins.png",
            "horse.png",
            "hubble_deep_field.jpg",
            "ihc.png",
            "motorcycle_left.png",
            "retina.jpg",
            "logo.png",
            "page.png",
        ],
        "sklearn": ["china.jpg", "flower.jpg"],
    }
    for origin, files in names.items():
        for name in files:
            with open(os.path.join(folders[origin], name), "rb") as handle:
                original = handle.read()
            yield f"{origin}/{name}", original
            with Image.open(io.BytesIO(original)) as opened:
                opened.load()
                image = opened.convert("RGBA" if "A" in opened.getbands() else "RGB")
                carried = {
                    k: opened.info[k]
                    for k in ("exif", "icc_profile", "xmp")
                    if isinstance(opened.info.get(k), bytes)
                }
            w, h = image.size
            variants = {
                "full": image,
                "crop-a": image.crop((0, 0, w // 2, h // 2)),
                "crop-b": image.crop((w // 4, h // 3, w, h)),
            }
            for variant, picture in variants.items():
                for fmt in ("PNG", "JPEG", "WEBP"):
                    pic = picture.convert("RGB") if fmt == "JPEG" else picture
                    buffer = io.BytesIO()
                    keep = {k: v for k, v in carried.items() if fmt != "PNG" or k != "xmp"}
                    pic.save(buffer, format=fmt, **keep)
                    yield f"{origin}/{name}:{variant}.{fmt.lower()}", buffer.getvalue()
