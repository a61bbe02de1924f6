"""`provreg bank …`, `provreg search` and copy matching in ingest, through the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from detectors.testing.copy_fixtures import (
    EDITS,
    copy_cli_env,
    null_images,
    reference_images,
    save_image,
    textured,
)
from tests.registry.test_cli import json_lines, provreg

BANKED = ("astronaut", "rocket", "textured-1")
EDITED = ("jpeg50", "resize0.5", "hflip", "crop10", "border")


@pytest.fixture
def env(provreg_env: dict[str, str]) -> dict[str, str]:
    return copy_cli_env(provreg_env)


@pytest.mark.slow
def test_bank_add_then_ingest_and_search(env: dict[str, str], tmp_path: Path) -> None:
    images = reference_images()
    refs = {name: save_image(images[name], tmp_path / "refs" / f"{name}.png") for name in BANKED}
    (tmp_path / "refs" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    added = json_lines(
        provreg(
            env,
            "bank",
            "add",
            "flagged",
            *map(str, refs.values()),
            str(tmp_path / "refs" / "broken.jpg"),
            "--reason",
            "takedown",
            "--added-by",
            "alice",
            "--json",
        ).stdout
    )
    by_path = {line["path"]: line for line in added}
    assert by_path[str(tmp_path / "refs" / "broken.jpg")]["status"] == "error"
    sha = {name: by_path[str(path)]["sha256"] for name, path in refs.items()}
    assert all(by_path[str(p)]["status"] == "added" for p in refs.values())

    # no rebuild, no wait: the very next ingest matches
    uploads = tmp_path / "uploads"
    expected = {}
    for name in BANKED:
        for edit in EDITED:
            path = save_image(EDITS[edit](images[name]), uploads / f"{name}-{edit}.jpg")
            expected[str(path)] = name
    nulls = null_images()
    unrelated = {name: nulls[name] for name in ("camera", "coins", "hubble", "flower-crop")}
    unrelated.update(chelsea=images["chelsea"], china=images["china"])  # photos not banked
    for name, image in unrelated.items():
        expected[str(save_image(image, uploads / f"null-{name}.png"))] = ""
    expected[str(save_image(textured(42), uploads / "null-textured.png"))] = ""

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

    suspect = save_image(EDITS["jpeg50"](images["rocket"]), tmp_path / "suspect.jpg")
    candidates = json_lines(provreg(env, "search", str(suspect), "--k", "5", "--json").stdout)
    assert 1 <= len(candidates) <= 5
    first = candidates[0]
    assert first["rank"] == 1 and first["match"] is True and first["bank"] == "flagged"
    assert first["reference_sha256"] == sha["rocket"] and first["query"] == str(suspect)
    assert set(first) >= {
        "query",
        "rank",
        "bank",
        "reference_sha256",
        "signal",
        "distance",
        "match",
        "verified",
    }
    cropped = save_image(EDITS["border"](images["astronaut"]), tmp_path / "framed.png")
    (framed, *_) = json_lines(provreg(env, "search", str(cropped), "--json").stdout)
    assert framed["match"] and framed["reference_sha256"] == sha["astronaut"]
    assert isinstance(framed["verified"], int) and framed["verified"] > 0
    text = provreg(env, "search", str(suspect)).stdout
    assert "MATCH" in text and sha["rocket"] in text

    provreg(env, "verify")
