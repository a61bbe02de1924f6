"""``provreg rescan`` and ``provreg status``, plugged into the CLI through the
``provreg.commands`` entry-point group (the registry never imports this package)."""

from __future__ import annotations

import json
import signal
import time
from dataclasses import asdict
from typing import Any

import click
from ray.exceptions import RayError

from detectors.base import Detector
from ray_jobs import cluster
from ray_jobs.rescan import RESCAN_WINDOW, RescanIdentity, outdated_detectors, run_rescan
from ray_jobs.sources import ARCHIVE
from registry.app import Registry
from registry.cli.context import Context
from registry.cli.summary import RunSummary, progress_bar
from registry.queries.rescan_report import change_report
from registry.queries.run_status import detector_counts, recent_runs


def _emit(obj: dict[str, Any]) -> None:
    click.echo(json.dumps(obj, separators=(",", ":"), default=str))


@click.command()
@click.option(
    "--detector",
    "detector_name",
    default=None,
    help="The detector to re-run (default: every detector whose version or model "
    "differs from the one the archive's verdicts were made with).",
)
@click.option(
    "--source",
    default=ARCHIVE,
    show_default=True,
    help="archive (assets in the ledger), a folder, or a URI (file://, s3://, …).",
)
@click.option("--resume", is_flag=True, help="Skip items already done by this detector version.")
@click.option(
    "--concurrency",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    help="Detector actors (bounds the share of the cluster a re-scan takes).",
)
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1))
@click.option(
    "--window",
    default=RESCAN_WINDOW,
    show_default=True,
    type=click.IntRange(1),
    help="Items listed, checked for --resume and judged at a time (driver memory).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print each re-scan's report as one JSON object per line.",
)
@click.pass_obj
def rescan(
    obj: Context,
    detector_name: str | None,
    source: str,
    resume: bool,
    concurrency: int,
    batch_size: int,
    window: int,
    as_json: bool,
) -> None:
    """Re-run detectors (new version or model) over the archive; report what changed."""
    registry = obj.registry(migrate=True)
    if detector_name is not None:
        plan = [(d, "") for d in registry.detectors([detector_name])]
    else:
        configured = registry.detectors()
        with registry.sessions() as session:
            outdated = outdated_detectors(session, configured)
        if not outdated:
            current = [f"{d.name} {d.version}" for d in configured]
            if as_json:
                _emit({"nothing_changed": True, "detectors": current})
            else:
                click.echo(
                    "nothing to re-scan: the archive's verdicts were made with the "
                    "current version and model of every detector (" + ", ".join(current) + ")"
                )
            return
        plan = [
            (o.detector, f"{o.assets} asset(s) judged only by {', '.join(o.previous)}")
            for o in outdated
        ]
    for detector, why in plan:
        if why:
            click.echo(f"re-scanning {detector.name} {detector.version}: {why}", err=True)
        _rescan_one(
            obj,
            registry,
            detector,
            source=source,
            resume=resume,
            concurrency=concurrency,
            batch_size=batch_size,
            window=window,
            as_json=as_json,
        )


def _rescan_one(
    obj: Context,
    registry: Registry,
    detector: Detector,
    *,
    source: str,
    resume: bool,
    concurrency: int,
    batch_size: int,
    window: int,
    as_json: bool,
) -> None:
    summary = RunSummary(f"rescan {detector.name} {detector.version}", obj.settings)
    bar = progress_bar(None, "item", f"{detector.name} {detector.version}")

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.total = total
            bar.n = done
            bar.refresh()

    try:
        result = run_rescan(
            registry,
            detector,
            source=source,
            resume=resume,
            concurrency=concurrency,
            batch_size=batch_size,
            on_progress=progress,
            window_size=window,
        )
    except RayError as exc:
        raise click.ClickException(
            f"re-scan failed on Ray ({type(exc).__name__}: {str(exc)[:500]}); the batches "
            "written so far are kept: fix the cause and run again with --resume"
        ) from exc
    finally:
        if bar is not None:
            bar.close()
    with registry.sessions() as session:
        report = change_report(session, RescanIdentity.of(detector))
    summary.files, summary.ok = result.processed, result.processed - result.errors
    if result.errors:
        summary.errors["unjudged"] = result.errors
    summary.new_verdicts, summary.run_id = result.verdicts_written, result.run_id
    report_json = {
        "run_id": result.run_id,
        "detector": detector.name,
        "version": detector.version,
        "source": source,
        "total": result.total,
        "skipped": result.skipped,
        "processed": result.processed,
        "errors": result.errors,
        "verdicts_written": result.verdicts_written,
        **report.as_json(),
    }
    if as_json:
        _emit(report_json)
    else:
        click.echo(
            f"rescan {result.run_id}: {detector.name} {detector.version} over {source}: "
            f"{result.processed} processed, {result.skipped} skipped (already done), "
            f"{result.errors} errors, {result.verdicts_written} new verdicts"
        )
        click.echo(
            f"compared with the previous version on {report.compared} assets: "
            f"{len(report.changes)} changed ({report.newly_positive} newly positive, "
            f"{report.no_longer_positive} no longer positive)"
        )
        for change in report.changes:
            click.echo(
                f"  {change.sha256[:16]}  {change.before_version} {change.before_label}"
                f"{'+' if change.before_positive else ''} -> {change.after_label}"
                f"{'+' if change.after_positive else ''}  {change.location or ''}"
            )
    summary.emit()


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
        line = (
            f"  #{run.id} {run.kind:7} {run.started_at:%Y-%m-%d %H:%M:%S} {state}: "
            f"{run.files_ok} ok, {run.files_error} errors, {run.verdicts_written} verdicts"
        )
        if run.kind == "rescan":
            line += (
                f"; {run.parameters.get('detector')} {run.parameters.get('version')} "
                f"{run.done}/{run.total} done"
            )
        click.echo(line)
    click.echo("detectors:")
    for c in counts:
        click.echo(
            f"  {c.detector} {c.version}: {c.verdicts} verdicts, {c.positive} positive, "
            f"{c.errors} errors"
        )


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--replicas",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    help="Endpoint replicas (each loads the detectors once).",
)
@click.option(
    "--num-cpus",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0.1),
    help="CPUs Ray reserves per replica.",
)
@click.option(
    "--detector",
    "detector_names",
    multiple=True,
    help="Detectors to run (repeatable; default: the configured set).",
)
@click.pass_obj
def serve(
    obj: Context,
    host: str,
    port: int,
    replicas: int,
    num_cpus: float,
    detector_names: tuple[str, ...],
) -> None:
    """Serve online ingestion over HTTP on Ray Serve: POST a file, get its signed verdicts.

    Stops cleanly on SIGTERM or SIGINT (Ctrl-C): the endpoint is removed, Ray shut down and
    every process this command started ended.
    """
    from ray_jobs import serve as endpoint
    from ray_jobs.runtime import ensure_ray

    registry = obj.registry(migrate=True)
    names = list(detector_names) or None
    registry.detectors(names)  # unknown names fail here, before anything starts
    stopping: list[int] = []
    started = False

    def request_stop(signum: int, _frame: object) -> None:
        stopping.append(signum)

    # Installed before Ray starts and again after: Ray's driver installs its own SIGTERM
    # handler (which exits with a traceback) in ray.init.
    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        ensure_ray(registry.settings)
        for signum in previous:
            signal.signal(signum, request_stop)
        if not stopping:
            started = True
            url = endpoint.start(
                registry.settings, names, host=host, port=port, replicas=replicas, num_cpus=num_cpus
            )
            click.echo(endpoint.describe(url))
        while not stopping:
            time.sleep(0.2)
    finally:
        # A second signal while shutting down must not interrupt the clean-up.
        for signum in previous:
            signal.signal(signum, signal.SIG_IGN)
        try:
            if started:
                endpoint.stop()
        except Exception as exc:
            click.echo(f"serve: the endpoint did not stop cleanly: {exc}", err=True)
        cluster.shutdown_ray_and_children()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    click.echo(
        f"serve stopped ({signal.Signals(stopping[0]).name})" if stopping else "serve stopped",
        err=True,
    )


@click.group("ray")
def ray_group() -> None:
    """A local Ray cluster that every later Ray command attaches to (saves Ray's start-up)."""


@ray_group.command("start")
@click.option(
    "--num-cpus",
    type=click.IntRange(1),
    default=None,
    help="CPUs the cluster offers (default: all of this machine's).",
)
@click.pass_obj
def ray_start(obj: Context, num_cpus: int | None) -> None:
    """Start a local Ray cluster once; ingest, rescan and serve attach to it from then on."""
    if obj.settings.ray_address:
        click.echo(
            f"note: RAY_ADDRESS={obj.settings.ray_address} is set; commands use that "
            "cluster, not this one, until it is unset",
            err=True,
        )
    running = cluster.running_cluster(obj.settings.home)
    try:
        state = running or cluster.start(obj.settings.home, num_cpus=num_cpus)
    except cluster.ClusterError as exc:
        raise click.ClickException(str(exc)) from exc
    verb = "already running" if running else "started"
    click.echo(
        f"Ray {verb} at {state.address} (keeper pid {state.pid}, logs {state.log_file}); "
        "stop it with `provreg ray stop`"
    )


@ray_group.command("stop")
@click.pass_obj
def ray_stop(obj: Context) -> None:
    """Stop the cluster `provreg ray start` started (never any other Ray on this machine)."""
    state = cluster.stop(obj.settings.home)
    if state is None:
        click.echo("no Ray cluster started by provreg is running")
    else:
        click.echo(f"stopped Ray at {state.address} (keeper pid {state.pid})")


@ray_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.pass_obj
def ray_status(obj: Context, as_json: bool) -> None:
    """Whether provreg's local cluster runs, and which Ray the next command will use."""
    state = cluster.running_cluster(obj.settings.home)
    if obj.settings.ray_address:
        using = f"RAY_ADDRESS={obj.settings.ray_address}"
    elif state is not None:
        using = f"the provreg cluster at {state.address}"
    else:
        using = "a new local Ray per command (start one with `provreg ray start`)"
    if as_json:
        _emit(
            {
                "running": state is not None,
                "cluster": None if state is None else asdict(state),
                "ray_address": obj.settings.ray_address,
                "next_command_uses": using,
            }
        )
        return
    if state is None:
        click.echo("no Ray cluster started by provreg is running")
    else:
        click.echo(
            f"running at {state.address} since {state.started_at} (keeper pid "
            f"{state.pid}, {state.num_cpus or 'all'} CPUs, logs {state.log_file})"
        )
    click.echo(f"next Ray command uses {using}")
