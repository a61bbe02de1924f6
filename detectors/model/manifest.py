"""Per-tensor manifests and fingerprints of a model: what lineage compares and evidence shows.

Each tensor gets its SHA-256 (canonical little-endian bytes), a *sorted-value* SHA-256 (the
hash of its values sorted: the same for any permutation of the tensor's elements, so a copy
whose neurons were permuted still matches tensor by tensor), and a *sketch*: up to
:data:`SKETCH_SIZE` values at positions drawn from a generator seeded by the tensor's element
count (so two tensors of one shape are sampled at the same places) for cosine and relative L2
estimates without keeping whole models.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from detectors.model.tensors import Tensor

SKETCH_SIZE: Final = 4096
#: Tensors listed one by one in evidence; beyond it the manifest is summarised (and hashed).
EVIDENCE_TENSORS: Final = 64


@dataclass(frozen=True)
class Fingerprint:
    """What is kept of one tensor: identity, hashes and a value sketch."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    sha256: str
    sorted_sha256: str
    sketch: bytes  # float32 little-endian, empty for non-float tensors

    def sketch_values(self) -> np.ndarray:
        """The sketch as float64."""
        return np.frombuffer(self.sketch, dtype="<f4").astype(np.float64)

    def as_json(self) -> dict[str, Any]:
        """A JSON form (the sketch in base64) for detector options and the database."""
        return {
            "name": self.name,
            "dtype": self.dtype,
            "shape": list(self.shape),
            "sha256": self.sha256,
            "sorted_sha256": self.sorted_sha256,
            "sketch": base64.b64encode(self.sketch).decode(),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Fingerprint:
        """Inverse of :meth:`as_json`."""
        return cls(
            str(obj["name"]),
            str(obj["dtype"]),
            tuple(int(d) for d in obj["shape"]),
            str(obj["sha256"]),
            str(obj["sorted_sha256"]),
            base64.b64decode(obj.get("sketch", "")),
        )


def fingerprint(tensor: Tensor) -> Fingerprint:
    """The fingerprint of one tensor."""
    values = tensor.array().reshape(-1)
    ordered = np.sort(values, kind="stable").tobytes()
    floats = tensor.floats()
    sketch = b""
    if floats is not None:
        flat = floats.reshape(-1)
        if flat.size > SKETCH_SIZE:
            rng = np.random.default_rng(flat.size)
            flat = flat[np.sort(rng.choice(flat.size, SKETCH_SIZE, replace=False))]
        sketch = np.nan_to_num(flat).astype("<f4").tobytes()
    return Fingerprint(
        tensor.name,
        tensor.dtype,
        tensor.shape,
        hashlib.sha256(tensor.raw).hexdigest(),
        hashlib.sha256(ordered).hexdigest(),
        sketch,
    )


def manifest_digest(prints: Sequence[Fingerprint]) -> str:
    """SHA-256 over the sorted ``name, dtype, shape, sha256`` lines: the whole manifest."""
    lines = sorted(f"{p.name}\t{p.dtype}\t{list(p.shape)}\t{p.sha256}\n" for p in prints)
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def manifest_evidence(
    prints: Sequence[Fingerprint], limit: int = EVIDENCE_TENSORS
) -> dict[str, Any]:
    """The manifest for evidence: the first ``limit`` tensors by name, then a summary."""
    ordered = sorted(prints, key=lambda p: p.name)
    params = sum(int(np.prod(p.shape)) for p in ordered)
    shown = [
        {"name": p.name, "dtype": p.dtype, "shape": list(p.shape), "sha256": p.sha256}
        for p in ordered[:limit]
    ]
    return {
        "tensor_count": len(ordered),
        "parameters": params,
        "manifest_sha256": manifest_digest(ordered),
        "tensors": shown,
        "tensors_omitted": max(0, len(ordered) - limit),
        "summarised": len(ordered) > limit,
    }
