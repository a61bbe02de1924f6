"""What the media store keeps, where, and for how long: parsed from ``[media]`` in config.toml.

::

    [media]
    url = "file:///var/lib/provreg/media"   # or s3://bucket/prefix, gs://…, az://… (fsspec)
    keep = "original"            # default policy: "original" (bytes + thumbnail),
                                 # "thumbnail" (thumbnail only), or "none"
    max_object_bytes = 67108864  # an asset larger than this keeps only its thumbnail
    max_total_bytes = 0          # originals stop being kept once the store holds this (0: off)
    retain_days = 0              # originals older than this are dropped by `media gc` (0: keep)

    [media.sources.partner-feed]   # per ingest source (``--source``), overriding the above
    keep = "thumbnail"
    retain_days = 30

``PROVREG_MEDIA_URL`` overrides ``url``. Unset, the store is ``$PROVREG_HOME/media``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from registry.errors import ConfigurationError

Keep = Literal["original", "thumbnail", "none"]
KEEPS: Final = ("original", "thumbnail", "none")


@dataclass(frozen=True)
class SourcePolicy:
    """What is kept for assets of one source."""

    keep: Keep = "original"
    retain_days: int = 0
    """Originals older than this many days are dropped by ``provreg media gc`` (0: forever)."""


@dataclass(frozen=True)
class MediaPolicy:
    """The whole ``[media]`` configuration."""

    url: str
    default: SourcePolicy = SourcePolicy()
    sources: Mapping[str, SourcePolicy] = field(default_factory=dict)
    max_object_bytes: int = 64 * 1024 * 1024
    max_total_bytes: int = 0

    def for_source(self, source: str | None) -> SourcePolicy:
        """The policy of ``source`` (the default one when it has none of its own)."""
        return self.sources.get(source or "", self.default)

    @classmethod
    def parse(cls, table: Mapping[str, Any], home: Path) -> MediaPolicy:
        """Read the ``[media]`` table; :class:`ConfigurationError` on a bad value."""
        url = str(table.get("url") or (home / "media").resolve().as_uri())
        sources_table = table.get("sources", {})
        if not isinstance(sources_table, Mapping):
            raise ConfigurationError("[media.sources] must be a table of tables")
        default = _source(table, SourcePolicy(), "[media]")
        sources = {
            str(name): _source(value, default, f"[media.sources.{name}]")
            for name, value in sources_table.items()
        }
        return cls(
            url=url,
            default=default,
            sources=sources,
            max_object_bytes=_count(table, "max_object_bytes", 64 * 1024 * 1024),
            max_total_bytes=_count(table, "max_total_bytes", 0),
        )


def _source(table: object, base: SourcePolicy, where: str) -> SourcePolicy:
    if not isinstance(table, Mapping):
        raise ConfigurationError(f"{where} must be a table")
    keep = table.get("keep", base.keep)
    if keep not in KEEPS:
        raise ConfigurationError(f"{where} keep must be one of {', '.join(KEEPS)}, not {keep!r}")
    return SourcePolicy(keep=keep, retain_days=_count(table, "retain_days", base.retain_days))


def _count(table: Mapping[str, Any], name: str, default: int) -> int:
    value = table.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"[media] {name} must be a whole number >= 0, not {value!r}")
    return value
