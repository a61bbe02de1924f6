"""Per-tensor manifests and fingerprints of a model: what lineage compares and evidence shows.

Each tensor gets its SHA-256 (canonical little-endian bytes), a *multiset hash* of its values
(the same for any permutation of the tensor's elements, so a copy whose neurons were permuted
still matches tensor by tensor), and a *sketch*: up to :data:`SKETCH_SIZE` values at positions
drawn from a generator seeded by the tensor's element count (so two tensors of one shape are
sampled at the same places) for cosine and relative L2 estimates without keeping whole models.

The multiset hash is written here (no library offers one over numpy arrays): every element's
bit pattern goes through a splitmix64-style multiply-xorshift mix and two nonlinear
read-outs of it are summed modulo 2**64, in cache-sized chunks, in one pass; the digest is
SHA-256 over the count and the two sums. It is linear-time (sorting the values, the obvious
alternative, was about 4x slower per GB here: docs/benchmarks.md) and not collision-resistant
against an adversary who crafts a different tensor with the same sums; it is meant to
recognise permuted copies, not to prove two tensors differ.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from detectors.model.tensors import FLOAT_DTYPES, Tensor

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
    multiset_hash: str
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
            "multiset_hash": self.multiset_hash,
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
            str(obj["multiset_hash"]),
            base64.b64decode(obj.get("sketch", "")),
        )


def fingerprint(tensor: Tensor) -> Fingerprint:
    """The fingerprint of one tensor."""
    values = tensor.array().reshape(-1)
    sketch = b""
    if tensor.dtype in FLOAT_DTYPES:
        picked = values
        if values.size > SKETCH_SIZE:
            rng = np.random.default_rng(values.size)
            picked = values[np.sort(rng.choice(values.size, SKETCH_SIZE, replace=False))]
        floats = Tensor(tensor.name, tensor.dtype, (picked.size,), picked.tobytes()).floats()
        if floats is not None:
            sketch = np.nan_to_num(floats).astype("<f4").tobytes()
    return Fingerprint(
        tensor.name,
        tensor.dtype,
        tensor.shape,
        hashlib.sha256(tensor.raw).hexdigest(),
        multiset_hash(values),
        sketch,
    )


_CHUNK: Final = 1 << 16  # 512 KiB of uint64: the passes below stay in cache
_SEED: Final = np.uint64(0x9E3779B97F4A7C15)
_M1: Final = np.uint64(0xBF58476D1CE4E5B9)
_M2: Final = np.uint64(0x94D049BB133111EB)


def multiset_hash(values: np.ndarray) -> str:
    """A permutation-invariant digest of ``values`` (see the module docstring)."""
    as_uint = (
        values.view(f"<u{values.dtype.itemsize}")
        if values.dtype.itemsize > 1
        else (values.view("u1"))
    )
    first = second = np.uint64(0)
    z = np.empty(_CHUNK, dtype=np.uint64)
    shifted = np.empty(_CHUNK, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for start in range(0, as_uint.size, _CHUNK):
            part = as_uint[start : start + _CHUNK]
            n = part.size
            zc, sc = z[:n], shifted[:n]
            zc[...] = part
            zc += _SEED
            zc *= _M1
            np.right_shift(zc, np.uint64(31), out=sc)
            zc ^= sc
            zc *= _M2
            first += zc.sum(dtype=np.uint64)
            np.right_shift(zc, np.uint64(29), out=sc)
            zc ^= sc
            second += zc.sum(dtype=np.uint64)
    text = f"{values.size}:{int(first):016x}:{int(second):016x}"
    return hashlib.sha256(text.encode()).hexdigest()


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
