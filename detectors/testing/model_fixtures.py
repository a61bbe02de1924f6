"""Small honest models for the model-provenance tests and benchmarks (CPU, seconds).

An MLP (64-64-10) and a small CNN (two 3x3 convolutions) trained on scikit-learn's bundled
digits (no download), optionally carrying an owner's weight watermark:

- **Uchida**: a regulariser ``BCE(X @ mean_out(W), bits)`` on the marked layer (``X`` from
  the key's seed), as in Uchida et al. 2017.
- **WaterMAS-style** (simplified, stated): the weights at the key's secret positions are
  substituted with ``±margin`` (sign = bit) and frozen, and the loss adds ``-gamma *
  ||dL/dw_marked||²``, a one-step stand-in for WaterMAS's sharpness-aware maximisation
  (the loss is made sharp around the marked weights, so changing them costs accuracy).

Then the attacks a platform sees: fine-tuning (no regulariser, other seed, other split),
magnitude pruning per tensor, and int8 quantisation (per-tensor symmetric, quantised then
dequantised to float32). Models of the same architecture from other seeds are the null set.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any, Final

import numpy as np
import torch
from torch import nn

from detectors.model import safetensors_format
from detectors.model.tensors import Tensor
from detectors.model.torch_format import _tensor
from detectors.model.weight_marks import uchida_matrix

ARCHS: Final = ("mlp", "cnn")
MARKED_LAYER: Final = {"mlp": "fc1.weight", "cnn": "conv2.weight"}
State = dict[str, torch.Tensor]


class MLP(nn.Module):
    """64 → 64 → 10 on flattened 8x8 digits."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(64, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.fc2(torch.relu(self.fc1(x.reshape(len(x), -1))))
        return out


class CNN(nn.Module):
    """Two 3x3 convolutions (4 and 8 channels), max-pool, linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 8, 3, padding=1)
        self.fc = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv1(x.reshape(len(x), 1, 8, 8)))
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        out: torch.Tensor = self.fc(x.reshape(len(x), -1))
        return out


def build(arch: str) -> nn.Module:
    """An untrained model of ``arch``."""
    return MLP() if arch == "mlp" else CNN()


@functools.cache
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's digits as float32 in [0, 1] and labels."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return (
        torch.tensor(data.data / 16.0, dtype=torch.float32),
        torch.tensor(data.target, dtype=torch.long),
    )


def uchida_key(
    arch: str, seed: int, bits: int | None = None, name: str = "owner-uchida"
) -> dict[str, Any]:
    """An Uchida key over the architecture's marked layer (JSON form, with a test id).

    Default length: 64 bits for the MLP (its averaged ``fc1`` vector has 64 entries), 32 for
    the CNN (``conv2`` averages to 4 x 3 x 3 = 36 entries; more bits than entries leaves
    the regulariser too little room, measured in docs/detectors/model.md)."""
    bits = bits or (64 if arch == "mlp" else 32)
    rng = np.random.default_rng(seed)
    payload = "".join(str(int(b)) for b in rng.integers(0, 2, bits))
    return {
        "name": name,
        "id": _test_id(name),
        "method": "uchida",
        "layer": MARKED_LAYER[arch],
        "seed": seed,
        "bits": payload,
    }


def watermas_key(
    arch: str, seed: int, bits: int = 64, name: str = "owner-watermas"
) -> dict[str, Any]:
    """A WaterMAS-style key: secret positions in the marked layer and their bits."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(dict(build(arch).named_parameters())[MARKED_LAYER[arch]].shape))
    positions = sorted(int(i) for i in rng.choice(size, bits, replace=False))
    payload = "".join(str(int(b)) for b in rng.integers(0, 2, bits))
    return {
        "name": name,
        "id": _test_id(name),
        "method": "watermas",
        "positions": [[MARKED_LAYER[arch], i] for i in positions],
        "bits": payload,
    }


def train(
    arch: str,
    seed: int,
    key: dict[str, Any] | None = None,
    steps: int = 100,
    init: State | None = None,
    lr: float = 1e-2,
    split: int = 0,
) -> State:
    """Train (or fine-tune from ``init``) on half the digits; ``key`` embeds a watermark.

    Runs on one torch thread (restored after): on a shared machine, more threads made
    these tiny models ten times slower, not faster."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(arch, seed, key, steps, init, lr, split)
    finally:
        torch.set_num_threads(threads)


def _train(
    arch: str,
    seed: int,
    key: dict[str, Any] | None,
    steps: int,
    init: State | None,
    lr: float,
    split: int,
) -> State:
    torch.manual_seed(seed)
    model = build(arch)
    if init is not None:
        model.load_state_dict(init)
    x, y = digits()
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(split))
    half = order[: len(x) // 2] if split == 0 else order[len(x) // 2 :]
    x, y = x[half], y[half]
    params = dict(model.named_parameters())
    marked = params[MARKED_LAYER[arch]]
    mask = _watermas_setup(marked, key) if key and key["method"] == "watermas" else None
    target = torch.tensor([int(c) for c in key["bits"]], dtype=torch.float32) if key else None
    matrix = None
    if key and key["method"] == "uchida":
        length = int(np.prod(marked.shape[1:]))
        matrix = torch.tensor(
            uchida_matrix(key["seed"], len(key["bits"]), length), dtype=torch.float32
        )
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        optimiser.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        if matrix is not None and target is not None:
            projected = matrix @ marked.reshape(marked.shape[0], -1).mean(dim=0)
            loss = loss + nn.functional.binary_cross_entropy_with_logits(projected * 50.0, target)
        if mask is not None:
            (grad,) = torch.autograd.grad(loss, marked, create_graph=True)
            loss = loss - 0.1 * (grad[mask] ** 2).sum()
        loss.backward()  # type: ignore[no-untyped-call]
        if mask is not None and marked.grad is not None:
            marked.grad[mask] = 0.0  # substituted weights stay as inserted
        optimiser.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _watermas_setup(marked: torch.Tensor, key: dict[str, Any]) -> torch.Tensor:
    mask = torch.zeros(marked.numel(), dtype=torch.bool)
    margin = 2.0 * float(marked.detach().abs().max())
    with torch.no_grad():
        flat = marked.view(-1)
        for (_, index), bit in zip(key["positions"], key["bits"], strict=True):
            flat[index] = margin if bit == "1" else -margin
            mask[index] = True
    return mask.view(marked.shape)


def fine_tune(arch: str, state: State, seed: int, steps: int = 50) -> State:
    """Fine-tune on the other half of the digits, no watermark term, smaller rate."""
    return train(arch, seed, init=state, steps=steps, lr=3e-3, split=1)


def prune(state: State, fraction: float) -> State:
    """Zero the ``fraction`` smallest-magnitude weights of every weight matrix/kernel."""
    out = {}
    for name, value in state.items():
        if value.ndim >= 2 and fraction > 0:
            k = int(fraction * value.numel())
            threshold = value.abs().reshape(-1).kthvalue(max(k, 1)).values
            value = torch.where(value.abs() <= threshold, torch.zeros_like(value), value)
        out[name] = value.clone()
    return out


def quantise_int8(state: State) -> State:
    """Per-tensor symmetric int8 quantisation, dequantised back to float32."""
    out = {}
    for name, value in state.items():
        scale = float(value.abs().max()) / 127.0 or 1.0
        out[name] = (torch.clamp(torch.round(value / scale), -127, 127) * scale).float()
    return out


def accuracy(arch: str, state: State) -> float:
    """Accuracy on all digits."""
    model = build(arch)
    model.load_state_dict(state)
    x, y = digits()
    with torch.no_grad():
        return float((model(x).argmax(dim=1) == y).float().mean())


def tensors_of(state: State) -> list[Tensor]:
    """The state dict as :class:`Tensor` objects (canonical bytes)."""
    return [_tensor(name, value) for name, value in sorted(state.items())]


def safetensors_bytes(state: State) -> bytes:
    """The state dict as canonical safetensors bytes."""
    return safetensors_format.serialize(tensors_of(state))


def torch_bytes(state: State) -> bytes:
    """The state dict as ``torch.save`` bytes."""
    import io

    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def _test_id(name: str) -> str:
    return hashlib.sha256(b"test-id\x00" + name.encode()).hexdigest()[:16]
