"""Tensors as every model format here yields them, the model media types, and their sniffing.

A :class:`Tensor` holds its *canonical bytes*: the values in row-major order, little-endian,
in the tensor's own dtype (safetensors' layout). Hashes are taken over these bytes, so one
set of weights hashes the same whether it arrived as safetensors, a PyTorch state dict or
ONNX initializers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

#: Sniffed media types of model assets.
SAFETENSORS: Final = "application/x-safetensors"
PYTORCH_ZIP: Final = "application/x-pytorch"
PICKLE: Final = "application/x-pickle"
ONNX: Final = "application/x-onnx"
MODEL_TYPES: Final = frozenset({SAFETENSORS, PYTORCH_ZIP, PICKLE, ONNX})

#: safetensors dtype names → numpy little-endian dtype (BF16 and FP8 kept as raw integers).
DTYPES: Final[dict[str, str]] = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "BF16": "<u2",
    "F8_E4M3": "u1",
    "F8_E5M2": "u1",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U64": "<u8",
    "U32": "<u4",
    "U16": "<u2",
    "U8": "u1",
    "BOOL": "u1",
}
FLOAT_DTYPES: Final = frozenset({"F64", "F32", "F16", "BF16"})
#: Dimensions a tensor may have; more is not a weight tensor any format here writes.
MAX_RANK: Final = 8


class ModelFormatError(Exception):
    """A model file that cannot be read safely: ``reason`` (intake's vocabulary) and detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail[:300]


@dataclass(frozen=True)
class Tensor:
    """One named tensor and its canonical little-endian bytes."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    raw: bytes | memoryview

    @property
    def count(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)

    def array(self) -> np.ndarray:
        """The values as stored (BF16/FP8 as their raw unsigned integers), shaped."""
        return np.frombuffer(self.raw, dtype=np.dtype(DTYPES[self.dtype])).reshape(self.shape)

    def floats(self) -> np.ndarray | None:
        """The values as float64 (BF16 widened exactly); ``None`` for non-float dtypes."""
        if self.dtype not in FLOAT_DTYPES:
            return None
        if self.dtype == "BF16":
            wide = self.array().astype(np.uint32) << 16
            return wide.view(np.float32).astype(np.float64)
        return self.array().astype(np.float64)


def sniff_model(head: bytes) -> str | None:
    """The model media type of a file from its first bytes, or ``None``.

    safetensors: an 8-byte little-endian header length then ``{``; PyTorch: a zip whose first
    entry is ``…/data.pkl`` (``torch.save``'s layout); a bare pickle (protocol 2-5 opcode); ONNX:
    a ModelProto beginning with ``ir_version`` (field 1, a small varint) then another
    ModelProto field. The header length is not judged here: a file that looks like safetensors
    but lies about its header is sniffed as safetensors and refused by the parser, clearly.
    """
    if len(head) >= 10 and head[8:9] == b"{" and head[9:10] in b'"} \n\t\r':
        return SAFETENSORS
    if head[:4] == b"PK\x03\x04" and len(head) >= 30:
        name_len = int.from_bytes(head[26:28], "little")
        name = head[30 : 30 + name_len]
        if (
            name.endswith(b"data.pkl")
            or name.endswith(b"/.format_version")
            or (name.endswith(b"/byteorder"))
        ):
            return PYTORCH_ZIP
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return PICKLE
    if len(head) >= 3 and head[0] == 0x08 and 1 <= head[1] <= 15 and head[2] in _ONNX_NEXT:
        return ONNX
    return None


# ModelProto field tags that follow ir_version: producer_name/version, domain,
# model_version, doc_string, graph, opset_import, metadata_props, training_info, functions.
_ONNX_NEXT: Final = frozenset({0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72, 0x7A, 0x82})
