"""Small thumbnails for result tables, as ``data:`` URIs (the grid shows them inline).

Taken from the media store's thumbnail when it exists (``registry.media.read_thumbnail``,
looked up at run time), else from the asset's recorded path through ``dashboard.media``.
"""

from __future__ import annotations

import base64
import importlib
import io
import logging

from PIL import Image

from dashboard.media import asset_preview
from dashboard.state import registry

LOG = logging.getLogger("provreg.dashboard")
SIZE = (96, 96)


def _stored(sha256: str) -> bytes | None:
    try:
        reader = getattr(importlib.import_module("registry.media"), "read_thumbnail", None)
    except ImportError:
        return None
    if not callable(reader):
        return None
    try:
        data = reader(registry().settings, sha256)
    except Exception:  # optional source: fall back to the recorded path, log why
        LOG.exception("thumbnail read failed for %s", sha256)
        return None
    return data if isinstance(data, bytes) else None


def _data_uri(image: Image.Image) -> str:
    small = image.convert("RGB")
    small.thumbnail(SIZE)
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def thumbnail_uri(sha256: str, location: str | None) -> str | None:
    """A small JPEG ``data:`` URI for the asset, or None when no image is at hand."""
    stored = _stored(sha256)
    if stored is not None:
        try:
            with Image.open(io.BytesIO(stored)) as image:
                # Our own store's small JPEG; still bounded before decoding.
                if image.width * image.height <= 1024 * 1024:
                    return _data_uri(image)
        except (OSError, ValueError, Image.DecompressionBombError):
            pass
    preview = asset_preview(sha256, location, registry().settings.limits)
    return None if preview.image is None else _data_uri(preview.image)
