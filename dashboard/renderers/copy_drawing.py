"""Matched SIFT keypoints drawn between query and reference (OpenCV ``drawMatches``).

The copy detector's evidence carries up to 40 RANSAC inlier pairs in frames shrunk so the
longest side is at most ``frame_max_side`` (512) px, the query's x counted in the mirrored
frame when the pass was mirrored. Both images are shrunk the same way here, so the points
land where the detector found them. Pairs are hostile data: non-numbers and points outside
the frames are dropped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
from PIL import Image

FRAME_MAX_SIDE = 512
MAX_PAIRS = 40


def frame(image: Image.Image, max_side: int = FRAME_MAX_SIDE) -> Image.Image:
    """``image`` as RGB with its longest side at most ``max_side`` (the detector's frame)."""
    rgb = image.convert("RGB")
    scale = max_side / max(rgb.width, rgb.height)
    if scale < 1.0:
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        rgb = rgb.resize(size, Image.Resampling.BILINEAR)
    return rgb


def clean_pairs(
    pairs: Any, query: tuple[int, int], reference: tuple[int, int], *, mirrored: bool
) -> list[tuple[float, float, float, float]]:
    """Valid pairs inside both frames (``(width, height)``), query x un-mirrored."""
    if not isinstance(pairs, Sequence) or isinstance(pairs, str):
        return []
    out = []
    for pair in list(pairs)[:MAX_PAIRS]:
        if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 4:
            continue
        if not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in pair
        ):
            continue
        qx, qy, rx, ry = (float(v) for v in pair)
        if mirrored:
            qx = query[0] - 1 - qx
        if (
            0 <= qx < query[0]
            and 0 <= qy < query[1]
            and 0 <= rx < reference[0]
            and 0 <= ry < reference[1]
        ):
            out.append((qx, qy, rx, ry))
    return out


def draw_matches(
    query: Image.Image,
    reference: Image.Image,
    pairs: Any,
    *,
    mirrored: bool,
    max_side: int = FRAME_MAX_SIDE,
) -> Image.Image | None:
    """Query (left) and reference (right) with a line per inlier pair; None when no pair
    is usable."""
    q, r = frame(query, max_side), frame(reference, max_side)
    good = clean_pairs(pairs, q.size, r.size, mirrored=mirrored)
    if not good:
        return None
    q_points = [cv2.KeyPoint(x=qx, y=qy, size=6.0) for qx, qy, _, _ in good]
    r_points = [cv2.KeyPoint(x=rx, y=ry, size=6.0) for _, _, rx, ry in good]
    matches = [cv2.DMatch(i, i, 0.0) for i in range(len(good))]
    out = np.zeros((max(q.height, r.height), q.width + r.width, 3), dtype=np.uint8)
    canvas = cv2.drawMatches(
        np.asarray(q)[:, :, ::-1].copy(),
        q_points,
        np.asarray(r)[:, :, ::-1].copy(),
        r_points,
        matches,
        out,
        matchColor=(0, 220, 0),
        singlePointColor=(0, 0, 255),
        flags=cv2.DrawMatchesFlags_NOT_DRAW_SINGLE_POINTS,
    )
    return Image.fromarray(np.ascontiguousarray(np.asarray(canvas)[:, :, ::-1]))
