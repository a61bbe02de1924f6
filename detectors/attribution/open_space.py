"""POSE-style open-space negatives: the enrolment images re-made by generators we do not know.

POSE (Wang et al., ICCV 2023) expands the open space around the known classes with
lightweight augmentation models whose traces differ from the known generators' while the
content stays the same. The training-free counterpart here: each enrolment image is
down-sampled 4x and re-made by a freshly initialised small up-sampler (nearest, bilinear,
transposed-convolution or pixel-shuffle, random weights) or by a plain interpolation
(nearest, bilinear, bicubic, area). The scores of these negatives against the new fingerprint
are its null: they set the rejection threshold at the stated false-attribution rate, from
images that share the known content but not the known traces.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

Pixels = npt.NDArray[np.uint8]
INTERPOLATIONS = (cv2.INTER_NEAREST, cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_AREA)
KINDS = ("nearest", "bilinear", "transposed", "pixelshuffle")


def negatives(images: Sequence[Pixels], count: int, seed: int = 0) -> list[Pixels]:
    """``count`` open-space negatives made from ``images`` (half by random up-samplers)."""
    import torch
    import torch.nn.functional as F

    from detectors.learned.synthetic_data import Upsampler, to_pixels, to_tensor

    rng = np.random.default_rng(seed)
    out: list[Pixels] = []
    models: list[Upsampler] = []
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for index in range(4):
            models.append(Upsampler(KINDS[index % len(KINDS)]).eval())
    for index in range(count):
        img = images[int(rng.integers(len(images)))]
        height, width = img.shape[:2]
        small_w, small_h = max(1, width // 4), max(1, height // 4)
        if index % 2 == 0 or height % 4 or width % 4:
            small = cv2.resize(img, (small_w, small_h), interpolation=cv2.INTER_AREA)
            how = INTERPOLATIONS[int(rng.integers(len(INTERPOLATIONS)))]
            out.append(np.ascontiguousarray(cv2.resize(small, (width, height), interpolation=how)))
            continue
        with torch.inference_mode():
            x = F.avg_pool2d(to_tensor([img]), 4)
            out += to_pixels(models[int(rng.integers(len(models)))](x))
    return out
