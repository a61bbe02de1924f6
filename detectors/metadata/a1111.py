"""AUTOMATIC1111 ``parameters`` text (also written by Forge, SD.Next and others).

Layout, as stable-diffusion-webui writes it (``modules/processing.py``)::

    <prompt, possibly several lines>
    Negative prompt: <negative prompt, possibly several lines>
    Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, Model hash: ..., ...

The last line holds ``key: value`` pairs separated by ``", "``; a value containing a comma
or quote is JSON-quoted. The signature is a settings line with a ``Steps`` key and at least
three pairs. It is read from the PNG ``parameters`` chunk, the EXIF ``UserComment``
(JPEG/WebP), a JPEG comment, or a stealth payload.
"""

from __future__ import annotations

import json
import re

from detectors.base import JSONValue
from detectors.metadata.findings import (
    Finding,
    ParseResult,
    TextEntry,
    as_float,
    as_int,
    clip,
    entries_named,
)

KEYS = ("parameters", "exif:UserComment", "comment")
_KEY = re.compile(r"\s*(\w[\w \-/+.()]*):\s*")
_SIZE = re.compile(r"^(\d+)x(\d+)$")
MAX_SETTINGS = 80
_NAMED = {
    "Steps": "steps",
    "Sampler": "sampler",
    "Schedule type": "scheduler",
    "CFG scale": "cfg_scale",
    "Seed": "seed",
    "Model hash": "model_hash",
    "Model": "model",
    "Version": "version",
}


def parse_settings(line: str) -> list[tuple[str, str]]:
    """Split a settings line into ``(key, value)`` pairs, honouring quoted values."""
    pairs: list[tuple[str, str]] = []
    pos = 0
    while pos < len(line) and len(pairs) < MAX_SETTINGS:
        match = _KEY.match(line, pos)
        if match is None:
            break
        key = match.group(1).strip()
        pos = match.end()
        if pos < len(line) and line[pos] == '"':
            value, pos = _quoted(line, pos)
        else:
            comma = line.find(",", pos)
            end = len(line) if comma < 0 else comma
            value, pos = line[pos:end].strip(), end
        pairs.append((key, value))
        if pos < len(line) and line[pos] == ",":
            pos += 1
    return pairs


def _quoted(line: str, pos: int) -> tuple[str, int]:
    end = pos + 1
    while end < len(line):
        if line[end] == "\\":
            end += 2
            continue
        if line[end] == '"':
            raw = line[pos : end + 1]
            try:
                return str(json.loads(raw)), end + 1
            except ValueError:
                return raw[1:-1], end + 1
        end += 1
    return line[pos + 1 :], len(line)


def split_parameters(text: str) -> tuple[str, str, list[tuple[str, str]]] | None:
    """``(prompt, negative prompt, settings)`` when ``text`` has an A1111 settings line."""
    lines = text.strip().split("\n")
    settings = parse_settings(lines[-1].strip())
    keys = {key for key, _ in settings}
    if len(settings) < 3 or "Steps" not in keys:
        return None
    prompt_lines: list[str] = []
    negative_lines: list[str] = []
    target = prompt_lines
    for line in lines[:-1]:
        if line.startswith("Negative prompt:"):
            target = negative_lines
            line = line[len("Negative prompt:") :].strip()
        target.append(line)
    return "\n".join(prompt_lines).strip(), "\n".join(negative_lines).strip(), settings


def fields_from_parameters(text: str) -> dict[str, JSONValue] | None:
    """The parsed fields of an A1111 ``parameters`` text, or ``None`` if it is not one."""
    split = split_parameters(text)
    if split is None:
        return None
    prompt, negative, settings = split
    fields: dict[str, JSONValue] = {"prompt": clip(prompt), "negative_prompt": clip(negative)}
    others: dict[str, JSONValue] = {}
    for key, value in settings:
        name = _NAMED.get(key)
        if name is None:
            if key == "Size" and (size := _SIZE.match(value)):
                fields["width"], fields["height"] = int(size.group(1)), int(size.group(2))
            else:
                others[clip(key, 100)] = clip(value, 1000)
            continue
        number: JSONValue = None
        if name in ("steps", "seed"):
            number = as_int(value)
        elif name == "cfg_scale":
            number = as_float(value)
        fields[name] = number if number is not None else clip(value, 1000)
    fields["settings"] = others
    return fields


def parse(entries: list[TextEntry], claimed: set[str]) -> ParseResult:
    """Findings for every A1111-style ``parameters`` entry not claimed by another parser."""
    result = ParseResult()
    for entry in entries_named(entries, *KEYS):
        if entry.source in claimed:
            continue
        fields = fields_from_parameters(entry.value)
        if fields is None:
            if entry.key == "parameters":
                result.error(
                    entry.source,
                    "unrecognised-parameters",
                    "parameters text has no A1111 settings line",
                )
            continue
        result.findings.append(Finding("a1111", entry.source, fields))
        result.claimed.add(entry.source)
    return result
