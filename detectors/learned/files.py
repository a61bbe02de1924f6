"""Weight files without torch: formats, SHA-256, checksum verification (cheap to import)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from detectors.learned.errors import ModelChecksumError, ModelFormatError

#: File formats a store entry may have.
FORMATS = ("safetensors", "pytorch", "torchscript", "onnx")


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_checksum(path: str | Path, sha256: str) -> None:
    """Raise :class:`ModelChecksumError` unless the file hashes to ``sha256``."""
    try:
        actual = sha256_file(path)
    except OSError as exc:
        raise ModelFormatError(f"cannot read weight file {path}: {exc}") from exc
    if actual != sha256.lower():
        raise ModelChecksumError(
            f"weight file {path} has SHA-256 {actual}, the manifest pins {sha256}; refused"
        )


def guess_format(path: str | Path) -> str:
    """The format implied by a file name (``.safetensors``, ``.onnx``, ``.pt``/``.pth``...)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".safetensors":
        return "safetensors"
    if suffix == ".onnx":
        return "onnx"
    if suffix in (".ts", ".jit", ".torchscript"):
        return "torchscript"
    return "pytorch"
