"""A same-architecture TrustMark decoder trained briefly here -- NOT Adobe's weights.

Adobe publishes TrustMark's weights only through a CDN download this project never makes, so
tests and benchmarks train their own: TrustMark's decoder architecture (variant C, ResNet-18 with
100 logits: :mod:`detectors.watermark.trustmark_arch`) trained together with a small encoder of
ours for a few hundred seeded CPU steps on small (64 x 64) crops of the photos scikit-image and
scikit-learn ship.
The decoder this yields has TrustMark's architecture and packet format (100 bits, BCH schemas)
but none of its robustness or invisibility; figures measured with it describe this toy decoder,
and say so.

The encoder is NOT TrustMark's (its ``Unet1`` lives in the ``trustmark`` package, which cannot
be imported on this CPU torch): like TrustMark's it spreads the 100 bits over a 16 x 16 x 3
map (a dense layer), upsamples it and mixes it with the cover in a few convolutions; its tanh
output is a residual scaled by :data:`STRENGTH`. Training noise: Gaussian noise plus rounding
to 8 bits. Photos in :data:`TRAIN_PHOTOS` are used for training; evaluate on the others.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from detectors.testing.watermark_fixtures import natural_photos
from detectors.watermark.trustmark_arch import SECRET_LEN, build_decoder, trustmark_manifest

SIZE = 64
STRENGTH = 0.06  # residual amplitude in [-1, 1] image units (about 8 grey levels)
VARIANT = "C"
LABEL = "same-architecture TrustMark-C decoder trained in the test (not Adobe's weights)"


def build_encoder(size: int = SIZE) -> Any:
    """The small encoder: secret -> 16 x 16 x 3 map -> upsampled, with the cover -> residual."""
    from torch import nn

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.dense = nn.Linear(SECRET_LEN, 16 * 16 * 3)
            self.up = nn.Upsample(scale_factor=size // 16)
            self.body = nn.Sequential(
                nn.Conv2d(6, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1),
                nn.ReLU(), nn.Conv2d(32, 3, 3, padding=1), nn.Tanh())

        def forward(self, cover: Any, secret: Any) -> Any:
            plane = self.up(self.dense(secret * 2 - 1).view(-1, 3, 16, 16))
            return self.body(__import__("torch").cat([cover, plane], dim=1))

    return Encoder()


def train_photo(name: str) -> bool:
    """Whether a shipped photo is in the training half (even index in ``natural_photos()``)."""
    names = [n for n, _ in natural_photos()]
    return names.index(name) % 2 == 0


@dataclass
class TrainedPair:
    """The trained encoder and decoder modules (torch, eval mode) and their training record."""

    encoder: Any
    decoder: Any
    steps: int
    final_bit_accuracy: float

    def embed(self, rgb: np.ndarray, packet: tuple[int, ...]) -> np.ndarray:
        """``rgb`` with ``packet`` (100 bits) embedded: residual at 64 x 64, resized up."""
        import torch

        height, width = rgb.shape[:2]
        small = np.asarray(Image.fromarray(rgb).resize((SIZE, SIZE), Image.Resampling.BILINEAR))
        cover = torch.from_numpy(small).float().permute(2, 0, 1)[None] / 127.5 - 1
        secret = torch.tensor([packet], dtype=torch.float32)
        with torch.inference_mode():
            residual = STRENGTH * self.encoder(cover, secret)
            big = torch.nn.functional.interpolate(residual, size=(height, width),
                                                  mode="bilinear", align_corners=False)
        delta = big[0].permute(1, 2, 0).numpy() * 127.5
        return np.clip(np.rint(rgb.astype(np.float64) + delta), 0, 255).astype(np.uint8)

    def save_decoder(self, path: Path) -> Path:
        """The decoder's state dict (``torch.save``; what a manifest with format pytorch loads)."""
        import torch

        torch.save(self.decoder.state_dict(), path)
        return path


def manifest(name: str, sha256: str, path: str | None = None) -> dict[str, Any]:
    """Manifest of the trained decoder: TrustMark-C's, but read at 64 x 64."""
    return trustmark_manifest(name, VARIANT, sha256, path=path) | {"input_size": [SIZE, SIZE]}


def _crops(rng: np.random.Generator, count: int) -> np.ndarray:
    photos = [rgb for name, rgb in natural_photos() if train_photo(name)]
    out = np.empty((count, SIZE, SIZE, 3), np.uint8)
    for i in range(count):
        rgb = photos[rng.integers(len(photos))]
        side = int(rng.integers(SIZE, min(rgb.shape[:2]) + 1))
        y = int(rng.integers(rgb.shape[0] - side + 1))
        x = int(rng.integers(rgb.shape[1] - side + 1))
        crop = Image.fromarray(rgb[y:y + side, x:x + side])
        out[i] = np.asarray(crop.resize((SIZE, SIZE), Image.Resampling.BILINEAR))
    return out


def train(steps: int = 400, batch: int = 16, seed: int = 0) -> TrainedPair:
    """Train encoder and decoder together (seeded, CPU, Adam); BCE on the bits plus a small
    penalty on the residual's energy."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    encoder, decoder = build_encoder(SIZE), build_decoder(VARIANT)
    params = [*encoder.parameters(), *decoder.parameters()]
    optimiser = torch.optim.Adam(params, lr=1e-3)
    pool = torch.from_numpy(_crops(rng, 512)).float().permute(0, 3, 1, 2) / 127.5 - 1
    accuracy = 0.0
    encoder.train(), decoder.train()
    for _ in range(steps):
        cover = pool[torch.from_numpy(rng.integers(len(pool), size=batch))]
        secret = torch.from_numpy(rng.integers(0, 2, (batch, SECRET_LEN))).float()
        stego = cover + STRENGTH * encoder(cover, secret)
        noisy = stego + torch.randn_like(stego) * float(rng.uniform(0, 0.02))
        noisy = noisy + (torch.round((noisy + 1) * 127.5) / 127.5 - 1 - noisy).detach()
        logits = decoder(noisy.clamp(-1, 1))
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, secret)
        loss = loss + 0.1 * (stego - cover).pow(2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        accuracy = float(((logits > 0).float() == secret).float().mean())
    encoder.eval(), decoder.eval()
    return TrainedPair(encoder, decoder, steps, accuracy)


def describe(pair: TrainedPair) -> str:
    """One line on how the decoder was made (for bench output)."""
    return json.dumps({"what": LABEL, "steps": pair.steps, "size": SIZE,
                       "last_batch_bit_accuracy": round(pair.final_bit_accuracy, 3)})
