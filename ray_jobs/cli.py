"""``provreg rescan`` and ``provreg status``, plugged into the CLI through the
``provreg.commands`` entry-point group (the registry never imports this package)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import Any

import click
from ray.exceptions import RayError

from ray_jobs.report import change_report
from ray_jobs.rescan import RESCAN_WINDOW, RescanIdentity, run_rescan
from ray_jobs.sources import ARCHIVE
from ray_jobs.status import detector_counts, recent_runs
from registry.cli import Context


def _emit(obj: dict[str, Any]) -> None:
    click.echo(json.dumps(obj, separators=(",", ":"), default=str))


@click.command()
@click.option("--detector", "detector_name", required=True, help="The detector to re-run.")
@click.option("--source", default=ARCHIVE, show_default=True,
              help="archive (assets in the ledger), a folder, or a URI (file://, s3://, …).")
@click.option("--resume", is_flag=True, help="Skip items already done by this detector version.")
@click.option("--concurrency", default=1, show_default=True, type=click.IntRange(1),
              help="Detector actors (bounds the share of the cluster a re-scan takes).")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1))
@click.option("--window", default=RESCAN_WINDOW, show_default=True, type=click.IntRange(1),
              help="Items listed, checked for --resume and judged at a time (driver memory).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.pass_obj
def rescan(
    obj: Context, detector_name: str, source: str, resume: bool, concurrency: int,
    batch_size: int, window: int, as_json: bool,
) -> None:
    """Re-run a detector (new version or model) over the archive; report what changed."""
    registry = obj.registry(migrate=True)
    (detector,) = registry.detectors([detector_name])
    bar: Any = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(unit="item", file=sys.stderr, leave=False)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.total = total
            bar.n = done
            bar.refresh()

    try:
        result = run_rescan(registry, detector, source=source, resume=resume,
                            concurrency=concurrency, batch_size=batch_size,
                            on_progress=progress, window_size=window)
    except RayError as exc:
        raise click.ClickException(
            f"re-scan failed on Ray ({type(exc).__name__}: {str(exc)[:500]}); the batches "
            "written so far are kept: fix the cause and run again with --resume"
        ) from exc
    if bar is not None:
        bar.close()
    with registry.sessions() as session:
        report = change_report(session, RescanIdentity.of(detector))
    summary = {
        "run_id": result.run_id, "source": source, "total": result.total,
        "skipped": result.skipped, "processed": result.processed, "errors": result.errors,
        "verdicts_written": result.verdicts_written, **report.as_json(),
    }
    if as_json:
        _emit(summary)
        return
    click.echo(
        f"rescan {result.run_id}: {detector.name} {detector.version} over {source}: "
        f"{result.processed} processed, {result.skipped} skipped (already done), "
        f"{result.errors} errors, {result.verdicts_written} new verdicts"
    )
    click.echo(f"compared with the previous version on {report.compared} assets: "
               f"{len(report.changes)} changed ({report.newly_positive} newly positive, "
               f"{report.no_longer_positive} no longer positive)")
    for change in report.changes:
        click.echo(f"  {change.sha256[:16]}  {change.before_version} {change.before_label}"
                   f"{'+' if change.before_positive else ''} -> {change.after_label}"
                   f"{'+' if change.after_positive else ''}  {change.location or ''}")


@click.command()
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1))
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.pass_obj
def status(obj: Context, limit: int, as_json: bool) -> None:
    """Recent ingest runs and re-scans (with progress) and per-detector verdict counts."""
    registry = obj.registry()
    with registry.sessions() as session:
        runs = recent_runs(session, limit)
        counts = detector_counts(session)
    if as_json:
        _emit({"runs": [asdict(r) for r in runs], "detectors": [asdict(c) for c in counts]})
        return
    click.echo("runs:")
    for run in runs:
        state = run.status
        line = (f"  #{run.id} {run.kind:7} {run.started_at:%Y-%m-%d %H:%M:%S} {state}: "
                f"{run.files_ok} ok, {run.files_error} errors, {run.verdicts_written} verdicts")
        if run.kind == "rescan":
            line += (f"; {run.parameters.get('detector')} {run.parameters.get('version')} "
                     f"{run.done}/{run.total} done")
        click.echo(line)
    click.echo("detectors:")
    for c in counts:
        click.echo(f"  {c.detector} {c.version}: {c.verdicts} verdicts, {c.positive} positive, "
                   f"{c.errors} errors")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--replicas", default=1, show_default=True, type=click.IntRange(1),
              help="Endpoint replicas (each loads the detectors once).")
@click.option("--num-cpus", default=1.0, show_default=True, type=click.FloatRange(0.1),
              help="CPUs Ray reserves per replica.")
@click.option("--detector", "detector_names", multiple=True,
              help="Detectors to run (repeatable; default: the configured set).")
@click.pass_obj
def serve(obj: Context, host: str, port: int, replicas: int, num_cpus: float,
          detector_names: tuple[str, ...]) -> None:
    """Serve online ingestion over HTTP on Ray Serve: POST a file, get its signed verdicts."""
    import time

    from ray_jobs import serve as endpoint
    from ray_jobs.runtime import ensure_ray

    registry = obj.registry(migrate=True)
    names = list(detector_names) or None
    registry.detectors(names)  # unknown names fail here, before anything starts
    ensure_ray(registry.settings)
    url = endpoint.start(registry.settings, names, host=host, port=port, replicas=replicas,
                         num_cpus=num_cpus)
    click.echo(endpoint.describe(url))
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        endpoint.stop()
