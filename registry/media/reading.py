"""Reading media back: what the dashboard and re-scans call."""

from __future__ import annotations

import logging
from functools import lru_cache

from registry.media.policy import MediaPolicy
from registry.media.store import MediaStore
from registry.settings import Settings

log = logging.getLogger(__name__)


@lru_cache(maxsize=8)
def _store(url: str) -> MediaStore:
    return MediaStore(url)


def store_for(settings: Settings) -> MediaStore:
    """The media store ``settings`` configure (``$PROVREG_HOME/media`` by default)."""
    return _store(MediaPolicy.parse(settings.media, settings.home).url)


def read_media(settings: Settings, sha256: str) -> bytes | None:
    """The original bytes of asset ``sha256``, checked against their SHA-256.

    None when they are not kept (thumbnail-only policy, over the size cap, deleted for legal
    reasons, ingested before the store existed) or fail their check; never raises for a
    missing or unreachable object.
    """
    try:
        return store_for(settings).read_original(sha256.lower())
    except Exception as exc:  # an unreachable object store reads as "not available"
        log.warning("media store: cannot read %s: %s", sha256, exc)
        return None


def read_thumbnail(settings: Settings, sha256: str) -> bytes | None:
    """A JPEG thumbnail (longest side 256 px) of asset ``sha256``, or None (as above)."""
    try:
        return store_for(settings).read_thumbnail(sha256.lower())
    except Exception as exc:
        log.warning("media store: cannot read the thumbnail of %s: %s", sha256, exc)
        return None
