"""PyTorch state dicts, loaded with ``torch.load(weights_only=True)`` and nothing else.

``weights_only=True`` swaps pickle's unpickler for PyTorch's restricted one, which builds
tensors, containers and primitives and refuses every other global, so a checkpoint that
carries code (a ``__reduce__`` calling ``os.system``) is refused before anything runs. Any
such refusal is the ``unsafe-pickle`` error; nothing here ever falls back to a full load.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Mapping
from typing import Any, Final

from detectors.model.tensors import ModelFormatError, Tensor

_MAX_DEPTH: Final = 8

#: torch dtype name → (safetensors dtype, numpy little-endian view dtype).
_DTYPES: Final[dict[str, tuple[str, str]]] = {
    "float64": ("F64", "<f8"),
    "float32": ("F32", "<f4"),
    "float16": ("F16", "<f2"),
    "bfloat16": ("BF16", "<u2"),
    "int64": ("I64", "<i8"),
    "int32": ("I32", "<i4"),
    "int16": ("I16", "<i2"),
    "int8": ("I8", "i1"),
    "uint8": ("U8", "u1"),
    "bool": ("BOOL", "u1"),
}


def parse(data: bytes) -> list[Tensor]:
    """Every tensor of a state dict (nested dicts flattened with ``.``), in name order."""
    import torch

    try:
        loaded = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        named = [
            line for line in lines if "unpickler error" in line.lower() or "global" in line.lower()
        ]
        reason = (named or lines or ["refused"])[0][:200]
        raise ModelFormatError(
            "unsafe-pickle", f"refused by torch.load(weights_only=True): {reason}"
        ) from None
    except Exception as exc:  # a damaged archive is a verdict, not a crash
        raise ModelFormatError("corrupt", f"{type(exc).__name__}: {exc}") from None
    found: dict[str, Tensor] = {}
    _collect(loaded, "", found, 0)
    if not found:
        raise ModelFormatError("corrupt", "no tensors in this PyTorch file")
    return [found[name] for name in sorted(found)]


def _collect(value: Any, prefix: str, found: dict[str, Tensor], depth: int) -> None:
    import torch

    if isinstance(value, torch.Tensor):
        found[prefix or "tensor"] = _tensor(prefix or "tensor", value)
    elif isinstance(value, Mapping) and depth < _MAX_DEPTH:
        for key, item in value.items():
            _collect(item, f"{prefix}.{key}" if prefix else str(key), found, depth + 1)
    elif isinstance(value, list | tuple) and depth < _MAX_DEPTH:
        for index, item in enumerate(value):
            _collect(item, f"{prefix}.{index}" if prefix else str(index), found, depth + 1)


def _tensor(name: str, value: Any) -> Tensor:
    import torch

    tensor = value.detach().cpu()
    if tensor.is_quantized:
        tensor = tensor.int_repr()
    kind = str(tensor.dtype).removeprefix("torch.")
    if kind not in _DTYPES:
        raise ModelFormatError("unsupported-format", f"tensor {name[:80]!r}: dtype {kind}")
    dtype, view = _DTYPES[kind]
    tensor = tensor.contiguous()
    if kind == "bfloat16":
        tensor = tensor.view(torch.int16)
    array = tensor.numpy().astype(view, copy=False)
    return Tensor(name, dtype, tuple(int(d) for d in tensor.shape), array.tobytes())
