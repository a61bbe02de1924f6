"""NovelAI image metadata: PNG text chunks, or the same chunks hidden in the alpha channel.

NovelAI writes ``Title`` ("NovelAI generated image"), ``Description`` (the prompt),
``Software`` ("NovelAI"), ``Source`` (the model, e.g. "NovelAI Diffusion V4 …"),
``Generation time`` and ``Comment``: a JSON object with ``prompt``, ``uc`` (negative
prompt), ``steps``, ``sampler``, ``seed``, ``scale``, ``width``, ``height`` and, on recent
images, ``signed_hash``. It also hides a gzip-compressed JSON copy of those chunks in the
alpha LSBs (``stealth_pngcomp``, see ``stealth.py``); the detector turns that payload into
entries of their own and runs this parser on them too.

The signature is ``Software`` = "NovelAI" or ``Title`` = "NovelAI generated image". A
``Comment`` that is not valid JSON is reported as an error but does not undo the finding.
"""

from __future__ import annotations

from detectors.base import JSONValue
from detectors.metadata.findings import (
    Finding,
    JSONParseError,
    ParseResult,
    TextEntry,
    as_float,
    as_int,
    clip,
    first_named,
    jsonable,
    load_json,
)

TITLE = "NovelAI generated image"
_COMMENT_TEXT = ("prompt", "uc", "sampler", "noise_schedule", "request_type")
_COMMENT_INT = ("steps", "seed", "width", "height", "n_samples")
_COMMENT_FLOAT = ("scale", "cfg_rescale", "uncond_scale", "strength", "noise")


def parse(entries: list[TextEntry]) -> ParseResult:
    """A NovelAI finding when the group carries NovelAI's Software or Title."""
    result = ParseResult()
    software = first_named(entries, "Software")
    title = first_named(entries, "Title")
    anchor: TextEntry
    if software is not None and software.value.strip().lower() == "novelai":
        anchor = software
    elif title is not None and title.value.strip() == TITLE:
        anchor = title
    else:
        return result
    fields: dict[str, JSONValue] = {}
    for key, name in (
        ("Software", "software"),
        ("Source", "model"),
        ("Title", "title"),
        ("Description", "description"),
        ("Generation time", "generation_time"),
    ):
        entry = first_named(entries, key)
        if entry is not None:
            fields[name] = clip(entry.value)
    comment = first_named(entries, "Comment")
    if comment is not None:
        fields.update(_comment_fields(comment, result))
    result.findings.append(Finding("novelai", anchor.source, fields))
    result.claimed.add(anchor.source)
    return result


def _comment_fields(comment: TextEntry, result: ParseResult) -> dict[str, JSONValue]:
    try:
        data = load_json(comment.value)
    except JSONParseError as exc:
        result.error(comment.source, "invalid-json", f"NovelAI Comment: {exc}")
        return {}
    if not isinstance(data, dict):
        result.error(comment.source, "invalid-json", "NovelAI Comment is not a JSON object")
        return {}
    fields: dict[str, JSONValue] = {}
    for key in _COMMENT_TEXT:
        if isinstance(data.get(key), str):
            fields[key] = clip(data[key])
    for key in _COMMENT_INT:
        if (number := as_int(data.get(key))) is not None:
            fields[key] = number
    for key in _COMMENT_FLOAT:
        if (real := as_float(data.get(key))) is not None:
            fields[key] = real
    if "signed_hash" in data:
        fields["signed_hash"] = jsonable(data["signed_hash"])
    fields["comment_source"] = comment.source
    return fields
