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
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from registry.cli_errors import EXIT_ERROR, EXIT_UNJUDGED, EXIT_VERIFY_FAILED, fail
from registry.cli_lazy import LazyGroup
from registry.errors import NotInitialisedError, UnknownAssetError, VerificationError
from registry.settings import Settings

if TYPE_CHECKING:
    from registry.app import Registry
    from registry.ingest import FileOutcome
    from registry.ledger import LedgerEntry

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
    "rescan": "Re-run a detector (new version or model) over the archive; report what changed.",
    "status": "Recent ingest runs and re-scans (with progress) and per-detector verdict counts.",
    "serve": "Serve online ingestion over HTTP on Ray Serve: POST a file, get its signed "
             "verdicts.",
}
"""``--help`` summaries of lazy commands, so listing them imports nothing (a test pins them)."""


def _emit(obj: dict[str, Any]) -> None:
    click.echo(json.dumps(obj, separators=(",", ":"), default=str))


def entry_json(entry: LedgerEntry) -> dict[str, Any]:
    """The DESIGN.md verdict shape for --json output."""
    v = entry.verdict
    return {
        "detector": v.detector,
        "version": v.version,
        "model_checksum": v.model_checksum,
        "label": v.label,
        "positive": v.positive,
        "score": v.score,
        "p_value": v.p_value,
        "evidence": v.evidence,
        "error": v.error,
        "log_index": entry.log_index,
        "signature": base64.b64encode(entry.signature).decode(),
        "key_id": entry.key_id,
    }


def outcome_json(outcome: FileOutcome) -> dict[str, Any]:
    """One `ingest --json` line."""
    return {
        "sha256": outcome.sha256,
        "path": outcome.path,
        "status": outcome.status,
        "error": outcome.error,
        "error_detail": outcome.error_detail,
        "verdicts": [entry_json(e) for e in outcome.entries],
    }


def _outcome_text(outcome: FileOutcome) -> str:
    if outcome.status != "ok":
        return (
            f"error  {outcome.sha256[:16]}  {outcome.path}  "
            f"{outcome.error}: {outcome.error_detail}"
        )
    flagged = [
        f"{e.verdict.detector}:{e.verdict.label}" for e in outcome.entries if e.verdict.positive
    ]
    return f"ok     {outcome.sha256[:16]}  {outcome.path}  " + (
        ", ".join(flagged) if flagged else "nothing found"
    )


class Context:
    """Lazily opened services shared by subcommands."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._registry: Registry | None = None

    def registry(self, *, migrate: bool = False) -> Registry:
        """The registry; ``migrate`` applies the migrations, else the schema must exist."""
        if self._registry is None:
            from registry.app import Registry

            registry = Registry.open(self.settings, migrate=migrate)
            if not migrate and not registry.schema_ready():
                registry.close()
                raise NotInitialisedError("the database has no provreg schema yet")
            self._registry = registry
        return self._registry


@click.group(cls=LazyGroup, lazy=LAZY_COMMANDS, summaries=SUMMARIES)
@click.version_option(package_name="provreg", prog_name="provreg")
@click.pass_context
def main(ctx: click.Context) -> None:
    """provreg: provenance registry with forensic detectors and a signed, tamper-evident ledger."""
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
@click.pass_obj
def ingest(
    obj: Context, paths: tuple[Path, ...], source: str | None,
    detector_names: tuple[str, ...], as_json: bool, strict: bool, executor: str | None,
) -> None:
    """Ingest files or folders: intake, detectors, signed verdicts in the ledger."""
    from registry.ingest import load_executor
    from registry.intake import iter_media_paths

    registry = obj.registry(migrate=True)
    detectors = registry.detectors(detector_names or None)
    files = list(iter_media_paths(paths))
    progress = _progress(len(files), enabled=sys.stderr.isatty())
    errors = 0
    run_ingest = load_executor(executor)
    for outcome in run_ingest(registry, detectors, files, source=source):
        errors += outcome.status != "ok"
        line = outcome_json(outcome) if as_json else None
        if progress is not None:
            progress.update(1)
            progress.clear()
        if line is not None:
            _emit(line)
        else:
            click.echo(_outcome_text(outcome))
    if progress is not None:
        progress.close()
    if strict and errors:
        sys.exit(EXIT_UNJUDGED)


def _progress(total: int, *, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="file", file=sys.stderr, leave=False)


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
                {"source": s.source, "location": s.location, "seen_at": s.seen_at.isoformat()}
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
    click.echo(f"{a.sha256}  {a.media_type}  {a.width}x{a.height}  {a.size_bytes} bytes")
    click.echo(f"first seen {facts['first_seen']}, last seen {facts['last_seen']}, "
               f"{len(story.sightings)} sighting(s)")
    for v in facts["verdicts"]:
        mark = "POSITIVE" if v["positive"] else ("error" if v["error"] else "-")
        p = f"  p={v['p_value']:.3g}" if v["p_value"] is not None else ""
        click.echo(f"  [{v['log_index']}] {v['detector']} {v['version']}: {v['label']} {mark}{p}")


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def verify(obj: Context, as_json: bool) -> None:
    """Check every signature, the Merkle log and every checkpoint; exit 1 on tamper."""
    from registry.verify import verify_ledger

    registry = obj.registry()
    try:
        with registry.sessions() as session:
            report = verify_ledger(session, registry.verifier(), registry.checkpoint_vkeys())
    except VerificationError as exc:
        index = getattr(exc, "index", None)
        if as_json:
            _emit({"ok": False, "first_bad_index": index, "reason": str(exc)})
        else:
            click.echo(f"TAMPERED: {exc}", err=True)
        sys.exit(EXIT_VERIFY_FAILED)
    result = {
        "ok": True, "tree_size": report.tree_size, "root_hash": report.root_hash.hex(),
        "checkpoints": report.checkpoints, "latest_checkpoint_size": report.latest_checkpoint_size,
    }
    if as_json:
        _emit(result)
    else:
        click.echo(f"ok: {report.tree_size} entries, root {report.root_hash.hex()}, "
                   f"{report.checkpoints} checkpoint(s) verified")


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def checkpoint(obj: Context, as_json: bool) -> None:
    """Sign a checkpoint over the current log and print it (C2SP signed note)."""
    registry = obj.registry(migrate=True)
    with registry.sessions.begin() as session:
        registry.ledger.register_key(session)
        row = registry.ledger.checkpoint(session)
        note, size, root = row.note, row.tree_size, bytes(row.root_hash)
    if as_json:
        _emit({"tree_size": size, "root_hash": root.hex(), "note": note})
    else:
        click.echo(note, nl=False)


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


@main.group()
def keys() -> None:
    """Signing keys: list and rotate."""


@keys.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def keys_list(obj: Context, as_json: bool) -> None:
    """List every key (the active one signs; older ones still verify)."""
    for key in obj.registry().keystore.keys():
        record = {"key_id": key.key_id, "public_key": key.public_key.hex(), "active": key.active}
        if as_json:
            _emit(record)
        else:
            click.echo(f"{'*' if key.active else ' '} {key.key_id}")


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
