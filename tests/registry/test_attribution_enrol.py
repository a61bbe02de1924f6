"""``provreg generator``: enrolment records in PostgreSQL, fingerprints in the store, bad input.

Every refused enrolment must leave nothing behind: no record, no store entry, no gallery.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from registry.models import ModelStore
from tests import attribution_fixtures as fx
from tests.registry.test_cli import json_lines, provreg

pytestmark = pytest.mark.slow  # runs `provreg generator enroll` end to end


def _write(folder: Path, count: int, size: tuple[int, int] = (64, 64), seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index in range(count):
        pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{seed}-{index:03d}.png")
    return folder


def _nothing_enrolled(env: dict[str, str]) -> None:
    assert provreg(env, "generator", "list", "--json").stdout.strip() == ""
    assert ModelStore(Path(env["PROVREG_HOME"]) / "models").entries() == []


@pytest.mark.parametrize("case", ["empty", "too-few", "mixed-sizes", "corrupt"])
def test_bad_enrolment_folders_are_refused_whole(
    provreg_env: dict[str, str], tmp_path: Path, case: str
) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    if case == "too-few":
        _write(folder, 5)
        expected = "needs at least 16"
    elif case == "mixed-sizes":
        _write(folder, 12)
        _write(folder, 12, (48, 64), seed=1)
        expected = "mixes image sizes (64x64 (12), 48x64 (12))"
    elif case == "corrupt":
        _write(folder, 20)
        (folder / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
        (folder / "text.jpg").write_text("not a jpeg")
        expected = "2 file(s) could not be read: bad.png"
    else:
        (folder / "notes.txt").write_text("no images here")
        expected = "holds no image files"
    result = provreg(provreg_env, "generator", "enroll", "gen-a", str(folder), check=False)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr and "nothing enrolled" in result.stderr, result.stderr
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    _nothing_enrolled(provreg_env)


@pytest.mark.slow
def test_enrol_replace_remove_are_versioned_and_change_the_gallery(
    provreg_env: dict[str, str],
) -> None:
    env = provreg_env
    enrol = fx.folders() / "enrol"
    store = ModelStore(Path(env["PROVREG_HOME"]) / "models")
    first = json_lines(
        provreg(
            env,
            "generator",
            "enroll",
            "transposed-s0",
            str(enrol / "transposed-s0"),
            "--by",
            "alice",
            "--json",
        ).stdout
    )[0]
    assert first["version"] == 1 and first["image_count"] == fx.ENROL
    assert first["by"] == "alice" and first["method"] == "residual"
    entry = store.get(first["store_entry"])
    assert entry.sha256 == first["fingerprint_sha256"] and entry.kind == "attribution-fingerprint"
    gallery_1 = store.get("attribution-gallery").sha256
    assert gallery_1 == first["gallery_sha256"]

    again = provreg(
        env, "generator", "enroll", "transposed-s0", str(enrol / "transposed-s0"), check=False
    )
    assert again.returncode == 2 and "--replace" in again.stderr

    second = json_lines(
        provreg(
            env, "generator", "enroll", "nearest-s0", str(enrol / "nearest-s0"), "--json"
        ).stdout
    )[0]
    assert second["gallery_sha256"] != gallery_1
    # enrolling nearest-s0 did not touch transposed-s0's fingerprint
    listed = {r["name"]: r for r in json_lines(provreg(env, "generator", "list", "--json").stdout)}
    assert listed["transposed-s0"]["fingerprint_sha256"] == first["fingerprint_sha256"]

    replaced = json_lines(
        provreg(
            env,
            "generator",
            "enroll",
            "transposed-s0",
            str(enrol / "transposed-s1"),
            "--replace",
            "--json",
        ).stdout
    )[0]
    assert replaced["version"] == 2
    provreg(env, "generator", "remove", "transposed-s0")
    assert [r["name"] for r in json_lines(provreg(env, "generator", "list", "--json").stdout)] == [
        "nearest-s0"
    ]
    shown = provreg(env, "generator", "show", "transposed-s0").stdout
    assert '"action": "remove"' in shown and '"version": 3' in shown
    missing = provreg(env, "generator", "remove", "transposed-s0", check=False)
    assert missing.returncode == 2 and "no enrolled generator" in missing.stderr


@pytest.mark.slow
def test_calibrate_sets_the_gallery_threshold(provreg_env: dict[str, str], tmp_path: Path) -> None:
    env = provreg_env
    z = fx.zoo()
    for name in z.enrol:
        provreg(env, "generator", "enroll", name, str(fx.folders() / "enrol" / name))
    known, unknown = tmp_path / "known", tmp_path / "unknown"
    for name in z.enrol:
        shutil.copytree(fx.folders() / "test" / name, known / name)
    for name in z.unseen:
        shutil.copytree(fx.folders() / "test" / name, unknown / name)
    line = json_lines(
        provreg(
            env,
            "generator",
            "calibrate",
            "--known",
            str(known),
            "--unknown",
            str(unknown),
            "--far",
            "0.1",
            "--json",
        ).stdout
    )[0]
    assert line["unknown_images"] == 4 * fx.TEST
    assert line["metrics"]["unknown_rejected"] >= 0.85  # at most ~10% (+1 correction) pass
    store = ModelStore(Path(env["PROVREG_HOME"]) / "models")
    from detectors.attribution.gallery import Gallery

    gallery = Gallery.load(store.blob_path(store.get("attribution-gallery").sha256))
    assert gallery.calibration is not None
    assert gallery.calibration["threshold"] == pytest.approx(line["threshold"])


def test_the_synthetic_gate_is_resolved_from_the_store(tmp_path: Path) -> None:
    """``[detector_options.attribution] synthetic = "NAME"`` becomes a resolved store entry."""
    from detectors.attribution.detector import AttributionDetector
    from registry.models.configure import add_models

    store = ModelStore(tmp_path / "models")
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"stand-in bytes: resolution does not read the file")
    store.add("npr-gate", weights, kind="synthetic", fmt="safetensors")
    options: dict[str, dict[str, object]] = {"attribution": {"synthetic": "npr-gate"}}
    add_models(options, lambda: {"attribution": AttributionDetector}, store)
    gate = options["attribution"]["synthetic"]
    assert isinstance(gate, dict) and gate["name"] == "npr-gate"
    assert gate["sha256"] == store.get("npr-gate").sha256
