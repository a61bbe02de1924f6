"""TrustMark decoders: Adobe's decoder architecture, loaded from a pinned state dict.

Adobe's ``trustmark`` package downloads its checkpoints from a CDN on first use, and on this
project's CPU torch it does not import at all (its ``torchvision`` dependency resolves to a CUDA
wheel whose ops fail to load: see :mod:`detectors.watermark.resnet`). So the decoder is declared
here exactly as the package builds it -- ``trustmark.unet.SecretDecoder``: a ResNet whose ``fc``
emits 100 bit logits, inputs larger than 224 px resized to 224 first -- with the same module
names, so the package's checkpoints (``decoder_Q.ckpt`` ...) load unchanged once an operator has
placed them in the model store. Variants, as the package configures them:

======= ========= ============ ===================================
variant backbone  input (px)   note
======= ========= ============ ===================================
Q       resnet50  245 -> 224   the 2023 paper's default
B       resnet50  245 -> 224   Q trained for more robustness
C       resnet18  245 -> 224   compact
P       resnet50  224          perceptual; always a centre square
======= ========= ============ ===================================

The package feeds ``ToTensor() * 2 - 1`` of a bilinear resize, i.e. mean = std = 0.5, and reads
bit 1 iff the logit is > 0; :func:`trustmark_manifest` writes that down. Accepted weight files:
a Lightning checkpoint or bare state dict saved by ``torch.save`` (read with
``weights_only=True``: no code runs from the file) or safetensors; keys may carry the package's
``decoder.decoder.`` prefix. Missing or unexpected keys are a typed error that names them (as
timm's checkpoint loader does), never a half-loaded network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from detectors.watermark.files import DecoderFileError
from detectors.watermark.resnet import resnet

VARIANTS: dict[str, tuple[int, int]] = {
    "Q": (50, 245),
    "B": (50, 245),
    "C": (18, 245),
    "P": (50, 224),
}
"""Variant -> (ResNet depth, input size the package resizes to)."""
SECRET_LEN = 100


def architecture_name(variant: str) -> str:
    """``trustmark-Q`` etc.: what a manifest's ``architecture`` says."""
    return f"trustmark-{variant}"


def variant_of(architecture: str) -> str:
    """The variant letter of ``trustmark-X`` (a typed error for anything else)."""
    variant = architecture.removeprefix("trustmark-")
    if not architecture.startswith("trustmark-") or variant not in VARIANTS:
        raise DecoderFileError(
            f"unknown architecture {architecture!r}; one of "
            f"{', '.join(architecture_name(v) for v in VARIANTS)}"
        )
    return variant


class SecretDecoder(nn.Module):
    """``trustmark.unet.SecretDecoder`` for the ResNet variants: 100 logits per image."""

    def __init__(self, depth: int, resolution: int = 224, secret_len: int = SECRET_LEN) -> None:
        super().__init__()
        self.resolution = resolution
        self.decoder = resnet(depth, secret_len)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Bit logits; images larger than ``resolution`` are resized to it first (bilinear)."""
        if min(image.shape[-2:]) > self.resolution:
            image = nn.functional.interpolate(
                image, size=(self.resolution, self.resolution), mode="bilinear", align_corners=False
            )
        out: torch.Tensor = self.decoder(image)
        return out


def build_decoder(variant: str) -> SecretDecoder:
    """An untrained TrustMark decoder of ``variant``."""
    return SecretDecoder(VARIANTS[variant][0])


def trustmark_manifest(
    name: str,
    variant: str,
    sha256: str,
    fmt: str = "pytorch",
    path: str | None = None,
) -> dict[str, Any]:
    """The manifest of one of Adobe's TrustMark decoders as the package feeds it."""
    size = VARIANTS[variant][1]
    entry: dict[str, Any] = {
        "name": name,
        "format": fmt,
        "architecture": architecture_name(variant),
        "sha256": sha256,
        "bits": SECRET_LEN,
        "input_size": [size, size],
        "fit": "resize-bilinear",
        "mean": [0.5] * 3,
        "std": [0.5] * 3,
        "output": "logits",
        "threshold": 0.0,
        "ecc": "trustmark",
    }
    return entry | ({"path": path} if path else {})


def read_state_dict(path: Path, fmt: str) -> dict[str, Any]:
    """Tensors of a weight file, without executing anything it carries."""
    if fmt == "safetensors":
        from safetensors.torch import load_file

        return dict(load_file(str(path)))
    loaded = torch.load(str(path), map_location="cpu", weights_only=True)
    if isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, dict):
        raise DecoderFileError(f"{path}: expected a state dict, got {type(loaded).__name__}")
    return loaded


def load_decoder(variant: str, path: Path, fmt: str) -> SecretDecoder:
    """Build the ``variant`` decoder and load ``path`` into it strictly (eval mode)."""
    module = build_decoder(variant)
    state = read_state_dict(path, fmt)
    # Lightning checkpoints hold the whole TrustMark_Arch: keep its decoder's keys only.
    if any(k.startswith("decoder.decoder.") for k in state):
        state = {
            k.removeprefix("decoder."): v
            for k, v in state.items()
            if k.startswith("decoder.decoder.")
        }
    wanted = set(module.state_dict())
    missing, unexpected = sorted(wanted - set(state)), sorted(set(state) - wanted)
    if missing or unexpected:
        raise DecoderFileError(
            f"{path} does not fit {architecture_name(variant)}: missing {missing[:5]}"
            f"{' ...' if len(missing) > 5 else ''}, unexpected {unexpected[:5]}"
            f"{' ...' if len(unexpected) > 5 else ''}"
        )
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # shape mismatches
        raise DecoderFileError(f"{path}: {str(exc)[:300]}") from exc
    return module.eval()
