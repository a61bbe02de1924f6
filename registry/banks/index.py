"""The persisted copy-detection index under ``$PROVREG_HOME/indexes/copy``.

The index (a :class:`~detectors.copy.matcher.ReferenceSet` directory) is derived from the
bank rows in PostgreSQL. Writers — ``bank add``, disable/enable, remove, rebuild — take an
exclusive ``fcntl`` lock on ``indexes/copy.lock``, load the newest generation (replaying its
delta log), change it and save before releasing the lock, so two concurrent writers never
lose each other's update. A save appends the change to the delta log (fsynced) or, when the
log has grown large or on a rebuild, compacts into a new generation. Readers (the ``copy``
detector, ``provreg search``) take no lock: a compaction writes its files first and the
manifest last, atomically, and a reader ignores a log record still being written.

A reference whose file is still present at its recorded location with the recorded SHA-256
is indexed from its pixels (PDQ, pHash, embedding, SIFT features); otherwise from its PDQ
hash alone (:meth:`ReferenceSet.add_hash`).
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from PIL import Image

from detectors.copy.embedding import Embedder, EmbeddingError, OnnxEmbedder, TorchScriptEmbedder
from detectors.copy.matcher import MANIFEST, ReferenceSet, ReferenceSetError
from detectors.copy.signals import PDQ_MIN_QUALITY, SignalError
from registry.db.models_banks import Bank, BankReference
from registry.errors import ConfigurationError, ProvregError
from registry.intake.pipeline import intake_path
from registry.settings import Settings

DETECTOR: Final = "copy"


class CopyIndexError(ProvregError):
    """The copy-detection index cannot be read or written."""

    hint = "rebuild it from PostgreSQL with `provreg bank rebuild-index`"


@dataclass
class IndexChange:
    """What one locked update did to the index."""

    added: list[int] = field(default_factory=list)
    hash_only: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    generation: int = 0
    revision: int = 0
    size: int = 0


def index_dir(settings: Settings) -> Path:
    """Where the copy index lives (:attr:`Settings.copy_index_dir`)."""
    return settings.copy_index_dir


def embedder_for(settings: Settings) -> Embedder | None:
    """The embedder the ``copy`` detector is configured with (None: the default one)."""
    options = settings.detector_options.get(DETECTOR, {})
    path = options.get("embedder_path")
    if not path:
        return None
    fmt = str(options.get("embedder_format") or "torchscript")
    cls = {"torchscript": TorchScriptEmbedder, "onnx": OnnxEmbedder}.get(fmt)
    if cls is None:
        raise ConfigurationError(f"unknown copy embedder_format {fmt!r}")
    try:
        return cls(str(path), str(options.get("embedder_sha256") or ""))
    except EmbeddingError as exc:
        raise ConfigurationError(f"copy embedder: {exc}") from exc


def load_references(settings: Settings) -> ReferenceSet | None:
    """The newest saved generation, or ``None`` when no index was written yet."""
    directory = index_dir(settings)
    if not (directory / MANIFEST).is_file():
        return None
    try:
        return ReferenceSet.load(directory, embedder=embedder_for(settings))
    except ReferenceSetError as exc:
        raise CopyIndexError(f"cannot load copy index {directory}: {exc}") from exc


@contextmanager
def updating(settings: Settings, *, fresh: bool = False) -> Iterator[ReferenceSet]:
    """Hold the index lock, yield the current set (or an empty one), then save it.

    Nothing is saved when the body raises.
    """
    directory = index_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    lock_path = directory.parent / f"{directory.name}.lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        current = None if fresh else load_references(settings)
        references = current or ReferenceSet(embedder=embedder_for(settings))
        yield references
        references.save(directory, compact=fresh)
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def set_thresholds(references: ReferenceSet, thresholds: Mapping[str, int]) -> None:
    """Write the per-bank PDQ thresholds into the set's config (saved in its manifest)."""
    references.config = dataclasses.replace(references.config, bank_thresholds=dict(thresholds))


def index_reference(
    references: ReferenceSet,
    row: BankReference,
    bank: Bank,
    image: Image.Image | None = None,
    *,
    settings: Settings | None = None,
) -> bool:
    """Add one row to the set; returns True when indexed from pixels, False if hash-only.

    ``image`` is the decoded reference when the caller has it; else, with ``settings``,
    the file at ``row.location`` is re-read if it still has the recorded SHA-256.
    Rows already in the set are left alone.
    """
    if row.id in references:
        return True
    if image is None and settings is not None and row.location and row.sha256:
        image = _reread(settings, Path(row.location), row.sha256)
    try:
        if image is not None:
            references.add(row.id, image, sha256=row.sha256, bank=bank.name)
            return True
        quality = PDQ_MIN_QUALITY if row.quality is None else row.quality
        references.add_hash(row.id, row.pdq, quality, sha256=row.sha256 or "", bank=bank.name)
    except (ReferenceSetError, SignalError) as exc:
        raise CopyIndexError(f"cannot index reference {row.id}: {exc}") from exc
    return False


def _reread(settings: Settings, path: Path, sha256: str) -> Image.Image | None:
    if not path.is_file():
        return None
    result = intake_path(path, settings.limits)
    if not result.ok or result.sha256 != sha256 or result.sample is None:
        return None
    return result.sample.image
