"""``provreg ingest`` and ``provreg show``: put files in the ledger, read one asset back."""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Any

import click

from registry.cli.context import Context
from registry.cli.errors import EXIT_UNJUDGED
from registry.cli.output import emit, outcome_text, story_text
from registry.cli.summary import RunSummary, progress_bar
from registry.json_lines import outcome_json


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--source", default=None, help="Where these files came from (recorded per sighting).")
@click.option("--detector", "detector_names", multiple=True, help="Run only these detectors.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file.")
@click.option("--strict", is_flag=True, help="Exit 3 if any file could not be judged.")
@click.option(
    "--executor",
    envvar="PROVREG_EXECUTOR",
    default=None,
    help="inline (this process) or a registered executor such as ray (the default when present).",
)
@click.option(
    "--resume",
    "resume",
    type=int,
    default=None,
    metavar="RUN",
    help="Reopen interrupted run RUN and judge only the files it had not judged.",
)
@click.pass_obj
def ingest(
    obj: Context,
    paths: tuple[Path, ...],
    source: str | None,
    detector_names: tuple[str, ...],
    as_json: bool,
    strict: bool,
    executor: str | None,
    resume: int | None,
) -> None:
    """Ingest files or folders: intake, detectors, signed verdicts in the ledger."""
    from registry.ingest import load_executor
    from registry.intake.pipeline import iter_media_paths

    registry = obj.registry(migrate=True)
    detectors = registry.detectors(detector_names or None)
    files = list(iter_media_paths(paths))
    progress = progress_bar(len(files), "file")
    summary = RunSummary("ingest", obj.settings)
    run_ingest = load_executor(executor)
    # Passed only when asked for: an executor plugin written before --resume still works.
    resume_kw = {} if resume is None else {"resume": resume}
    try:
        for outcome in run_ingest(registry, detectors, files, source=source, **resume_kw):
            summary.count(outcome.status, outcome.error, sum(e.created for e in outcome.entries))
            if progress is not None:
                progress.update(1)
                progress.clear()
            if as_json:
                emit(outcome_json(outcome))
            else:
                click.echo(outcome_text(outcome))
    finally:
        if progress is not None:
            progress.close()
    summary.emit()
    if strict and summary.errors:
        sys.exit(EXIT_UNJUDGED)


@click.command()
@click.argument("sha256")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def show(obj: Context, sha256: str, as_json: bool) -> None:
    """Everything known about one asset (full sha256 or a unique prefix)."""
    from registry.api import show_asset

    story = show_asset(obj.registry(), sha256)
    a = story.asset
    facts: dict[str, Any] = {
        "sha256": a.sha256,
        "size_bytes": a.size_bytes,
        "media_type": a.media_type,
        "width": a.width,
        "height": a.height,
        "frames": a.frames,
        "first_seen": a.first_seen.isoformat(),
        "last_seen": a.last_seen.isoformat(),
        "sightings": [
            {
                "source": s.source,
                "location": s.location,
                "seen_at": s.seen_at.isoformat(),
                "log_index": s.log_index,
            }  # None: recorded before sightings were signed
            for s in story.sightings
        ],
        "verdicts": [
            {
                "detector": v.detector,
                "version": v.version,
                "label": v.label,
                "positive": v.positive,
                "score": v.score,
                "p_value": v.p_value,
                "error": v.error,
                "evidence": v.evidence,
                "log_index": v.log_index,
                "key_id": v.key_id,
                "signature": base64.b64encode(v.signature).decode(),
                "created_at": v.created_at.isoformat(),
            }
            for v in story.verdicts
        ],
    }
    if as_json:
        emit(facts)
        return
    for line in story_text(facts):
        click.echo(line)
