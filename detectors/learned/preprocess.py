"""Pixels to model input: crops at native resolution, padding with a stated reason.

Up-sampling and autoencoder traces live in the finest pixel structure, which resizing destroys,
so images are never resized: a model reads ``size x size`` crops (UnivFD and NPR evaluate
crops at native resolution too). An image with a side below ``size`` is padded with its mean
colour up to ``size`` and the verdict's evidence says so; below :data:`MIN_FRACTION` of the
side it is too small to judge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

#: Images whose shorter side is below this fraction of the model input are not judged.
MIN_FRACTION = 0.25


class TooSmallError(ValueError):
    """The image is too small for the model to judge."""


@dataclass(frozen=True)
class Prepared:
    """Crops of one image (``N x 3 x size x size`` float32, normalised) and what was done."""

    crops: npt.NDArray[np.float32]
    positions: list[tuple[int, int]]
    padded: bool
    original_size: tuple[int, int]


def to_rgb_array(image: Image.Image) -> npt.NDArray[np.uint8]:
    """RGB uint8 HxWx3 (alpha dropped, palettes expanded)."""
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def pad_to(pixels: npt.NDArray[np.uint8], size: int) -> tuple[npt.NDArray[np.uint8], bool]:
    """Pad both sides below ``size`` with the image's mean colour (centred)."""
    height, width = pixels.shape[:2]
    if height >= size and width >= size:
        return pixels, False
    fill = pixels.reshape(-1, 3).mean(axis=0).round().astype(np.uint8)
    out = np.empty((max(height, size), max(width, size), 3), dtype=np.uint8)
    out[:] = fill
    top, left = (out.shape[0] - height) // 2, (out.shape[1] - width) // 2
    out[top : top + height, left : left + width] = pixels
    return out, True


def grid_positions(height: int, width: int, size: int, max_crops: int) -> list[tuple[int, int]]:
    """Up to ``max_crops`` top-left corners on an even grid covering the image."""
    per_side = max(1, int(np.sqrt(max_crops)))
    rows = _spread(height - size, per_side)
    cols = _spread(width - size, per_side)
    return [(r, c) for r in rows for c in cols][:max_crops]


def _spread(span: int, count: int) -> list[int]:
    """Up to ``count`` distinct offsets evenly spread over ``0..span``."""
    return sorted({int(x) for x in np.rint(np.linspace(0, span, min(count, span + 1)))})


def prepare(
    image: Image.Image,
    size: int,
    mean: tuple[float, float, float],
    std: tuple[float, float, float],
    max_crops: int = 9,
) -> Prepared:
    """Normalised crops of ``image`` on a grid (raises :class:`TooSmallError`)."""
    pixels = to_rgb_array(image)
    height, width = pixels.shape[:2]
    if min(height, width) < max(1, int(size * MIN_FRACTION)):
        raise TooSmallError(
            f"image is {width}x{height}; the model reads {size}x{size} and padding below "
            f"{int(size * MIN_FRACTION)} px would leave too little to judge"
        )
    pixels, padded = pad_to(pixels, size)
    positions = grid_positions(pixels.shape[0], pixels.shape[1], size, max_crops)
    crops = np.stack([pixels[r : r + size, c : c + size] for r, c in positions])
    return Prepared(normalise(crops, mean, std), positions, padded, (width, height))


def normalise(
    crops: npt.NDArray[np.uint8], mean: tuple[float, float, float], std: tuple[float, float, float]
) -> npt.NDArray[np.float32]:
    """uint8 NHWC to normalised float32 NCHW."""
    scaled = crops.astype(np.float32) / np.float32(255.0)
    x = (scaled - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32)
