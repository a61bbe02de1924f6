"""Fooocus metadata, told apart from plain AUTOMATIC1111 ``parameters``.

Fooocus (``modules/meta_parser.py``, ``modules/private_logger.py``) writes one of two
schemes. PNG: a ``parameters`` chunk plus a ``fooocus_scheme`` chunk naming the scheme
(``fooocus`` or ``a1111``). JPEG/WebP: EXIF ``UserComment`` holds the parameters,
``MakerNote`` the scheme, ``Software`` ``"Fooocus v<version>"``.

- ``fooocus`` scheme: ``parameters`` is a JSON object (``prompt``, ``steps``, ``sampler``,
  ``base_model``, ``version``: ``"Fooocus v…"``, ``metadata_scheme``...).
- ``a1111`` scheme: A1111-formatted text whose settings line ends ``Version: Fooocus v…``.

An entry is Fooocus when a scheme marker or the Fooocus Software tag is present, when its
A1111 settings carry a Fooocus version, or when its JSON has Fooocus's version string or at
least two keys only Fooocus writes. It is then claimed so the A1111 parser skips it.
"""

from __future__ import annotations

from detectors.base import JSONValue
from detectors.metadata import a1111
from detectors.metadata.findings import (
    Finding,
    JSONParseError,
    ParseResult,
    TextEntry,
    as_float,
    as_int,
    clip,
    entries_named,
    first_named,
    jsonable,
    load_json,
)

SCHEMES = ("fooocus", "a1111")
_ONLY_FOOOCUS = frozenset(
    {
        "sharpness",
        "adm_guidance",
        "performance",
        "full_prompt",
        "full_negative_prompt",
        "refiner_swap_method",
        "base_model_hash",
        "refiner_switch",
        "metadata_scheme",
    }
)
_JSON_FIELDS = (
    "prompt",
    "negative_prompt",
    "styles",
    "performance",
    "resolution",
    "sampler",
    "scheduler",
    "base_model",
    "base_model_hash",
    "refiner_model",
    "vae",
    "loras",
    "version",
    "metadata_scheme",
    "created_by",
)


def _markers(entries: list[TextEntry]) -> dict[str, str]:
    markers: dict[str, str] = {}
    scheme = first_named(entries, "fooocus_scheme")
    if scheme is not None:
        markers["fooocus_scheme"] = clip(scheme.value.strip(), 64)
    software = first_named(entries, "exif:Software")
    if software is not None and software.value.startswith("Fooocus"):
        markers["software"] = clip(software.value, 64)
        note = first_named(entries, "exif:MakerNote")
        if note is not None and note.value.strip() in SCHEMES:
            markers["fooocus_scheme"] = note.value.strip()
    return markers


def parse(entries: list[TextEntry]) -> ParseResult:
    """Fooocus findings in one group of entries; claims the entries it reads."""
    result = ParseResult()
    markers = _markers(entries)
    for entry in entries_named(entries, "parameters", "exif:UserComment"):
        text = entry.value.strip()
        fields: dict[str, JSONValue] | None
        if text.startswith("{"):
            fields = _from_json(entry, text, markers, result)
        else:
            fields = _from_a1111(text, markers)
        if fields is None:
            continue
        fields.update({f"marker_{k}": v for k, v in markers.items()})
        result.findings.append(Finding("fooocus", entry.source, fields))
        result.claimed.add(entry.source)
    return result


def _from_json(
    entry: TextEntry, text: str, markers: dict[str, str], result: ParseResult
) -> dict[str, JSONValue] | None:
    try:
        data = load_json(text)
    except JSONParseError as exc:
        if markers:
            result.error(entry.source, "invalid-json", str(exc))
            result.claimed.add(entry.source)
        return None
    if not isinstance(data, dict):
        return None
    version = data.get("version")
    is_fooocus = (
        bool(markers)
        or (isinstance(version, str) and version.startswith("Fooocus"))
        or len(_ONLY_FOOOCUS & set(data)) >= 2
    )
    if not is_fooocus:
        return None
    fields: dict[str, JSONValue] = {"scheme": "fooocus"}
    for key in _JSON_FIELDS:
        if key in data:
            fields[key] = jsonable(data[key])
    fields["steps"] = as_int(data.get("steps"))
    fields["seed"] = as_int(data.get("seed"))
    fields["guidance_scale"] = as_float(data.get("guidance_scale"))
    return fields


def _from_a1111(text: str, markers: dict[str, str]) -> dict[str, JSONValue] | None:
    fields = a1111.fields_from_parameters(text)
    if fields is None:
        return None
    version = fields.get("version")
    if not markers and not (isinstance(version, str) and version.startswith("Fooocus")):
        return None
    fields["scheme"] = "a1111"
    return fields
