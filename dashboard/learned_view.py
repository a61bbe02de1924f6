"""Learned detectors on the asset page: the laundering anomaly map and autoencoder distances.

Evidence is hostile data: the map is drawn only if it is a small rectangular grid of finite
numbers, clipped to [0, 1]; anything else is left to the generic JSON view.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import streamlit as st
from PIL import Image

#: Largest grid drawn (the detector writes at most 8x8).
MAX_SIDE = 64
#: Screen pixels per grid cell.
CELL = 24


def anomaly_grid(evidence: Mapping[str, Any]) -> np.ndarray[Any, np.dtype[np.float64]] | None:
    """The ``anomaly_map`` grid as floats in [0, 1], or None if absent or malformed."""
    grid = evidence.get("anomaly_map")
    if not isinstance(grid, list) or not grid or len(grid) > MAX_SIDE:
        return None
    if not all(isinstance(row, list) and row and len(row) == len(grid[0]) for row in grid):
        return None
    if len(grid[0]) > MAX_SIDE:
        return None
    values: list[list[float]] = []
    for row in grid:
        if not all(
            isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) for x in row
        ):
            return None
        values.append([min(1.0, max(0.0, float(x))) for x in row])
    return np.asarray(values, dtype=np.float64)


def anomaly_png(grid: np.ndarray[Any, np.dtype[np.float64]]) -> bytes:
    """A heat map PNG: dark blue (0, looks pristine) to yellow (1, looks altered)."""
    low = np.array([32, 32, 96], dtype=np.float64)
    high = np.array([250, 220, 40], dtype=np.float64)
    rgb = (low + grid[..., None] * (high - low)).round().astype(np.uint8)
    image = Image.fromarray(rgb, "RGB").resize(
        (grid.shape[1] * CELL, grid.shape[0] * CELL), Image.Resampling.NEAREST
    )
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def render_learned(evidence: Mapping[str, Any]) -> None:
    """Draw what learned detectors add to their evidence (nothing for other detectors)."""
    grid = anomaly_grid(evidence)
    if grid is not None:
        st.caption("Anomaly map: per-patch probability of not pristine (blue 0 → yellow 1)")
        st.image(anomaly_png(grid))
    autoencoders = evidence.get("autoencoders")
    if isinstance(autoencoders, Mapping) and autoencoders:
        rows = [
            {
                "autoencoder": str(name)[:200],
                "distance": row.get("distance") if isinstance(row, Mapping) else None,
                "fpr": row.get("fpr") if isinstance(row, Mapping) else None,
            }
            for name, row in list(autoencoders.items())[:20]
        ]
        st.caption(
            "Reconstruction distance per candidate autoencoder (low: the image "
            "reconstructs like that autoencoder's own output)"
        )
        st.dataframe(rows, hide_index=True)
