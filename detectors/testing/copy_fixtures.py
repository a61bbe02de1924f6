"""Reference photos, null photos and the edit set shared by the copy-detection tests."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont
from skimage import data as skdata
from sklearn.datasets import load_sample_images

Edit = Callable[[Image.Image], Image.Image]


def _rgb(array: Any) -> Image.Image:
    return Image.fromarray(np.asarray(array)).convert("RGB")


def _sk(name: str) -> Any:
    """A scikit-image sample (they ship with the package; nothing is downloaded)."""
    return getattr(skdata, name)()


def textured(seed: int, size: tuple[int, int] = (480, 360)) -> Image.Image:
    """A generated image with random coloured shapes over smooth colour waves."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.zeros((h, w, 3), dtype=np.float32)
    for c in range(3):
        fx, fy = (float(v) for v in rng.uniform(0.005, 0.03, 2))
        ph = float(rng.uniform(0, 6.28))
        base[..., c] = 127 + 100 * np.sin(fx * xx + fy * yy + ph)
    image = Image.fromarray(base.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        x0, y0 = int(rng.integers(0, w - 20)), int(rng.integers(0, h - 20))
        x1, y1 = x0 + int(rng.integers(10, 90)), y0 + int(rng.integers(10, 90))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=colour, outline=(0, 0, 0))
    return image


def reference_images() -> dict[str, Image.Image]:
    """Several real photos plus generated textured images, used as the reference bank."""
    china = load_sample_images().images[0]
    return {
        "astronaut": _rgb(_sk("astronaut")),
        "coffee": _rgb(_sk("coffee")),
        "chelsea": _rgb(_sk("chelsea")),
        "rocket": _rgb(_sk("rocket")),
        "china": _rgb(china),
        "textured-1": textured(1),
        "textured-2": textured(2),
    }


def null_images() -> dict[str, Image.Image]:
    """Unrelated images: other photos, crops of them and noise."""
    flower = _rgb(load_sample_images().images[1])
    photos = {
        "camera": _rgb(_sk("camera")),
        "coins": _rgb(_sk("coins")),
        "moon": _rgb(_sk("moon")),
        "hubble": _rgb(_sk("hubble_deep_field")),
        "ihc": _rgb(_sk("immunohistochemistry")),
        "flower": flower,
        "brick": _rgb(_sk("brick")),
        "grass": _rgb(_sk("grass")),
        "clock": _rgb(_sk("clock")),
        "colorwheel": _rgb(_sk("colorwheel")),
        "textured-99": textured(99),
    }
    out = dict(photos)
    for name, image in photos.items():
        w, h = image.size
        out[f"{name}-crop"] = image.crop((w // 4, h // 4, w // 4 + w // 2, h // 4 + h // 2))
    rng = np.random.default_rng(5)
    for i in range(3):
        out[f"noise-{i}"] = Image.fromarray(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8))
    return out


def jpeg(image: Image.Image, quality: int = 50) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _noise(image: Image.Image) -> Image.Image:
    rng = np.random.default_rng(0)
    arr = np.asarray(image, dtype=np.float32) + rng.normal(0, 12, (image.height, image.width, 3))
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8))


def _crop(image: Image.Image, fraction: float = 0.10) -> Image.Image:
    w, h = image.size
    return image.crop((int(w * fraction), int(h * fraction / 2), w, h - int(h * fraction / 2)))


def _overlay(image: Image.Image) -> Image.Image:
    """A news-style overlay: a translucent red band over a quarter of the height with a
    caption, plus a handle in a corner (moves PDQ by 30 to 55 bits on the references)."""
    out = image.copy()
    w, h = image.size
    band = Image.new("RGBA", (w, h // 4), (200, 0, 0, 190))
    out.paste(band, (0, int(h * 0.6)), band)
    draw = ImageDraw.Draw(out)
    draw.text(
        (w // 20, int(h * 0.62)),
        "BREAKING NEWS",
        fill=(255, 255, 255),
        font=ImageFont.load_default(size=max(16, h // 8)),
        stroke_width=2,
        stroke_fill=(0, 0, 0),
    )
    draw.text(
        (w // 20, h // 10),
        "@someone",
        fill=(255, 255, 0),
        font=ImageFont.load_default(size=max(12, h // 14)),
    )
    return out


def _border(image: Image.Image) -> Image.Image:
    """A screenshot-style frame: a light canvas with a dark top bar around the image."""
    w, h = image.size
    canvas = Image.new("RGB", (int(w * 1.2), int(h * 1.35)), (240, 240, 240))
    ImageDraw.Draw(canvas).rectangle((0, 0, canvas.width, int(h * 0.12)), fill=(30, 30, 30))
    canvas.paste(image, (int(w * 0.1), int(h * 0.2)))
    return canvas


EDITS: dict[str, Edit] = {
    "exact": lambda im: im.copy(),
    "jpeg50": jpeg,
    "resize0.5": lambda im: im.resize((im.width // 2, im.height // 2), Image.Resampling.BILINEAR),
    "blur": lambda im: im.filter(ImageFilter.GaussianBlur(2)),
    "noise": _noise,
    "brightness": lambda im: ImageEnhance.Brightness(im).enhance(1.3),
    "hflip": lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
    "rotate90": lambda im: im.transpose(Image.Transpose.ROTATE_90),
    "crop10": _crop,
    "rotate5": lambda im: im.rotate(5, resample=Image.Resampling.BILINEAR, expand=True),
    "text-overlay": _overlay,
    "border": _border,
}
"""The edit set; the last four are expected to need geometric verification."""


def save_image(image: Image.Image, path: Path) -> Path:
    """Write ``image`` to ``path`` (JPEG q90 for .jpg, else by extension), making folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".jpg":
        image.convert("RGB").save(path, quality=90)
    else:
        image.save(path)
    return path


def copy_cli_env(provreg_env: dict[str, str]) -> dict[str, str]:
    """CLI environment running file-facts and copy in-process."""
    return {**provreg_env, "PROVREG_DETECTORS": "file-facts,copy", "PROVREG_EXECUTOR": "inline"}
