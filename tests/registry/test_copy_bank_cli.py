"""`provreg bank …` lifecycle, hash lists and concurrent adds, through the real CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from detectors.copy.matcher import ReferenceSet
from detectors.testing.copy_fixtures import (
    EDITS,
    copy_cli_env,
    reference_images,
    save_image,
    textured,
)
from tests.registry.test_cli import REPO, json_lines, provreg


@pytest.fixture
def env(provreg_env: dict[str, str]) -> dict[str, str]:
    return copy_cli_env(provreg_env)


@pytest.mark.slow
def test_bank_commands_lifecycle_and_hash_lists(env: dict[str, str], tmp_path: Path) -> None:
    images = reference_images()
    ref = save_image(images["coffee"], tmp_path / "coffee.png")
    (line,) = json_lines(provreg(env, "bank", "add", "art", str(ref), "--json").stdout)
    suspect = save_image(EDITS["jpeg50"](images["coffee"]), tmp_path / "suspect.jpg")

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
    assert (
        "te: 0 hash(es) added to shared, 1 already there"
        in provreg(env, "bank", "import", "shared", str(te_file)).stdout
    )

    out = provreg(env, "bank", "rebuild-index").stdout
    assert "1 reference(s) indexed" in out and "hash-only" in out
    assert matched()
    assert provreg(env, "bank", "disable", "nope", check=False).returncode == 2


@pytest.mark.slow
def test_concurrent_bank_add_loses_nothing(env: dict[str, str], tmp_path: Path) -> None:
    provreg(env, "init")
    # one file per chunk: each process takes the index lock, loads, adds and saves 4 times
    (Path(env["PROVREG_HOME"]) / "config.toml").write_text("batch_size = 1\n")
    groups = []
    for g in range(2):
        folder = tmp_path / f"group{g}"
        for i in range(4):
            save_image(textured(100 + 10 * g + i, (160, 120)), folder / f"{i}.png")
        groups.append(folder)
    # both processes create the same bank at once, then interleave their index updates
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "registry", "bank", "add", "flagged", str(folder), "--json"],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for folder in groups
    ]
    ids = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        ids += [line["ref_id"] for line in json_lines(out) if line["status"] == "added"]
    assert len(ids) == 8
    index = ReferenceSet.load(Path(env["PROVREG_HOME"]) / "indexes" / "copy")
    assert sorted(r.ref_id for r in index.references()) == sorted(ids)
    assert index.revision >= 8  # one save (a log append) per file
    (listed,) = json_lines(provreg(env, "bank", "list", "--json").stdout)
    assert (listed["bank"], listed["references"]) == ("flagged", 8)
