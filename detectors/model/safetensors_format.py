"""safetensors read with strict bounds, and written canonically.

The header is parsed here rather than by the ``safetensors`` library because every claim in
it is checked against the bytes actually present before anything is sliced: the header
length against the file, each tensor's offsets against the data section, each tensor's byte
count against ``dtype x shape``, and the offsets against each other (no overlaps). The
library would mmap a file and trust a header; a hostile header (one claiming terabytes, a
10 GB tensor in a 1 kB file, overlapping offsets) must be a clear error, not an allocation.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Final

from detectors.model.tensors import DTYPES, MAX_RANK, ModelFormatError, Tensor

#: Largest header accepted (the format's own reader caps it at 100 MB).
MAX_HEADER_BYTES: Final = 100 * 1024 * 1024
MAX_TENSORS: Final = 200_000


def parse(data: bytes) -> tuple[list[Tensor], dict[str, str]]:
    """Tensors (by offset) and ``__metadata__`` of a safetensors file; checked, not trusted."""
    if len(data) < 10:
        raise ModelFormatError("truncated", f"{len(data)} bytes: no safetensors header")
    size = int.from_bytes(data[:8], "little")
    if size > MAX_HEADER_BYTES or size > len(data) - 8:
        raise ModelFormatError(
            "corrupt",
            f"header claims {size} bytes; the file holds {len(data) - 8} after the "
            f"length field (limit {MAX_HEADER_BYTES})",
        )
    try:
        header = json.loads(data[8 : 8 + size])
    except (ValueError, RecursionError) as exc:
        raise ModelFormatError("corrupt", f"header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise ModelFormatError("corrupt", "header is not a JSON object")
    if len(header) > MAX_TENSORS:
        raise ModelFormatError("corrupt", f"{len(header)} header entries (limit {MAX_TENSORS})")
    body_start = 8 + size
    body = len(data) - body_start
    metadata = _metadata(header.pop("__metadata__", {}))
    spans: list[tuple[int, int, str, str, tuple[int, ...]]] = []
    for name, info in header.items():
        dtype, shape, begin, end = _entry(name, info, body)
        spans.append((begin, end, name, dtype, shape))
    spans.sort()
    previous_end, previous_name = 0, ""
    for begin, end, name, *_ in spans:
        if begin < previous_end and end > begin:
            raise ModelFormatError(
                "corrupt", f"tensors {previous_name!r} and {name!r} have overlapping offsets"
            )
        if end > begin:
            previous_end, previous_name = end, name
    view = memoryview(data)  # slices share the file's bytes: no copy of the weights
    tensors = [
        Tensor(name, dtype, shape, view[body_start + begin : body_start + end])
        for begin, end, name, dtype, shape in spans
    ]
    return tensors, metadata


def _entry(name: str, info: object, body: int) -> tuple[str, tuple[int, ...], int, int]:
    if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
        raise ModelFormatError("corrupt", f"tensor {name[:80]!r}: malformed header entry")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if dtype not in DTYPES:
        raise ModelFormatError("unsupported-format", f"tensor {name[:80]!r}: dtype {dtype!r}")
    if not (isinstance(shape, list) and len(shape) <= MAX_RANK and all(_natural(d) for d in shape)):
        raise ModelFormatError("corrupt", f"tensor {name[:80]!r}: bad shape {str(shape)[:80]}")
    if not (
        isinstance(offsets, list)
        and len(offsets) == 2
        and all(map(_natural, offsets))
        and offsets[0] <= offsets[1]
    ):
        raise ModelFormatError("corrupt", f"tensor {name[:80]!r}: bad data_offsets")
    begin, end = offsets
    if end > body:
        raise ModelFormatError(
            "truncated",
            f"tensor {name[:80]!r} declares bytes {begin}..{end}; the data section holds {body}",
        )
    expected = math.prod(shape) * _itemsize(dtype)
    if expected != end - begin:
        raise ModelFormatError(
            "corrupt",
            f"tensor {name[:80]!r}: {dtype}{shape} is {expected} bytes, its offsets "
            f"span {end - begin}",
        )
    return dtype, tuple(shape), begin, end


def _natural(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _itemsize(dtype: str) -> int:
    return int(DTYPES[dtype][-1])


def _metadata(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ModelFormatError("corrupt", "__metadata__ must map strings to strings")
    return value


def serialize(tensors: Sequence[Tensor], metadata: Mapping[str, str] | None = None) -> bytes:
    """Canonical safetensors bytes: names sorted, compact sorted-key header padded to 8."""
    ordered = sorted(tensors, key=lambda t: t.name)
    header: dict[str, object] = {}
    if metadata:
        header["__metadata__"] = dict(sorted(metadata.items()))
    offset = 0
    for tensor in ordered:
        header[tensor.name] = {
            "dtype": tensor.dtype,
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + len(tensor.raw)],
        }
        offset += len(tensor.raw)
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + b"".join(t.raw for t in ordered)
