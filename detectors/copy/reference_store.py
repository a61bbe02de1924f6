"""Persistence of a reference set: a base snapshot per generation plus an append-only delta
log (the layout is described in :mod:`detectors.copy.matcher`).

:class:`ReferenceStore` holds the saving, log replay and loading half of
:class:`~detectors.copy.matcher.ReferenceSet`; the matching half stays in the matcher.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Final

import numpy as np

from detectors.atomic import write_atomically
from detectors.copy import journal
from detectors.copy.binary_index import BinaryHashIndex, IndexFileError
from detectors.copy.embedding import Embedder, HandcraftedEmbedder
from detectors.copy.feature_store import FeatureStore, FeatureStoreError
from detectors.copy.references import MatchConfig, Reference, ReferenceSetError
from detectors.copy.vector_index import VectorIndex
from detectors.copy.verification import Features

MANIFEST: Final = "manifest.json"
_FORMAT: Final = 1
COMPACT_FRACTION: Final = 0.25
"""A save compacts (writes a new base) once the delta log would exceed this fraction of the
base's size, or :data:`COMPACT_MIN_BYTES` if that is larger."""
COMPACT_MIN_BYTES: Final = 1 << 20


ManifestStamp = tuple[int, int, int]


def manifest_stamp(directory: str | Path) -> ManifestStamp | None:
    """(inode, size, mtime ns) of ``directory``'s manifest, or ``None`` if absent.

    The manifest is only ever replaced whole, by rename, so an unchanged stamp means an
    unchanged generation: checked per batch, it spares parsing a manifest that lists every
    reference (about 180 bytes each for hash-only references: ~180 MB at a million).
    """
    try:
        stat = os.stat(Path(directory) / MANIFEST)
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def manifest_generation(directory: str | Path) -> int | None:
    """The generation number written in ``directory``'s manifest, or ``None`` if absent."""
    try:
        return int(json.loads((Path(directory) / MANIFEST).read_text())["generation"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


class ReferenceStore:
    """Saving, log replay and loading of a reference set (a base of
    :class:`~detectors.copy.matcher.ReferenceSet`, which owns the state declared here)."""

    config: MatchConfig
    embedder: Embedder
    generation: int
    revision: int
    _log_end: int
    _base_bytes: int
    _home: Path | None
    _stamp: ManifestStamp | None
    _journal: list[tuple[str, Any]]
    _saved_config: dict[str, Any] | None
    _refs: dict[int, Reference]
    _pdq: BinaryHashIndex
    _phash: BinaryHashIndex
    _embed: VectorIndex
    _features: FeatureStore

    def references(self) -> list[Reference]:
        """All references, by id."""
        return [self._refs[i] for i in sorted(self._refs)]

    def _insert(
        self,
        refs: list[Reference],
        pdq: np.ndarray[Any, Any],
        phash: np.ndarray[Any, Any] | None = None,
        embedding: np.ndarray[Any, Any] | None = None,
        features: list[Features] | None = None,
        *,
        journal_it: bool = True,
    ) -> None:
        raise NotImplementedError  # the matcher's: put computed references into the indexes

    # --- persistence --------------------------------------------------------------------

    def save(self, directory: str | Path, *, compact: bool = False) -> int:
        """Persist the changes since load to ``directory``; returns the generation.

        Appends one delta-log record when this set was loaded from (or last saved to) the
        newest generation there and the log stays small; otherwise, or with ``compact``,
        writes a new base generation.
        """
        root = Path(directory)
        root.mkdir(parents=True, exist_ok=True)
        config = dict(self.config.__dict__)
        if not compact and self._home == root.resolve() and self._current_on_disk(root):
            log = root / _log_name(self.generation)
            unseen, _ = journal.read(log, self._log_end)
            if not unseen:  # nothing appended by another writer (a torn tail is dropped)
                if not self._journal and config == self._saved_config:
                    return self.generation
                record = journal.encode(self._commit(config))
                limit = max(COMPACT_FRACTION * self._base_bytes, COMPACT_MIN_BYTES)
                if self._log_end + len(record) <= limit:
                    self._log_end = journal.append(log, record, self._log_end)
                    self._journal, self._saved_config = [], config
                    self.revision += 1
                    return self.generation
        return self._snapshot(root, config)

    def _snapshot(self, root: Path, config: dict[str, Any]) -> int:
        gen = max(self.generation, manifest_generation(root) or 0) + 1
        files = {
            "pdq": f"pdq.{gen}.index",
            "phash": f"phash.{gen}.index",
            "embed": f"embed.{gen}.index",
        }
        self._pdq.save(root / files["pdq"])
        self._phash.save(root / files["phash"])
        self._embed.save(root / files["embed"])
        files.update(self._features.save(root, gen))
        self._features = FeatureStore.load(root, files)  # the overlay is now on disk
        manifest = {
            "format": _FORMAT,
            "generation": gen,
            "revision": self.revision + 1,
            "files": files,
            "embedder": {
                "name": self.embedder.name,
                "dim": self.embedder.dim,
                "checksum": self.embedder.checksum,
            },
            "config": config,
            "references": [ref.__dict__ for ref in self.references()],
        }
        (root / _log_name(gen)).unlink(missing_ok=True)  # a leftover of a crashed compaction
        data = json.dumps(manifest, indent=1).encode()
        write_atomically(root / MANIFEST, lambda fh: fh.write(data))
        self._stamp = manifest_stamp(root)
        self.generation, self.revision = gen, self.revision + 1
        self._log_end, self._journal, self._saved_config = 0, [], config
        self._home = root.resolve()
        self._base_bytes = sum((root / name).stat().st_size for name in files.values())
        for old in root.iterdir():
            parts = old.name.split(".")
            if len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < gen - 1:
                old.unlink(missing_ok=True)
        return gen

    def _commit(self, config: dict[str, Any]) -> journal.Commit:
        """The journal since the last save as one log record."""
        ops: list[dict[str, Any]] = []
        arrays: dict[str, np.ndarray[Any, Any]] = {}
        for n, (kind, payload) in enumerate(self._journal):
            if kind == "remove":
                ops.append({"op": "remove", "ref_id": int(payload)})
                continue
            refs, pdq, phash, embedding, features = payload
            ops.append({"op": "add", "key": n, "refs": [ref.__dict__ for ref in refs]})
            arrays[f"pdq_{n}"] = pdq
            if phash is not None:
                arrays[f"phash_{n}"] = phash
                arrays[f"embed_{n}"] = embedding
                arrays.update(_pack_features(f"_{n}", features))
        if config != self._saved_config:
            ops.append({"op": "config", "config": config})
        return journal.Commit(self.revision + 1, ops, arrays)

    def _apply(self, commit: journal.Commit) -> None:
        """Replay one log record (see :meth:`_commit`)."""
        arrays = commit.arrays
        for op in commit.ops:
            if op["op"] == "remove":
                if self._refs.pop(int(op["ref_id"]), None) is not None:
                    for index in (self._pdq, self._phash, self._embed):
                        index.remove([int(op["ref_id"])])
                    self._features.pop(int(op["ref_id"]))
            elif op["op"] == "config":
                self.config = MatchConfig(**op["config"])
                self._saved_config = dict(op["config"])
            elif op["op"] == "add":
                key = op["key"]
                refs = [Reference(**r) for r in op["refs"]]
                if f"phash_{key}" in arrays:
                    self._insert(
                        refs,
                        arrays[f"pdq_{key}"],
                        arrays[f"phash_{key}"],
                        arrays[f"embed_{key}"],
                        _unpack_features(f"_{key}", arrays),
                        journal_it=False,
                    )
                else:
                    self._insert(refs, arrays[f"pdq_{key}"], journal_it=False)
        self.revision = commit.revision

    def refresh(self, directory: str | Path) -> bool:
        """Apply log records appended since this set was loaded.

        Returns False (and changes nothing) when a compaction replaced this set's
        generation: the caller should :meth:`load` again.
        """
        root = Path(directory)
        if not self._current_on_disk(root):
            return False
        commits, self._log_end = journal.read(root / _log_name(self.generation), self._log_end)
        for commit in commits:
            self._apply(commit)
        return True

    def _current_on_disk(self, root: Path) -> bool:
        """Whether ``root``'s manifest still names this set's generation (parsed only when
        the file changed since this set last read or wrote it)."""
        stamp = manifest_stamp(root)
        if stamp is not None and stamp == self._stamp:
            return True
        if manifest_generation(root) != self.generation:
            return False
        self._stamp = stamp
        return True

    def _restore(self, root: Path, manifest: dict[str, Any], stamp: ManifestStamp | None) -> None:
        """Fill a fresh set from ``manifest`` (see :func:`read_manifest`), then replay the log."""
        files = manifest["files"]
        try:
            self._pdq = BinaryHashIndex.load(root / files["pdq"])
            self._phash = BinaryHashIndex.load(root / files["phash"])
            self._embed = VectorIndex.load(root / files["embed"])
            self._features = FeatureStore.load(root, files)
            self._base_bytes = sum((root / name).stat().st_size for name in files.values())
        except (IndexFileError, FeatureStoreError, OSError) as exc:
            raise ReferenceSetError(str(exc)) from exc
        self._refs = {int(r["ref_id"]): Reference(**r) for r in manifest["references"]}
        self.generation = int(manifest["generation"])
        self.revision = int(manifest.get("revision", self.generation))
        self._saved_config = dict(manifest["config"])
        self._home = root.resolve()
        self._stamp = stamp
        try:
            self.refresh(root)
        except (KeyError, TypeError, ValueError, IndexFileError) as exc:
            raise ReferenceSetError(f"cannot replay the delta log in {root}: {exc}") from exc
        self._journal = []


def read_manifest(
    root: Path, embedder: Embedder | None
) -> tuple[dict[str, Any], ManifestStamp | None, Embedder]:
    """``root``'s manifest, its stamp taken before reading, and the embedder to use.

    The embedder must be the one the set was built with (same name and checksum)."""
    stamp = manifest_stamp(root)  # before reading: a newer file then differs from it
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise ReferenceSetError(f"no readable manifest in {root}: {exc}") from exc
    if manifest.get("format") != _FORMAT:
        raise ReferenceSetError(f"unknown reference-set format {manifest.get('format')!r}")
    embedder = embedder or HandcraftedEmbedder()
    spec = manifest["embedder"]
    if spec["name"] != embedder.name or spec["checksum"] != embedder.checksum:
        raise ReferenceSetError(
            f"reference set was built with embedder {spec['name']} ({spec['checksum']}),"
            f" not {embedder.name} ({embedder.checksum})"
        )
    return manifest, stamp, embedder


def _log_name(generation: int) -> str:
    return f"delta.{generation}.log"


def _pack_features(suffix: str, features: list[Features]) -> dict[str, np.ndarray[Any, Any]]:
    """Features of several references as flat arrays (``None`` descriptors: count -1)."""
    counts = np.array(
        [len(f.points) if f.descriptors is not None else -1 - len(f.points) for f in features],
        dtype=np.int64,
    )
    points = (
        np.concatenate([f.points for f in features]).astype(np.float32)
        if features
        else np.zeros((0, 2), dtype=np.float32)
    )
    desc = [f.descriptors for f in features if f.descriptors is not None]
    descriptors = (
        np.concatenate(desc).astype(np.uint8) if desc else np.zeros((0, 128), dtype=np.uint8)
    )
    return {
        f"fcount{suffix}": counts,
        f"fpoints{suffix}": points.reshape(-1, 2),
        f"fdesc{suffix}": descriptors,
    }


def _unpack_features(suffix: str, arrays: dict[str, np.ndarray[Any, Any]]) -> list[Features]:
    out: list[Features] = []
    p = d = 0
    points, descriptors = arrays[f"fpoints{suffix}"], arrays[f"fdesc{suffix}"]
    for count in arrays[f"fcount{suffix}"].tolist():
        n = count if count >= 0 else -1 - count
        desc = descriptors[d : d + n] if count >= 0 else None
        out.append(Features(points[p : p + n], desc))
        p += n
        d += n if count >= 0 else 0
    return out
