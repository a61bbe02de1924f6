"""The archive's per-image signals, computed once at ingest: PDQ hash, quality, embedding.

Lives beside the banks because, with :mod:`registry.banks.services` and :mod:`registry.banks.index`,
it is where the registry touches :mod:`detectors.copy`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from PIL import Image
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from detectors.copy import signals
from detectors.copy.embedding import Embedder, EmbeddingError
from registry.banks.index import embedder_for
from registry.banks.retro.models import ArchiveHash
from registry.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArchiveSignals:
    """What the archive index keeps of one image."""

    sha256: str
    pdq: str
    quality: int
    embedding: bytes | None = None


def signals_of(
    sha256: str, image: Image.Image, embedder: Embedder | None = None
) -> ArchiveSignals | None:
    """The image's PDQ hash and quality (and embedding); None if PDQ cannot hash it."""
    try:
        rgb = image.convert("RGB")
        pdq = signals.pdq(rgb)
    except (signals.SignalError, ValueError, OSError) as exc:
        log.warning("archive: no PDQ hash for %s: %s", sha256, exc)
        return None
    embedding = None
    if embedder is not None:
        try:
            vector = embedder.embed([rgb])[0]
            embedding = np.asarray(vector, dtype=np.float32).tobytes()
        except (EmbeddingError, ValueError, RuntimeError) as exc:
            log.warning("archive: no embedding for %s: %s", sha256, exc)
    return ArchiveSignals(sha256, pdq.hex, int(pdq.quality), embedding)


class ArchiveHasher:
    """:func:`signals_of` with the copy embedder ``settings`` configure (loaded on first use)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._embedder: Embedder | None = None
        self._loaded = False

    def signals(self, sha256: str, image: Image.Image) -> ArchiveSignals | None:
        """The archive signals of one image."""
        if not self._loaded:
            self._embedder, self._loaded = embedder_for(self.settings), True
        return signals_of(sha256, image, self._embedder)


def record_signals(session: Session, rows: list[ArchiveSignals]) -> None:
    """Insert archive rows in the caller's transaction (an asset already there is kept)."""
    if not rows:
        return
    unique = {row.sha256: row for row in rows}
    session.execute(
        pg_insert(ArchiveHash)
        .values(
            [
                {
                    "asset_sha256": r.sha256,
                    "pdq": r.pdq,
                    "quality": r.quality,
                    "embedding": r.embedding,
                }
                for r in sorted(unique.values(), key=lambda r: r.sha256)
            ]
        )
        .on_conflict_do_nothing(index_elements=["asset_sha256"])
    )
