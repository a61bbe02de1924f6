"""The `provreg` command line.

Exit codes: 0 success; 1 verification failed (tamper found, proof does not hold); 2 usage,
configuration or operational error (database unreachable, unknown asset). Every reporting
command takes ``--json`` (one JSON object per line).
"""

from __future__ import annotations

import base64
import json
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import click

from registry import publish, trusted_state
from registry.app import Registry
from registry.errors import ProvregError, VerificationError
from registry.ingest import FileOutcome, load_executor
from registry.intake import iter_media_paths
from registry.ledger import LedgerEntry, register_public_key
from registry.proofs import (
    checkpoint_at,
    consistency_bundle,
    covering_checkpoint,
    inclusion_bundle,
)
from registry.queries import asset_story, find_assets_by_prefix
from registry.settings import Settings
from registry.sighting_log import legacy_sightings
from registry.verify import verify_ledger

EXIT_VERIFY_FAILED = 1
EXIT_ERROR = 2


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
        if self._registry is None:
            self._registry = Registry.open(self.settings, migrate=migrate)
        return self._registry


@click.group()
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
        sys.exit(3)


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
    registry = obj.registry()
    with registry.sessions() as session:
        if len(sha256) < 64:
            matches = find_assets_by_prefix(session, sha256, limit=2)
            if len(matches) != 1:
                raise click.ClickException(
                    f"{'no' if not matches else 'more than one'} asset matches {sha256!r}"
                )
            sha256 = matches[0].sha256
        story = asset_story(session, sha256)
        if story is None:
            raise click.ClickException(f"unknown asset {sha256}")
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
    click.echo(f"{a.sha256}  {a.media_type}  {a.width}x{a.height}  {a.size_bytes} bytes")
    click.echo(f"first seen {facts['first_seen']}, last seen {facts['last_seen']}, "
               f"{len(story.sightings)} sighting(s)")
    for v in facts["verdicts"]:
        mark = "POSITIVE" if v["positive"] else ("error" if v["error"] else "-")
        p = f"  p={v['p_value']:.3g}" if v["p_value"] is not None else ""
        click.echo(f"  [{v['log_index']}] {v['detector']} {v['version']}: {v['label']} {mark}{p}")


@main.command()
@click.option("--json", "as_json", is_flag=True)
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
    obj: Context, as_json: bool, witnesses: tuple[Path, ...], state_file: Path | None
) -> None:
    """Check every signature, the Merkle log and every checkpoint; exit 1 on tamper,
    rollback or fork (against the last verified state and any --witness checkpoint)."""
    registry = obj.registry()
    state_path = state_file or trusted_state.default_path(registry.settings.home)
    try:
        with registry.sessions() as session:
            vkeys = registry.checkpoint_vkeys()
            report = verify_ledger(session, registry.verifier(), vkeys)
            legacy = legacy_sightings(session)
            trust = trusted_state.enforce(
                session, tree_size=report.tree_size, root_hash=report.root_hash, vkeys=vkeys,
                origin=registry.settings.log_origin, state_path=state_path, witnesses=witnesses,
                legacy_sightings=legacy,
            )
        trusted_state.save_state(state_path, trust.state)
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
    registry = obj.registry(migrate=True)
    signer = registry.keystore.rotate()
    with registry.sessions.begin() as session:
        register_public_key(session, signer.key_id, signer.public_key)
    click.echo(f"new active key {signer.key_id}")


COMMAND_GROUP = "provreg.commands"


def load_command_plugins(group: click.Group) -> None:
    """Add subcommands other packages register (``ray_jobs``, ``dashboard``).

    The registry never imports those packages: they plug their commands in through the
    ``provreg.commands`` entry-point group, keeping dependencies pointing one way.
    """
    for entry_point in entry_points(group=COMMAND_GROUP):
        if entry_point.name in group.commands:
            continue
        command = entry_point.load()
        if not isinstance(command, click.Command):
            raise click.ClickException(f"{entry_point.value} is not a click command")
        group.add_command(command, entry_point.name)


def run() -> None:
    """Entry point with error translation to exit codes."""
    try:
        load_command_plugins(main)
        main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_ERROR if exc.exit_code == 1 else exc.exit_code)
    except click.exceptions.Abort:
        sys.exit(130)
    except VerificationError as exc:
        click.echo(f"verification failed: {exc}", err=True)
        sys.exit(EXIT_VERIFY_FAILED)
    except ProvregError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ERROR)


# Registry subcommands that live in their own modules (imported last: they need `main`).
from registry.cli_banks import bank as _bank_group  # noqa: E402
from registry.cli_banks import search as _search_command  # noqa: E402
from registry.cli_users import users as _users_group  # noqa: E402

main.add_command(_bank_group)
main.add_command(_search_command)
main.add_command(_users_group)
