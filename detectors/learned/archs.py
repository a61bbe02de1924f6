"""Architectures learned detectors load weights into, kept apart from the weights (as timm does).

Each :class:`Architecture` names a builder, its default config, the preprocessing the published
weights expect and the key prefix their checkpoints use. Weights never come from here: a store
entry (a file pinned by SHA-256) is loaded into the module built from an architecture.

Published layouts reproduced exactly (the parameter names are the checkpoints' keys):

``npr_resnet50``
    NPR (Tan et al., CVPR 2024, chuangchuangtan/NPR-DeepfakeDetection ``networks/resnet.py``):
    a ResNet-50 cut after ``layer2`` fed ``x - up(down(x))`` (nearest, factor 2) scaled by 2/3,
    ``fc1 = Linear(512, 1)``. ``npr_tiny`` is the same network with basic blocks, one block per
    stage and 16 channels: trainable on a CPU in minutes.
``clip_vit_l14`` / ``clip_vit``
    The image tower of OpenAI CLIP (``visual.*`` keys of ``ViT-L-14.pt`` or open_clip's
    safetensors): conv patch embedding without bias, class token, positional embedding,
    pre/post LayerNorm, residual attention blocks (``attn.in_proj_weight``, ``mlp.c_fc``,
    ``mlp.c_proj``, QuickGELU) and ``proj`` to the output dimension (768 for ViT-L/14).
``linear_probe``
    One ``nn.Linear(features, 1)``: UnivFD's ``fc_weights.pth`` (``weight`` [1, 768], ``bias``).
``laundering_patchnet``
    Ours: a small CNN giving 3-way logits (pristine / laundered / synthetic) per patch.
``autoencoder_kl``
    diffusers' ``AutoencoderKL`` (the SD / SDXL VAE layout), built by diffusers itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import torch
import torch.nn.functional as F
from torch import nn

from detectors.learned.errors import UnknownArchitectureError

IMAGENET_MEAN: Final = (0.485, 0.456, 0.406)
IMAGENET_STD: Final = (0.229, 0.224, 0.225)
CLIP_MEAN: Final = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD: Final = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class Architecture:
    """A named network builder and what its published weights expect."""

    name: str
    build: Callable[[Mapping[str, Any]], nn.Module]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    input_size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    #: Only checkpoint keys under this prefix belong to the module (prefix stripped).
    key_prefix: str = ""


_ARCHITECTURES: dict[str, Architecture] = {}


def register(arch: Architecture) -> Architecture:
    """Add ``arch`` to the registry (a name may be registered once)."""
    if arch.name in _ARCHITECTURES:
        raise ValueError(f"architecture {arch.name!r} registered twice")
    _ARCHITECTURES[arch.name] = arch
    return arch


def get_architecture(name: str) -> Architecture:
    """The architecture called ``name``, else :class:`UnknownArchitectureError`."""
    try:
        return _ARCHITECTURES[name]
    except KeyError:
        raise UnknownArchitectureError(
            f"unknown architecture {name!r}; known: {', '.join(sorted(_ARCHITECTURES))}"
        ) from None


def architectures() -> list[str]:
    """Names of every registered architecture."""
    return sorted(_ARCHITECTURES)


def build(name: str, config: Mapping[str, Any] | None = None) -> nn.Module:
    """A freshly initialised module of architecture ``name`` (defaults overridden by config)."""
    arch = get_architecture(name)
    return arch.build({**arch.defaults, **(config or {})})


# --- NPR -------------------------------------------------------------------------------------


class BasicBlock(nn.Module):
    """ResNet basic block (torchvision / NPR layout)."""

    expansion = 1

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)  # type: ignore[no-any-return]


class Bottleneck(nn.Module):
    """ResNet bottleneck block (torchvision / NPR layout)."""

    expansion = 4

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)  # type: ignore[no-any-return]


def npr_residual(x: torch.Tensor) -> torch.Tensor:
    """``x - up(down(x))`` with nearest resampling by 2: the up-sampling trace NPR reads."""
    half = F.interpolate(x, scale_factor=0.5, mode="nearest", recompute_scale_factor=True)
    return x - F.interpolate(half, scale_factor=2.0, mode="nearest", recompute_scale_factor=True)


class NPRResNet(nn.Module):
    """NPR's network: ResNet stem + ``layer1``, ``layer2`` on the residual, ``fc1`` logit."""

    def __init__(self, bottleneck: bool, layers: tuple[int, int], width: int = 64) -> None:
        super().__init__()
        block: type[BasicBlock | Bottleneck] = Bottleneck if bottleneck else BasicBlock
        self.inplanes = width
        self.conv1 = nn.Conv2d(3, width, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, width * 2, layers[1], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc1 = nn.Linear(width * 2 * block.expansion, 1)

    def _make_layer(
        self, block: type[BasicBlock | Bottleneck], planes: int, blocks: int, stride: int = 1
    ) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers: list[nn.Module] = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(npr_residual(x) * 2.0 / 3.0))))
        x = self.avgpool(self.layer2(self.layer1(x)))
        return self.fc1(torch.flatten(x, 1)).squeeze(1)  # type: ignore[no-any-return]


# --- CLIP ViT image tower ----------------------------------------------------------------------


class QuickGELU(nn.Module):
    """OpenAI CLIP's activation: ``x * sigmoid(1.702 x)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    """CLIP's transformer block (``ln_1``, ``attn``, ``ln_2``, ``mlp.c_fc``/``mlp.c_proj``)."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(width, width * 4))
        self.mlp.add_module("gelu", QuickGELU())
        self.mlp.add_module("c_proj", nn.Linear(width * 4, width))
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.ln_1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))  # type: ignore[no-any-return]


class Transformer(nn.Module):
    """CLIP's ``transformer.resblocks`` stack (sequence-first, as CLIP runs it)."""

    def __init__(self, width: int, layers: int, heads: int) -> None:
        super().__init__()
        self.resblocks = nn.Sequential(
            *[ResidualAttentionBlock(width, heads) for _ in range(layers)]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.resblocks(x)  # type: ignore[no-any-return]


class ClipVisionTransformer(nn.Module):
    """CLIP's ``visual`` module; ``forward`` returns ``encode_image`` features."""

    def __init__(
        self,
        input_resolution: int,
        patch_size: int,
        width: int,
        layers: int,
        heads: int,
        output_dim: int,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, patch_size, patch_size, bias=False)
        scale = width**-0.5
        grid = input_resolution // patch_size
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(grid * grid + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, layers, heads)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x).flatten(2).permute(0, 2, 1)  # N, grid², width
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.transformer(self.ln_pre(x).permute(1, 0, 2)).permute(1, 0, 2)
        return self.ln_post(x[:, 0, :]) @ self.proj  # type: ignore[no-any-return]


# --- heads and our own small networks ----------------------------------------------------------


class LinearProbe(nn.Linear):
    """UnivFD's head: one linear layer to a single logit (``weight`` [1, F], ``bias`` [1])."""

    def __init__(self, features: int) -> None:
        super().__init__(features, 1)


class PatchNet(nn.Module):
    """Ours: 3-way logits (pristine / laundered / synthetic) for each input patch.

    The first layer sees the image and its high-pass residual (``x - blur(x)``): autoencoder
    decoders leave their traces in the fine texture, not in the content.
    """

    def __init__(self, width: int = 24, classes: int = 3) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(6, width, 3, 1, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, 2, 1),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width * 2, 3, 2, 1),
            nn.BatchNorm2d(width * 2),
            nn.ReLU(inplace=True),
            nn.Conv2d(width * 2, width * 2, 3, 1, 1),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(width * 2, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        blur = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, 1)
        return self.head(torch.flatten(self.features(torch.cat([x, x - blur], 1)), 1))  # type: ignore[no-any-return]


def _autoencoder_kl(config: Mapping[str, Any]) -> nn.Module:
    from detectors.learned.offline import force_offline

    force_offline()
    try:
        from diffusers import AutoencoderKL
    except ImportError as exc:  # an optional extra
        raise UnknownArchitectureError(
            "architecture 'autoencoder_kl' needs diffusers: pip install 'provreg[learned]'"
        ) from exc
    factory: Any = AutoencoderKL
    module: nn.Module = factory(**dict(config))
    return module


register(
    Architecture("npr_resnet50", lambda c: NPRResNet(True, (3, 4), int(c["width"])), {"width": 64})
)
register(
    Architecture(
        "npr_tiny",
        lambda c: NPRResNet(False, (1, 1), int(c["width"])),
        {"width": 16},
        input_size=64,
    )
)
register(
    Architecture(
        "clip_vit",
        lambda c: ClipVisionTransformer(**{k: int(v) for k, v in c.items()}),
        {
            "input_resolution": 224,
            "patch_size": 14,
            "width": 1024,
            "layers": 24,
            "heads": 16,
            "output_dim": 768,
        },
        mean=CLIP_MEAN,
        std=CLIP_STD,
        key_prefix="visual.",
    )
)
register(
    Architecture(
        "linear_probe",
        lambda c: LinearProbe(int(c["features"])),
        {"features": 768},
        mean=CLIP_MEAN,
        std=CLIP_STD,
    )
)
register(
    Architecture(
        "laundering_patchnet",
        lambda c: PatchNet(int(c["width"])),
        {"width": 24},
        input_size=32,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
    )
)
register(
    Architecture(
        "autoencoder_kl",
        _autoencoder_kl,
        {
            "in_channels": 3,
            "out_channels": 3,
            "latent_channels": 4,
            "down_block_types": ["DownEncoderBlock2D"] * 4,
            "up_block_types": ["UpDecoderBlock2D"] * 4,
            "block_out_channels": [128, 256, 512, 512],
            "layers_per_block": 2,
            "sample_size": 512,
        },
        input_size=512,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
    )
)
