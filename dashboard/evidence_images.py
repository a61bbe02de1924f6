"""Decoded images for evidence views (the asset itself, copy-bank references), by sha256.

Bytes come from the registry's media store when it exists (``registry.media.read_media``,
looked up at run time so this works before and after that module lands), else from the
paths last recorded for the hash; they are decoded only through the hardened intake and
must still hash to ``sha256``.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from dashboard.state import registry
from registry.intake.pipeline import intake_bytes
from registry.queries.evidence import image_locations

LOG = logging.getLogger("provreg.dashboard")
MAX_SIDE = 1024


def _store_reader() -> Callable[..., Any] | None:
    try:
        module = importlib.import_module("registry.media")
    except ImportError:
        return None
    reader = getattr(module, "read_media", None)
    return reader if callable(reader) else None


def _candidates(sha256: str) -> list[bytes]:
    reg = registry()
    reader = _store_reader()
    if reader is not None:
        try:
            data = reader(reg.settings, sha256)
        except Exception:  # the store is optional here: fall back to paths, log why
            LOG.exception("media store read failed for %s", sha256)
            data = None
        if isinstance(data, bytes):
            return [data]
    with reg.sessions() as session:
        locations = image_locations(session, sha256)
    found = []
    for location in locations:
        path = Path(location)
        try:
            if path.is_file() and path.stat().st_size <= reg.settings.limits.max_bytes:
                found.append(path.read_bytes())
        except OSError:
            continue
    return found


def load_image(sha256: str) -> Image.Image | None:
    """The image whose bytes hash to ``sha256``, shrunk to 1024 px, or None."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        return None
    limits = registry().settings.limits
    for data in _candidates(sha256):
        result = intake_bytes(data, limits)
        if result.sha256 != sha256 or not result.ok or result.sample is None:
            continue
        image = result.sample.image
        if image is not None:
            copy = image.convert("RGB")
            copy.thumbnail((MAX_SIDE, MAX_SIDE))
            return copy
    return None
