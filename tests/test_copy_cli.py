"""`provreg bank …`, `provreg search` and copy matching in ingest, through the real CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from detectors.copy.matcher import ReferenceSet
from tests.copy_fixtures import EDITS, null_images, reference_images, textured
from tests.test_cli import REPO, json_lines, provreg

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


def test_bank_commands_lifecycle_and_hash_lists(env: dict[str, str], tmp_path: Path) -> None:
    images = reference_images()
    ref = _save(images["coffee"], tmp_path / "coffee.png")
    (line,) = json_lines(provreg(env, "bank", "add", "art", str(ref), "--json").stdout)
    suspect = _save(EDITS["jpeg50"](images["coffee"]), tmp_path / "suspect.jpg")

    def matched() -> bool:
        found = json_lines(provreg(env, "search", str(suspect), "--json").stdout)
        return any(c["match"] for c in found)

    assert matched()
    provreg(env, "bank", "disable", "art")
    (listed,) = json_lines(provreg(env, "bank", "list", "--json").stdout)
    assert listed["bank"] == "art" and listed["enabled"] is False and listed["references"] == 1
    assert not matched()
    provreg(env, "bank", "enable", "art")
    assert matched()

    exported = provreg(env, "bank", "export", "art", "--format", "te").stdout
    assert exported.splitlines()[1].startswith(f"pdq,{line['pdq']},art")
    hma = tmp_path / "art.hma.csv"
    provreg(env, "bank", "export", "art", "--format", "hma", "--output", str(hma))
    assert hma.read_text().startswith(f"{line['pdq']},{line['ref_id']},")

    provreg(env, "bank", "remove", "art", line["sha256"])
    assert not matched()
    (listed,) = json_lines(provreg(env, "bank", "list", "--json").stdout)
    assert listed["references"] == 0 and listed["removed"] == 1
    assert provreg(env, "bank", "remove", "art", line["sha256"], check=False).returncode == 2

    # the exported list brings the content back into another bank, matched by PDQ alone
    out = provreg(env, "bank", "import", "shared", str(hma)).stdout
    assert "hma: 1 hash(es) added to shared" in out
    (hit, *_) = json_lines(provreg(env, "search", str(suspect), "--json").stdout)
    assert hit["match"] and hit["bank"] == "shared" and hit["reference_sha256"] is None
    te_file = tmp_path / "shared.te.csv"
    te_file.write_text(provreg(env, "bank", "export", "shared").stdout)
    assert "te: 0 hash(es) added to shared, 1 already there" in provreg(
        env, "bank", "import", "shared", str(te_file)).stdout

    out = provreg(env, "bank", "rebuild-index").stdout
    assert "1 reference(s) indexed" in out and "hash-only" in out
    assert matched()
    assert provreg(env, "bank", "disable", "nope", check=False).returncode == 2


def test_concurrent_bank_add_loses_nothing(env: dict[str, str], tmp_path: Path) -> None:
    provreg(env, "init")
    # one file per chunk: each process takes the index lock, loads, adds and saves 4 times
    (Path(env["PROVREG_HOME"]) / "config.toml").write_text("batch_size = 1\n")
    groups = []
    for g in range(2):
        folder = tmp_path / f"group{g}"
        for i in range(4):
            _save(textured(100 + 10 * g + i, (160, 120)), folder / f"{i}.png")
        groups.append(folder)
    procs = [subprocess.Popen(
        [sys.executable, "-m", "registry", "bank", "add", f"bank{g}", str(folder)],
        env=env, cwd=REPO, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True) for g, folder in enumerate(groups)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    index = ReferenceSet.load(Path(env["PROVREG_HOME"]) / "indexes" / "copy")
    assert sorted(r.bank for r in index.references()) == ["bank0"] * 4 + ["bank1"] * 4
    listed = json_lines(provreg(env, "bank", "list", "--json").stdout)
    assert [(b["bank"], b["references"]) for b in listed] == [("bank0", 4), ("bank1", 4)]
