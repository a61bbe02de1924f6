"""The content-addressed media store: originals and thumbnails of ingested assets.

``policy`` reads ``[media]`` from config.toml; ``store`` is the backend (local folder or an
fsspec URL); ``archiver`` is the ingest hook that stores each batch; ``reading`` serves bytes
back (dashboard, re-scans); ``admin`` holds stats, legal deletion and retention. See
docs/media.md.

Importing this package stays cheap: the heavy parts load on first use.
"""

from __future__ import annotations

from registry.media.reading import read_media, read_thumbnail, store_for

__all__ = ["read_media", "read_thumbnail", "store_for"]
