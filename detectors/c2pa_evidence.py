"""Turn a C2PA manifest store (the JSON ``c2pa.Reader.json()`` returns) into verdict evidence.

Pure functions over plain dicts, no c2pa import, so the evidence shape and the
"does this declare generated media?" rule can be read and tested on their own. The field
names follow the manifest store JSON of c2pa-rs (``active_manifest``, ``manifests``,
``validation_state``, ``validation_results``, ``validation_status``).

Generative declarations are IPTC digital source types (https://cv.iptc.org/newscodes/
digitalsourcetype/) found anywhere in an assertion's data under the key ``digitalSourceType``
(C2PA actions) or ``Iptc4xmpExt:DigitalSourceType`` (IPTC photo-metadata assertion), in the
active manifest and, through ``parentOf`` / ``componentOf`` ingredients, in the manifests of
the ingredients the asset was made from. See :data:`GENERATIVE_SOURCE_TYPES`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from detectors.base import JSONValue

#: Digital source types (last path segment of the IPTC / C2PA URI) that declare generated
#: media. The first three say a trained model (generative AI) made all or part of it;
#: ``algorithmicMedia`` and ``compositeSynthetic`` say an algorithm made it, trained or not.
TRAINED_SOURCE_TYPES = frozenset(
    {"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia", "trainedAlgorithmicData"}
)
ALGORITHMIC_SOURCE_TYPES = frozenset({"algorithmicMedia", "compositeSynthetic"})
GENERATIVE_SOURCE_TYPES = TRAINED_SOURCE_TYPES | ALGORITHMIC_SOURCE_TYPES

_SOURCE_TYPE_PREFIXES = (
    "http://cv.iptc.org/newscodes/digitalsourcetype/",
    "https://cv.iptc.org/newscodes/digitalsourcetype/",
    "http://c2pa.org/digitalsourcetype/",
    "https://c2pa.org/digitalsourcetype/",
)
_SOURCE_TYPE_KEYS = ("digitalSourceType", "Iptc4xmpExt:DigitalSourceType")
_FOLLOWED_RELATIONSHIPS = frozenset({"parentOf", "componentOf"})
_MAX_ITEMS = 200  # cap on every evidence list: a hostile manifest must not bloat the ledger
_MAX_DEPTH = 8  # ingredient nesting followed when looking for declarations
_MAX_TEXT = 500


@dataclass(frozen=True)
class Declaration:
    """One digital-source-type declaration found in a manifest."""

    manifest: str
    assertion: str
    source_type: str
    action: str | None
    via_ingredient: bool

    @property
    def code(self) -> str:
        """The IPTC code: the URI's last path segment."""
        return source_type_code(self.source_type)

    @property
    def generative(self) -> bool:
        """Whether this declaration says the media was generated."""
        return self.code in GENERATIVE_SOURCE_TYPES

    @property
    def trained(self) -> bool:
        """Whether this declaration names a trained model (generative AI)."""
        return self.code in TRAINED_SOURCE_TYPES

    def to_json(self) -> dict[str, JSONValue]:
        """The declaration as evidence."""
        return {
            "manifest": self.manifest,
            "assertion": self.assertion,
            "action": self.action,
            "digital_source_type": self.source_type,
            "code": self.code,
            "via_ingredient": self.via_ingredient,
            "generative": self.generative,
        }


def source_type_code(uri: str) -> str:
    """``http://cv.iptc.org/newscodes/digitalsourcetype/X`` -> ``X``; unknown forms unchanged."""
    for prefix in _SOURCE_TYPE_PREFIXES:
        if uri.startswith(prefix):
            return uri[len(prefix) :].strip("/")
    return uri


def active_manifest(store: Mapping[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    """The active manifest's label and body, or ``(label, None)`` when it is missing."""
    label = store.get("active_manifest")
    manifests = store.get("manifests")
    if not isinstance(label, str) or not isinstance(manifests, dict):
        return (label if isinstance(label, str) else None), None
    body = manifests.get(label)
    return label, body if isinstance(body, dict) else None


def declarations(store: Mapping[str, Any]) -> list[Declaration]:
    """Every digital-source-type declaration in the active manifest and its ingredients."""
    manifests = store.get("manifests")
    label, _ = active_manifest(store)
    if not isinstance(manifests, dict) or label is None:
        return []
    found: list[Declaration] = []
    seen: set[str] = set()

    def visit(manifest_label: str, depth: int) -> None:
        body = manifests.get(manifest_label)
        if manifest_label in seen or depth > _MAX_DEPTH or not isinstance(body, dict):
            return
        seen.add(manifest_label)
        for assertion in _dicts(body.get("assertions")):
            name = str(assertion.get("label", ""))
            for source_type, action in _source_types(assertion.get("data"), None):
                found.append(Declaration(manifest_label, name, source_type, action, depth > 0))
        for ingredient in _dicts(body.get("ingredients")):
            child = ingredient.get("active_manifest")
            if ingredient.get("relationship") in _FOLLOWED_RELATIONSHIPS and isinstance(child, str):
                visit(child, depth + 1)

    visit(label, 0)
    return found[:_MAX_ITEMS]


def manifest_evidence(store: Mapping[str, Any]) -> dict[str, JSONValue]:
    """Evidence for a read manifest store: validation, claim, signature, actions, ingredients."""
    label, body = active_manifest(store)
    manifest: Mapping[str, Any] = body or {}
    results = store.get("validation_results")
    results = results if isinstance(results, dict) else {}
    active_results = results.get("activeManifest")
    generator = manifest.get("claim_generator")
    return {
        "validation_state": _text(store.get("validation_state")),
        "validation": _status_lists(active_results),
        "validation_status": _statuses(store.get("validation_status")),
        "ingredient_deltas": [
            {
                "ingredient_assertion": _text(delta.get("ingredientAssertionURI")),
                "validation": _status_lists(delta.get("validationDeltas")),
            }
            for delta in _dicts(results.get("ingredientDeltas"))
        ],
        "spec_version": _text(results.get("specVersion")),
        "trust_list": _text(results.get("trustListUri")),
        "active_manifest": label,
        "active_manifest_found": body is not None,
        "manifest_count": len(store.get("manifests") or {}),
        "claim_version": _json(manifest.get("claim_version")),
        "title": _text(manifest.get("title")),
        "format": _text(manifest.get("format")),
        "instance_id": _text(manifest.get("instance_id")),
        "claim_generator": _text(generator) if isinstance(generator, str) else None,
        "claim_generator_info": [
            _json(info) for info in _dicts(manifest.get("claim_generator_info"))
        ],
        "signature": _signature(manifest.get("signature_info")),
        "actions": [_action(action) for action in _actions(manifest)][:_MAX_ITEMS],
        "ingredients": [_ingredient(ing) for ing in _dicts(manifest.get("ingredients"))],
    }


def failure_codes(store: Mapping[str, Any]) -> list[str]:
    """The active manifest's failure codes (falls back to the legacy status list)."""
    results = store.get("validation_results")
    if isinstance(results, dict) and isinstance(results.get("activeManifest"), dict):
        entries = results["activeManifest"].get("failure")
    else:
        entries = store.get("validation_status")
    return [str(entry.get("code")) for entry in _dicts(entries)]


# --- helpers ---------------------------------------------------------------------------


def _dicts(value: object) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        for item in value[:_MAX_ITEMS]:
            if isinstance(item, dict):
                yield item


def _text(value: object) -> str | None:
    if value is None:
        return None
    return str(value)[:_MAX_TEXT]


def _json(value: object, depth: int = 0) -> JSONValue:
    """A bounded, JSON-safe copy (strings cut, lists capped, floats kept finite)."""
    if depth > 6:
        return None
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, str):
        return value[:_MAX_TEXT]
    if isinstance(value, list):
        return [_json(item, depth + 1) for item in value[:_MAX_ITEMS]]
    if isinstance(value, dict):
        items = list(value.items())[:_MAX_ITEMS]
        return {str(k)[:_MAX_TEXT]: _json(v, depth + 1) for k, v in items}
    return str(value)[:_MAX_TEXT]


def _statuses(entries: object) -> list[JSONValue]:
    return [
        {
            "code": _text(entry.get("code")),
            "url": _text(entry.get("url")),
            "explanation": _text(entry.get("explanation")),
        }
        for entry in _dicts(entries)
    ]


def _status_lists(results: object) -> dict[str, JSONValue]:
    results = results if isinstance(results, dict) else {}
    return {kind: _statuses(results.get(kind)) for kind in ("success", "informational", "failure")}


def _signature(info: object) -> dict[str, JSONValue] | None:
    if not isinstance(info, dict):
        return None
    return {
        key: _text(info.get(key))
        for key in (
            "alg",
            "issuer",
            "common_name",
            "cert_serial_number",
            "time",
            "revocation_status",
        )
    }


def _actions(manifest: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for assertion in _dicts(manifest.get("assertions")):
        if str(assertion.get("label", "")).startswith("c2pa.actions"):
            data = assertion.get("data")
            if isinstance(data, dict):
                yield from _dicts(data.get("actions"))


def _action(action: Mapping[str, Any]) -> JSONValue:
    return {
        "action": _text(action.get("action")),
        "digitalSourceType": _text(action.get("digitalSourceType")),
        "softwareAgent": _json(action.get("softwareAgent")),
        "when": _text(action.get("when")),
        "description": _text(action.get("description")),
    }


def _ingredient(ingredient: Mapping[str, Any]) -> JSONValue:
    results = ingredient.get("validation_results")
    active = results.get("activeManifest") if isinstance(results, dict) else None
    return {
        "title": _text(ingredient.get("title")),
        "format": _text(ingredient.get("format")),
        "relationship": _text(ingredient.get("relationship")),
        "active_manifest": _text(ingredient.get("active_manifest")),
        "validation": _status_lists(active),
        "validation_status": _statuses(ingredient.get("validation_status")),
    }


def _source_types(
    data: object, action: str | None, depth: int = 0
) -> Iterator[tuple[str, str | None]]:
    """Yield ``(source type, enclosing action name)`` for every declaration inside ``data``."""
    if depth > 8:
        return
    if isinstance(data, dict):
        name = data.get("action")
        here = name if isinstance(name, str) else action
        for key in _SOURCE_TYPE_KEYS:
            value = data.get(key)
            if isinstance(value, str) and value:
                yield value[:_MAX_TEXT], here
        for value in list(data.values())[:_MAX_ITEMS]:
            yield from _source_types(value, here, depth + 1)
    elif isinstance(data, list):
        for item in data[:_MAX_ITEMS]:
            yield from _source_types(item, action, depth + 1)
