"""The public Python API: ``registry.__all__`` is pinned, every name resolves lazily, importing
``registry`` stays cheap, and the README's example runs against a real database."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import registry
from registry.errors import UnknownAssetError

ROOT = Path(__file__).resolve().parents[2]

EXPECTED = [
    "AssetFacts",
    "AssetView",
    "Candidate",
    "EntryCheck",
    "FileOutcome",
    "IntakeError",
    "IntegrityReport",
    "LedgerCheck",
    "LedgerTamperedError",
    "NotInitialisedError",
    "Proof",
    "ProvregError",
    "Registry",
    "Settings",
    "SightingFacts",
    "UnknownAssetError",
    "VerdictFacts",
    "VerificationError",
    "__version__",
    "check_asset",
    "inclusion_proof",
    "ingest_files",
    "open_registry",
    "search_copies",
    "show_asset",
    "verify_ledger",
]


def test_all_is_pinned() -> None:
    assert registry.__all__ == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_each_public_name_resolves_to_its_home(name: str) -> None:
    value = getattr(registry, name)
    assert value is not None
    if name != "__version__":
        assert value.__module__.startswith("registry.")
        assert getattr(sys.modules[value.__module__], name) is value
    assert name in dir(registry)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        getattr(registry, "no_such_name")  # noqa: B009


def test_importing_registry_imports_nothing_heavy() -> None:
    heavy = ["sqlalchemy", "alembic", "torch", "ray", "cv2", "streamlit", "registry.api"]
    code = (
        "import json, sys, registry\n"
        "assert registry.__version__\n"
        f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert json.loads(out) == []


def readme_example() -> str:
    section = (ROOT / "README.md").read_text().split("## Python API", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, "README: no python block under ## Python API"
    return match.group(1)


@pytest.fixture
def api_env(provreg_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's environment set as for a provreg command (fresh home and database)."""
    for key in [k for k in os.environ if k.startswith("PROVREG_")]:
        monkeypatch.delenv(key)
    for key in ("PROVREG_HOME", "PROVREG_DATABASE_URL"):
        monkeypatch.setenv(key, provreg_env[key])
    monkeypatch.chdir(ROOT)


@pytest.mark.usefixtures("api_env")
@pytest.mark.slow
def test_readme_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, object] = {}
    exec(compile(readme_example(), "README.md", "exec"), namespace)
    printed = capsys.readouterr().out.splitlines()
    assert any(" metadata " in line for line in printed)
    assert re.fullmatch(r"\d+ entries verified; proof under a tree of \d+", printed[-2])
    assert printed[-1] == "[]"  # no reference banks: no copy candidates

    asset = namespace["asset"]
    assert isinstance(asset, registry.AssetView)
    assert {v.detector for v in asset.verdicts} == {"file-facts", "metadata"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        asset.asset.sha256 = "0" * 64  # type: ignore[misc]
    check = namespace["check"]
    assert isinstance(check, registry.LedgerCheck)
    assert check.tree_size >= len(asset.verdicts) + len(asset.sightings)
    proof = namespace["proof"]
    assert isinstance(proof, registry.Proof)
    assert json.loads(proof.to_json())["log_index"] == asset.verdicts[0].log_index


@pytest.mark.usefixtures("api_env")
def test_show_check_and_unknown_asset() -> None:
    reg = registry.open_registry(migrate=True)
    try:
        photo = ROOT / "examples/uploads/holiday-photo.jpg"
        (outcome,) = registry.ingest_files(reg, [photo], detectors=["file-facts"])
        registry.inclusion_proof(reg, outcome.entries[0].log_index)  # signs a checkpoint
        view = registry.show_asset(reg, outcome.sha256.upper())
        assert view.asset.sha256 == outcome.sha256
        assert [v.log_index for v in view.verdicts] == [e.log_index for e in outcome.entries]
        report = registry.check_asset(reg, outcome.sha256)
        assert report.ok and [e.log_index for e in report.entries] == [
            v.log_index for v in view.verdicts
        ]
        with pytest.raises(UnknownAssetError):
            registry.show_asset(reg, "f" * 64)
    finally:
        reg.close()
