"""Training helpers shared by ``provreg train synthetic`` and ``provreg train laundering``.

Images are read from folders (unreadable files are skipped and counted), split into train and
held-out sets per file with a seeded shuffle, and fed to the network as random crops at native
resolution. Held-out images are then judged by the detector itself, loaded from the weights just
written, so the figures in the model card are those of the code that will run in production.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image
from torch import nn

from detectors.base import Sample
from detectors.learned.preprocess import normalise

Pixels = npt.NDArray[np.uint8]
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


@dataclass
class Folder:
    """The images read from one folder, and how many files could not be read."""

    images: list[Pixels] = field(default_factory=list)
    data: list[bytes] = field(default_factory=list)
    skipped: int = 0


def read_folder(folder: str | os.PathLike[str], min_side: int) -> Folder:
    """RGB pixels (and bytes) of every readable image of at least ``min_side`` per side."""
    out = Folder()
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder")
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        try:
            data = path.read_bytes()
            with Image.open(path) as img:
                img.load()
                pixels = np.asarray(img.convert("RGB"), dtype=np.uint8)
        except (OSError, ValueError, Image.DecompressionBombError):
            out.skipped += 1
            continue
        if min(pixels.shape[:2]) < min_side:
            out.skipped += 1
            continue
        out.images.append(pixels)
        out.data.append(data)
    return out


def split(count: int, holdout: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices of the training and held-out parts (held-out at least one when count ≥ 2)."""
    order = np.random.default_rng(seed).permutation(count).tolist()
    held = max(1 if count >= 2 else 0, round(count * holdout))
    return order[held:], order[:held]


def random_crops(
    images: Sequence[Pixels], size: int, count: int, rng: np.random.Generator
) -> tuple[Pixels, npt.NDArray[np.int64]]:
    """``count`` random crops and the index of the image each came from."""
    which = rng.integers(len(images), size=count)
    out = np.empty((count, size, size, 3), dtype=np.uint8)
    for i, index in enumerate(which):
        img = images[int(index)]
        r = int(rng.integers(img.shape[0] - size + 1))
        c = int(rng.integers(img.shape[1] - size + 1))
        out[i] = img[r : r + size, c : c + size]
    return out, which


def fit(
    model: nn.Module,
    classes: Sequence[Sequence[Pixels]],
    *,
    size: int,
    mean: tuple[float, float, float],
    std: tuple[float, float, float],
    steps: int,
    batch: int,
    lr: float,
    device: str,
    seed: int,
    binary: bool,
    features: Callable[[torch.Tensor], torch.Tensor] | None = None,
    progress: Callable[[Iterator[int]], Iterator[int]] = iter,
) -> list[float]:
    """Train ``model`` on balanced batches of random crops from each class; returns losses.

    ``binary``: one logit (class 0 negative, class 1 positive, BCE); else softmax over classes.
    ``features``: a frozen backbone applied before the model (the linear-probe recipe).
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model.to(device).train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, max(1, steps))
    per_class = max(1, batch // len(classes))
    losses = []
    for _ in progress(iter(range(steps))):
        crops, labels = [], []
        for label, images in enumerate(classes):
            c, _ = random_crops(images, size, per_class, rng)
            flips = rng.random(per_class) < 0.5
            c[flips] = c[flips, :, ::-1]
            crops.append(c)
            labels += [label] * per_class
        x = torch.from_numpy(normalise(np.concatenate(crops), mean, std)).to(device)
        y = torch.tensor(labels, device=device)
        if features is not None:
            with torch.no_grad():
                x = features(x)
        out = model(x)
        if binary:
            loss = nn.functional.binary_cross_entropy_with_logits(out.reshape(-1), y.float())
        else:
            loss = nn.functional.cross_entropy(out, y)
        optimiser.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimiser.step()
        schedule.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses


def samples(data: Sequence[bytes]) -> list[Sample]:
    """Held-out files as the samples intake would hand a detector."""
    import hashlib
    import io

    out = []
    for blob in data:
        img = Image.open(io.BytesIO(blob))
        img.load()
        out.append(
            Sample(
                sha256=hashlib.sha256(blob).hexdigest(),
                data=blob,
                media_type=Image.MIME.get(img.format or "", "image/png"),
                image=img,
            )
        )
    return out


def save_weights(model: nn.Module) -> str:
    """Write the state dict as safetensors to a temporary file; returns its path."""
    from safetensors.torch import save_file

    fd, path = tempfile.mkstemp(suffix=".safetensors", prefix="provreg-train-")
    os.close(fd)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, path)
    return path


def metrics_json(values: dict[str, Any]) -> dict[str, Any]:
    """Round floats for the card and the printed report."""
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in values.items()}
