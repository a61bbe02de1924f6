"""A small content-addressed store for watermark decoder files, pinned by SHA-256.

Interim: the general model store (``registry/model_store/``, being built on another branch)
will absorb this. The interface is kept narrow so that swap is mechanical:
:meth:`DecoderStore.put` (copy a file in, get its SHA-256) and :meth:`DecoderStore.path`
(the verified path of a pinned file), plus :func:`verify_file` for files that live
elsewhere (the RivaGAN files shipped inside the ``invisible-watermark`` package). Files are
kept as ``<root>/sha256/<hex>``; the registry passes ``$PROVREG_HOME/watermark`` as root
through the detector's ``decoder_store`` option (detectors never read the environment).

Errors::

    DecoderFileError            (a ValueError, like the detector's other option errors)
    ├── DecoderMissingError     no file with that SHA-256 / at that path
    └── DecoderHashError        the file's SHA-256 differs from the pinned one
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
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


class DecoderStore:
    """Decoder files under ``root``, each named by the SHA-256 of its bytes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _slot(self, sha256: str) -> Path:
        return self.root / "sha256" / check_sha256(sha256)

    def put(self, source: Path) -> str:
        """Copy ``source`` into the store (atomically) and return its SHA-256."""
        digest = sha256_file(source)
        target = self._slot(digest)
        if target.is_file() and sha256_file(target) == digest:
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        os.close(handle)
        try:
            shutil.copyfile(source, temp)
            if sha256_file(Path(temp)) != digest:
                raise DecoderHashError(f"{source} changed while it was being copied")
            os.replace(temp, target)
        finally:
            Path(temp).unlink(missing_ok=True)
        return digest

    def path(self, sha256: str) -> Path:
        """The verified path of the file pinned by ``sha256``."""
        return verify_file(self._slot(sha256), sha256)
