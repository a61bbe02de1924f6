"""What the ``provreg`` commands print: one JSON line, an ingest line, an asset's story.

Values come from uploaded files (metadata strings, paths): text output escapes control
characters so they cannot rewrite the terminal.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from registry.ingest import FileOutcome


def emit(obj: dict[str, Any]) -> None:
    """Print ``obj`` as one compact JSON line."""
    click.echo(json.dumps(obj, separators=(",", ":"), default=str))


def _shown(path: str | None) -> str:
    from registry.intake.pipeline import path_text

    return "" if path is None else path_text(path)


def outcome_text(outcome: FileOutcome) -> str:
    """The text line ``provreg ingest`` prints for one file."""
    if outcome.status != "ok":
        return (
            f"error  {outcome.sha256[:16]}  {_shown(outcome.path)}  "
            f"{outcome.error}: {outcome.error_detail}"
        )
    flagged = [
        f"{e.verdict.detector}:{e.verdict.label}" + copy_hit_text(e.verdict.evidence)
        for e in outcome.entries
        if e.verdict.positive
    ]
    return f"ok     {outcome.sha256[:16]}  {_shown(outcome.path)}  " + (
        ", ".join(flagged) if flagged else "nothing found"
    )


def copy_hit_text(evidence: dict[str, Any]) -> str:
    """`` bank=B ref=abcd1234… match_kind=hash`` for a copy verdict's best match, else ""."""
    matches = evidence.get("matches") if isinstance(evidence, dict) else None
    best = next(
        (m for m in matches or [] if isinstance(m, dict) and m.get("match") and "bank" in m), None
    )
    if best is None:
        return ""
    ref = best.get("reference_sha256") or f"hash-only#{best.get('ref_id')}"
    # Evidence written before match_kind existed: verification ran iff it was verified.
    kind = best.get("match_kind") or ("verified" if best.get("verification") else "hash")
    return (
        f" bank={best.get('bank')} ref={str(ref)[:16]}… match_kind={kind} "
        f"distance={best.get('distance')}"
    )


def story_text(facts: dict[str, Any]) -> list[str]:
    """The readable form of ``show``: the asset, its sightings, each verdict and its evidence.

    Values come from uploaded files (metadata strings, paths): they are printed with
    ``repr``-style escaping of control characters so they cannot rewrite the terminal.
    """
    lines = [
        f"{facts['sha256']}  {facts['media_type']}  {facts['width']}x{facts['height']}  "
        f"{facts['size_bytes']} bytes",
        f"first seen {facts['first_seen']}, last seen {facts['last_seen']}, "
        f"{len(facts['sightings'])} sighting(s)",
    ]
    for s in facts["sightings"]:
        lines.append(f"  seen {s['seen_at']}  source={_safe(s['source'])}  {_safe(s['location'])}")
    lines.append(f"{len(facts['verdicts'])} verdict(s):")
    for v in facts["verdicts"]:
        mark = "POSITIVE" if v["positive"] else ("error" if v["error"] else "-")
        p = f"  p={v['p_value']:.3g}" if v["p_value"] is not None else ""
        score = f"  score={v['score']:.3g}" if v["score"] is not None else ""
        lines.append(
            f"  [{v['log_index']}] {v['detector']} {v['version']}: {v['label']} "
            f"{mark}{score}{p}"
            + (f"  error={_safe(v['error'])}" if v["error"] else "")
            + copy_hit_text(v["evidence"])
        )
        lines.extend(_evidence_lines(v["evidence"], "      "))
    return lines


def _safe(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if text.isprintable() else json.dumps(text)[1:-1]


def _evidence_lines(value: Any, indent: str, depth: int = 0) -> list[str]:
    """Evidence as indented ``key: value`` lines (long lists shortened)."""
    if depth > 4:
        return [f"{indent}{_safe(json.dumps(value, default=str))[:200]}"]
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines.append(f"{indent}{_safe(key)}:")
                lines.extend(_evidence_lines(item, indent + "  ", depth + 1))
            else:
                lines.append(f"{indent}{_safe(key)}: {_safe(json.dumps(item, default=str))[:200]}")
    elif isinstance(value, list):
        for index, item in enumerate(value[:10]):
            if isinstance(item, dict | list) and item:
                lines.append(f"{indent}- [{index}]")
                lines.extend(_evidence_lines(item, indent + "  ", depth + 1))
            else:
                lines.append(f"{indent}- {_safe(json.dumps(item, default=str))[:200]}")
        if len(value) > 10:
            lines.append(f"{indent}… {len(value) - 10} more (see --json)")
    return lines
