"""ONNX initializers, parsed from the bytes given with external data never followed.

The ``onnx`` package parses the protobuf (``ModelProto.FromString``: no file access at all);
an initializer whose data lives in an external file is refused rather than read, because
resolving it means opening a path the file chose. ``onnx`` is an optional dependency (the
``model`` extra): without it ONNX files are ``unsupported-format``.
"""

from __future__ import annotations

from typing import Any

from detectors.model.tensors import ModelFormatError, Tensor

_EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL


def parse(data: bytes) -> list[Tensor]:
    """The graph's initializers as tensors, in name order."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise ModelFormatError(
            "unsupported-format", "ONNX needs the onnx package (pip install provreg[model])"
        ) from None
    try:
        model = onnx.ModelProto.FromString(data)
    except Exception as exc:  # a damaged protobuf is a verdict
        raise ModelFormatError("corrupt", f"not an ONNX model: {exc}") from None
    found: dict[str, Tensor] = {}
    for init in model.graph.initializer:
        if init.data_location == _EXTERNAL or len(init.external_data):
            raise ModelFormatError(
                "unsupported-format",
                f"initializer {init.name[:80]!r} keeps its data in an "
                "external file; external data is never followed",
            )
        try:
            array: Any = numpy_helper.to_array(init)
        except Exception as exc:
            raise ModelFormatError("corrupt", f"initializer {init.name[:80]!r}: {exc}") from None
        found[init.name] = _tensor(init.name, array)
    if not found:
        raise ModelFormatError("corrupt", "no initializers in this ONNX model")
    return [found[name] for name in sorted(found)]


def _tensor(name: str, array: Any) -> Tensor:
    import numpy as np

    kinds = {
        "float64": "F64",
        "float32": "F32",
        "float16": "F16",
        "int64": "I64",
        "int32": "I32",
        "int16": "I16",
        "int8": "I8",
        "uint8": "U8",
        "bool": "BOOL",
    }
    kind = kinds.get(str(array.dtype))
    if kind is None:
        raise ModelFormatError("unsupported-format", f"initializer {name[:80]!r}: {array.dtype}")
    canonical = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False)
    return Tensor(name, kind, tuple(int(d) for d in array.shape), canonical.tobytes())
