"""Shared record types and helpers for the metadata parsers.

Every container reader turns what it finds into :class:`TextEntry` items (a key such as
``parameters`` or ``exif:UserComment``, its decoded text and where it came from). Each tool
family parser reads a list of entries and returns a :class:`ParseResult`: the generator
:class:`Finding` items it recognised, the malformed parts it skipped, and the sources it
claimed (so a more specific parser can stop a more generic one reading the same entry).

Everything that ends up in a verdict's evidence goes through :func:`jsonable`, because the
evidence is canonicalised (RFC 8785) and signed: no NaN or infinity, no lone surrogates,
bounded string lengths and bounded nesting.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from detectors.base import JSONValue

MAX_FIELD_CHARS = 4096
MAX_LIST_ITEMS = 64
MAX_DEPTH = 6


@dataclass(frozen=True)
class TextEntry:
    """One named piece of metadata text, e.g. the PNG ``parameters`` chunk."""

    key: str
    value: str
    source: str


@dataclass(frozen=True)
class Finding:
    """A generator signature one parser recognised, with the fields it parsed."""

    label: str
    source: str
    fields: dict[str, JSONValue]

    def to_json(self) -> dict[str, JSONValue]:
        """The evidence form: ``{label, source, fields}``."""
        return {"label": self.label, "source": self.source, "fields": dict(self.fields)}


class ContainerError(Exception):
    """The bytes are not a readable PNG, JPEG or WebP container; ``reason`` is from the
    error vocabulary (``not-an-image``, ``truncated``), ``detail`` says what was wrong."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def error_entry(source: str, reason: str, detail: str = "") -> dict[str, JSONValue]:
    """An evidence entry for a malformed part that was skipped."""
    entry: dict[str, JSONValue] = {"source": source, "reason": reason}
    if detail:
        entry["detail"] = clip(detail, 300)
    return entry


@dataclass
class ParseResult:
    """What one family parser found in one group of entries."""

    findings: list[Finding] = field(default_factory=list)
    errors: list[dict[str, JSONValue]] = field(default_factory=list)
    claimed: set[str] = field(default_factory=set)

    def error(self, source: str, reason: str, detail: str = "") -> None:
        """Record a malformed part that was skipped."""
        self.errors.append(error_entry(source, reason, detail))


def entries_named(entries: Iterable[TextEntry], *keys: str) -> list[TextEntry]:
    """Entries whose key is one of ``keys`` (exact match), in their original order."""
    wanted = set(keys)
    return [entry for entry in entries if entry.key in wanted]


def first_named(entries: Sequence[TextEntry], *keys: str) -> TextEntry | None:
    """The first entry whose key is one of ``keys``, or ``None``."""
    found = entries_named(entries, *keys)
    return found[0] if found else None


def clip(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    """``text`` cut to ``limit`` characters, with lone surrogates replaced."""
    if len(text) > limit:
        text = text[:limit] + "…"
    return text.encode("utf-8", "replace").decode("utf-8")


def jsonable(value: Any, depth: int = 0) -> JSONValue:
    """A bounded, canonicalisable copy of ``value`` for evidence."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**53 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return clip(value)
    if depth >= MAX_DEPTH:
        return clip(json.dumps(value, default=str)[:MAX_FIELD_CHARS])
    if isinstance(value, list | tuple):
        return [jsonable(item, depth + 1) for item in list(value)[:MAX_LIST_ITEMS]]
    if isinstance(value, dict):
        out: dict[str, JSONValue] = {}
        for key, item in list(value.items())[:MAX_LIST_ITEMS]:
            out[clip(str(key), 200)] = jsonable(item, depth + 1)
        return out
    return clip(str(value))


class JSONParseError(Exception):
    """Text that should be JSON is not (or is nested too deeply to parse)."""


def load_json(text: str) -> Any:
    """Parse ``text`` as JSON, raising :class:`JSONParseError` with a short reason."""
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise JSONParseError("nested too deeply") from exc
    except ValueError as exc:
        raise JSONParseError(str(exc)[:200]) from exc


def as_int(value: object) -> int | None:
    """``value`` as an int when it is one (or a decimal string of one)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def as_float(value: object) -> float | None:
    """``value`` as a finite float when it is a number (or a numeric string)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None
