"""ResNet-18 / ResNet-50 with torchvision's layer and state-dict key names, in plain torch.

Why our own: TrustMark's decoder is ``torchvision.models.resnet18/50`` with a 100-logit ``fc``,
but the torchvision wheels on PyPI are CUDA builds whose compiled ops do not load against the
CPU torch this project pins (``import torchvision`` raises ``operator torchvision::nms does not
exist``), and no CPU build is reachable from the package index. The architecture is small and
fixed, so it is declared here with the same module names (``conv1``, ``bn1``, ``layer1.0.
downsample.0`` ... ``fc``) and shapes, so TrustMark checkpoints load into it unchanged; a test
pins the parameter counts to torchvision's published ones (11,689,512 and 25,557,032 with a
1000-class head).
"""

from __future__ import annotations

import torch
from torch import nn


def _conv3(inp: int, out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(inp, out, 3, stride=stride, padding=1, bias=False)


def _down(inp: int, out: int, stride: int) -> nn.Sequential | None:
    if stride == 1 and inp == out:
        return None
    return nn.Sequential(nn.Conv2d(inp, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out))


class BasicBlock(nn.Module):
    """Two 3x3 convolutions and a shortcut (ResNet-18/34)."""

    expansion = 1

    def __init__(self, inp: int, width: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1, self.bn1 = _conv3(inp, width, stride), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = _conv3(width, width), nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _down(inp, width, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One residual block."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        result: torch.Tensor = self.relu(out + shortcut)
        return result


class Bottleneck(nn.Module):
    """1x1, 3x3 (strided, as torchvision's v1.5), 1x1 convolutions and a shortcut (ResNet-50)."""

    expansion = 4

    def __init__(self, inp: int, width: int, stride: int = 1) -> None:
        super().__init__()
        out = width * self.expansion
        self.conv1 = nn.Conv2d(inp, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2, self.bn2 = _conv3(width, width, stride), nn.BatchNorm2d(width)
        self.conv3, self.bn3 = nn.Conv2d(width, out, 1, bias=False), nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _down(inp, out, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One residual block."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        result: torch.Tensor = self.relu(out + shortcut)
        return result


class ResNet(nn.Module):
    """torchvision's ResNet layout: stem, four stages, global average pool, ``fc``."""

    def __init__(
        self, block: type[BasicBlock | Bottleneck], layers: tuple[int, ...], num_classes: int
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1, self.relu = nn.BatchNorm2d(64), nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        inp = 64
        stages = []
        for index, (width, count) in enumerate(zip((64, 128, 256, 512), layers, strict=True)):
            blocks = []
            for i in range(count):
                blocks.append(block(inp, width, 2 if i == 0 and index > 0 else 1))
                inp = width * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(inp, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch of images."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        logits: torch.Tensor = self.fc(torch.flatten(self.avgpool(x), 1))
        return logits


def resnet(depth: int, num_classes: int) -> ResNet:
    """ResNet-18 or ResNet-50 with a ``num_classes``-way ``fc``."""
    if depth == 18:
        return ResNet(BasicBlock, (2, 2, 2, 2), num_classes)
    if depth == 50:
        return ResNet(Bottleneck, (3, 4, 6, 3), num_classes)
    raise ValueError(f"ResNet-{depth} is not declared here (18 or 50)")
