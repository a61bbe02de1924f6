"""Backbone features for feature-prototype attribution (when a backbone is in the store).

The backbone (a store entry of kind ``backbone``, e.g. CLIP ViT) reads up to ``max_crops``
native-resolution crops (padded when the image is smaller, as the other learned detectors
do); an image's feature is the L2-normalised mean of its crops' features. A generator's
prototype is the normalised mean of its enrolment images' features; the score is the cosine
similarity.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

Vector = npt.NDArray[np.float32]


def embed(
    runner: Any,
    spec: Any,
    images: Sequence[npt.NDArray[np.uint8]],
    max_crops: int = 4,
    batch_size: int = 32,
) -> npt.NDArray[np.float32]:
    """One L2-normalised feature row per image."""
    from detectors.learned.preprocess import prepare

    rows = []
    for img in images:
        prep = prepare(Image.fromarray(img), spec.input_size, spec.mean, spec.std, max_crops)
        outs = [
            np.asarray(runner(prep.crops[i : i + batch_size]), dtype=np.float32).reshape(
                len(prep.crops[i : i + batch_size]), -1
            )
            for i in range(0, len(prep.crops), batch_size)
        ]
        rows.append(np.concatenate(outs).mean(axis=0))
    return normalise(np.stack(rows))


def normalise(rows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    return (rows / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def prototype(features: npt.NDArray[np.float32]) -> Vector:
    """The normalised mean feature."""
    row: Vector = normalise(features.mean(axis=0, keepdims=True))[0]
    return row
