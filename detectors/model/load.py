"""One entry point from bytes to tensors, whatever the model format, with the sanity checks
every format shares (tensor count, non-finite floods)."""

from __future__ import annotations

from typing import Final

import numpy as np

from detectors.model import onnx_format, safetensors_format, torch_format
from detectors.model.tensors import (
    FLOAT_DTYPES,
    ONNX,
    PICKLE,
    PYTORCH_ZIP,
    SAFETENSORS,
    ModelFormatError,
    Tensor,
)

#: Above this share of non-finite float weights a file is refused as a NaN/inf flood.
MAX_NON_FINITE: Final = 0.5
_CHUNK: Final = 1 << 22


def load_tensors(data: bytes, media_type: str) -> list[Tensor]:
    """The tensors of a model file of sniffed type ``media_type``; :class:`ModelFormatError`
    with an intake reason when it cannot be read safely."""
    if media_type == SAFETENSORS:
        tensors, _ = safetensors_format.parse(data)
    elif media_type in (PYTORCH_ZIP, PICKLE):
        tensors = torch_format.parse(data)
    elif media_type == ONNX:
        tensors = onnx_format.parse(data)
    else:
        raise ModelFormatError("unsupported-format", f"{media_type} is not a model format")
    check_finite(tensors)
    return tensors


def check_finite(tensors: list[Tensor]) -> None:
    """Refuse a model whose float weights are mostly NaN or infinite (counted in the native
    dtype, chunk by chunk: no float64 copy of the model)."""
    total = bad = 0
    for tensor in tensors:
        if tensor.dtype not in FLOAT_DTYPES:
            continue
        values = tensor.array().reshape(-1)
        total += values.size
        for start in range(0, values.size, _CHUNK):
            chunk = values[start : start + _CHUNK]
            if tensor.dtype == "BF16":  # all-ones exponent: NaN or infinity
                bad += int(np.count_nonzero((chunk & 0x7F80) == 0x7F80))
            else:
                bad += int(chunk.size - np.count_nonzero(np.isfinite(chunk)))
    if total and bad > MAX_NON_FINITE * total:
        raise ModelFormatError(
            "non-finite-weights", f"{bad} of {total} float weights are NaN or infinite"
        )
