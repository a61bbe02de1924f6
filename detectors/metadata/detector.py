"""The generation-metadata detector: which generator the file's own metadata names.

Reads the raw bytes (``sample.data``) of a PNG, JPEG or WebP — text chunks, EXIF, XMP —
plus the stealth copy in the pixel LSBs of ``sample.image``, and runs one parser per tool
family over what it found. A verdict is positive when any generator signature is found;
its label is the strongest finding by :data:`PRECEDENCE`. Metadata is declared, not
measured: ``p_value`` is always ``None`` and ``score`` is 1.0 for a positive. A file with
no signature is "not found" (metadata is trivially stripped), never "clean".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import ClassVar

from PIL import Image

from detectors.base import Detector, JSONValue, Resources, Sample, Verdict
from detectors.metadata import a1111, comfyui, fooocus, invokeai, novelai
from detectors.metadata.containers import read_container
from detectors.metadata.exif import read_exif
from detectors.metadata.findings import (
    ContainerError,
    Finding,
    JSONParseError,
    ParseResult,
    TextEntry,
    error_entry,
    load_json,
)
from detectors.metadata.stealth import StealthError, read_stealth
from detectors.metadata.xmp import parse_xmp

PRECEDENCE: tuple[str, ...] = (
    "comfyui",
    "invokeai",
    "novelai",
    "fooocus",
    "a1111",
    "iptc-trained-algorithmic-media",
    "iptc-composite-trained-algorithmic-media",
)
"""Labels strongest first. Formats only one application writes (ComfyUI's node graph,
InvokeAI's chunks, NovelAI's, Fooocus's) outrank the A1111 ``parameters`` text, which many
tools write as an interchange format (ComfyUI saver nodes, Forge, SD.Next); the IPTC
digital source type names no tool and comes last, fully generated before composite."""

MAX_ERRORS = 50
MAX_KEYS = 100

_TOOL_PARSERS: tuple[Callable[[list[TextEntry]], ParseResult], ...] = (
    comfyui.parse,
    invokeai.parse,
    novelai.parse,
    fooocus.parse,
)
"""Tool-specific parsers; they run first so the generic A1111 parser can skip what they
claimed (a Fooocus ``parameters`` entry is not read again as A1111)."""


def _run_parsers(group: list[TextEntry]) -> tuple[list[Finding], list[dict[str, JSONValue]]]:
    findings: list[Finding] = []
    errors: list[dict[str, JSONValue]] = []
    claimed: set[str] = set()
    for parse in _TOOL_PARSERS:
        result = parse(group)
        findings.extend(result.findings)
        errors.extend(result.errors)
        claimed |= result.claimed
    result = a1111.parse(group, claimed)
    return findings + result.findings, errors + result.errors


class MetadataDetector(Detector):
    """Finds generator signatures in PNG/JPEG/WebP metadata (see docs/detectors/metadata.md)."""

    name: ClassVar[str] = "metadata"
    version: ClassVar[str] = "1.0.0"
    media_types: ClassVar[frozenset[str]] = frozenset({"image/png", "image/jpeg", "image/webp"})
    resources: ClassVar[Resources] = Resources(num_cpus=0.25, memory_mb=256)

    def detect_one(self, sample: Sample) -> Verdict:
        """Judge one sample from its bytes (and its pixels, for the stealth copy)."""
        try:
            container = read_container(sample.data)
        except ContainerError as exc:
            return self.error(sample, exc.reason, {"detail": exc.detail})
        errors: list[dict[str, JSONValue]] = list(container.errors)
        entries = list(container.texts)
        for blob, source in container.exif:
            exif_entries, exif_errors = read_exif(blob, source)
            entries.extend(exif_entries)
            errors.extend(exif_errors)
        groups = [entries]
        hidden = _stealth_entries(sample.image, errors)
        if hidden:
            groups.append(hidden)
        findings: list[Finding] = []
        for group in groups:
            group_findings, group_errors = _run_parsers(group)
            findings.extend(group_findings)
            errors.extend(group_errors)
        xmp_result, source_types = parse_xmp(container.xmp)
        findings.extend(xmp_result.findings)
        errors.extend(xmp_result.errors)
        labels = [label for label in PRECEDENCE if any(f.label == label for f in findings)]
        evidence: dict[str, JSONValue] = {
            "container": container.format,
            "labels": list(labels),
            "findings": [f.to_json() for f in findings],
            "errors": list[JSONValue](errors[:MAX_ERRORS]),
            "metadata_sources": list[JSONValue](e.source for group in groups for e in group)[
                :MAX_KEYS
            ],
            "xmp_packets": len(container.xmp),
            "digital_source_types": list[JSONValue](source_types[:MAX_KEYS]),
        }
        if len(errors) > MAX_ERRORS:
            evidence["errors_omitted"] = len(errors) - MAX_ERRORS
        if labels:
            return self.verdict(sample, labels[0], True, score=1.0, evidence=evidence)
        return self.not_found(sample, evidence=evidence)


def _stealth_entries(
    image: Image.Image | None, errors: list[dict[str, JSONValue]]
) -> list[TextEntry]:
    """Entries from the LSB-hidden payload, if the pixels carry one."""
    try:
        payload = read_stealth(image)
    except StealthError as exc:
        errors.append(error_entry("stealth", "bad-stealth-payload", str(exc)))
        return []
    except Exception as exc:  # Pillow raises many types for odd modes
        errors.append(error_entry("stealth", "stealth-unreadable", f"{type(exc).__name__}: {exc}"))
        return []
    if payload is None:
        return []
    source = f"stealth:{payload.mode}"
    text = payload.text.strip()
    if text.startswith("{"):
        try:
            data = load_json(text)
        except JSONParseError as exc:
            errors.append(error_entry(source, "invalid-json", str(exc)))
            return []
        if isinstance(data, dict):
            return [
                TextEntry(
                    str(key),
                    value if isinstance(value, str) else json.dumps(value),
                    f"{source}:{key}",
                )
                for key, value in data.items()
            ]
    return [TextEntry("parameters", text, source)]
