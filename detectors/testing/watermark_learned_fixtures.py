"""Carriers marked by learned encoders, for the learned-decoder tests and benchmarks.

RivaGAN marks come from invisible-watermark's own encoder (``WatermarkEncoder``, method
``rivaGan``, the ONNX encoder the package ships), fed a cv2-style BGR array as its README
does. The spread-spectrum decoder is a small TorchScript module written here (not trained):
it stands in for a vendor's decoder to exercise the manifest path end to end.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

RIVAGAN_KEY = "0x5A17C3E9"
RIVAGAN_BITS = tuple(int(b) for b in format(0x5A17C3E9, "032b"))


def rivagan_embed(rgb: np.ndarray, bits: tuple[int, ...] = RIVAGAN_BITS) -> np.ndarray:
    """``rgb`` (H x W x 3 uint8) marked by the library's RivaGAN encoder (BGR in and out)."""
    from imwatermark import WatermarkEncoder

    WatermarkEncoder.loadModel()
    encoder = WatermarkEncoder()
    encoder.set_watermark("bits", list(bits))
    marked = encoder.encode(np.ascontiguousarray(rgb[:, :, ::-1]), "rivaGan")
    return np.ascontiguousarray(np.asarray(marked)[:, :, ::-1], dtype=np.uint8)


SPREAD_SIZE = 128
SPREAD_BITS = 32


def spread_patterns(seed: int = 11, count: int = SPREAD_BITS) -> np.ndarray:
    """``count x 128 x 128`` zero-mean +-1 patterns, one per message bit (luma only)."""
    rng = np.random.default_rng(seed)
    return rng.choice([-1.0, 1.0], size=(count, SPREAD_SIZE, SPREAD_SIZE))


def spread_embed(rgb: np.ndarray, bits: tuple[int, ...], strength: float = 6.0) -> np.ndarray:
    """Add ``strength * sum_i (2 b_i - 1) P_i`` to every channel of a 128 x 128 centre crop."""
    patterns = spread_patterns(count=len(bits))
    signal = np.tensordot(2 * np.asarray(bits, dtype=np.float64) - 1, patterns, axes=1)
    signal *= strength / np.sqrt(len(bits))
    out = rgb.astype(np.float64).copy()
    top = (rgb.shape[0] - SPREAD_SIZE) // 2
    left = (rgb.shape[1] - SPREAD_SIZE) // 2
    out[top : top + SPREAD_SIZE, left : left + SPREAD_SIZE] += signal[:, :, None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


class _SpreadDecoder(torch.nn.Module):
    def __init__(self, patterns: torch.Tensor) -> None:
        super().__init__()
        self.patterns = torch.nn.Parameter(patterns, requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        luma = x.mean(dim=1)  # N x H x W
        luma = luma - luma.mean(dim=(1, 2), keepdim=True)
        return torch.einsum("nhw,bhw->nb", luma, self.patterns) / 64.0


def write_spread_decoder(path: Path, count: int = SPREAD_BITS) -> Path:
    """Save the matching correlation decoder (``count`` bits) as TorchScript; returns ``path``."""
    patterns = torch.from_numpy(spread_patterns(count=count).astype(np.float32))
    torch.jit.script(_SpreadDecoder(patterns)).save(str(path))  # type: ignore[no-untyped-call]
    return path


def spread_manifest(sha256: str) -> dict[str, object]:
    """The manifest for :func:`write_spread_decoder`'s file (pixels scaled to 0..255)."""
    return {
        "name": "acme-spread",
        "format": "torchscript",
        "sha256": sha256,
        "bits": SPREAD_BITS,
        "input_size": [SPREAD_SIZE, SPREAD_SIZE],
        "fit": "center-crop",
        "channel_order": "rgb",
        "mean": [0.0, 0.0, 0.0],
        "std": [1 / 255, 1 / 255, 1 / 255],
        "layout": "nchw",
        "output": "logits",
    }
