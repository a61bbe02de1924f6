"""Publish the log as static files in the C2SP tlog-tiles layout, for outside monitors.

``provreg checkpoint --publish TARGET`` writes, under TARGET::

    checkpoint                      the signed checkpoint (C2SP signed note), written last
    tile/<L>/<N>[.p/<W>]            Merkle tree tiles (registry/ledger/tiles.py)
    tile/entries/<N>[.p/<W>]        entry bundles: each entry's signed bytes, uint16-prefixed

TARGET is a directory, or a URL that ``pyarrow.fs`` understands (``s3://bucket/prefix``,
``gs://…``, ``file:///…``); pyarrow is already a dependency, so object storage needs nothing
new. Any static HTTP server or bucket can then serve the files, and a monitor checks them with
the log's public key alone (registry/ledger/standalone_monitor.py).

Publishing is incremental: full tiles and bundles never change, so those already present are
not written again; partial ones are named by their width, so a grown log writes new names.
Before writing anything the publisher checks that the log still extends the checkpoint already
published there (an RFC 9162 consistency proof), so it never papers over a fork or rollback
with files a monitor has already seen. Local files are written atomically (temporary file,
rename); the checkpoint goes last, so a reader never sees a checkpoint whose tiles are missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from detectors.atomic import write_atomically
from registry.db.models import CheckpointRow, MerkleNode
from registry.errors import CheckpointError, ConfigurationError, LedgerIntegrityError
from registry.ledger import tiles
from registry.ledger.checkpoint import parse_checkpoint
from registry.ledger.sighting_log import entries_between
from registry.ledger.trusted_state import check_consistent


class Store(Protocol):
    """Where published files go."""

    def exists(self, path: str) -> bool:
        """Whether ``path`` is already there."""
        ...

    def read(self, path: str) -> bytes | None:
        """Its bytes, or None when absent."""
        ...

    def write(self, path: str, data: bytes) -> None:
        """Create or replace ``path``."""
        ...


class DirectoryStore:
    """A local directory; each file written atomically (temporary file in place, rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def exists(self, path: str) -> bool:
        """Whether ``path`` is already there."""
        return (self.root / path).is_file()

    def read(self, path: str) -> bytes | None:
        """Its bytes, or None when absent."""
        try:
            return (self.root / path).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, path: str, data: bytes) -> None:
        """Create or replace ``path`` atomically."""
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, lambda fh: fh.write(data))


class ArrowStore:
    """Any ``pyarrow.fs`` filesystem (S3, GCS, HDFS, local) under a base path."""

    def __init__(self, url: str) -> None:
        from pyarrow import fs

        try:
            self.fs, base = fs.FileSystem.from_uri(url)
        except Exception as exc:  # pyarrow raises ArrowInvalid / OSError by scheme
            raise ConfigurationError(f"cannot publish to {url!r}: {exc}") from exc
        self.base = base.rstrip("/")
        self._fs_module = fs

    def _path(self, path: str) -> str:
        return f"{self.base}/{path}"

    def exists(self, path: str) -> bool:
        """Whether ``path`` is already there."""
        info = self.fs.get_file_info(self._path(path))
        return bool(info.type == self._fs_module.FileType.File)

    def read(self, path: str) -> bytes | None:
        """Its bytes, or None when absent."""
        if not self.exists(path):
            return None
        with self.fs.open_input_stream(self._path(path)) as stream:
            return bytes(stream.read())

    def write(self, path: str, data: bytes) -> None:
        """Create or replace ``path`` (object stores replace whole objects atomically)."""
        full = self._path(path)
        self.fs.create_dir(full.rsplit("/", 1)[0], recursive=True)
        with self.fs.open_output_stream(full) as stream:
            stream.write(data)


def open_store(target: str) -> Store:
    """A store for a directory path or a URL (``scheme://…``)."""
    if "://" in target:
        return ArrowStore(target)
    return DirectoryStore(Path(target))


@dataclass(frozen=True)
class PublishReport:
    """What one publication wrote."""

    tree_size: int
    written: int
    skipped: int


def _tile_hashes(session: Session, tile: tiles.TileRef) -> bytes:
    rows = session.execute(
        select(MerkleNode.index, MerkleNode.hash)
        .where(
            MerkleNode.level == tile.node_level,
            MerkleNode.index >= tile.first_node,
            MerkleNode.index < tile.first_node + tile.width,
        )
        .order_by(MerkleNode.index)
    ).all()
    if [int(index) for index, _ in rows] != list(
        range(tile.first_node, tile.first_node + tile.width)
    ):
        raise LedgerIntegrityError(
            tile.first_node << tile.node_level, f"Merkle nodes of tile {tile.path()} are missing"
        )
    return b"".join(bytes(digest) for _, digest in rows)


def _check_published(session: Session, store: Store, checkpoint: CheckpointRow) -> None:
    """The checkpoint already published (if any) must be a prefix of the one to publish."""
    published = store.read("checkpoint")
    if published is None:
        return
    try:
        old, _ = parse_checkpoint(published)
    except CheckpointError as exc:
        raise CheckpointError(f"the published checkpoint does not parse: {exc}") from exc
    new, _ = parse_checkpoint(checkpoint.note)
    if old.origin != new.origin:
        raise CheckpointError(
            f"the target holds log {old.origin!r}, not {new.origin!r}: publish elsewhere"
        )
    check_consistent(
        session,
        old.size,
        old.root_hash,
        new.size,
        new.root_hash,
        "the checkpoint already published",
    )


def publish(session: Session, checkpoint: CheckpointRow, store: Store) -> PublishReport:
    """Write ``checkpoint``'s tree as tiles, entry bundles and the checkpoint into ``store``.

    Entries below the checkpoint's size never change, so this needs no sequencer lock and may
    run while ingestion goes on.
    """
    _check_published(session, store, checkpoint)
    size = int(checkpoint.tree_size)
    written = skipped = 0
    for bundle in tiles.tiles_for_size(size, 0):
        path = tiles.entry_bundle_path(bundle.index, bundle.width)
        if store.exists(path):
            skipped += 1
            continue
        start = bundle.index * tiles.TILE_WIDTH
        store.write(
            path, tiles.encode_entry_bundle(entries_between(session, start, start + bundle.width))
        )
        written += 1
    for level in range(tiles.tile_levels(size)):
        for tile in tiles.tiles_for_size(size, level):
            if store.exists(tile.path()):
                skipped += 1
                continue
            store.write(tile.path(), _tile_hashes(session, tile))
            written += 1
    store.write("checkpoint", checkpoint.note.encode())
    return PublishReport(size, written + 1, skipped)
