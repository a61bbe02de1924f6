"""``provreg eval``: one robustness benchmark for every detector (plugin command group).

It lives in ``ray_jobs`` rather than ``registry`` because it runs detector actor pools on Ray,
and the dependency arrow forbids ``registry`` importing ``ray_jobs``. Pure parts (attacks,
corpus, metrics, report) are in :mod:`detectors.evaluation`.

    provreg eval make-corpus DIR [--quick]
    provreg eval run --corpus DIR --out DIR [--detector all|NAME ...] [--attacks SUITE]
                     [--preset watermark|copy|c2pa|metadata] [--seed N] [--quick]

``run`` writes the report to ``--out`` and copies it to the configured report folder
(``eval_report_dir`` in config.toml, default ``$PROVREG_HOME/eval/latest``) that the
dashboard's Overview shows.
"""

from __future__ import annotations

import os
import platform
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import click

from registry.cli.context import Context
from registry.errors import ProvregError


class CorpusUnusableError(ProvregError):
    """The corpus folder has no usable manifest."""

    hint = "build one with `provreg eval make-corpus DIR` or fix manifest.json"


@click.group("eval")
def eval_group() -> None:
    """Robustness benchmark: attack a corpus, run detectors, write a report."""


@eval_group.command("make-corpus")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--quick", is_flag=True, help="A small corpus (for --quick runs and tests).")
@click.option("--size", default=256, show_default=True, help="Image side in pixels.")
def make_corpus_command(out: Path, quick: bool, size: int) -> None:
    """Build the default corpus in OUT from the shipped photos and fixture builders."""
    from detectors.evaluation.make_corpus import make_corpus
    from detectors.optional import check_installed

    for module in ("skimage", "sklearn"):
        check_installed(module, extra="eval", feature="provreg eval make-corpus")

    manifest = make_corpus(out, quick=quick, size=size)
    click.echo(str(manifest))


def _detectors(names: tuple[str, ...], preset: str | None) -> list[str] | None:
    from detectors.evaluation.suites import PRESET_DETECTORS

    if preset and not names:
        return PRESET_DETECTORS[preset]
    if not names or "all" in names:
        return None
    return list(names)


@eval_group.command("run")
@click.option(
    "--corpus",
    "corpus_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--detector", "names", multiple=True, help="Detector name (repeatable) or 'all' (default)."
)
@click.option(
    "--attacks",
    "suite",
    default=None,
    help="Attack suite (default, standard, adversarial, watermark, copy, c2pa, "
    "metadata) or comma-separated attack families; default: the preset's, else default.",
)
@click.option(
    "--preset",
    type=click.Choice(["watermark", "copy", "c2pa", "metadata"]),
    help="Replace an old per-detector bench script: its detector and attacks.",
)
@click.option("--seed", default=0, show_default=True)
@click.option("--quick", is_flag=True, help="Fewer strengths and bootstrap rounds.")
@click.option(
    "--vae",
    "vae_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A diffusers AutoencoderKL folder for the regeneration attack.",
)
@click.option("--no-progress", is_flag=True)
@click.pass_obj
def run(
    obj: Context,
    corpus_dir: Path,
    out: Path,
    names: tuple[str, ...],
    suite: str | None,
    preset: str | None,
    seed: int,
    quick: bool,
    vae_dir: Path | None,
    no_progress: bool,
) -> None:
    """Attack the corpus, run the detectors on Ray and write the report to OUT."""
    from detectors.evaluation import corpus as corpus_mod
    from detectors.evaluation import report, suites
    from detectors.evaluation.summary import summarise
    from detectors.optional import check_installed
    from detectors.plugins import create_detectors
    from ray_jobs.evaluate import run_eval
    from ray_jobs.runtime import ensure_ray

    for module in ("matplotlib", "skimage", "sklearn", "augly"):
        check_installed(module, extra="eval", feature="provreg eval")
    started = time.monotonic()
    suite = suite or preset or "default"
    try:
        attacks = suites.build(suite, quick)
    except KeyError as exc:
        raise click.UsageError(
            f"{exc.args[0]}; pick a suite ({', '.join(suites.SUITES)}) or attack families"
        ) from exc
    try:
        corpus = corpus_mod.load(corpus_dir)
    except corpus_mod.CorpusError as exc:
        raise CorpusUnusableError(str(exc)) from exc
    wanted = _detectors(names, preset)
    configured = obj.settings.detector_options
    options = {
        name: {**dict(configured.get(name, {})), **corpus.options_for(name)}
        for name in (wanted or _registered())
    }
    detectors = create_detectors(wanted, options)
    ensure_ray(obj.settings)
    result = run_eval(
        corpus,
        detectors,
        attacks,
        seed=seed,
        quick=quick,
        vae_dir=vae_dir,
        progress=not no_progress,
    )
    rows = summarise(
        result.outcomes,
        {a.id: a.describe() for a in result.attacks},
        result.quality,
        seed=seed,
        rounds=100 if quick else 400,
    )
    meta = _meta(corpus, result, suite, seed, quick, time.monotonic() - started)
    path = report.write(out, rows=rows, meta=meta, outcomes=result.outcomes)
    _publish(out, obj.settings.eval_report_dir)
    click.echo(str(path))


def _registered() -> list[str]:
    from detectors.plugins import registered_entry_points

    return list(registered_entry_points())


def _meta(
    corpus: Any, result: Any, suite: str, seed: int, quick: bool, elapsed: float
) -> dict[str, Any]:
    counts: dict[str, int] = {
        "items": len(corpus.items),
        "negatives": sum(1 for i in corpus.items if not i.expect),
    }
    for item in corpus.items:
        for detector in item.expect:
            counts[f"{detector} positives"] = counts.get(f"{detector} positives", 0) + 1
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "command": "provreg " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "seed": seed,
        "suite": suite,
        "quick": quick,
        "elapsed_s": round(elapsed, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{' '.join(f'{x:.1f}' for x in load) if load else 'n/a'} at the end",
        "corpus": counts,
        "unreadable": result.unreadable,
        "detectors": result.detectors,
        "attacks": [a.describe() for a in result.attacks],
    }


def _publish(out: Path, latest: Path) -> None:
    """Copy the report to the folder the dashboard reads (skipped when it is ``out``)."""
    if latest.resolve() == out.resolve():
        return
    latest.mkdir(parents=True, exist_ok=True)
    for path in out.iterdir():
        if path.is_file():
            shutil.copy2(path, latest / path.name)


@eval_group.command("report")
@click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path))
def report_command(out: Path) -> None:
    """Re-render report.md and the plot in OUT from its report.json (no detector runs)."""
    from detectors.evaluation import report

    click.echo(str(report.rebuild(out)))
