"""The content-addressed media store: bytes kept by SHA-256 under a local folder or a URL.

Layout under the store's root (the same on every backend)::

    originals/ab/<sha256>          the asset's bytes; the name is their SHA-256
    thumbs/ab/<sha256>.thumb       b"PRT1" + SHA-256 of the JPEG + a JPEG thumbnail

Every read is checked: an original must hash to its name, a thumbnail to the digest in its
header, else the read returns None and logs (a corrupt object is never served).

Local folders (``file://`` or a plain path) are written with
:func:`detectors.atomic.write_atomically` (temporary file, fsync, rename, fsync of the
folder), so a crash leaves the old object or the new one, never a torn one. Other URLs
(``s3://``, ``gs://``, ``az://``, ``memory://`` …) go through fsspec, whose object stores
replace whole objects atomically on PUT; since names are content addresses a put is
idempotent, and an object already present with the right size is not sent again.
fsspec is used rather than a client per cloud because one URL then selects S3, GCS or Azure
(installing ``s3fs``, ``gcsfs`` or ``adlfs``) with no code of ours per provider.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlparse

from detectors.atomic import write_atomically
from registry.errors import ConfigurationError

log = logging.getLogger(__name__)

THUMB_MAGIC: Final = b"PRT1"
ORIGINAL: Final = "original"
THUMBNAIL: Final = "thumbnail"


def object_path(sha256: str, kind: str) -> str:
    """The object's path relative to the store root."""
    if kind == ORIGINAL:
        return f"originals/{sha256[:2]}/{sha256}"
    return f"thumbs/{sha256[:2]}/{sha256}.thumb"


def pack_thumbnail(jpeg: bytes) -> bytes:
    """A thumbnail object: magic, the JPEG's SHA-256, the JPEG."""
    return THUMB_MAGIC + hashlib.sha256(jpeg).digest() + jpeg


def unpack_thumbnail(blob: bytes) -> bytes | None:
    """The JPEG of a thumbnail object, or None when it is not one or fails its digest."""
    if len(blob) < 36 or blob[:4] != THUMB_MAGIC:
        return None
    digest, jpeg = blob[4:36], blob[36:]
    return jpeg if hashlib.sha256(jpeg).digest() == digest else None


class MediaStore:
    """Objects by relative path under one root: a local folder or an fsspec URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = urlparse(url)
        self._local: Path | None = None
        self._fs: Any = None
        if parsed.scheme in ("", "file"):
            self._local = Path(parsed.path if parsed.scheme else url)
            return
        try:
            import fsspec
        except ImportError as exc:  # pragma: no cover - fsspec is a base dependency
            raise ConfigurationError("media store URLs need fsspec") from exc
        try:
            self._fs, root = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError) as exc:
            raise ConfigurationError(
                f"cannot open media store {url!r}: {exc}; install the fsspec backend for "
                "its scheme (s3fs, gcsfs or adlfs)"
            ) from exc
        self._root = str(root).rstrip("/")

    @property
    def is_local(self) -> bool:
        """Whether the store is a local folder."""
        return self._local is not None

    def _full(self, path: str) -> str:
        return f"{self._root}/{path}"

    def put(self, path: str, data: bytes) -> bool:
        """Store ``data`` at ``path`` unless an object of that size is there; True if written."""
        if self._local is not None:
            target = self._local / path
            try:
                if target.stat().st_size == len(data):
                    return False
            except FileNotFoundError:
                pass
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(target, lambda fh: fh.write(data))
            return True
        full = self._full(path)
        try:
            if self._fs.size(full) == len(data):
                return False
        except (FileNotFoundError, OSError):
            pass
        self._fs.pipe_file(full, data)
        return True

    def get(self, path: str) -> bytes | None:
        """The object's bytes, or None when absent."""
        try:
            if self._local is not None:
                return (self._local / path).read_bytes()
            return bytes(self._fs.cat_file(self._full(path)))
        except (FileNotFoundError, IsADirectoryError):
            return None

    def delete(self, path: str) -> bool:
        """Remove the object; True if one was there."""
        if self._local is not None:
            target = self._local / path
            try:
                target.unlink()
            except FileNotFoundError:
                return False
            folder = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(folder)  # the removal itself survives a crash
            finally:
                os.close(folder)
            return True
        full = self._full(path)
        if not self._fs.exists(full):  # S3 answers a DELETE of nothing with success
            return False
        try:
            self._fs.rm_file(full)
        except FileNotFoundError:
            return False
        return True

    def read_original(self, sha256: str) -> bytes | None:
        """An original's bytes if present and hashing to ``sha256``; else None."""
        data = self.get(object_path(sha256, ORIGINAL))
        if data is None:
            return None
        if hashlib.sha256(data).hexdigest() != sha256:
            log.error("media store %s: object %s fails its SHA-256; not served", self.url, sha256)
            return None
        return data

    def read_thumbnail(self, sha256: str) -> bytes | None:
        """A thumbnail's JPEG if present and intact; else None."""
        blob = self.get(object_path(sha256, THUMBNAIL))
        if blob is None:
            return None
        jpeg = unpack_thumbnail(blob)
        if jpeg is None:
            log.error("media store %s: thumbnail of %s is corrupt; not served", self.url, sha256)
        return jpeg
