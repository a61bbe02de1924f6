"""`provreg lineage …` end to end on PostgreSQL: register a model and owners' keys, ingest
model files (inline executor), and find no key in any stored row or output."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from PIL import Image

from detectors.base import NOT_FOUND
from detectors.testing import model_fixtures as mf
from registry.cli.root import main
from registry.lineage.store import LineageError


class _Plant:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.path), "w"))


@pytest.mark.slow
def test_register_trace_and_verify_through_the_cli(
    provreg_env: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **provreg_env,
        "PROVREG_DETECTORS": "model.lineage,model.watermark",
        "PROVREG_EXECUTOR": "inline",
    }
    uchida = mf.uchida_key("mlp", 7)
    base = mf.train("mlp", 1, uchida)
    (tmp_path / "base.safetensors").write_bytes(mf.safetensors_bytes(base))
    key_file = tmp_path / "owner.json"
    key_file.write_text(json.dumps({k: uchida[k] for k in ("method", "layer", "seed", "bits")}))
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "finetuned.pt").write_bytes(mf.torch_bytes(mf.fine_tune("mlp", base, 3)))
    (uploads / "other.safetensors").write_bytes(mf.safetensors_bytes(mf.train("mlp", 2)))
    (uploads / "evil.pt").write_bytes(pickle.dumps(_Plant(tmp_path / "planted")))
    Image.new("RGB", (32, 32), "red").save(uploads / "photo.png")
    runner = CliRunner()
    outputs = []
    for args in (
        ["init"],
        ["lineage", "register", "digits-base", str(tmp_path / "base.safetensors"), "--json"],
        ["lineage", "key", "add", "acme-owner", "--key-file", str(key_file), "--json"],
        ["lineage", "list", "--json"],
        ["lineage", "key", "list", "--json"],
        ["ingest", str(uploads), "--json"],
    ):
        result = runner.invoke(main, args, env=env, catch_exceptions=False)
        assert result.exit_code in (0, 3), (args, result.output)
        outputs.append(result.stdout)
    registered = json.loads(outputs[1])
    assert registered["name"] == "digits-base" and registered["tensors"] == 4
    (listed,) = map(json.loads, outputs[3].splitlines())
    assert listed["name"] == "digits-base"
    (key,) = map(json.loads, outputs[4].splitlines())
    assert (key["name"], key["method"], key["bits"]) == ("acme-owner", "uchida", 64)
    lines = {Path(row["path"]).name: row for row in map(json.loads, outputs[5].splitlines())}
    assert lines["evil.pt"]["status"] == "error"
    # An image is not handed to the model detectors' verdict list (nor a model to image ones).
    assert lines["photo.png"]["status"] == "ok" and lines["photo.png"]["verdicts"] == []
    assert not (tmp_path / "planted").exists()
    tuned = {v["detector"]: v for v in lines["finetuned.pt"]["verdicts"]}
    assert tuned["model.lineage"]["label"] == "derived"
    assert tuned["model.lineage"]["evidence"]["match"]["reference"] == "digits-base"
    assert tuned["model.watermark"]["label"] == "acme-owner"
    assert tuned["model.watermark"]["positive"]
    other = {v["detector"]: v for v in lines["other.safetensors"]["verdicts"]}
    assert other["model.lineage"]["label"] == NOT_FOUND
    assert other["model.watermark"]["label"] == NOT_FOUND

    url = env["PROVREG_DATABASE_URL"].replace("+psycopg", "")
    with psycopg.connect(url) as conn:
        tables = [
            row[0]
            for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
        dump = "\n".join(
            str(row[0])
            for table in tables
            for row in conn.execute(f'SELECT row_to_json(t)::text FROM "{table}" t')
        )
    assert "lineage_keys" in tables and "acme-owner" in dump
    assert uchida["bits"] not in dump and uchida["bits"] not in "".join(outputs)
    assert f'"seed": {uchida["seed"]}' not in dump

    for args in (["lineage", "key", "remove", "acme-owner"], ["lineage", "remove", "digits-base"]):
        assert runner.invoke(main, args, env=env).exit_code == 0
    again = runner.invoke(main, ["lineage", "remove", "digits-base"], env=env)
    # `provreg` (registry.cli.root.run) prints a typed error as one line and exits 2.
    assert isinstance(again.exception, LineageError)
    assert "no model named 'digits-base'" in str(again.exception)


def test_model_watermark_runs_by_default_only_once_keys_are_registered() -> None:
    from detectors.plugins import available_detectors
    from registry.models.configure import default_names

    classes = available_detectors()
    assert "model.watermark" in classes and "model.lineage" in classes
    without = default_names(classes, {})
    assert "model.watermark" not in without  # nothing to test: left out, not "not found"
    assert "model.lineage" in without  # its tensor manifest needs no registered model
    with_keys = default_names(classes, {"model.watermark": {"keys": [{"name": "k"}]}})
    assert "model.watermark" in with_keys
