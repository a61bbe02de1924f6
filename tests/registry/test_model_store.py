"""The model store on disk and its CLI: add, list, show, remove; content addressing; the
registry resolving store entries into learned detectors' options."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import torch

from detectors.learned.archs import build
from registry.app import Registry
from registry.db.engine import make_engine
from registry.models import DuplicateModelError, ModelStore, UnknownModelError
from registry.settings import Settings
from tests.registry.test_cli import json_lines, provreg


def _weights(path: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    torch.save(build("npr_tiny").state_dict(), path)
    return path


def test_add_is_content_addressed_and_read_only(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    file = _weights(tmp_path / "a.pth")
    one = store.add("one", file, kind="synthetic", architecture="npr_tiny")
    two = store.add("two", file, kind="synthetic", architecture="npr_tiny")
    assert one.sha256 == two.sha256
    blob = store.blob_path(one.sha256)
    assert blob.is_file() and not blob.stat().st_mode & stat.S_IWUSR
    assert [p.name for p in store.blobs.iterdir()] == [one.sha256]
    with pytest.raises(DuplicateModelError):
        store.add("one", file, kind="synthetic")
    store.remove("one")
    assert blob.exists()  # still used by "two"
    store.remove("two")
    assert not blob.exists()
    with pytest.raises(UnknownModelError):
        store.get("two")


def test_unknown_architecture_is_refused(tmp_path: Path) -> None:
    from registry.models import ModelStoreError

    with pytest.raises(ModelStoreError, match="unknown architecture"):
        ModelStore(tmp_path).add(
            "x", _weights(tmp_path / "a.pth"), kind="synthetic", architecture="resnet9000"
        )


def test_registry_gives_learned_detectors_their_newest_model(
    tmp_path: Path, fresh_database_url: str
) -> None:
    # A real database: the model.* detectors' options come from models registered in it.
    home = tmp_path / "home"
    settings = Settings(home=home, database_url=fresh_database_url)
    engine = make_engine(fresh_database_url)
    registry = Registry(settings=settings, url=fresh_database_url, engine=engine)
    names = [d.name for d in registry.detectors()]
    assert "synthetic" not in names and "laundering" not in names  # no weights: left out
    (named,) = registry.detectors(["synthetic"])  # asked for by name: runs, says unavailable
    assert "model" not in named.options
    store = ModelStore(home / "models")
    store.add("old", _weights(tmp_path / "a.pth", 1), kind="synthetic", architecture="npr_tiny")
    store.add("new", _weights(tmp_path / "b.pth", 2), kind="synthetic", architecture="npr_tiny")
    by_name = {d.name: d for d in registry.detectors()}
    assert "synthetic" in by_name and "laundering" not in by_name
    options = by_name["synthetic"].options["model"]
    assert options["name"] in {"old", "new"}
    assert options["sha256"] == store.get(options["name"]).sha256
    pinned = Registry(
        settings=Settings(home=home, detector_options={"synthetic": {"model": "old"}}),
        url=fresh_database_url,
        engine=engine,
    )
    (chosen,) = pinned.detectors(["synthetic"])
    assert chosen.options["model"]["name"] == "old"
    engine.dispose()


@pytest.mark.slow
def test_models_cli(provreg_env: dict[str, str], tmp_path: Path) -> None:
    file = _weights(tmp_path / "npr.pth")
    bad = provreg(
        provreg_env,
        "models",
        "add",
        "npr",
        str(file),
        "--kind",
        "synthetic",
        "--sha256",
        "f" * 64,
        check=False,
    )
    assert bad.returncode == 2 and "SHA-256" in bad.stderr
    added = json_lines(
        provreg(
            provreg_env,
            "models",
            "add",
            "npr",
            str(file),
            "--kind",
            "synthetic",
            "--arch",
            "npr_tiny",
            "--licence",
            "Apache-2.0",
            "--json",
        ).stdout
    )[0]
    listed = json_lines(provreg(provreg_env, "models", "list", "--json").stdout)
    assert [(m["name"], m["sha256"], m["architecture"]) for m in listed] == [
        ("npr", added["sha256"], "npr_tiny")
    ]
    shown = json.loads(provreg(provreg_env, "models", "show", "npr").stdout)
    assert shown["licence"] == "Apache-2.0" and shown["format"] == "pytorch"
    provreg(provreg_env, "models", "remove", "npr")
    assert provreg(provreg_env, "models", "list", "--json").stdout.strip() == ""
    missing = provreg(provreg_env, "models", "show", "npr", check=False)
    assert missing.returncode == 2 and "no model" in missing.stderr
