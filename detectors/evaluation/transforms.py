"""Standard (removal) transforms: re-encoding, geometry, filtering, overlays, collage.

Pillow and OpenCV do the pixel work; AugLy (DISC21's augmentation library) draws the text and
emoji overlays and the screenshot frame. albumentations is not used: it depends on
``opencv-python-headless``, which would install a second ``cv2`` over the project's
``opencv-python``. Each builder returns an :class:`~detectors.evaluation.attacks.AttackFn`;
pixel attacks write PNG unless the attack *is* an encoding, so only the attack changes pixels.
"""

from __future__ import annotations

import io
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

from detectors.evaluation.attacks import AttackContext, AttackFn
from detectors.evaluation.imaging import decode_rgb, encode, from_array, to_array


def jpeg(quality: int, subsampling: int) -> AttackFn:
    """JPEG re-encode (``subsampling`` 0 = 4:4:4, 2 = 4:2:0)."""
    return lambda data, ctx: encode(
        decode_rgb(data), "JPEG", quality=quality, subsampling=subsampling
    )


def webp(quality: int) -> AttackFn:
    """Lossy WebP re-encode."""
    return lambda data, ctx: encode(decode_rgb(data), "WEBP", quality=quality)


def social(scale: float, quality: int) -> AttackFn:
    """A social-network pipeline: resize, JPEG 4:2:0, metadata stripped (nothing copied)."""

    def run(data: bytes, ctx: AttackContext) -> bytes:
        image = decode_rgb(data)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        return encode(
            image.resize(size, Image.Resampling.BICUBIC), "JPEG", quality=quality, subsampling=2
        )

    return run


def resize(scale: float, restore: bool) -> AttackFn:
    """Resize by ``scale`` (Lanczos); with ``restore`` back to the original size after."""

    def run(data: bytes, ctx: AttackContext) -> bytes:
        image = decode_rgb(data)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        out = image.resize(size, Image.Resampling.LANCZOS)
        if restore:
            out = out.resize(image.size, Image.Resampling.LANCZOS)
        return encode(out)

    return run


def crop(fraction: float) -> AttackFn:
    """Remove ``fraction`` of the area: keep a random window of (1 - fraction) of it."""

    def run(data: bytes, ctx: AttackContext) -> bytes:
        image = decode_rgb(data)
        side = (1.0 - fraction) ** 0.5
        # Floor, and at least one row/column off: a small crop must still crop.
        w = max(1, min(image.width - 1, int(image.width * side)))
        h = max(1, min(image.height - 1, int(image.height * side)))
        rng = ctx.rng(f"crop{fraction}")
        x = int(rng.integers(0, image.width - w + 1))
        y = int(rng.integers(0, image.height - h + 1))
        return encode(image.crop((x, y, x + w, y + h)))

    return run


def pad(fraction: float) -> AttackFn:
    """Add a border of ``fraction`` of each side, in a random flat colour."""

    def run(data: bytes, ctx: AttackContext) -> bytes:
        image = decode_rgb(data)
        colour = tuple(int(v) for v in ctx.rng(f"pad{fraction}").integers(0, 256, 3))
        dx, dy = max(1, round(image.width * fraction)), max(1, round(image.height * fraction))
        out = Image.new("RGB", (image.width + 2 * dx, image.height + 2 * dy), colour)
        out.paste(image, (dx, dy))
        return encode(out)

    return run


def screenshot() -> AttackFn:
    """Paste into AugLy's phone-screenshot template (DISC21's screenshot edit)."""

    def run(data: bytes, ctx: AttackContext) -> bytes:
        import augly.image as imaugs

        return encode(imaugs.overlay_onto_screenshot(decode_rgb(data)).convert("RGB"))

    return run


def rotate(degrees: float) -> AttackFn:
    """Rotate by ``degrees`` (90 multiples exactly; others bicubic, same canvas)."""

    def run(data: bytes, ctx: AttackContext) -> bytes:
        image = decode_rgb(data)
        if degrees % 90 == 0:
            return encode(image.rotate(degrees, expand=True))
        return encode(image.rotate(degrees, Image.Resampling.BICUBIC, fillcolor=(0, 0, 0)))

    return run


def flip() -> AttackFn:
    """Mirror left-right."""
    return lambda data, ctx: encode(decode_rgb(data).transpose(Image.Transpose.FLIP_LEFT_RIGHT))


def blur(sigma: float) -> AttackFn:
    """Gaussian blur (OpenCV) with standard deviation ``sigma`` pixels."""

    def run(data: bytes, ctx: AttackContext) -> bytes:
        out = cv2.GaussianBlur(to_array(decode_rgb(data)), (0, 0), sigma)
        return encode(from_array(out))

    return run


def noise(sigma: float) -> AttackFn:
    """Additive Gaussian noise of standard deviation ``sigma`` (0–255 scale), seeded."""

    def run(data: bytes, ctx: AttackContext) -> bytes:
        array = to_array(decode_rgb(data)).astype(np.float64)
        array += ctx.rng(f"noise{sigma}").normal(0.0, sigma, array.shape)
        return encode(from_array(array))

    return run


def colour_jitter(amount: float) -> AttackFn:
    """Brightness, contrast, saturation each scaled by a random factor in 1 ± ``amount``."""

    def run(data: bytes, ctx: AttackContext) -> bytes:
        image = decode_rgb(data)
        factors = ctx.rng(f"jitter{amount}").uniform(1 - amount, 1 + amount, 3)
        for enhancer, factor in zip(
            (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color),
            factors,
            strict=True,
        ):
            image = enhancer(image).enhance(float(factor))
        return encode(image)

    return run


def brightness_contrast(brightness: float, contrast: float) -> AttackFn:
    """Fixed brightness and contrast factors."""

    def run(data: bytes, ctx: AttackContext) -> bytes:
        image = ImageEnhance.Brightness(decode_rgb(data)).enhance(brightness)
        return encode(ImageEnhance.Contrast(image).enhance(contrast))

    return run


def text_overlay(font_size: float) -> AttackFn:
    """AugLy text overlay: random glyphs at a random spot, ``font_size`` of the height."""

    def run(data: bytes, ctx: AttackContext) -> bytes:
        import augly.image as imaugs

        rng = ctx.rng(f"text{font_size}")
        text = [[int(v) for v in rng.integers(0, 100, 12)]]
        out = imaugs.overlay_text(
            decode_rgb(data),
            text=text,
            font_size=font_size,
            opacity=1.0,
            x_pos=float(rng.uniform(0, 0.4)),
            y_pos=float(rng.uniform(0, 0.7)),
        )
        return encode(out.convert("RGB"))

    return run


def emoji_overlay(size: float) -> AttackFn:
    """AugLy emoji overlay covering ``size`` of the width, at a random spot."""

    def run(data: bytes, ctx: AttackContext) -> bytes:
        import augly.image as imaugs

        rng = ctx.rng(f"emoji{size}")
        out = imaugs.overlay_emoji(
            decode_rgb(data),
            emoji_size=size,
            opacity=1.0,
            x_pos=float(rng.uniform(0, 1 - size)),
            y_pos=float(rng.uniform(0, 1 - size)),
        )
        return encode(out.convert("RGB"))

    return run


def collage(scale: float) -> AttackFn:
    """Paste the image, scaled by ``scale``, at a random spot of the donor image."""

    def run(data: bytes, ctx: AttackContext) -> bytes:
        image = decode_rgb(data)
        rng = ctx.rng(f"collage{scale}")
        base = decode_rgb(ctx.donor) if ctx.donor else Image.new("RGB", image.size, (128,) * 3)
        base = base.resize(image.size, Image.Resampling.BICUBIC)
        small = image.resize(
            (max(1, round(image.width * scale)), max(1, round(image.height * scale))),
            Image.Resampling.LANCZOS,
        )
        x = int(rng.integers(0, base.width - small.width + 1))
        y = int(rng.integers(0, base.height - small.height + 1))
        base.paste(small, (x, y))
        return encode(base)

    return run


def strip_metadata() -> AttackFn:
    """Re-save the same pixels in the same format with no metadata (PNG for other formats)."""

    def run(data: bytes, ctx: AttackContext) -> bytes:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format if probe.format in ("JPEG", "WEBP") else "PNG"
        options: dict[str, Any] = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
        return encode(decode_rgb(data), fmt, **options)

    return run


def sharpen() -> AttackFn:
    """Unsharp mask (Pillow defaults)."""
    return lambda data, ctx: encode(decode_rgb(data).filter(ImageFilter.UnsharpMask()))
