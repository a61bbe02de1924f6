"""Decoder files pinned by SHA-256: hash checks and the errors a bad file raises.

Decoder weight files live in the model store (``registry/models``, entries of kind
``watermark-decoder``); the registry resolves an entry to a local path and hands the detector
the manifest with that ``path`` and its pinned ``sha256``. The detector never reads the store or
the environment: :func:`verify_file` checks the bytes before anything loads them (the RivaGAN
files shipped inside the ``invisible-watermark`` package are checked the same way).

Errors::

    DecoderFileError            (a ValueError, like the detector's other option errors)
    ├── DecoderMissingError     no file with that SHA-256 / at that path
    └── DecoderHashError        the file's SHA-256 differs from the pinned one
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from detectors.watermark.payloads import PayloadError

_HEX64 = re.compile(r"[0-9a-f]{64}")


class DecoderFileError(PayloadError):
    """A decoder file could not be used; the message names the file and why."""


class DecoderMissingError(DecoderFileError):
    """The pinned decoder file is not there."""


class DecoderHashError(DecoderFileError):
    """The decoder file's SHA-256 is not the pinned one (corrupt, truncated or swapped)."""


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_sha256(value: object) -> str:
    """``value`` as a lower-case 64-hex SHA-256, or :class:`DecoderFileError`."""
    if not isinstance(value, str) or not _HEX64.fullmatch(value.lower()):
        raise DecoderFileError(f"sha256 must be 64 hex digits, got {value!r}")
    return value.lower()


def verify_file(path: Path, sha256: str) -> Path:
    """Return ``path`` if its bytes hash to ``sha256``; raise a typed error otherwise."""
    expected = check_sha256(sha256)
    if not path.is_file():
        raise DecoderMissingError(f"decoder file {path} does not exist")
    actual = sha256_file(path)
    if actual != expected:
        raise DecoderHashError(
            f"decoder file {path} has SHA-256 {actual}, pinned {expected}: refusing to load it"
        )
    return path
