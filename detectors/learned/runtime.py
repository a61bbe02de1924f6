"""Load a :class:`ModelSpec` into something that runs a batch, on the GPU when there is one.

Torch models (TorchScript, or a state dict in a project architecture) move to CUDA when
``torch.cuda.is_available()`` and run in ``inference_mode``; ``mixed_precision`` (bfloat16
autocast) is used only where the caller says it keeps accuracy. ONNX graphs run under
onnxruntime with the CUDA provider when it is present, else the CPU provider; their input
must be NCHW with 3 channels and a spatial size that is symbolic or equals the configured one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from detectors.learned.archs import build, get_architecture
from detectors.learned.checkpoint import load_into, read_state_dict, select_prefix
from detectors.learned.errors import ModelFormatError, ModelInputError
from detectors.learned.files import verify_checksum
from detectors.learned.offline import force_offline
from detectors.learned.spec import ModelSpec

Array = npt.NDArray[np.float32]


def default_device() -> str:
    """``cuda`` when torch sees a GPU, else ``cpu``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


class Runner:
    """A loaded model: a float32 NCHW batch in, a float32 array out."""

    device: str = "cpu"

    def __call__(self, batch: Array) -> Array:
        raise NotImplementedError


class TorchRunner(Runner):
    """A torch module in eval mode on ``device``."""

    def __init__(self, module: nn.Module, device: str, *, mixed_precision: bool = False) -> None:
        self.module = module.to(device).eval()
        self.device = device
        self.mixed_precision = mixed_precision and device == "cuda"

    def __call__(self, batch: Array) -> Array:
        with torch.inference_mode():
            return self.tensor(torch.from_numpy(batch)).float().cpu().numpy()  # type: ignore[no-any-return]

    def tensor(self, batch: torch.Tensor) -> torch.Tensor:
        """Run on a tensor (moved to the device); the output stays there."""
        batch = batch.to(self.device, non_blocking=True)
        with torch.inference_mode():
            if self.mixed_precision:
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    return self.module(batch)  # type: ignore[no-any-return]
            return self.module(batch)  # type: ignore[no-any-return]


class OnnxRunner(Runner):
    """An ONNX graph under onnxruntime (CUDA provider when available)."""

    def __init__(self, path: str, input_size: int) -> None:
        import onnxruntime

        available = onnxruntime.get_available_providers()
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        try:
            self.session = onnxruntime.InferenceSession(path, providers=providers)
        except Exception as exc:
            raise ModelFormatError(f"onnxruntime cannot load {path}: {str(exc)[:300]}") from exc
        self.device = "cuda" if "CUDAExecutionProvider" in self.session.get_providers() else "cpu"
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ModelInputError(f"{path}: expected one graph input, found {len(inputs)}")
        shape = list(inputs[0].shape)
        if (
            len(shape) != 4
            or shape[1] != 3
            or any(isinstance(side, int) and side != input_size for side in shape[2:])
        ):
            raise ModelInputError(
                f"{path}: graph input {inputs[0].name!r} has shape {shape}; expected "
                f"[N, 3, {input_size}, {input_size}] (N and the sides may be symbolic)"
            )
        if "float" not in str(inputs[0].type):
            raise ModelInputError(f"{path}: graph input type {inputs[0].type}, expected float")
        self.input = inputs[0].name

    def __call__(self, batch: Array) -> Array:
        return np.asarray(self.session.run(None, {self.input: batch})[0], dtype=np.float32)


def load_module(spec: ModelSpec) -> nn.Module:
    """The torch module of a state-dict or TorchScript entry, checksum verified first."""
    verify_checksum(spec.path, spec.sha256)
    force_offline(spec.cache_dir)
    if spec.architecture is None:
        if spec.format != "torchscript":
            raise ModelFormatError(
                f"model {spec.name!r} ({spec.format}) needs an architecture to load into"
            )
        try:
            return torch.jit.load(spec.path, map_location="cpu")  # type: ignore[no-untyped-call,no-any-return]
        except Exception as exc:
            raise ModelFormatError(f"torch.jit.load failed for {spec.path}: {exc}") from exc
    arch = get_architecture(spec.architecture)
    module = build(spec.architecture, spec.config)
    state = select_prefix(read_state_dict(spec.path, spec.format), arch.key_prefix)
    load_into(module, state, spec.architecture)
    return module


def load_runner(
    spec: ModelSpec, device: str | None = None, *, mixed_precision: bool = False
) -> Runner:
    """A runner for ``spec`` on ``device`` (default: CUDA when available)."""
    if spec.format == "onnx":
        verify_checksum(spec.path, spec.sha256)
        return OnnxRunner(spec.path, spec.input_size)
    return TorchRunner(
        load_module(spec), device or default_device(), mixed_precision=mixed_precision
    )


def describe(runner: Runner) -> dict[str, Any]:
    """Evidence about where a model ran."""
    return {"device": runner.device}
