"""A TrustMark-C *stand-in*, trained here: TrustMark's decoder architecture, NOT Adobe's weights.

Adobe publishes TrustMark's checkpoints only through its CDN, which this project cannot reach.
To measure the TrustMark path end to end (weights file -> model store -> ``trustmark-C``
manifest -> BCH packet -> verdict) with a decoder that actually reads a mark, this module
trains one briefly: the decoder is :class:`~detectors.watermark.trustmark_arch.SecretDecoder`
of variant C (ResNet-18, 100 logits, 245 -> 224 bilinear, ``(x - 0.5) / 0.5``), exactly what an
Adobe ``decoder_C.ckpt`` loads into; the encoder is **not** TrustMark's UNet but a much simpler
learned one, :class:`PatternEncoder`: 101 learned 3 x 256 x 256 patterns, the residual
``p_0 + sum_i (2 m_i - 1) p_i`` for packet bits ``m``, scaled to a fixed PSNR and upsampled to
the image (as TrustMark adds its 256 x 256 residual, upsampled). The residual does not depend on
the image, so the stand-in is weaker and more visible than TrustMark at the same PSNR, and a
crop that shifts the image moves the pattern away from where the decoder expects it.

Training (CPU, minutes; no published recipe fits a 2-core machine, hence our own loop):
random crops of cover photos resized to 256, packets of random bits, BCE on the 100 logits,
a random distortion per batch (none, real JPEG 4:4:4 / 4:2:0 at quality 50-95 with a
straight-through gradient, Gaussian noise, down-and-up resizing). Two things made it learn
at all, measured while writing it: the decoder sees the whole image at a fixed geometry (with
random crops, the ResNet's global pooling cannot tell a pattern's sign and accuracy stays at
chance), and the covers fade in over the first steps (from flat grey), with the PSNR rising
from ``psnr_start`` to ``psnr_end``. The first ``fast_steps`` run the decoder at ``fast_size``
(4x cheaper than 224); the rest use the inference preprocessing exactly. (A decoder trained
only at 112 reads nothing at 224: measured bit accuracy 0.51, so the last phase is needed.)
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from detectors.testing.watermark_fixtures import crops, natural_photos, resized
from detectors.watermark.trustmark_arch import SECRET_LEN, SecretDecoder, build_decoder

PATTERN_SIZE = 256
"""The encoder's residual is made at 256 x 256 and upsampled to the image, as TrustMark's is."""
INPUT_SIZE = 245
"""What the ``trustmark-C`` manifest resizes to before the network (which resizes to 224)."""

TRAINING_PHOTOS = (
    "astronaut",
    "rocket",
    "retina",
    "brick",
    "gravel",
    "coins",
    "cell",
    "motorcycle-left",
    "motorcycle-right",
    "sklearn-china",
)
"""Cover photos the stand-in is trained on (``natural_photos`` names); the others are held out
for measuring it (the motorcycle stereo pair stays together on the training side)."""


@dataclass(frozen=True)
class TrainingPlan:
    """How long and how hard to train; :func:`plan_digest` names a plan's result."""

    steps: int = 850
    fast_steps: int = 600
    batch: int = 32
    final_batch: int = 16
    fast_size: int = 112
    warmup_steps: int = 200
    psnr_start: float = 25.0
    psnr_end: float = 38.0
    pattern_lr: float = 1e-2
    decoder_lr: float = 1e-3
    seed: int = 0


def plan_digest(plan: TrainingPlan, covers: Sequence[str]) -> str:
    """A short digest of the plan and the cover names (a cache key for trained stand-ins)."""
    text = json.dumps({"plan": asdict(plan), "covers": list(covers)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class PatternEncoder(nn.Module):
    """``p_0 + sum_i (2 m_i - 1) p_i``: an image-independent residual of unit RMS, zero mean."""

    def __init__(self, bits: int = SECRET_LEN) -> None:
        super().__init__()
        self.patterns = nn.Parameter(torch.randn(bits + 1, 3, PATTERN_SIZE, PATTERN_SIZE) * 0.1)

    def forward(self, bits: torch.Tensor) -> torch.Tensor:
        """Residuals ``(B, 3, 256, 256)`` for packets ``bits`` ``(B, n)`` of 0 / 1."""
        signs = torch.cat([torch.ones(bits.shape[0], 1), 2 * bits.float() - 1], dim=1)
        residual = torch.einsum("bk,kchw->bchw", signs, self.patterns)
        residual = residual - residual.mean(dim=(1, 2, 3), keepdim=True)
        rms = residual.square().mean(dim=(1, 2, 3), keepdim=True).sqrt()
        return residual / rms.clamp_min(1e-12)


@dataclass
class StandIn:
    """A trained stand-in: its encoder, its decoder (eval mode) and how it was trained."""

    encoder: PatternEncoder
    decoder: SecretDecoder
    plan: TrainingPlan
    accuracy: list[float] = field(default_factory=list)
    """Training bit accuracy, one value per step (on distorted training batches)."""

    @property
    def psnr(self) -> float:
        """The PSNR (dB, on the 0-255 scale) at which :meth:`embed` adds the residual."""
        return self.plan.psnr_end

    def embed(self, rgb: np.ndarray, packet: Sequence[int]) -> np.ndarray:
        """``rgb`` (uint8, H x W x 3) carrying the 100-bit ``packet``, as uint8."""
        if len(packet) != SECRET_LEN:
            raise ValueError(f"a packet has {SECRET_LEN} bits, got {len(packet)}")
        with torch.no_grad():
            residual = self.encoder(torch.tensor([list(packet)]))
            height, width = rgb.shape[:2]
            residual = F.interpolate(
                residual, size=(height, width), mode="bilinear", align_corners=False
            )
        amplitude = 255.0 * 10 ** (-self.psnr / 20)
        marked = rgb.astype(np.float32) + amplitude * residual[0].permute(1, 2, 0).numpy()
        return np.clip(np.rint(marked), 0, 255).astype(np.uint8)

    def save(self, path: Path) -> None:
        """Encoder, decoder and plan in one ``torch.save`` file (tensors and plain data only)."""
        torch.save(
            {
                "encoder": self.encoder.state_dict(),
                "decoder": self.decoder.state_dict(),
                "plan": asdict(self.plan),
                "accuracy": self.accuracy,
            },
            path,
        )

    @classmethod
    def load(cls, path: Path) -> StandIn:
        """A stand-in saved by :meth:`save`."""
        saved = torch.load(str(path), map_location="cpu", weights_only=True)
        encoder, decoder = PatternEncoder(), build_decoder("C")
        encoder.load_state_dict(saved["encoder"])
        decoder.load_state_dict(saved["decoder"])
        return cls(encoder, decoder.eval(), TrainingPlan(**saved["plan"]), saved["accuracy"])

    def save_decoder(self, path: Path) -> None:
        """The decoder alone, as safetensors with ``SecretDecoder``'s keys (what the store pins)."""
        from safetensors.torch import save_file

        state = {k: v.contiguous() for k, v in self.decoder.state_dict().items()}
        save_file(state, str(path))


def _shrunk(photo: np.ndarray, side: int) -> np.ndarray:
    """``photo`` scaled down (Lanczos) so that its shorter side is at most ``side``."""
    height, width = photo.shape[:2]
    scale = side / min(height, width)
    if scale >= 1:
        return photo
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(photo).resize(size, Image.Resampling.LANCZOS))


class _Covers:
    """Random square crops of the cover photos, resized to 256, flipped half the time."""

    def __init__(self, photos: Sequence[np.ndarray], rng: np.random.Generator) -> None:
        if not photos:
            raise ValueError("no cover photos")
        # Shrunk once so that cropping a large photo does not dominate a training step.
        self.photos = [_shrunk(photo, 2 * PATTERN_SIZE) for photo in photos]
        self.rng = rng

    def batch(self, size: int) -> torch.Tensor:
        crops = []
        for _ in range(size):
            photo = self.photos[int(self.rng.integers(len(self.photos)))]
            height, width = photo.shape[:2]
            side = int(self.rng.integers(min(128, height, width), min(height, width) + 1))
            y = int(self.rng.integers(0, height - side + 1))
            x = int(self.rng.integers(0, width - side + 1))
            crop = Image.fromarray(photo[y : y + side, x : x + side])
            array = np.asarray(crop.resize((PATTERN_SIZE,) * 2, Image.Resampling.BILINEAR))
            crops.append(array[:, ::-1] if self.rng.random() < 0.5 else array)
        stacked = np.ascontiguousarray(np.stack(crops), dtype=np.float32) / 255
        return torch.from_numpy(stacked).permute(0, 3, 1, 2)


def _jpeg_straight_through(images: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Real JPEG in the forward pass, identity gradient (the usual trick for a codec)."""
    decoded = []
    for image in images.detach().clamp(0, 1):
        array = np.rint(image.permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        buffer = io.BytesIO()
        quality = int(rng.integers(50, 96))
        subsampling = int(rng.choice([0, 2]))
        Image.fromarray(array).save(buffer, "JPEG", quality=quality, subsampling=subsampling)
        back = np.asarray(Image.open(buffer).convert("RGB"), dtype=np.float32) / 255
        decoded.append(torch.from_numpy(back).permute(2, 0, 1))
    return images + (torch.stack(decoded) - images).detach()


def _distort(images: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """One random distortion for the whole batch: none, JPEG, noise or down-and-up resizing."""
    kind = int(rng.integers(4))
    if kind == 1:
        return _jpeg_straight_through(images, rng)
    if kind == 2:
        return images + torch.randn_like(images) * float(rng.uniform(0, 8)) / 255
    if kind == 3:
        side = int(images.shape[-1] * rng.uniform(0.5, 1.0))
        small = F.interpolate(images, size=(side, side), mode="bilinear", antialias=True)
        return F.interpolate(small, size=images.shape[-2:], mode="bilinear")
    return images


def _decoder_input(images: torch.Tensor, size: int) -> torch.Tensor:
    """What the decoder's first layer sees: at 224, exactly the manifest's preprocessing
    (bilinear 245, PIL-style antialiased, then the network's own 245 -> 224); else one
    antialiased resize to ``size`` (the cheap first phase)."""
    if size >= 224:
        images = F.interpolate(images, size=(INPUT_SIZE,) * 2, mode="bilinear", antialias=True)
        images = F.interpolate(images, size=(224, 224), mode="bilinear", align_corners=False)
    else:
        images = F.interpolate(images, size=(size, size), mode="bilinear", antialias=True)
    return (images - 0.5) / 0.5


def train_standin(
    photos: Sequence[np.ndarray],
    plan: TrainingPlan = TrainingPlan(),
    log_every: int = 0,
) -> StandIn:
    """Train a stand-in on ``photos`` (RGB uint8); ``log_every`` > 0 prints progress."""
    rng = np.random.default_rng(plan.seed)
    with torch.random.fork_rng():
        torch.manual_seed(plan.seed)
        encoder, decoder = PatternEncoder(), build_decoder("C")
        covers = _Covers(photos, rng)
        optimiser = torch.optim.Adam(
            [
                {"params": encoder.parameters(), "lr": plan.pattern_lr},
                {"params": decoder.parameters(), "lr": plan.decoder_lr},
            ]
        )
        accuracy: list[float] = []
        decoder.train()
        total = plan.steps
        ramp = max(1.0, 0.6 * (plan.fast_steps or total))
        for step in range(total):
            psnr = plan.psnr_start + (plan.psnr_end - plan.psnr_start) * min(1.0, step / ramp)
            cover_weight = min(1.0, step / max(1, plan.warmup_steps))
            fast = step < plan.fast_steps
            batch = plan.batch if fast else plan.final_batch
            images = covers.batch(batch)
            images = cover_weight * images + (1 - cover_weight) * 0.5
            bits = torch.randint(0, 2, (batch, SECRET_LEN)).float()
            marked = (images + 10 ** (-psnr / 20) * encoder(bits)).clamp(0, 1)
            # 8-bit rounding, as a saved file has it (straight-through).
            marked = marked + (torch.round(marked * 255) / 255 - marked).detach()
            size = plan.fast_size if fast else 224
            logits = decoder.decoder(_decoder_input(_distort(marked, rng), size))
            loss = F.binary_cross_entropy_with_logits(logits, bits)
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
            accuracy.append(float(((logits > 0).float() == bits).float().mean()))
            if log_every and (step + 1) % log_every == 0:
                recent = float(np.mean(accuracy[-log_every:]))
                print(
                    f"step {step + 1}/{total} psnr {psnr:.1f} bit accuracy {recent:.3f}", flush=True
                )
    return StandIn(encoder, decoder.eval(), plan, accuracy)


def held_out_carriers(corners: bool = True) -> list[tuple[str, np.ndarray]]:
    """The photos the stand-in never saw: 512 x 512, plus their 300 x 300 corner crops."""
    carriers: list[tuple[str, np.ndarray]] = []
    for name, rgb in natural_photos():
        if name in TRAINING_PHOTOS:
            continue
        carriers.append((name, resized(rgb)))
        if corners:
            carriers += [(f"{name}-corner{i}", crop) for i, crop in enumerate(crops(rgb))]
    return carriers


def cached_standin(
    photos: Sequence[tuple[str, np.ndarray]],
    plan: TrainingPlan,
    cache_dir: Path,
    log_every: int = 0,
) -> StandIn:
    """Train once per (plan, covers) and keep the result in ``cache_dir``."""
    names = [name for name, _ in photos]
    path = cache_dir / f"trustmark-standin-{plan_digest(plan, names)}.pt"
    if path.is_file():
        return StandIn.load(path)
    standin = train_standin([array for _, array in photos], plan, log_every)
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    standin.save(partial)
    partial.replace(path)
    return standin
