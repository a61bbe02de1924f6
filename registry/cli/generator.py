"""``provreg generator …``: enrol, list, show, remove and calibrate attributed generators.

Plugged in through the ``provreg.commands`` entry-point group. Each command commits its
records first, then rebuilds the gallery the ``attribution`` detector loads from what was
committed (:mod:`registry.attribution.publish`).
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

import click

from registry.cli.context import Context

_METHODS = click.Choice(["residual", "features", "both"])


def _emit(obj: dict[str, Any]) -> None:
    click.echo(json.dumps(obj, separators=(",", ":"), default=str))


def _actor(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _store(obj: Context) -> Any:
    from registry.models.configure import store_for

    return store_for(obj.settings.home)


def _publish(obj: Context) -> str | None:
    from registry.attribution.publish import publish_gallery

    with obj.registry().sessions.begin() as session:
        return publish_gallery(session, _store(obj))


_by = click.option("--by", default=None, help="Who does this (default: the OS user).")


@click.group()
def generator() -> None:
    """Generators enrolled for open-set attribution (fingerprints, calibration)."""


@generator.command("enroll")
@click.argument("name")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option(
    "--method",
    type=_METHODS,
    default="residual",
    show_default=True,
    help="residual: noise-residual fingerprint; features: backbone prototype "
    "(needs a backbone in the model store); both.",
)
@click.option(
    "--far",
    default=0.05,
    show_default=True,
    type=click.FloatRange(0.001, 0.5),
    help="False-attribution rate the generator's own threshold is set at.",
)
@click.option(
    "--backbone",
    default=None,
    help="Model store entry of the backbone (default: the newest of kind backbone).",
)
@click.option(
    "--min-images",
    default=None,
    type=click.IntRange(2),
    help="Fewest images accepted (default 16).",
)
@click.option("--replace", is_flag=True, help="Enrol a new version of an enrolled name.")
@_by
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def enroll(
    obj: Context,
    name: str,
    folder: Path,
    method: str,
    far: float,
    backbone: str | None,
    min_images: int | None,
    replace: bool,
    by: str | None,
    as_json: bool,
) -> None:
    """Enrol generator NAME from the images in FOLDER (all of one size)."""
    from registry.attribution.service import EnrolRequest, describe, enrol

    request = EnrolRequest(name, folder, method, far, replace, _actor(by), backbone, min_images)
    with obj.registry().sessions.begin() as session:
        data = describe(enrol(session, _store(obj), request))
    data["gallery_sha256"] = _publish(obj)
    if as_json:
        _emit(data)
    else:
        click.echo(
            f"enrolled {name} v{data['version']}: {data['image_count']} images "
            f"({data['image_size']}), {method}, fingerprint sha256:"
            f"{data['fingerprint_sha256']}"
        )


@generator.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def list_generators(obj: Context, as_json: bool) -> None:
    """The enrolled generators (latest version of each)."""
    from registry.attribution.service import active, describe

    with obj.registry().sessions() as session:
        rows = [describe(r) for r in active(session)]
    for row in rows:
        if as_json:
            _emit(row)
        else:
            click.echo(
                f"{row['name']:24} v{row['version']:<3} {row['method']:9} "
                f"{row['image_count']:>6} images  {row['image_size']:9} "
                f"{str(row['fingerprint_sha256'])[:16]}  {row['by']}  {row['at']}"
            )


@generator.command("show")
@click.argument("name")
@click.pass_obj
def show(obj: Context, name: str) -> None:
    """Every record of NAME (enrolments and removals), as JSON."""
    from registry.attribution.errors import UnknownGeneratorError
    from registry.attribution.service import describe, history

    with obj.registry().sessions() as session:
        rows = [describe(r) for r in history(session, name)]
    if not rows:
        raise UnknownGeneratorError(f"no generator {name!r} was ever enrolled")
    click.echo(json.dumps({"name": name, "records": rows}, indent=2, default=str))


@generator.command("remove")
@click.argument("name")
@_by
@click.pass_obj
def remove(obj: Context, name: str, by: str | None) -> None:
    """Stop attributing to NAME (the records and fingerprint are kept)."""
    from registry.attribution.service import remove as remove_generator

    with obj.registry().sessions.begin() as session:
        record = remove_generator(session, name, _actor(by))
        version = record.version
    _publish(obj)
    click.echo(f"removed {name} (record v{version})")


@generator.command("calibrate")
@click.option(
    "--known",
    "known_dir",
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Folder with one subfolder per enrolled generator of held-out images.",
)
@click.option(
    "--unknown",
    "unknown_dir",
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Folder (subfolders read too) of images of generators NOT enrolled.",
)
@click.option(
    "--far",
    default=0.05,
    show_default=True,
    type=click.FloatRange(0.001, 0.5),
    help="Share of unknown-generator images allowed to be attributed.",
)
@_by
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def calibrate(
    obj: Context, known_dir: Path, unknown_dir: Path, far: float, by: str | None, as_json: bool
) -> None:
    """Set the unknown-rejection threshold from held-out known and unknown images."""
    from registry.attribution.calibrate_io import read_known, read_unknown
    from registry.attribution.publish import calibrate as run

    known, unknown = read_known(known_dir), read_unknown(unknown_dir)
    with obj.registry().sessions.begin() as session:
        record = run(session, _store(obj), known, unknown, far, _actor(by))
        data: dict[str, Any] = {
            "far": record.far,
            "threshold": record.threshold,
            "known_images": record.known_images,
            "unknown_images": record.unknown_images,
            "metrics": record.metrics,
        }
    data["gallery_sha256"] = _publish(obj)
    if as_json:
        _emit(data)
    else:
        click.echo(
            f"threshold z={data['threshold']:.3f} at FAR {far} on "
            f"{data['unknown_images']} unknown images"
        )
        for key, value in data["metrics"].items():
            click.echo(f"  {key}: {value}")
