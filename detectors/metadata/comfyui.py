"""ComfyUI ``prompt`` (API graph) and ``workflow`` (editor graph) JSON.

ComfyUI's ``SaveImage`` writes two PNG text chunks: ``prompt``, a JSON object mapping node
ids to ``{"class_type", "inputs"}``, and ``workflow``, the editor's graph (``nodes`` with
``type`` and ``widgets_values``). ``SaveAnimatedWEBP`` puts the same JSON into WebP EXIF
strings with a key prefix: ``Model`` (0x0110) = ``prompt:{…}``, then ``Make`` (0x010F) =
``workflow:{…}``, counting down through ``ImageDescription`` for further keys.

The signature is a ``prompt`` object with at least one node carrying a ``class_type``, or a
``workflow`` object with a ``nodes`` list. Reported: model files named by loader nodes,
sampler nodes with their literal seed/steps/cfg/sampler settings, and the text of the
prompt-encoding nodes.
"""

from __future__ import annotations

from typing import Any

from detectors.base import JSONValue
from detectors.metadata.findings import (
    Finding,
    JSONParseError,
    ParseResult,
    TextEntry,
    clip,
    entries_named,
    jsonable,
    load_json,
)

MAX_NODES = 5000
MAX_REPORTED = 32
MODEL_INPUTS = (
    "ckpt_name",
    "unet_name",
    "lora_name",
    "vae_name",
    "clip_name",
    "clip_name1",
    "clip_name2",
    "clip_name3",
    "control_net_name",
    "model_name",
    "style_model_name",
    "gligen_name",
    "upscale_model",
)
SAMPLER_INPUTS = (
    "seed",
    "noise_seed",
    "steps",
    "cfg",
    "sampler_name",
    "scheduler",
    "denoise",
    "start_at_step",
    "end_at_step",
    "add_noise",
)
_EXIF_KEYS = ("exif:Model", "exif:Make", "exif:ImageDescription")


def _graph_entries(entries: list[TextEntry]) -> list[tuple[str, str, str]]:
    """``(kind, json text, source)`` for every prompt/workflow graph in the entries."""
    graphs = [(e.key, e.value, e.source) for e in entries_named(entries, "prompt", "workflow")]
    for entry in entries_named(entries, *_EXIF_KEYS):
        prefix, sep, rest = entry.value.partition(":")
        kind = prefix.strip().lower()
        if sep and kind in ("prompt", "workflow") and rest.lstrip().startswith("{"):
            graphs.append((kind, rest, entry.source))
    graphs.sort(key=lambda graph: graph[0] != "prompt")  # the API graph first; stable
    return graphs


def parse(entries: list[TextEntry]) -> ParseResult:
    """ComfyUI findings in one group of entries."""
    result = ParseResult()
    for kind, text, source in _graph_entries(entries):
        try:
            data = load_json(text)
        except JSONParseError as exc:
            result.error(source, "invalid-json", f"ComfyUI {kind}: {exc}")
            continue
        fields = _prompt_fields(data) if kind == "prompt" else _workflow_fields(data)
        if fields is None:
            result.error(source, "unrecognised-graph", f"{kind} JSON is not a ComfyUI graph")
            continue
        fields["graph"] = kind
        result.findings.append(Finding("comfyui", source, fields))
        result.claimed.add(source)
    return result


def _prompt_fields(data: Any) -> dict[str, JSONValue] | None:
    if not isinstance(data, dict):
        return None
    nodes = [
        (str(k), v)
        for k, v in list(data.items())[:MAX_NODES]
        if isinstance(v, dict) and isinstance(v.get("class_type"), str)
    ]
    if not nodes:
        return None
    models: list[JSONValue] = []
    samplers: list[JSONValue] = []
    prompts: list[JSONValue] = []
    for node_id, node in nodes:
        class_type = node["class_type"]
        inputs = node.get("inputs")
        if not isinstance(inputs, dict):
            continue
        for key in MODEL_INPUTS:
            value = inputs.get(key)
            if isinstance(value, str) and len(models) < MAX_REPORTED:
                models.append(
                    {
                        "node": clip(node_id, 64),
                        "class_type": clip(class_type, 200),
                        "input": key,
                        "name": clip(value, 500),
                    }
                )
        if "Sampler" in class_type and len(samplers) < MAX_REPORTED:
            settings = {
                k: jsonable(inputs[k])
                for k in SAMPLER_INPUTS
                if k in inputs and _literal(inputs[k])
            }
            samplers.append(
                {"node": clip(node_id, 64), "class_type": clip(class_type, 200), **settings}
            )
        if "TextEncode" in class_type and len(prompts) < MAX_REPORTED:
            for key in ("text", "text_g", "text_l", "clip_l", "t5xxl"):
                if isinstance(inputs.get(key), str):
                    prompts.append(clip(inputs[key]))
    return {"node_count": len(nodes), "models": models, "samplers": samplers, "prompts": prompts}


def _literal(value: object) -> bool:
    """Literal widget values, not links (``[node_id, output_index]``)."""
    return isinstance(value, str | int | float | bool)


def _workflow_fields(data: Any) -> dict[str, JSONValue] | None:
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        return None
    nodes = [
        n
        for n in data["nodes"][:MAX_NODES]
        if isinstance(n, dict) and isinstance(n.get("type"), str)
    ]
    if not nodes:
        return None
    models: list[JSONValue] = []
    samplers: list[JSONValue] = []
    for node in nodes:
        node_type = node["type"]
        widgets = node.get("widgets_values")
        if not isinstance(widgets, list):
            continue
        if "Loader" in node_type and len(models) < MAX_REPORTED:
            names = [w for w in widgets if isinstance(w, str) and "." in w]
            if names:
                models.append(
                    {
                        "node": jsonable(node.get("id")),
                        "type": clip(node_type, 200),
                        "name": clip(names[0], 500),
                    }
                )
        if "Sampler" in node_type and len(samplers) < MAX_REPORTED:
            samplers.append(
                {
                    "node": jsonable(node.get("id")),
                    "type": clip(node_type, 200),
                    "widgets_values": jsonable(widgets[:12]),
                }
            )
    version = data.get("version")
    return {
        "node_count": len(nodes),
        "models": models,
        "samplers": samplers,
        "version": jsonable(version) if isinstance(version, int | float | str) else None,
    }
