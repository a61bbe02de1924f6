"""`provreg bank …`, `provreg search` and copy matching in ingest, through the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tests.copy_fixtures import EDITS, null_images, reference_images, textured
from tests.test_cli import json_lines, provreg

BANKED = ("astronaut", "rocket", "textured-1")
EDITED = ("jpeg50", "resize0.5", "hflip", "crop10", "border")


@pytest.fixture
def env(provreg_env: dict[str, str]) -> dict[str, str]:
    return {**provreg_env, "PROVREG_DETECTORS": "file-facts,copy", "PROVREG_EXECUTOR": "inline"}


def _save(image: Image.Image, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".jpg":
        image.convert("RGB").save(path, quality=90)
    else:
        image.save(path)
    return path


def test_bank_add_then_ingest_and_search(env: dict[str, str], tmp_path: Path) -> None:
    images = reference_images()
    refs = {name: _save(images[name], tmp_path / "refs" / f"{name}.png") for name in BANKED}
    (tmp_path / "refs" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    added = json_lines(provreg(env, "bank", "add", "flagged", *map(str, refs.values()),
                              str(tmp_path / "refs" / "broken.jpg"), "--reason", "takedown",
                              "--added-by", "alice", "--json").stdout)
    by_path = {line["path"]: line for line in added}
    assert by_path[str(tmp_path / "refs" / "broken.jpg")]["status"] == "error"
    sha = {name: by_path[str(path)]["sha256"] for name, path in refs.items()}
    assert all(by_path[str(p)]["status"] == "added" for p in refs.values())

    # no rebuild, no wait: the very next ingest matches
    uploads = tmp_path / "uploads"
    expected = {}
    for name in BANKED:
        for edit in EDITED:
            path = _save(EDITS[edit](images[name]), uploads / f"{name}-{edit}.jpg")
            expected[str(path)] = name
    nulls = null_images()
    unrelated = {name: nulls[name] for name in ("camera", "coins", "hubble", "flower-crop")}
    unrelated.update(chelsea=images["chelsea"], china=images["china"])  # photos not banked
    for name, image in unrelated.items():
        expected[str(_save(image, uploads / f"null-{name}.png"))] = ""
    expected[str(_save(textured(42), uploads / "null-textured.png"))] = ""

    lines = json_lines(provreg(env, "ingest", str(uploads), "--json").stdout)
    assert len(lines) == len(expected)
    for line in lines:
        (copy,) = [v for v in line["verdicts"] if v["detector"] == "copy"]
        want = expected[line["path"]]
        assert copy["positive"] is bool(want), (line["path"], copy["evidence"])
        if want:
            assert copy["label"] == "copy"
            best = copy["evidence"]["matches"][0]
            assert best["match"] and best["bank"] == "flagged", line["path"]
            assert best["reference_sha256"] == sha[want]
            assert isinstance(best["distance"], int)
        else:
            assert copy["label"] == "not-found"

    suspect = _save(EDITS["jpeg50"](images["rocket"]), tmp_path / "suspect.jpg")
    candidates = json_lines(provreg(env, "search", str(suspect), "--k", "5", "--json").stdout)
    assert 1 <= len(candidates) <= 5
    first = candidates[0]
    assert first["rank"] == 1 and first["match"] is True and first["bank"] == "flagged"
    assert first["reference_sha256"] == sha["rocket"] and first["query"] == str(suspect)
    assert set(first) >= {"query", "rank", "bank", "reference_sha256", "signal", "distance",
                          "match", "verified"}
    cropped = _save(EDITS["border"](images["astronaut"]), tmp_path / "framed.png")
    (framed, *_) = json_lines(provreg(env, "search", str(cropped), "--json").stdout)
    assert framed["match"] and framed["reference_sha256"] == sha["astronaut"]
    assert isinstance(framed["verified"], int) and framed["verified"] > 0
    text = provreg(env, "search", str(suspect)).stdout
    assert "MATCH" in text and sha["rocket"] in text

    provreg(env, "verify")
