"""``provreg models ...`` and ``provreg train ...``, plugged in through ``provreg.commands``.

``models add`` copies a weight file into the store (content-addressed; ``--sha256`` must match
when given); ``list``/``show``/``remove`` read and edit the manifest. ``train synthetic`` and
``train laundering`` fit a model on labelled folders, calibrate it on held-out real images,
write it into the store with its model card, and print TPR at the stated FPR and AUROC.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from registry.cli.context import Context
from registry.models.configure import store_for
from registry.models.store import ModelEntry, ModelStore

KINDS = (
    "synthetic",
    "laundering",
    "backbone",
    "autoencoder",
    "attribution",
    "watermark",
    "copy-embedding",
    "watermark-decoder",
)


def _store(obj: Context) -> ModelStore:
    return store_for(obj.settings.home)


def _entry_line(entry: ModelEntry) -> str:
    metrics = entry.card.get("metrics") or {}
    shown = ", ".join(f"{k}={v}" for k, v in list(metrics.items())[:3])
    return (
        f"{entry.name:24} {entry.kind:12} {entry.format:11} {entry.architecture or '-':20} "
        f"{entry.sha256[:16]}  {shown}"
    )


@click.group()
def models() -> None:
    """The weight store for learned detectors ($PROVREG_HOME/models)."""


@models.command("add")
@click.argument("name")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--sha256", default=None, help="Refuse the file unless it hashes to this.")
@click.option("--kind", type=click.Choice(KINDS), required=True)
@click.option(
    "--arch",
    "architecture",
    default=None,
    help="Project architecture the weights load into (npr_resnet50, clip_vit, ...).",
)
@click.option(
    "--format",
    "fmt",
    default=None,
    type=click.Choice(["safetensors", "pytorch", "torchscript", "onnx"]),
    help="Default: from the file name.",
)
@click.option(
    "--config",
    "config_json",
    default=None,
    help="Architecture config as JSON (overrides its defaults).",
)
@click.option(
    "--card",
    "card_json",
    default=None,
    help="Model card as JSON or @FILE (method, backbone, calibration, ...).",
)
@click.option("--source", default="", help="Where the weights come from (URL, paper).")
@click.option("--licence", default="", help="The weights' licence.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def models_add(
    obj: Context,
    name: str,
    file: Path,
    sha256: str | None,
    kind: str,
    architecture: str | None,
    fmt: str | None,
    config_json: str | None,
    card_json: str | None,
    source: str,
    licence: str,
    as_json: bool,
) -> None:
    """Register weight FILE under NAME (copied into the store, pinned by SHA-256)."""
    entry = _store(obj).add(
        name,
        file,
        kind=kind,
        sha256=sha256,
        fmt=fmt,
        architecture=architecture,
        config=_json_arg(config_json),
        source=source,
        licence=licence,
        card=_json_arg(card_json),
    )
    if as_json:
        click.echo(json.dumps(entry.to_json()))
    else:
        click.echo(f"added {entry.name} sha256:{entry.sha256}")


def _json_arg(value: str | None) -> dict[str, Any]:
    if not value:
        return {}
    text = Path(value[1:]).read_text("utf-8") if value.startswith("@") else value
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise click.BadParameter("must be a JSON object")
    return data


@models.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def models_list(obj: Context, as_json: bool) -> None:
    """Every model in the store."""
    for entry in _store(obj).entries():
        if as_json:
            data = entry.to_json()
            data["card"] = {k: v for k, v in data["card"].items() if k != "calibration"}
            click.echo(json.dumps(data))
        else:
            click.echo(_entry_line(entry))


@models.command("show")
@click.argument("name")
@click.pass_obj
def models_show(obj: Context, name: str) -> None:
    """One entry with its model card (JSON)."""
    data = _store(obj).get(name).to_json()
    calibration = data["card"].get("calibration")
    if calibration:  # the null scores are long; say how many
        calibration["null_scores"] = f"{len(calibration['null_scores'])} scores"
    click.echo(json.dumps(data, indent=2))


@models.command("remove")
@click.argument("name")
@click.pass_obj
def models_remove(obj: Context, name: str) -> None:
    """Remove an entry (and its file, unless another entry shares it)."""
    entry = _store(obj).remove(name)
    click.echo(f"removed {entry.name} sha256:{entry.sha256}")


@click.group()
def train() -> None:
    """Train learned detectors on labelled folders and store them with a model card."""


def _progress(label: str) -> Any:
    from tqdm import tqdm

    def wrap(steps: Iterator[int]) -> Iterator[int]:
        yield from tqdm(
            list(steps),
            desc=label,
            unit="step",
            file=sys.stderr,
            disable=not sys.stderr.isatty() and not os.environ.get("PROVREG_PROGRESS"),
        )

    return wrap


def _report(obj: Context, name: str, result: Any, replace: bool, as_json: bool) -> None:
    store = _store(obj)
    try:
        entry = store.add(
            name,
            result.path,
            kind=result.card.get("kind", "synthetic"),
            fmt="safetensors",
            architecture=result.architecture,
            config=result.config,
            card=result.card,
            replace=replace,
            source="provreg train",
            licence="as the training data",
        )
    finally:
        Path(result.path).unlink(missing_ok=True)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "name": entry.name,
                    "sha256": entry.sha256,
                    "metrics": result.metrics,
                    "trained_on": result.card["trained_on"],
                    "confusion": result.card.get("confusion"),
                }
            )
        )
        return
    click.echo(f"stored {entry.name} sha256:{entry.sha256}")
    for key, value in result.metrics.items():
        click.echo(f"  {key}: {value}")
    if "confusion" in result.card:
        classes = result.card["confusion"]["rows_truth_columns_label"]
        click.echo("  confusion (rows: truth; columns: label): " + " / ".join(classes))
        for cls, row in zip(classes, result.card["confusion"]["matrix"], strict=True):
            click.echo(f"    {cls:16} {row}")
    click.echo(f"  held out: {json.dumps(result.card['trained_on'])}")


_common = [
    click.option("--out", "name", required=True, help="Store entry name for the model."),
    click.option("--steps", default=None, type=click.IntRange(1), help="Optimiser steps."),
    click.option(
        "--fpr",
        default=0.01,
        show_default=True,
        type=click.FloatRange(0, 1),
        help="False-positive rate the threshold is calibrated at.",
    ),
    click.option("--holdout", default=0.25, show_default=True, type=click.FloatRange(0.05, 0.9)),
    click.option("--seed", default=0, show_default=True, type=int),
    click.option("--device", default=None, help="cpu or cuda (default: cuda when present)."),
    click.option("--replace", is_flag=True, help="Overwrite an entry of the same name."),
    click.option("--json", "as_json", is_flag=True),
]


def _with_common(func: Any) -> Any:
    for option in reversed(_common):
        func = option(func)
    return func


@train.command("synthetic")
@click.option("--real", "real_dir", required=True, type=click.Path(file_okay=False, exists=True))
@click.option("--fake", "fake_dir", required=True, type=click.Path(file_okay=False, exists=True))
@click.option(
    "--backbone",
    default=None,
    help="Store entry of a frozen backbone: train a linear probe on its features "
    "(UnivFD) instead of the NPR CNN.",
)
@_with_common
@click.pass_obj
def train_synthetic_cmd(
    obj: Context,
    real_dir: str,
    fake_dir: str,
    backbone: str | None,
    name: str,
    steps: int | None,
    fpr: float,
    holdout: float,
    seed: int,
    device: str | None,
    replace: bool,
    as_json: bool,
) -> None:
    """Train the `synthetic` detector on folders of real and generated images."""
    from detectors.synthetic.train import train_synthetic

    store = _store(obj)
    spec = store.resolve(backbone) if backbone else None
    if not replace and name in {e.name for e in store.entries()}:
        raise click.ClickException(f"model {name!r} exists (use --replace)")
    result = train_synthetic(
        real_dir,
        fake_dir,
        name,
        backbone=spec,
        steps=steps or (300 if spec is None else 200),
        fpr=fpr,
        holdout=holdout,
        seed=seed,
        device=device,
        progress=_progress("train synthetic"),
    )
    result.card["kind"] = "synthetic"
    _report(obj, name, result, replace, as_json)


@train.command("laundering")
@click.option("--real", "real_dir", required=True, type=click.Path(file_okay=False, exists=True))
@click.option(
    "--laundered", "laundered_dir", required=True, type=click.Path(file_okay=False, exists=True)
)
@click.option(
    "--synthetic", "synthetic_dir", required=True, type=click.Path(file_okay=False, exists=True)
)
@click.option(
    "--autoencoder",
    "autoencoders",
    multiple=True,
    help="Store entries (kind autoencoder) whose reconstruction distance goes into "
    "the evidence, calibrated on the held-out pristine images.",
)
@_with_common
@click.pass_obj
def train_laundering_cmd(
    obj: Context,
    real_dir: str,
    laundered_dir: str,
    synthetic_dir: str,
    autoencoders: tuple[str, ...],
    name: str,
    steps: int | None,
    fpr: float,
    holdout: float,
    seed: int,
    device: str | None,
    replace: bool,
    as_json: bool,
) -> None:
    """Train the `laundering` detector: pristine vs laundered vs fully synthetic."""
    from detectors.laundering.train import train_laundering

    store = _store(obj)
    if not replace and name in {e.name for e in store.entries()}:
        raise click.ClickException(f"model {name!r} exists (use --replace)")
    specs = [store.resolve(a) for a in autoencoders]
    result = train_laundering(
        real_dir,
        laundered_dir,
        synthetic_dir,
        name,
        autoencoders=specs,
        steps=steps or 400,
        fpr=fpr,
        holdout=holdout,
        seed=seed,
        device=device,
        progress=_progress("train laundering"),
    )
    result.card["kind"] = "laundering"
    _report(obj, name, result, replace, as_json)
