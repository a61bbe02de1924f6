"""Thumbnails, decoded only through the registry's hardened intake (never Pillow directly)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from registry.intake.pipeline import IntakeLimits, IntakeResult, intake_bytes
from registry.media import read_media, read_thumbnail
from registry.settings import Settings

THUMBNAIL_SIZE = (384, 384)


@dataclass(frozen=True)
class Preview:
    """A thumbnail, or the reason there is none."""

    image: Image.Image | None
    note: str


def thumbnail(result: IntakeResult) -> Image.Image | None:
    """A bounded-size RGB copy of an intake result's decoded image."""
    if result.sample is None or result.sample.image is None:
        return None
    image = result.sample.image.copy()
    image.thumbnail(THUMBNAIL_SIZE)
    return image.convert("RGB")


def asset_preview(
    sha256: str, location: str | None, limits: IntakeLimits, settings: Settings | None = None
) -> Preview:
    """The asset's thumbnail: from the media store (with ``settings``), else from where it
    was last ingested, if the file still holds it."""
    if settings is not None:
        stored = read_thumbnail(settings, sha256)
        if stored is not None:
            result = intake_bytes(stored, limits, path=f"media store thumbnail of {sha256}")
            if result.ok:
                return Preview(thumbnail(result), "media store")
        original = read_media(settings, sha256)
        if original is not None:
            result = intake_bytes(original, limits, path=f"media store: {sha256}")
            if result.ok:
                return Preview(thumbnail(result), "media store")
    if not location:
        return Preview(None, "no stored location for this asset")
    path = Path(location)
    try:
        if not path.is_file():
            return Preview(None, f"file no longer at {location}")
        if path.stat().st_size > limits.max_bytes:
            return Preview(None, "file is over the intake size limit")
        data = path.read_bytes()
    except OSError as exc:
        return Preview(None, f"cannot read {location}: {exc.strerror}")
    result = intake_bytes(data, limits, path=location)
    if result.sha256 != sha256:
        return Preview(None, f"{location} now holds different content")
    if not result.ok:
        return Preview(None, f"not decodable: {result.error}: {result.error_detail}")
    return Preview(thumbnail(result), location)
