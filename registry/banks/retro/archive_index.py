"""The archive's binary index: every archived PDQ hash, for searching new references.

The index is :class:`detectors.copy.binary_index.BinaryHashIndex` (the copy detector's own:
exact FAISS ``IndexBinaryFlat`` up to 50,000 hashes, multi-index hashing above), keyed by
``archive_hashes.id``. It is derived from PostgreSQL and saved under
``$PROVREG_HOME/indexes/archive.npz`` with a high-water mark (the largest row id it holds)
beside it; :func:`synced_index` loads it and adds only the rows written since, so the index
follows ingestion without a rebuild. A missing or unreadable file is rebuilt from the table.
Writers hold an ``fcntl`` lock on ``indexes/archive.lock``; saves are atomic (temporary file
and rename), so a reader sees the old index or the new one.

Hashes below PDQ quality 50 are not indexed: Meta's guidance (and the copy detector's rule)
is that they are too unreliable to match on.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from detectors.atomic import write_atomically
from detectors.copy.binary_index import BinaryHashIndex, BinaryIndexError
from detectors.copy.signals import PDQ_MIN_QUALITY, hex_to_codes
from registry.banks.retro.models import ArchiveHash
from registry.settings import Settings

#: Rows read from PostgreSQL per round trip while catching up.
FETCH: Final = 100_000


def index_path(settings: Settings) -> Path:
    """Where the archive index is saved."""
    return settings.home / "indexes" / "archive.npz"


def _mark_path(settings: Settings) -> Path:
    return settings.home / "indexes" / "archive.mark.json"


@contextmanager
def _locked(settings: Settings) -> Iterator[None]:
    folder = index_path(settings).parent
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / "archive.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _load(settings: Settings) -> tuple[BinaryHashIndex, int]:
    try:
        mark = json.loads(_mark_path(settings).read_text())
        index = BinaryHashIndex.load(index_path(settings))
        return index, int(mark["high_water"])
    except (OSError, ValueError, KeyError, TypeError, BinaryIndexError):
        return BinaryHashIndex(), 0


def add_rows(index: BinaryHashIndex, ids: list[int], pdqs: list[str]) -> None:
    """Add archive rows (ids and PDQ hex) to ``index``."""
    if ids:
        index.add(np.asarray(ids, dtype=np.int64), hex_to_codes(pdqs))


def synced_index(settings: Settings, session: Session) -> BinaryHashIndex:
    """The archive index holding every row of ``archive_hashes`` (quality >= 50) committed
    so far; catches up from the saved high-water mark and saves when it added rows."""
    with _locked(settings):
        index, high_water = _load(settings)
        newest = session.scalar(select(func.max(ArchiveHash.id))) or 0
        if newest < high_water:  # saved for another (or a restored) database: start over
            index, high_water = BinaryHashIndex(), 0
        start = high_water
        while True:
            rows = session.execute(
                select(ArchiveHash.id, ArchiveHash.pdq, ArchiveHash.quality)
                .where(ArchiveHash.id > high_water)
                .order_by(ArchiveHash.id)
                .limit(FETCH)
            ).all()
            if not rows:
                break
            good = [(int(i), str(p)) for i, p, q in rows if q >= PDQ_MIN_QUALITY]
            add_rows(index, [i for i, _ in good], [p for _, p in good])
            high_water = int(rows[-1][0])
        if high_water != start:
            index.save(index_path(settings))
            write_atomically(
                _mark_path(settings),
                lambda fh: fh.write(json.dumps({"high_water": high_water}).encode()),
            )
        return index
