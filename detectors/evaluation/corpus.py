"""Evaluation corpus: a folder of files described by ``manifest.json``.

Manifest format (``format: provreg-eval-corpus/1``)::

    {"format": "provreg-eval-corpus/1",
     "detector_options": {"copy": {"index_dir": "copy-index"}},   # paths relative to the folder
     "items": [
       {"id": "astronaut", "path": "negatives/astronaut.png", "expect": {}},
       {"id": "wm-astronaut", "path": "watermark/astronaut.png", "expect": {"watermark": "sdxl"},
        "bits": "b3ec907bb19e"},
       {"id": "ref-coffee", "path": "copy/coffee.png", "expect": {"copy": "copy"}, "reference": 3}
     ]}

``expect`` maps a detector name to the label it should give. An item with an empty
``expect`` is a negative for every detector; an item expected by other detectors only is left
out of a detector's figures (it is neither a clean negative nor its positive). ``bits``
(hex) is the embedded watermark payload, for bit accuracy; ``reference`` is the copy bank id
the item is a copy of, for recall@1 and µAP. A user's own corpus needs only ``id``, ``path``
and ``expect``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "provreg-eval-corpus/1"
MANIFEST = "manifest.json"


class CorpusError(Exception):
    """The manifest is missing or malformed (not: an item's file is bad, which is counted)."""


@dataclass(frozen=True)
class Item:
    """One corpus file and what each detector should say about it."""

    id: str
    path: str
    expect: Mapping[str, str] = field(default_factory=dict)
    bits: str | None = None
    reference: int | None = None

    def role(self, detector: str) -> str | None:
        """``"positive"``, ``"negative"`` or ``None`` (not counted) for ``detector``."""
        if detector in self.expect:
            return "positive"
        return "negative" if not self.expect else None

    def to_json(self) -> dict[str, Any]:
        """The manifest entry."""
        entry: dict[str, Any] = {"id": self.id, "path": self.path, "expect": dict(self.expect)}
        if self.bits is not None:
            entry["bits"] = self.bits
        if self.reference is not None:
            entry["reference"] = self.reference
        return entry


@dataclass(frozen=True)
class Corpus:
    """A loaded manifest: its folder, items and per-detector options."""

    root: Path
    items: tuple[Item, ...]
    detector_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def options_for(self, detector: str) -> dict[str, Any]:
        """Options for ``detector``; values ending in ``_dir``/``_path`` resolved against root."""
        out = dict(self.detector_options.get(detector, {}))
        for key, value in out.items():
            if isinstance(value, str) and key.endswith(("_dir", "_path")):
                out[key] = str((self.root / value).resolve())
        return out

    def read(self, item: Item) -> bytes:
        """The item's bytes (raises ``OSError`` when unreadable; callers count it)."""
        path = (self.root / item.path).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise OSError(f"{item.path} points outside the corpus folder")
        return path.read_bytes()


def load(root: Path) -> Corpus:
    """Load ``root/manifest.json``; raises :class:`CorpusError` when it is unusable."""
    path = root / MANIFEST
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CorpusError(f"cannot read {path}: {exc}") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CorpusError(f"{path} is not a {FORMAT} manifest")
    items, seen = [], set()
    for entry in document.get("items", []):
        try:
            item = Item(
                id=str(entry["id"]),
                path=str(entry["path"]),
                expect={str(k): str(v) for k, v in dict(entry.get("expect", {})).items()},
                bits=entry.get("bits"),
                reference=entry.get("reference"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CorpusError(f"bad manifest item {entry!r}: {exc}") from exc
        if item.id in seen:
            raise CorpusError(f"duplicate item id {item.id!r}")
        seen.add(item.id)
        items.append(item)
    options = document.get("detector_options", {})
    if not isinstance(options, dict):
        raise CorpusError("detector_options must be an object")
    return Corpus(root, tuple(items), options)


def save(root: Path, items: list[Item], detector_options: Mapping[str, Any]) -> Path:
    """Write ``root/manifest.json``."""
    path = root / MANIFEST
    document = {
        "format": FORMAT,
        "detector_options": dict(detector_options),
        "items": [item.to_json() for item in items],
    }
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return path
