"""A zoo of small generators for attribution tests and benchmarks (POSE's simulated zoo).

Each generator is a small up-sampling CNN (:class:`detectors.learned.synthetic_data.Upsampler`:
nearest + conv, bilinear + conv, transposed convolution or pixel shuffle) with its own seed,
trained briefly to rebuild photo tiles from their 4x down-sampled versions, then fed
"latents": down-sampled tiles of the photos shipped in scikit-image / scikit-learn mixed with
noise. Same architecture + different seed is a different generator (the hard case).

The split the issue asks for: 4 enrolled generators over 2 architectures x 2 seeds; unseen
are the 2 other architectures and a third seed of each enrolled architecture. Enrolment and
test images come from disjoint photo tiles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

Pixels = npt.NDArray[np.uint8]

#: Enrolled: two architectures x two seeds.
ENROLLED = (("transposed", 0), ("transposed", 1), ("nearest", 0), ("nearest", 1))
#: Unseen: two held-out architectures, and a new seed of each enrolled architecture.
UNSEEN_ARCHS = (("bilinear", 0), ("pixelshuffle", 0))
UNSEEN_SEEDS = (("transposed", 7), ("nearest", 7))


def generator_name(kind: str, seed: int) -> str:
    """``<kind>-s<seed>``."""
    return f"{kind}-s{seed}"


@dataclass(frozen=True)
class Zoo:
    """Images per generator: ``enrol`` (enrolled ones only) and ``test`` (every one)."""

    enrol: dict[str, list[Pixels]]
    test: dict[str, list[Pixels]]
    unseen: tuple[str, ...]


def photo_tiles(size: int) -> list[Pixels]:
    """Non-overlapping ``size`` tiles of the bundled photos, in a fixed shuffled order."""
    from detectors.learned.synthetic_data import real_photos, tiles

    out = [p for _, p in tiles(real_photos(), size, size)]
    order = np.random.default_rng(1234).permutation(len(out))
    return [out[i] for i in order]


def generate(
    kind: str,
    seed: int,
    latents: Sequence[Pixels],
    *,
    train_tiles: Sequence[Pixels],
    steps: int = 30,
    noise: float = 0.35,
) -> list[Pixels]:
    """Images of generator (``kind``, ``seed``): each latent 4x down-sampled, mixed with noise
    (weight ``noise``), up-sampled by the generator."""
    import torch
    import torch.nn.functional as F

    from detectors.learned.synthetic_data import to_pixels, to_tensor, train_upsampler

    model = train_upsampler(kind, seed, train_tiles, steps=steps)
    rng = torch.Generator().manual_seed(seed * 1000 + 17)
    out: list[Pixels] = []
    with torch.inference_mode():
        for start in range(0, len(latents), 32):
            x = F.avg_pool2d(to_tensor(list(latents[start : start + 32])), 4)
            z = (1 - noise) * x + noise * torch.randn(x.shape, generator=rng)
            out += to_pixels(model(z))
    return out


def build_zoo(*, size: int = 64, enrol: int = 48, test: int = 24, steps: int = 30) -> Zoo:
    """Generate the zoo in memory (seconds on a CPU at the defaults)."""
    tiles = photo_tiles(size)
    needed = enrol + test
    if len(tiles) < needed + 8:
        raise ValueError(f"only {len(tiles)} photo tiles of {size} px; ask for fewer images")
    train_tiles = tiles[needed:] or tiles
    enrol_latents, test_latents = tiles[:enrol], tiles[enrol:needed]
    enrolled: dict[str, list[Pixels]] = {}
    tests: dict[str, list[Pixels]] = {}
    for kind, seed in (*ENROLLED, *UNSEEN_ARCHS, *UNSEEN_SEEDS):
        name = generator_name(kind, seed)
        known = (kind, seed) in ENROLLED
        latents = [*enrol_latents, *test_latents] if known else test_latents
        images = generate(kind, seed, latents, train_tiles=train_tiles, steps=steps)
        if known:
            enrolled[name] = images[:enrol]
            tests[name] = images[enrol:]
        else:
            tests[name] = images
    unseen = tuple(generator_name(k, s) for k, s in (*UNSEEN_ARCHS, *UNSEEN_SEEDS))
    return Zoo(enrolled, tests, unseen)


def write_zoo(zoo: Zoo, out: Path) -> dict[str, Path]:
    """PNG folders ``out/enrol/<generator>`` and ``out/test/<generator>``."""
    from PIL import Image

    folders = {}
    for split, sets in (("enrol", zoo.enrol), ("test", zoo.test)):
        for name, images in sets.items():
            folder = out / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for index, img in enumerate(images):
                Image.fromarray(img).save(folder / f"{index:04d}.png")
            folders[f"{split}/{name}"] = folder
    return folders
