"""`provreg eval`: corpus manifests, bad corpus files counted, and one real run on Ray."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from detectors.evaluation.corpus import CorpusError, Item, load, save
from detectors.evaluation.imaging import encode
from detectors.testing.metadata_fixtures import png_with_text
from detectors.testing.metadata_records import A1111_PARAMETERS
from tests.ray_fixtures import REPO, ray_address  # noqa: F401  (fixture)


def _tiny_corpus(root: Path) -> None:
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    items = []
    for i in range(2):
        pixels = rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)
        (root / f"neg{i}.png").write_bytes(encode(Image.fromarray(pixels)))
        items.append(Item(f"neg{i}", f"neg{i}.png"))
    (root / "gen.png").write_bytes(png_with_text({"parameters": A1111_PARAMETERS}))
    items.append(Item("gen", "gen.png", {"metadata": "a1111"}))
    (root / "broken.png").write_bytes(encode(Image.new("RGB", (64, 64)))[:40])
    items.append(Item("broken", "broken.png"))
    items.append(Item("missing", "missing.png"))
    save(root, items, {})


def test_manifest_round_trip_and_roles(tmp_path: Path) -> None:
    _tiny_corpus(tmp_path)
    corpus = load(tmp_path)
    roles = {item.id: item.role("metadata") for item in corpus.items}
    assert roles == {
        "neg0": "negative",
        "neg1": "negative",
        "gen": "positive",
        "broken": "negative",
        "missing": "negative",
    }
    assert corpus.items[2].role("watermark") is None  # another detector's positive


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{}",
        '{"format": "provreg-eval-corpus/1", "items": '
        '[{"id": "a", "path": "a"}, {"id": "a", "path": "b"}]}',
        '{"format": "provreg-eval-corpus/1", "items": [{"id": 1}]}',
    ],
)
def test_bad_manifests_are_refused(tmp_path: Path, text: str) -> None:
    (tmp_path / "manifest.json").write_text(text)
    with pytest.raises(CorpusError):
        load(tmp_path)


def test_paths_outside_the_corpus_are_not_read(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("x")
    corpus_dir = tmp_path / "corpus"
    corpus_dir.mkdir()
    save(corpus_dir, [Item("a", "../secret")], {})
    corpus = load(corpus_dir)
    with pytest.raises(OSError):
        corpus.read(corpus.items[0])


def _env(home: Path, address: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVREG_")}
    env.update(PROVREG_HOME=str(home), RAY_ADDRESS=address)
    return env


@pytest.mark.slow
def test_missing_manifest_is_one_line_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "registry",
            "eval",
            "run",
            "--corpus",
            str(tmp_path),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env={**os.environ, "PROVREG_HOME": str(tmp_path / "home")},
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: cannot read")
    assert "make-corpus" in result.stderr


@pytest.mark.slow
def test_quick_eval_on_ray_counts_bad_files(tmp_path: Path, ray_address: str) -> None:  # noqa: F811
    corpus = tmp_path / "corpus"
    _tiny_corpus(corpus)
    out = tmp_path / "report"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "registry",
            "eval",
            "run",
            "--corpus",
            str(corpus),
            "--out",
            str(out),
            "--detector",
            "metadata",
            "--attacks",
            "metadata-strip,jpeg-420,metadata-forge",
            "--quick",
            "--seed",
            "5",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
        env=_env(tmp_path / "home", ray_address),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "eval" in result.stderr  # the progress bar
    report = json.loads((out / "report.json").read_text())
    meta, rows = report["meta"], {r["attack"]: r for r in report["rows"]}
    assert meta["seed"] == 5 and "--seed 5" in meta["command"]
    assert set(meta["unreadable"]) == {"broken", "missing"}
    assert [d["name"] for d in meta["detectors"]] == ["metadata"]
    original = rows["original"]
    # The two unreadable negatives stay in the denominator and are counted as errors.
    assert (original["n_pos"], original["n_neg"], original["errors"]) == (1, 4, 2)
    assert original["detect_rate"] == 1.0 and original["fpr_own"] == 0.0
    assert rows["metadata-strip"]["detect_rate"] == 0.0
    assert rows["jpeg-420[quality=90]"]["detect_rate"] == 0.0
    forge = rows["metadata-forge[source=a1111-png text chunks]"]
    assert forge["n_pos"] == 0 and forge["fpr_own"] == 0.5  # 2 forged of 4 negatives
    assert forge["forged_labels"] == {"a1111": 2}
    markdown = (out / "report.md").read_text()
    assert "Unreadable corpus files (2)" in markdown and "metadata × metadata-forge" in markdown
    assert (out / "detection_vs_strength.png").stat().st_size > 1000
    assert (tmp_path / "home" / "eval" / "latest" / "report.json").is_file()
    outcomes = (out / "outcomes.csv").read_text().splitlines()
    # header; 5 items × (original, strip, jpeg-420 q90 and q50); 4 forged negatives
    assert len(outcomes) == 1 + 5 * 4 + 4
