"""The model store: content-addressed weight files and a manifest under ``$PROVREG_HOME/models``.

Layout::

    models/
      manifest.json             {"models": {NAME: entry, ...}} (rewritten atomically)
      blobs/sha256/<hex>        each weight file once, named by its SHA-256, read-only

An entry records the file's SHA-256, format, architecture (+ config), kind (``synthetic``,
``laundering``, ``backbone``, ``autoencoder``...), source, licence and the model card
(method, preprocessing, calibration, metrics). :meth:`ModelStore.resolve` turns an entry into the
:class:`detectors.learned.spec.ModelSpec` a detector receives; the detector verifies the hash
again when it loads, so a blob altered after it was added is refused there.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from detectors.atomic import write_atomically
from detectors.learned.files import FORMATS, guess_format, sha256_file
from detectors.learned.spec import ModelSpec
from registry.models.errors import (
    DuplicateModelError,
    ModelFileError,
    ModelStoreError,
    UnknownModelError,
)

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class ModelEntry:
    """One manifest entry."""

    name: str
    sha256: str
    format: str
    kind: str
    architecture: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    licence: str = ""
    card: dict[str, Any] = field(default_factory=dict)
    size: int = 0
    added_at: str = ""

    def to_json(self) -> dict[str, Any]:
        """The entry as stored."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelEntry:
        """Read a stored entry."""
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


class ModelStore:
    """The weight files under one folder (``$PROVREG_HOME/models``)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    @property
    def blobs(self) -> Path:
        """Where weight files live, by SHA-256."""
        return self.root / "blobs" / "sha256"

    @property
    def cache_dir(self) -> Path:
        """Caches of hub libraries (kept under PROVREG_HOME, never the user's home)."""
        return self.root / "cache"

    def blob_path(self, sha256: str) -> Path:
        """The path of the blob with this SHA-256."""
        return self.blobs / sha256

    def _read(self) -> dict[str, ModelEntry]:
        path = self.root / MANIFEST
        if not path.is_file():
            return {}
        try:
            data = json.loads(path.read_text("utf-8"))
            return {name: ModelEntry.from_json(e) for name, e in data["models"].items()}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelStoreError(f"model manifest {path} is unreadable: {exc}") from exc

    def _write(self, entries: Mapping[str, ModelEntry]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        body = {"models": {name: e.to_json() for name, e in sorted(entries.items())}}
        text = json.dumps(body, indent=2, sort_keys=True, ensure_ascii=True).encode()
        write_atomically(self.root / MANIFEST, lambda fh: fh.write(text))

    def entries(self) -> list[ModelEntry]:
        """Every entry, by name."""
        return sorted(self._read().values(), key=lambda e: e.name)

    def get(self, name: str) -> ModelEntry:
        """The entry called ``name`` (:class:`UnknownModelError` if none)."""
        entries = self._read()
        if name not in entries:
            known = ", ".join(entries) or "none"
            raise UnknownModelError(f"no model {name!r} in {self.root} (known: {known})")
        return entries[name]

    def add(
        self,
        name: str,
        file: str | os.PathLike[str],
        *,
        kind: str,
        sha256: str | None = None,
        fmt: str | None = None,
        architecture: str | None = None,
        config: Mapping[str, Any] | None = None,
        source: str = "",
        licence: str = "",
        card: Mapping[str, Any] | None = None,
        replace: bool = False,
    ) -> ModelEntry:
        """Copy ``file`` into the store under ``name``; ``sha256``, if given, must match."""
        if not name or "/" in name or name.startswith("."):
            raise ModelStoreError(f"bad model name {name!r}")
        fmt = fmt or guess_format(Path(file))
        if fmt not in FORMATS:
            raise ModelStoreError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
        if architecture is not None:
            from detectors.learned.archs import get_architecture
            from detectors.learned.errors import UnknownArchitectureError

            try:
                get_architecture(architecture)
            except UnknownArchitectureError as exc:
                raise ModelStoreError(str(exc)) from exc
        entries = self._read()
        if name in entries and not replace:
            raise DuplicateModelError(f"model {name!r} exists; remove it first")
        self.blobs.mkdir(parents=True, exist_ok=True)
        actual, size = self._copy_in(Path(file))
        if sha256 is not None and actual != sha256.lower():
            raise ModelFileError(f"{file} has SHA-256 {actual}, not the {sha256} given; not added")
        entry = ModelEntry(
            name=name,
            sha256=actual,
            format=fmt,
            kind=kind,
            architecture=architecture,
            config=dict(config or {}),
            source=source,
            licence=licence,
            card=dict(card or {}),
            size=size,
            added_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        entries[name] = entry
        self._write(entries)
        return entry

    def _copy_in(self, file: Path) -> tuple[str, int]:
        """Copy into a temporary blob, hash it, then rename it to its hash (read-only)."""
        try:
            fd, tmp = tempfile.mkstemp(dir=self.blobs, prefix=".incoming.")
            os.close(fd)
            shutil.copyfile(file, tmp)
        except OSError as exc:
            raise ModelFileError(f"cannot read {file}: {exc}") from exc
        digest = sha256_file(tmp)
        target = self.blob_path(digest)
        if target.exists():
            os.unlink(tmp)
        else:
            os.chmod(tmp, 0o444)
            os.replace(tmp, target)
        return digest, target.stat().st_size

    def remove(self, name: str) -> ModelEntry:
        """Drop the entry; its blob goes too unless another entry shares it."""
        entries = self._read()
        if name not in entries:
            raise UnknownModelError(f"no model {name!r} in {self.root}")
        entry = entries.pop(name)
        self._write(entries)
        if all(e.sha256 != entry.sha256 for e in entries.values()):
            self.blob_path(entry.sha256).unlink(missing_ok=True)
        return entry

    def latest(self, kind: str) -> ModelEntry | None:
        """The most recently added entry of ``kind`` (``None`` if there is none)."""
        found = [e for e in self._read().values() if e.kind == kind]
        return max(found, key=lambda e: (e.added_at, e.name)) if found else None

    def resolve(self, name: str) -> ModelSpec:
        """The detector-side spec of ``name``: blob path, pinned hash, architecture, card,
        and the backbone / autoencoders its card names (resolved the same way)."""
        entry = self.get(name)
        backbone = entry.card.get("backbone")
        autoencoders = entry.card.get("autoencoders") or []
        return ModelSpec(
            name=entry.name,
            path=str(self.blob_path(entry.sha256)),
            sha256=entry.sha256,
            format=entry.format,
            architecture=entry.architecture,
            kind=entry.kind,
            config=entry.config,
            card={**entry.card, "source": entry.source, "licence": entry.licence},
            backbone=self.resolve(str(backbone)) if backbone else None,
            autoencoders=tuple(self.resolve(str(a)) for a in autoencoders),
            cache_dir=str(self.cache_dir),
        )
