"""InvokeAI metadata: current ``invokeai_metadata``/``invokeai_graph`` and legacy chunks.

- ``invokeai_metadata`` (3.x+): a JSON object with ``app_version``, ``generation_mode``,
  ``positive_prompt``, ``negative_prompt``, ``seed``, ``steps``, ``cfg_scale``,
  ``scheduler``, ``width``, ``height`` and ``model`` (an object with a name and base).
- ``invokeai_graph`` / ``invokeai_workflow``: the node graph / editor workflow as JSON.
- ``sd-metadata`` (2.x): a JSON object with ``model_weights``, ``app_id``, ``app_version``
  and ``image`` (``prompt``, ``steps``, ``cfg_scale``, ``seed``, ``sampler``...).
- ``Dream`` (the ``dream.py`` era): a command line such as
  ``"a cat" -s 50 -S 42 -W 512 -H 512 -C 7.5 -A k_lms``.

Each chunk that parses is its own finding; one that does not is an error entry.
"""

from __future__ import annotations

import itertools
import shlex
from typing import Any

from detectors.base import JSONValue
from detectors.metadata.findings import (
    Finding,
    JSONParseError,
    ParseResult,
    TextEntry,
    as_float,
    as_int,
    clip,
    entries_named,
    jsonable,
    load_json,
)

JSON_KEYS = ("invokeai_metadata", "invokeai_graph", "invokeai_workflow", "sd-metadata")
_META_TEXT = (
    "app_version",
    "generation_mode",
    "positive_prompt",
    "negative_prompt",
    "scheduler",
    "positive_style_prompt",
    "negative_style_prompt",
)
_DREAM_FLAGS = {
    "-s": "steps",
    "-S": "seed",
    "-W": "width",
    "-H": "height",
    "-C": "cfg_scale",
    "-A": "sampler",
    "-f": "strength",
}


def parse(entries: list[TextEntry]) -> ParseResult:
    """InvokeAI findings in one group of entries."""
    result = ParseResult()
    for entry in entries_named(entries, *JSON_KEYS):
        try:
            data = load_json(entry.value)
        except JSONParseError as exc:
            result.error(entry.source, "invalid-json", f"{entry.key}: {exc}")
            continue
        if not isinstance(data, dict):
            result.error(entry.source, "invalid-json", f"{entry.key} is not a JSON object")
            continue
        fields = _legacy_fields(data) if entry.key == "sd-metadata" else _fields(entry.key, data)
        fields["chunk"] = entry.key
        result.findings.append(Finding("invokeai", entry.source, fields))
        result.claimed.add(entry.source)
    for entry in entries_named(entries, "Dream"):
        if entry.value.strip():
            result.findings.append(Finding("invokeai", entry.source, _dream_fields(entry.value)))
            result.claimed.add(entry.source)
    return result


def _fields(key: str, data: dict[str, Any]) -> dict[str, JSONValue]:
    if key != "invokeai_metadata":
        nodes = data.get("nodes")
        count = len(nodes) if isinstance(nodes, dict | list) else None
        return {"node_count": count, "id": jsonable(data.get("id"))}
    fields: dict[str, JSONValue] = {}
    for name in _META_TEXT:
        if isinstance(data.get(name), str):
            fields[name] = clip(data[name])
    for name in ("seed", "steps", "width", "height"):
        fields[name] = as_int(data.get(name))
    fields["cfg_scale"] = as_float(data.get("cfg_scale"))
    model = data.get("model")
    if isinstance(model, dict):
        fields["model"] = jsonable(
            {
                k: model[k]
                for k in ("name", "model_name", "base", "base_model", "hash", "key")
                if k in model
            }
        )
    elif isinstance(model, str):
        fields["model"] = clip(model)
    if isinstance(data.get("loras"), list):
        fields["loras"] = jsonable(data["loras"])
    return fields


def _legacy_fields(data: dict[str, Any]) -> dict[str, JSONValue]:
    fields: dict[str, JSONValue] = {
        k: jsonable(data[k])
        for k in ("app_id", "app_version", "model", "model_weights", "model_hash")
        if k in data
    }
    image = data.get("image")
    if isinstance(image, dict):
        prompt = image.get("prompt")
        if isinstance(prompt, list):
            prompt = " ".join(
                p.get("prompt", "")
                for p in prompt
                if isinstance(p, dict) and isinstance(p.get("prompt"), str)
            )
        if isinstance(prompt, str):
            fields["prompt"] = clip(prompt)
        for name in ("steps", "seed", "width", "height"):
            fields[name] = as_int(image.get(name))
        fields["cfg_scale"] = as_float(image.get("cfg_scale"))
        for name in ("sampler", "type"):
            if isinstance(image.get(name), str):
                fields[name] = clip(image[name], 200)
    return fields


def _dream_fields(command: str) -> dict[str, JSONValue]:
    fields: dict[str, JSONValue] = {"chunk": "Dream", "command": clip(command)}
    try:
        tokens = shlex.split(command[:65536])
    except ValueError:
        return fields
    if tokens and not tokens[0].startswith("-"):
        fields["prompt"] = clip(tokens[0])
    for flag, value in itertools.pairwise(tokens):
        name = _DREAM_FLAGS.get(flag)
        if name is None:
            continue
        number: JSONValue = as_float(value) if name in ("cfg_scale", "strength") else as_int(value)
        fields[name] = number if number is not None else clip(value, 200)
    return fields
