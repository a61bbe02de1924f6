"""``provreg lineage …``: registered models that uploads are traced to, and owners' weight keys.

Plugged in through the ``provreg.commands`` entry-point group (named apart from ``provreg
models``, the learned detectors' weight store). Keys are secrets: ``key add`` reads them from
a JSON file, stores them sealed, and no command prints their bits, seed or positions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from registry.cli.context import Context


def _emit(obj: dict[str, Any]) -> None:
    click.echo(json.dumps(obj, separators=(",", ":"), default=str))


@click.group()
def lineage() -> None:
    """Registered models that model uploads are traced to, and owners' weight-watermark keys."""


@lineage.command("register")
@click.argument("name")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def register(obj: Context, name: str, path: Path, as_json: bool) -> None:
    """Register the model file or folder at PATH as NAME (its per-tensor fingerprints)."""
    from registry.lineage.store import register_model

    with obj.registry(migrate=True).sessions.begin() as session:
        model = register_model(session, name, path)
        info = {
            "name": model.name,
            "sha256": model.sha256,
            "media_type": model.media_type,
            "tensors": model.tensor_count,
            "parameters": model.parameters,
        }
    if as_json:
        _emit(info)
    else:
        click.echo(
            f"registered {name}: {info['tensors']} tensors, {info['parameters']} "
            f"parameters, sha256 {info['sha256']}"
        )


@lineage.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def list_models(obj: Context, as_json: bool) -> None:
    """Registered models."""
    from registry.lineage.store import list_models as models

    with obj.registry().sessions() as session:
        for m in models(session):
            info = {
                "name": m.name,
                "sha256": m.sha256,
                "media_type": m.media_type,
                "tensors": m.tensor_count,
                "parameters": m.parameters,
            }
            if as_json:
                _emit(info)
            else:
                click.echo(
                    f"{m.name}  {m.media_type}  {m.tensor_count} tensors  "
                    f"{m.parameters} parameters  sha256 {m.sha256[:16]}"
                )


@lineage.command("remove")
@click.argument("name")
@click.pass_obj
def remove(obj: Context, name: str) -> None:
    """Forget registered model NAME."""
    from registry.lineage.store import remove_model

    with obj.registry().sessions.begin() as session:
        remove_model(session, name)
    click.echo(f"removed {name}")


@lineage.group("key")
def key() -> None:
    """Owners' weight-watermark keys (Uchida, WaterMAS), stored encrypted."""


@key.command("add")
@click.argument("name")
@click.option(
    "--key-file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSON: {"method": "uchida", "layer": L, "seed": S, "bits": "0101…"} or '
    '{"method": "watermas", "positions": [[L, i], …], "bits": "0101…"}.',
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def key_add(obj: Context, name: str, key_file: Path, as_json: bool) -> None:
    """Register weight-watermark key NAME from --key-file."""
    from registry.lineage.store import LineageError, add_key
    from registry.models.watermark_keys import WatermarkKeyring

    try:
        spec = json.loads(key_file.read_text())
    except (ValueError, UnicodeDecodeError):
        raise LineageError(f"{key_file} is not a JSON key file") from None
    if not isinstance(spec, dict):
        raise LineageError(f"{key_file} must hold one JSON object")
    keyring = WatermarkKeyring(obj.settings.home)
    with obj.registry(migrate=True).sessions.begin() as session:
        row = add_key(session, keyring, name, spec)
        info = {
            "name": row.name,
            "method": row.method,
            "bits": row.bits,
            "id": row.key_id,
            "layers": row.layers,
        }
    if as_json:
        _emit(info)
    else:
        click.echo(f"registered key {name}: {info['method']}, {info['bits']} bits, id {info['id']}")


@key.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def key_list(obj: Context, as_json: bool) -> None:
    """Registered keys (never their contents)."""
    from registry.lineage.store import list_keys

    with obj.registry().sessions() as session:
        for row in list_keys(session):
            info = {
                "name": row.name,
                "method": row.method,
                "bits": row.bits,
                "id": row.key_id,
                "layers": row.layers,
            }
            if as_json:
                _emit(info)
            else:
                click.echo(f"{row.name}  {row.method}  {row.bits} bits  id {row.key_id}")


@key.command("remove")
@click.argument("name")
@click.pass_obj
def key_remove(obj: Context, name: str) -> None:
    """Forget key NAME."""
    from registry.lineage.store import remove_key

    with obj.registry().sessions.begin() as session:
        remove_key(session, name)
    click.echo(f"removed key {name}")
