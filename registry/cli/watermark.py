"""``provreg watermark …``: register, list and remove watermark marks and learned decoders.

Plugged in through the ``provreg.commands`` entry-point group. Marks are secrets
(:mod:`registry.models.watermark_keys`): no command prints or logs a mark's bits; ``list`` shows
the name, method, length and id (an HMAC under the master key).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from registry.cli.context import Context
from registry.models.watermark_keys import DecoderRegistry, MarkInfo, WatermarkKeyring


def _emit(obj: dict[str, Any]) -> None:
    click.echo(json.dumps(obj, separators=(",", ":"), default=str))


def _info(mark: MarkInfo) -> dict[str, Any]:
    return {"name": mark.name, "method": mark.method, "bits": mark.bits, "id": mark.id}


def _decoder_bits(obj: Context) -> dict[str, int]:
    manifests = DecoderRegistry(obj.settings.home).manifests()
    configured = obj.settings.detector_options.get("watermark", {}).get("decoders", [])
    return {
        str(m["name"]): int(m["bits"])
        for m in [*manifests, *configured]
        if isinstance(m, dict) and "name" in m and isinstance(m.get("bits"), int)
    }


@click.group()
def watermark() -> None:
    """Watermark marks (secret payloads) and learned decoders the detector looks for."""


@watermark.command("add")
@click.argument("name")
@click.option(
    "--method",
    default="dwtDct",
    show_default=True,
    help="dwtDct, dwtDctSvd, rivaGan or a registered decoder's name.",
)
@click.option(
    "--payload",
    "payload_hex",
    help="The mark's bits as hex (visible in shell "
    "history and the process list: prefer --key-file).",
)
@click.option(
    "--key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file holding the bits as hex (0x optional) or 0b-prefixed bits.",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def add(
    obj: Context,
    name: str,
    method: str,
    payload_hex: str | None,
    key_file: Path | None,
    as_json: bool,
) -> None:
    """Register mark NAME: every image is then tested for it."""
    if (payload_hex is None) == (key_file is None):
        raise click.UsageError("give exactly one of --payload and --key-file")
    text = payload_hex if payload_hex is not None else key_file.read_text()  # type: ignore[union-attr]
    keyring = WatermarkKeyring(obj.settings.home)
    mark = keyring.add(name, method, text, _decoder_bits(obj))
    if as_json:
        _emit(_info(mark))
    else:
        click.echo(f"registered {mark.name}: {mark.method}, {mark.bits} bits, id {mark.id}")


@watermark.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def list_marks(obj: Context, as_json: bool) -> None:
    """Registered marks (never their bits) and decoders."""
    marks = WatermarkKeyring(obj.settings.home).marks()
    decoders = DecoderRegistry(obj.settings.home).manifests()
    for mark in marks:
        if as_json:
            _emit({"kind": "mark", **_info(mark)})
        else:
            click.echo(f"mark     {mark.name}  {mark.method}  {mark.bits} bits  id {mark.id}")
    for manifest in decoders:
        if as_json:
            _emit({"kind": "decoder", **manifest})
        else:
            click.echo(
                f"decoder  {manifest['name']}  {manifest['format']}  "
                f"{manifest['bits']} bits  sha256 {manifest['sha256']}"
            )


@watermark.command("remove")
@click.argument("name")
@click.pass_obj
def remove(obj: Context, name: str) -> None:
    """Forget mark NAME."""
    WatermarkKeyring(obj.settings.home).remove(name)
    click.echo(f"removed {name}")


@watermark.command("add-decoder")
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("weights", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def add_decoder(obj: Context, manifest: Path, weights: Path) -> None:
    """Register a learned decoder: MANIFEST (JSON) and its WEIGHTS file (ONNX/TorchScript).

    The file is copied into the content-addressed store and pinned by its SHA-256; it is
    loaded (and checked) the first time the detector runs.
    """
    # Imported here: the detectors package loads torch, which other commands need not pay for.
    from detectors.watermark.payloads import PayloadError

    try:
        entry = json.loads(manifest.read_text())
        if not isinstance(entry, dict):
            raise click.ClickException(f"{manifest}: expected one JSON object")
        parsed = DecoderRegistry(obj.settings.home).add(entry, weights)
    except (PayloadError, json.JSONDecodeError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"decoder {parsed.name}: {parsed.format}, {parsed.bits} bits, sha256 {parsed.sha256}"
    )
