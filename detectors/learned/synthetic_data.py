"""Honest stand-in data for learned detectors: real photos, small generators, laundering.

No data set or weight can be downloaded here, so tests, benchmarks and the README's walk-through
make their own, the way POSE simulates many generators with small networks:

real
    Photos shipped inside scikit-image (astronaut, coffee, chelsea, rocket) and scikit-learn
    (china, flower), cut into ``patch`` x ``patch`` tiles.
fake (for ``synthetic``)
    Small up-sampling CNNs — nearest, bilinear, transposed-convolution and pixel-shuffle
    up-samplers, each with its own seed — trained briefly to rebuild a tile from its 4x
    down-sampled version. Their outputs carry the up-sampling traces of their architecture.
laundered / synthetic (for ``laundering``)
    A small latent autoencoder in diffusers' ``AutoencoderKL`` layout (3 blocks, latent
    stride 4, 4 latent channels), trained briefly on the tiles. Laundered = a real tile
    encoded and decoded; fully synthetic = the decoder fed noise mixed with the latents of
    other tiles.

Every image of every class is re-encoded with the same policy (PNG, or JPEG at quality 90–98,
drawn per image), so the file format says nothing about the class.

Run ``python -m detectors.learned.synthetic_data OUT`` to write the folders
``OUT/{real,fake,laundered,synthetic}`` and ``OUT/autoencoder.safetensors`` (+ its config).
Needs scikit-image and scikit-learn (dev dependencies) and diffusers (the ``learned`` extra).
"""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

Pixels = npt.NDArray[np.uint8]
UPSAMPLERS = ("nearest", "bilinear", "transposed", "pixelshuffle")
#: The tiny AutoencoderKL used as the stand-in for the SD VAE.
AE_CONFIG: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 4,
    "down_block_types": ["DownEncoderBlock2D"] * 3,
    "up_block_types": ["UpDecoderBlock2D"] * 3,
    "block_out_channels": [8, 16, 16],
    "layers_per_block": 1,
    "norm_num_groups": 4,
    "sample_size": 64,
}


def real_photos() -> list[tuple[str, Pixels]]:
    """The photos shipped in scikit-image and scikit-learn, RGB uint8."""
    from skimage import data
    from sklearn.datasets import load_sample_image

    photos = [
        (name, getattr(data, name)()) for name in ("astronaut", "coffee", "chelsea", "rocket")
    ]
    photos += [(name, load_sample_image(f"{name}.jpg")) for name in ("china", "flower")]
    return [(name, np.ascontiguousarray(p[..., :3], dtype=np.uint8)) for name, p in photos]


def tiles(
    photos: Sequence[tuple[str, Pixels]], patch: int = 96, stride: int = 48
) -> list[tuple[str, Pixels]]:
    """Overlapping ``patch`` x ``patch`` tiles of every photo, named ``photo-row-col``."""
    out = []
    for name, pixels in photos:
        for r in range(0, pixels.shape[0] - patch + 1, stride):
            for c in range(0, pixels.shape[1] - patch + 1, stride):
                out.append(
                    (f"{name}-{r}-{c}", np.ascontiguousarray(pixels[r : r + patch, c : c + patch]))
                )
    return out


def reencode(pixels: Pixels, rng: np.random.Generator) -> tuple[bytes, str]:
    """PNG or JPEG (quality 90–98), drawn from ``rng``; returns the bytes and extension."""
    buffer = io.BytesIO()
    if rng.random() < 0.5:
        Image.fromarray(pixels).save(buffer, "PNG")
        return buffer.getvalue(), "png"
    Image.fromarray(pixels).save(buffer, "JPEG", quality=int(rng.integers(90, 99)))
    return buffer.getvalue(), "jpg"


def to_tensor(batch: Sequence[Pixels]) -> torch.Tensor:
    """uint8 HWC images to float NCHW in [-1, 1]."""
    return torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def to_pixels(batch: torch.Tensor) -> list[Pixels]:
    """float NCHW in [-1, 1] to uint8 HWC images."""
    arr = ((batch.clamp(-1, 1) + 1.0) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    return [np.ascontiguousarray(a) for a in arr]


class Upsampler(nn.Module):
    """A stand-in generator: 4x down-sampled image in, full-size image out, through two x2
    up-sampling stages of the given kind."""

    def __init__(self, kind: str, width: int = 8) -> None:
        super().__init__()
        self.kind = kind
        self.head = nn.Conv2d(3, width, 3, 1, 1)
        self.ups = nn.ModuleList([self._up(kind, width) for _ in range(2)])
        self.convs = nn.ModuleList([nn.Conv2d(width, width, 3, 1, 1) for _ in range(2)])
        self.tail = nn.Conv2d(width, 3, 3, 1, 1)

    @staticmethod
    def _up(kind: str, width: int) -> nn.Module:
        if kind == "transposed":
            return nn.ConvTranspose2d(width, width, 4, 2, 1)
        if kind == "pixelshuffle":
            return nn.Sequential(nn.Conv2d(width, width * 4, 3, 1, 1), nn.PixelShuffle(2))
        return nn.Upsample(scale_factor=2, mode=kind)

    def forward(self, small: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.head(small))
        for up, conv in zip(self.ups, self.convs, strict=True):
            x = F.relu(conv(up(x)))
        skip = F.interpolate(small, scale_factor=4, mode="bilinear", align_corners=False)
        return torch.tanh(self.tail(x) + skip)


def _crops(
    images: Sequence[Pixels], size: int, count: int, rng: np.random.Generator
) -> list[Pixels]:
    out = []
    for _ in range(count):
        img = images[int(rng.integers(len(images)))]
        r = int(rng.integers(img.shape[0] - size + 1))
        c = int(rng.integers(img.shape[1] - size + 1))
        out.append(img[r : r + size, c : c + size])
    return out


def train_upsampler(kind: str, seed: int, images: Sequence[Pixels], steps: int = 40) -> Upsampler:
    """Train a generator of ``kind`` briefly to rebuild 48x48 crops from 12x12 versions."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = Upsampler(kind)
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(steps):
        target = to_tensor(_crops(images, 48, 8, rng))
        loss = F.l1_loss(model(F.avg_pool2d(target, 4)), target)
        optimiser.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimiser.step()
    return model.eval()


def generate_fakes(
    images: Sequence[Pixels],
    seeds: Sequence[int] = (0, 1),
    kinds: Sequence[str] = UPSAMPLERS,
    steps: int = 40,
) -> list[Pixels]:
    """One fake per input image, generators taken in turn (every kind x seed)."""
    generators = [train_upsampler(k, s, images, steps) for k in kinds for s in seeds]
    out: list[Pixels] = []
    with torch.inference_mode():
        for index, img in enumerate(images):
            small = F.avg_pool2d(to_tensor([img]), 4)
            out += to_pixels(generators[index % len(generators)](small))
    return out


def train_autoencoder(images: Sequence[Pixels], seed: int = 0, steps: int = 60) -> nn.Module:
    """A tiny diffusers AutoencoderKL trained briefly (L1 + a small KL term) on 48x48 crops."""
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    factory: Any = AutoencoderKL
    model: Any = factory(**AE_CONFIG)
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(steps):
        x = to_tensor(_crops(images, 48, 4, rng))
        posterior = model.encode(x).latent_dist
        y = model.decode(posterior.sample()).sample
        loss = F.l1_loss(y, x) + 1e-6 * posterior.kl().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval()  # type: ignore[no-any-return]


def launder(model: Any, images: Sequence[Pixels]) -> list[Pixels]:
    """Each image encoded and decoded by the autoencoder (the latent's mode)."""
    out: list[Pixels] = []
    with torch.inference_mode():
        for start in range(0, len(images), 16):
            x = to_tensor(images[start : start + 16])
            out += to_pixels(model.decode(model.encode(x).latent_dist.mode()).sample)
    return out


def synthesise(model: Any, images: Sequence[Pixels], count: int, seed: int = 0) -> list[Pixels]:
    """Decoder outputs from noise mixed with the latents of two other images."""
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    out: list[Pixels] = []
    with torch.inference_mode():
        for _ in range(count):
            a, b = (to_tensor([images[int(rng.integers(len(images)))]]) for _ in range(2))
            za = model.encode(a).latent_dist.mode()
            zb = model.encode(b).latent_dist.mode()
            noise = torch.randn(za.shape, generator=generator)
            mix = float(rng.uniform(0.2, 0.5))
            z = (1 - mix) * (0.5 * za + 0.5 * zb.flip(-1)) + mix * noise * za.std()
            out += to_pixels(model.decode(z).sample)
    return out


def write_set(folder: Path, images: Sequence[Pixels], prefix: str, seed: int) -> list[Path]:
    """Re-encode and write every image (same policy for every class)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for index, img in enumerate(images):
        data, ext = reencode(img, rng)
        path = folder / f"{prefix}-{index:05d}.{ext}"
        path.write_bytes(data)
        paths.append(path)
    return paths


def build(
    out: Path,
    *,
    patch: int = 96,
    stride: int = 48,
    limit: int | None = None,
    laundering: bool = True,
    seed: int = 0,
) -> dict[str, int]:
    """Write the four folders (and the autoencoder) under ``out``; returns counts per class."""
    reals = [p for _, p in tiles(real_photos(), patch, stride)]
    rng = np.random.default_rng(seed)
    rng.shuffle(reals)  # type: ignore[arg-type]
    if limit is not None:
        reals = reals[:limit]
    counts = {"real": len(write_set(out / "real", reals, "real", seed))}
    log(f"{counts['real']} real tiles")
    counts["fake"] = len(write_set(out / "fake", generate_fakes(reals), "fake", seed + 1))
    log("fakes written")
    if laundering:
        from safetensors.torch import save_file

        model = train_autoencoder(reals, seed)
        log("autoencoder trained")
        save_file(model.state_dict(), str(out / "autoencoder.safetensors"))
        (out / "autoencoder.json").write_text(json.dumps(AE_CONFIG, indent=2))
        half = len(reals) // 2
        counts["laundered"] = len(
            write_set(out / "laundered", launder(model, reals[:half]), "laundered", seed + 2)
        )
        counts["synthetic"] = len(
            write_set(
                out / "synthetic",
                synthesise(model, reals[half:], len(reals) - half),
                "synthetic",
                seed + 3,
            )
        )
    return counts


def log(message: str) -> None:
    """Progress on stderr."""
    import sys
    import time

    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def iter_images(folder: Path) -> Iterator[Path]:
    """Image files in ``folder`` (sorted)."""
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"):
            yield path


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m detectors.learned.synthetic_data OUT``: write the stand-in data set."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path)
    parser.add_argument("--limit", type=int, default=None, help="at most this many real tiles")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(json.dumps(build(args.out, limit=args.limit, seed=args.seed)))


if __name__ == "__main__":
    main()
