"""The ledger commands: ``verify``, ``checkpoint``, ``proof``, ``consistency``, ``keys``."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from registry.cli.context import Context
from registry.cli.errors import EXIT_VERIFY_FAILED
from registry.cli.output import emit
from registry.errors import LedgerTamperedError, VerificationError


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--max-errors",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Stop after reporting this many bad entries.",
)
@click.option(
    "--witness",
    "witnesses",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="A checkpoint (signed note) obtained out of band; the log must be consistent with it.",
)
@click.option(
    "--trusted-state",
    "state_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where the last verified state is kept (default $PROVREG_HOME/trusted_state.json).",
)
@click.pass_obj
def verify(
    obj: Context,
    as_json: bool,
    max_errors: int,
    witnesses: tuple[Path, ...],
    state_file: Path | None,
) -> None:
    """Check every signature, the Merkle log and every checkpoint; exit 1 on tamper,
    rollback or fork (against the last verified state and any --witness checkpoint).

    Every bad log index is reported (one line each, up to --max-errors), then a summary.
    """
    from registry.api import verify_ledger

    registry = obj.registry()
    try:
        check = verify_ledger(
            registry, witnesses=witnesses, state_file=state_file, max_errors=max_errors
        )
    except LedgerTamperedError as exc:
        _report_bad_entries(exc, as_json)
    except VerificationError as exc:  # no trusted key at all, a rollback, a fork
        if as_json:
            emit({"ok": False, "first_bad_index": getattr(exc, "index", None), "reason": str(exc)})
        else:
            click.echo(f"TAMPERED: {exc}", err=True)
        sys.exit(EXIT_VERIFY_FAILED)
    result = {
        "ok": True,
        "tree_size": check.tree_size,
        "root_hash": check.root_hash.hex(),
        "checkpoints": check.checkpoints,
        "latest_checkpoint_size": check.latest_checkpoint_size,
        "trusted_size": check.trusted_size,
        "witness_sizes": list(check.witness_sizes),
        "unsigned_legacy_sightings": check.unsigned_legacy_sightings,
    }
    if as_json:
        emit(result)
    else:
        click.echo(
            f"ok: {check.tree_size} entries, root {check.root_hash.hex()}, "
            f"{check.checkpoints} checkpoint(s) verified"
        )
        if check.trusted_size is not None:
            click.echo(f"consistent with the last verified state ({check.trusted_size} entries)")
        for size in check.witness_sizes:
            click.echo(f"consistent with witness checkpoint of {size} entries")
        if check.unsigned_legacy_sightings:
            click.echo(
                f"{check.unsigned_legacy_sightings} sighting(s) recorded before signing "
                "(unsigned, not verifiable)"
            )


def _report_bad_entries(report: LedgerTamperedError, as_json: bool) -> NoReturn:
    """Print every bad entry ``verify`` found (the summary first in --json) and exit 1."""
    first = report.errors[0]
    if as_json:
        emit(
            {
                "ok": False,
                "first_bad_index": first.index,
                "reason": str(first),
                "errors": len(report.errors),
                "truncated": report.truncated,
            }
        )
    for error in report.errors:
        if as_json:
            emit({"ok": False, "bad_index": error.index, "reason": error.reason})
        else:
            click.echo(f"TAMPERED: {error}", err=True)
    if not as_json:
        more = " (limit reached; there may be more)" if report.truncated else ""
        count = len(report.errors)
        click.echo(f"{count} bad entr{'y' if count == 1 else 'ies'}{more}", err=True)
    sys.exit(EXIT_VERIFY_FAILED)


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--publish",
    "target",
    metavar="DIR|URL",
    default=None,
    help="Also write the checkpoint and the log as C2SP tlog-tiles to a directory or a "
    "pyarrow.fs URL (s3://, gs://, file://); only new tiles are written.",
)
@click.pass_obj
def checkpoint(obj: Context, as_json: bool, target: str | None) -> None:
    """Sign a checkpoint over the current log and print it (C2SP signed note)."""
    from registry.ledger import publish

    registry = obj.registry(migrate=True)
    with registry.sessions.begin() as session:
        registry.ledger.register_key(session)
        row = registry.ledger.checkpoint(session)
        note, size, root = row.note, row.tree_size, bytes(row.root_hash)
    result: dict[str, Any] = {"tree_size": size, "root_hash": root.hex(), "note": note}
    if target is not None:
        with registry.sessions() as session:  # no sequencer lock: published entries are fixed
            report = publish.publish(session, row, publish.open_store(target))
        result["published"] = {
            "target": target,
            "written": report.written,
            "unchanged": report.skipped,
        }
    if as_json:
        emit(result)
    else:
        click.echo(note, nl=False)
        if target is not None:
            click.echo(
                f"published to {target}: {result['published']['written']} file(s) "
                f"written, {result['published']['unchanged']} unchanged",
                err=True,
            )


@click.command()
@click.argument("log_index", type=int)
@click.option("--json", "as_json", is_flag=True, help="Compact single-line JSON.")
@click.option("--out", type=click.Path(path_type=Path), help="Also write the bundle here.")
@click.pass_obj
def proof(obj: Context, log_index: int, as_json: bool, out: Path | None) -> None:
    """Print an inclusion proof for LOG_INDEX, checkable with the public key alone."""
    from registry.api import inclusion_proof

    bundle = inclusion_proof(obj.registry(), log_index).bundle
    _print_bundle(bundle, as_json, out)


@click.command()
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
    from registry.ledger.proofs import checkpoint_at, consistency_bundle

    registry = obj.registry()
    with registry.sessions.begin() as session:
        old_row = checkpoint_at(session, old_size)
        if new_size is None:
            registry.ledger.register_key(session)
            new_row = registry.ledger.checkpoint(session)
        else:
            new_row = checkpoint_at(session, new_size)
        bundle = consistency_bundle(session, old_row, new_row, registry.settings.key_name)
    _print_bundle(bundle, as_json, out)


def _print_bundle(bundle: dict[str, Any], as_json: bool, out: Path | None) -> None:
    """Print a proof bundle (compact JSON with --json, else indented), also to ``out``."""
    text = json.dumps(bundle, separators=(",", ":")) if as_json else json.dumps(bundle, indent=2)
    if out is not None:
        out.write_text(text + "\n")
    click.echo(text)


@click.group()
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
        record = {
            "key_id": key.key_id,
            "active": key.active,
            "key_name": name,
            "public_key": key.public_key.hex(),
            "public_key_hex": key.public_key.hex(),
            "public_key_base64": base64.b64encode(key.public_key).decode(),
        }
        if as_json:
            emit(record)
        else:
            click.echo(
                f"{'*' if key.active else ' '} {key.key_id}\n"
                f"    hex    {record['public_key_hex']}\n"
                f"    base64 {record['public_key_base64']}\n"
                f"    verify proofs with: --log-key {name}={record['public_key_base64']}"
                f" --key-id {key.key_id}"
            )


@keys.command("rotate")
@click.pass_obj
def keys_rotate(obj: Context) -> None:
    """Create a new active key; old public keys are kept so old verdicts verify."""
    from registry.ledger.writer import register_public_key

    registry = obj.registry(migrate=True)
    signer = registry.keystore.rotate()
    with registry.sessions.begin() as session:
        register_public_key(session, signer.key_id, signer.public_key)
    click.echo(f"new active key {signer.key_id}")
