"""The `provreg` command line.

Exit codes (registry/cli_errors.py): 0 success; 1 verification failed (tamper found, proof
does not hold); 2 usage, configuration or operational error (database unreachable, unknown
asset); 3 ``ingest --strict`` with files that could not be judged. Every reporting command
takes ``--json`` (one JSON object per line).

Start-up matters (``provreg --help`` under a second): this module imports only click and the
settings; each command imports what it needs, and subcommands kept elsewhere load lazily.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from registry.cli_context import Context
from registry.cli_errors import EXIT_ERROR, EXIT_UNJUDGED, EXIT_VERIFY_FAILED, fail
from registry.cli_lazy import LazyGroup
from registry.cli_summary import RunSummary, progress_bar
from registry.errors import UnknownAssetError, VerificationError
from registry.json_lines import entry_json, outcome_json
from registry.settings import Settings

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

if TYPE_CHECKING:
    from registry.ingest import FileOutcome
    from registry.verify import VerifyReport

__all__ = ["EXIT_ERROR", "EXIT_VERIFY_FAILED", "Context", "entry_json", "main", "outcome_json",
           "run"]

LAZY_COMMANDS = {
    "bank": "registry.cli_banks:bank",
    "search": "registry.cli_banks:search",
    "users": "registry.cli_users:users",
}
"""Built-in subcommands kept in their own modules, imported when invoked."""

SUMMARIES = {
    "bank": "Reference banks for copy detection (stored in PostgreSQL, indexed under "
            "PROVREG_HOME).",
    "search": "Copy-detection candidates for each IMAGE, ranked (matches first, then distance).",
    "users": "Dashboard users and roles (viewer, investigator, admin).",
    "dashboard": "Start the investigator dashboard (Streamlit) against the configured database.",
    "rescan": "Re-run detectors (new version or model) over the archive; report what changed.",
    "status": "Recent ingest runs and re-scans (with progress) and per-detector verdict counts.",
    "serve": "Serve online ingestion over HTTP on Ray Serve: POST a file, get its signed "
             "verdicts.",
    "ray": "A local Ray cluster that every later Ray command attaches to (saves Ray's "
           "start-up).",
    "watermark": "Watermark marks (secret payloads) and learned decoders the detector looks "
                 "for.",
    "models": "The weight store for learned detectors ($PROVREG_HOME/models).",
    "train": "Train learned detectors on labelled folders and store them with a model card.",
    "media": "The media store: originals and thumbnails of ingested assets.",
}
"""``--help`` summaries of lazy commands, so listing them imports nothing (a test pins them)."""


def _emit(obj: dict[str, Any]) -> None:
    click.echo(json.dumps(obj, separators=(",", ":"), default=str))


def _shown(path: str | None) -> str:
    from registry.intake import path_text

    return "" if path is None else path_text(path)


def _outcome_text(outcome: FileOutcome) -> str:
    if outcome.status != "ok":
        return (
            f"error  {outcome.sha256[:16]}  {_shown(outcome.path)}  "
            f"{outcome.error}: {outcome.error_detail}"
        )
    flagged = [
        f"{e.verdict.detector}:{e.verdict.label}" + copy_hit_text(e.verdict.evidence)
        for e in outcome.entries if e.verdict.positive
    ]
    return f"ok     {outcome.sha256[:16]}  {_shown(outcome.path)}  " + (
        ", ".join(flagged) if flagged else "nothing found"
    )


def copy_hit_text(evidence: dict[str, Any]) -> str:
    """`` bank=B ref=abcd1234… match_kind=hash`` for a copy verdict's best match, else ""."""
    matches = evidence.get("matches") if isinstance(evidence, dict) else None
    best = next((m for m in matches or []
                 if isinstance(m, dict) and m.get("match") and "bank" in m), None)
    if best is None:
        return ""
    ref = best.get("reference_sha256") or f"hash-only#{best.get('ref_id')}"
    # Evidence written before match_kind existed: verification ran iff it was verified.
    kind = best.get("match_kind") or ("verified" if best.get("verification") else "hash")
    return (f" bank={best.get('bank')} ref={str(ref)[:16]}… match_kind={kind} "
            f"distance={best.get('distance')}")


@click.group(cls=LazyGroup, lazy=LAZY_COMMANDS, summaries=SUMMARIES)
@click.version_option(package_name="provreg", prog_name="provreg")
@click.option("--verbose", "-v", is_flag=True,
              help="Show Ray's own log lines on the terminal (default: a file in "
                   "PROVREG_HOME/logs).")
@click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False), default=None,
              help="Show Ray's own log lines on the terminal from this level up.")
@click.pass_context
def main(ctx: click.Context, verbose: bool, log_level: str | None) -> None:
    """provreg: provenance registry with forensic detectors and a signed, tamper-evident ledger."""
    if verbose or log_level:
        os.environ["PROVREG_LOG_LEVEL"] = (log_level or "INFO").upper()
    ctx.obj = Context(Settings.from_env())


@main.command()
@click.pass_obj
def init(obj: Context) -> None:
    """Create or upgrade the schema and create a signing key if none exists."""
    registry = obj.registry(migrate=True)
    with registry.sessions.begin() as session:
        registry.ledger.register_key(session)
    click.echo(f"schema at head; signing key {registry.signer.key_id}")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--source", default=None, help="Where these files came from (recorded per sighting).")
@click.option("--detector", "detector_names", multiple=True, help="Run only these detectors.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file.")
@click.option("--strict", is_flag=True, help="Exit 3 if any file could not be judged.")
@click.option(
    "--executor", envvar="PROVREG_EXECUTOR", default=None,
    help="inline (this process) or a registered executor such as ray (the default when present).",
)
@click.option("--resume", "resume", type=int, default=None, metavar="RUN",
              help="Reopen interrupted run RUN and judge only the files it had not judged.")
@click.pass_obj
def ingest(
    obj: Context, paths: tuple[Path, ...], source: str | None,
    detector_names: tuple[str, ...], as_json: bool, strict: bool, executor: str | None,
    resume: int | None,
) -> None:
    """Ingest files or folders: intake, detectors, signed verdicts in the ledger."""
    from registry.ingest import load_executor
    from registry.intake import iter_media_paths

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
            summary.count(outcome.status, outcome.error,
                          sum(e.created for e in outcome.entries))
            if progress is not None:
                progress.update(1)
                progress.clear()
            if as_json:
                _emit(outcome_json(outcome))
            else:
                click.echo(_outcome_text(outcome))
    finally:
        if progress is not None:
            progress.close()
    summary.emit()
    if strict and summary.errors:
        sys.exit(EXIT_UNJUDGED)


@main.command()
@click.argument("sha256")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def show(obj: Context, sha256: str, as_json: bool) -> None:
    """Everything known about one asset (full sha256 or a unique prefix)."""
    from registry.queries import asset_story, find_assets_by_prefix

    registry = obj.registry()
    with registry.sessions() as session:
        if len(sha256) < 64:
            matches = find_assets_by_prefix(session, sha256, limit=2)
            if len(matches) != 1:
                raise UnknownAssetError(
                    f"{'no' if not matches else 'more than one'} asset matches {sha256!r}"
                )
            sha256 = matches[0].sha256
        story = asset_story(session, sha256)
        if story is None:
            raise UnknownAssetError(f"unknown asset {sha256}")
        a = story.asset
        facts: dict[str, Any] = {
            "sha256": a.sha256, "size_bytes": a.size_bytes, "media_type": a.media_type,
            "width": a.width, "height": a.height, "frames": a.frames,
            "first_seen": a.first_seen.isoformat(), "last_seen": a.last_seen.isoformat(),
            "sightings": [
                {"source": s.source, "location": s.location, "seen_at": s.seen_at.isoformat(),
                 "log_index": s.log_index}  # None: recorded before sightings were signed
                for s in story.sightings
            ],
            "verdicts": [
                {"detector": v.detector, "version": v.version, "label": v.label,
                 "positive": v.positive, "score": v.score, "p_value": v.p_value,
                 "error": v.error, "evidence": v.evidence, "log_index": v.log_index,
                 "key_id": v.key_id, "signature": base64.b64encode(v.signature).decode(),
                 "created_at": v.created_at.isoformat()}
                for v in story.verdicts
            ],
        }
    if as_json:
        _emit(facts)
        return
    for line in story_text(facts):
        click.echo(line)


def story_text(facts: dict[str, Any]) -> list[str]:
    """The readable form of ``show``: the asset, its sightings, each verdict and its evidence.

    Values come from uploaded files (metadata strings, paths): they are printed with
    ``repr``-style escaping of control characters so they cannot rewrite the terminal.
    """
    lines = [f"{facts['sha256']}  {facts['media_type']}  {facts['width']}x{facts['height']}  "
             f"{facts['size_bytes']} bytes",
             f"first seen {facts['first_seen']}, last seen {facts['last_seen']}, "
             f"{len(facts['sightings'])} sighting(s)"]
    for s in facts["sightings"]:
        lines.append(f"  seen {s['seen_at']}  source={_safe(s['source'])}  "
                     f"{_safe(s['location'])}")
    lines.append(f"{len(facts['verdicts'])} verdict(s):")
    for v in facts["verdicts"]:
        mark = "POSITIVE" if v["positive"] else ("error" if v["error"] else "-")
        p = f"  p={v['p_value']:.3g}" if v["p_value"] is not None else ""
        score = f"  score={v['score']:.3g}" if v["score"] is not None else ""
        lines.append(f"  [{v['log_index']}] {v['detector']} {v['version']}: {v['label']} "
                     f"{mark}{score}{p}" + (f"  error={_safe(v['error'])}" if v["error"] else "")
                     + copy_hit_text(v["evidence"]))
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


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--max-errors", type=click.IntRange(min=1), default=100, show_default=True,
    help="Stop after reporting this many bad entries.",
)
@click.option(
    "--witness", "witnesses", multiple=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="A checkpoint (signed note) obtained out of band; the log must be consistent with it.",
)
@click.option(
    "--trusted-state", "state_file", type=click.Path(path_type=Path, dir_okay=False),
    help="Where the last verified state is kept (default $PROVREG_HOME/trusted_state.json).",
)
@click.pass_obj
def verify(
    obj: Context, as_json: bool, max_errors: int, witnesses: tuple[Path, ...],
    state_file: Path | None,
) -> None:
    """Check every signature, the Merkle log and every checkpoint; exit 1 on tamper,
    rollback or fork (against the last verified state and any --witness checkpoint).

    Every bad log index is reported (one line each, up to --max-errors), then a summary.
    """
    from registry import trusted_state
    from registry.sighting_log import legacy_sightings
    from registry.verify import scan_ledger

    registry = obj.registry()
    state_path = state_file or trusted_state.default_path(registry.settings.home)
    try:
        with registry.sessions() as session:
            vkeys = registry.checkpoint_vkeys()
            report = scan_ledger(session, registry.verifier(), vkeys, max_errors=max_errors)
            if report.errors:
                _report_bad_entries(report, as_json)
            legacy = legacy_sightings(session)
            trust = trusted_state.enforce(
                session, tree_size=report.tree_size, root_hash=report.root_hash, vkeys=vkeys,
                origin=registry.settings.log_origin, state_path=state_path, witnesses=witnesses,
                legacy_sightings=legacy,
            )
        trusted_state.save_state(state_path, trust.state)
    except VerificationError as exc:  # no trusted key at all, a rollback, a fork
        if as_json:
            _emit({"ok": False, "first_bad_index": getattr(exc, "index", None),
                   "reason": str(exc)})
        else:
            click.echo(f"TAMPERED: {exc}", err=True)
        sys.exit(EXIT_VERIFY_FAILED)
    result = {
        "ok": True, "tree_size": report.tree_size, "root_hash": report.root_hash.hex(),
        "checkpoints": report.checkpoints, "latest_checkpoint_size": report.latest_checkpoint_size,
        "trusted_size": trust.previous_size, "witness_sizes": list(trust.witnesses),
        "unsigned_legacy_sightings": legacy,
    }
    if as_json:
        _emit(result)
    else:
        click.echo(f"ok: {report.tree_size} entries, root {report.root_hash.hex()}, "
                   f"{report.checkpoints} checkpoint(s) verified")
        if trust.previous_size is not None:
            click.echo(f"consistent with the last verified state ({trust.previous_size} entries)")
        for size in trust.witnesses:
            click.echo(f"consistent with witness checkpoint of {size} entries")
        if legacy:
            click.echo(f"{legacy} sighting(s) recorded before signing (unsigned, not verifiable)")


def _report_bad_entries(report: VerifyReport, as_json: bool) -> NoReturn:
    """Print every bad entry ``verify`` found (the summary first in --json) and exit 1."""
    first = report.errors[0]
    if as_json:
        _emit({"ok": False, "first_bad_index": first.index, "reason": str(first),
               "errors": len(report.errors), "truncated": report.truncated})
    for error in report.errors:
        if as_json:
            _emit({"ok": False, "bad_index": error.index, "reason": error.reason})
        else:
            click.echo(f"TAMPERED: {error}", err=True)
    if not as_json:
        more = " (limit reached; there may be more)" if report.truncated else ""
        count = len(report.errors)
        click.echo(f"{count} bad entr{'y' if count == 1 else 'ies'}{more}", err=True)
    sys.exit(EXIT_VERIFY_FAILED)


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--publish", "target", metavar="DIR|URL", default=None,
    help="Also write the checkpoint and the log as C2SP tlog-tiles to a directory or a "
    "pyarrow.fs URL (s3://, gs://, file://); only new tiles are written.",
)
@click.pass_obj
def checkpoint(obj: Context, as_json: bool, target: str | None) -> None:
    """Sign a checkpoint over the current log and print it (C2SP signed note)."""
    from registry import publish

    registry = obj.registry(migrate=True)
    with registry.sessions.begin() as session:
        registry.ledger.register_key(session)
        row = registry.ledger.checkpoint(session)
        note, size, root = row.note, row.tree_size, bytes(row.root_hash)
    result: dict[str, Any] = {"tree_size": size, "root_hash": root.hex(), "note": note}
    if target is not None:
        with registry.sessions() as session:  # no sequencer lock: published entries are fixed
            report = publish.publish(session, row, publish.open_store(target))
        result["published"] = {"target": target, "written": report.written,
                               "unchanged": report.skipped}
    if as_json:
        _emit(result)
    else:
        click.echo(note, nl=False)
        if target is not None:
            click.echo(f"published to {target}: {result['published']['written']} file(s) "
                       f"written, {result['published']['unchanged']} unchanged", err=True)


@main.command()
@click.argument("log_index", type=int)
@click.option("--json", "as_json", is_flag=True, help="Compact single-line JSON.")
@click.option("--out", type=click.Path(path_type=Path), help="Also write the bundle here.")
@click.pass_obj
def proof(obj: Context, log_index: int, as_json: bool, out: Path | None) -> None:
    """Print an inclusion proof for LOG_INDEX, checkable with the public key alone."""
    from registry.proofs import covering_checkpoint, inclusion_bundle

    registry = obj.registry()
    with registry.sessions.begin() as session:
        checkpoint_row = covering_checkpoint(session, registry.ledger, log_index)
        bundle = inclusion_bundle(session, log_index, checkpoint_row, registry.settings.key_name)
    text = json.dumps(bundle, separators=(",", ":")) if as_json else json.dumps(bundle, indent=2)
    if out is not None:
        out.write_text(text + "\n")
    click.echo(text)


@main.command()
@click.argument("old_size", type=int)
@click.argument("new_size", type=int, required=False)
@click.option("--json", "as_json", is_flag=True, help="Compact single-line JSON.")
@click.option("--out", type=click.Path(path_type=Path), help="Also write the proof here.")
@click.pass_obj
def consistency(
    obj: Context, old_size: int, new_size: int | None, as_json: bool, out: Path | None
) -> None:
    """Print a consistency proof between the checkpoints of OLD_SIZE and NEW_SIZE entries.

    NEW_SIZE defaults to the current log (a checkpoint is signed if the log grew). The proof
    is checkable with standalone_verify.py and the log's public key alone.
    """
    from registry.proofs import checkpoint_at, consistency_bundle

    registry = obj.registry()
    with registry.sessions.begin() as session:
        old_row = checkpoint_at(session, old_size)
        if new_size is None:
            registry.ledger.register_key(session)
            new_row = registry.ledger.checkpoint(session)
        else:
            new_row = checkpoint_at(session, new_size)
        bundle = consistency_bundle(session, old_row, new_row, registry.settings.key_name)
    text = json.dumps(bundle, separators=(",", ":")) if as_json else json.dumps(bundle, indent=2)
    if out is not None:
        out.write_text(text + "\n")
    click.echo(text)


@main.group()
def keys() -> None:
    """Signing keys: list and rotate."""


@keys.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def keys_list(obj: Context, as_json: bool) -> None:
    """List every key (the active one signs; older ones still verify).

    Each public key is shown in hex (as in the ``.pub`` files) and in base64 (as in proof
    bundles); the standalone verifier's ``--log-key NAME=KEY`` accepts either.
    """
    name = obj.settings.key_name
    for key in obj.registry().keystore.keys():
        record = {"key_id": key.key_id, "active": key.active, "key_name": name,
                  "public_key": key.public_key.hex(),
                  "public_key_hex": key.public_key.hex(),
                  "public_key_base64": base64.b64encode(key.public_key).decode()}
        if as_json:
            _emit(record)
        else:
            click.echo(f"{'*' if key.active else ' '} {key.key_id}\n"
                       f"    hex    {record['public_key_hex']}\n"
                       f"    base64 {record['public_key_base64']}\n"
                       f"    verify proofs with: --log-key {name}={record['public_key_base64']}"
                       f" --key-id {key.key_id}")


@keys.command("rotate")
@click.pass_obj
def keys_rotate(obj: Context) -> None:
    """Create a new active key; old public keys are kept so old verdicts verify."""
    from registry.ledger import register_public_key

    registry = obj.registry(migrate=True)
    signer = registry.keystore.rotate()
    with registry.sessions.begin() as session:
        register_public_key(session, signer.key_id, signer.public_key)
    click.echo(f"new active key {signer.key_id}")


def run() -> None:
    """Entry point: run the command line, turning every error into its exit code and one line."""
    try:
        code = main(standalone_mode=False)
    except BaseException as exc:  # the one place errors become exit codes
        fail(exc)
    # Outside standalone mode click returns ctx.exit()'s code (--help, --version) instead.
    if isinstance(code, int) and code:
        sys.exit(code)
