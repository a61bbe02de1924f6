"""Regeneration attack: encode and decode every image through an autoencoder.

By default a small convolutional autoencoder is trained here, seeded, on CPU, on patches of
the images it is given (``train_autoencoder``; under a minute on one core): a weak but honest
stand-in for the VAE of a latent diffusion model, which is what regeneration attacks use.
With a real VAE on disk (a diffusers ``AutoencoderKL`` folder, e.g. from the model store),
:func:`load_vae` runs that instead, on the GPU when there is one (not measured here: this
machine has none). Nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from detectors.evaluation.attacks import AttackContext, AttackFn
from detectors.evaluation.imaging import decode_rgb, encode

Regenerator = Callable[[Image.Image], Image.Image]


def _network() -> Any:
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv2d(3, 16, 4, 2, 1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 4, 2, 1),
        nn.ReLU(),
        nn.Conv2d(32, 8, 3, 1, 1),  # bottleneck: 8 channels at 1/4 size (1/6 of the values)
        nn.ConvTranspose2d(8, 32, 4, 2, 1),
        nn.ReLU(),
        nn.ConvTranspose2d(32, 16, 4, 2, 1),
        nn.ReLU(),
        nn.Conv2d(16, 3, 3, 1, 1),
        nn.Sigmoid(),
    )


def train_autoencoder(
    images: Sequence[np.ndarray[Any, Any]],
    *,
    seed: int,
    steps: int = 200,
    patch: int = 64,
    batch: int = 16,
) -> Regenerator:
    """Train the small autoencoder on random patches of ``images`` (RGB uint8); deterministic
    for a seed on one machine (CPU, one thread)."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # deterministic reductions
    try:
        model = _network()
        optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
        usable = [a for a in images if min(a.shape[:2]) >= patch]
        if not usable:
            raise ValueError(f"no training image is at least {patch} px on each side")
        for _ in range(steps):
            crops = []
            for _ in range(batch):
                a = usable[int(rng.integers(len(usable)))]
                y = int(rng.integers(0, a.shape[0] - patch + 1))
                x = int(rng.integers(0, a.shape[1] - patch + 1))
                crops.append(a[y : y + patch, x : x + patch])
            tensor = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255.0
            loss = torch.nn.functional.mse_loss(model(tensor), tensor)
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
        model.eval()
    finally:
        torch.set_num_threads(threads)

    def regenerate(image: Image.Image) -> Image.Image:
        w, h = image.size
        pw, ph = (-w) % 4, (-h) % 4  # the network halves twice
        array = np.pad(np.asarray(image), ((0, ph), (0, pw), (0, 0)), mode="edge")
        with torch.no_grad():
            x = torch.from_numpy(array).permute(2, 0, 1)[None].float() / 255.0
            y = model(x)[0].permute(1, 2, 0).numpy()
        return Image.fromarray((y[:h, :w] * 255.0).round().clip(0, 255).astype(np.uint8))

    return regenerate


def load_vae(folder: Path) -> Regenerator:
    """A diffusers ``AutoencoderKL`` from a local folder (no download), GPU when present."""
    import torch
    from diffusers import AutoencoderKL  # the [learned] extra

    device = "cuda" if torch.cuda.is_available() else "cpu"
    loaded = AutoencoderKL.from_pretrained(str(folder), local_files_only=True)  # type: ignore[no-untyped-call]
    vae = loaded.to(device).eval()

    def regenerate(image: Image.Image) -> Image.Image:
        w, h = image.size
        array = np.asarray(image.resize((w - w % 8 or 8, h - h % 8 or 8)), dtype=np.float32)
        with torch.no_grad():
            x = torch.from_numpy(array).permute(2, 0, 1)[None].to(device) / 127.5 - 1.0
            y = vae.decode(vae.encode(x).latent_dist.mode()).sample[0]
        out = ((y.clamp(-1, 1) + 1.0) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()
        return Image.fromarray(out).resize((w, h), Image.Resampling.BICUBIC)

    return regenerate


def regeneration() -> AttackFn:
    """Pass the image through ``shared["regeneration"]`` (a :data:`Regenerator`)."""

    def run(data: bytes, ctx: AttackContext) -> bytes:
        regenerate: Regenerator = ctx.shared["regeneration"]
        return encode(regenerate(decode_rgb(data)))

    return run
