"""Learned detectors end to end: trained models in the store, `provreg ingest` (inline and on
Ray, where they run in their own GPU-requesting pools that fall back to CPU), signed verdicts
in the ledger, `provreg verify`, and the anomaly map on the dashboard's asset page."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dashboard.learned_view import anomaly_grid, anomaly_png
from ray_jobs.actors import actor_options
from ray_jobs.fused import is_fusable
from registry.models import ModelStore
from tests import learned_fixtures
from tests.ray_fixtures import ray_address
from tests.registry.test_cli import json_lines, provreg

pytestmark = pytest.mark.slow  # starts Ray or runs the CLI end to end

__all__ = ["ray_address"]


def _home_with_models(env: dict[str, str]) -> None:
    source = learned_fixtures.store()
    target = ModelStore(Path(env["PROVREG_HOME"]) / "models")
    for entry in source.entries():
        target.add(
            entry.name,
            source.blob_path(entry.sha256),
            kind=entry.kind,
            fmt=entry.format,
            architecture=entry.architecture,
            config=entry.config,
            card=entry.card,
        )


def _uploads(tmp_path: Path) -> Path:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    data = learned_fixtures.dataset()
    for folder in ("real", "fake", "laundered", "synthetic"):
        for path in sorted((data / folder).iterdir())[-3:]:
            shutil.copy(path, uploads / f"{folder}-{path.name}")
    (uploads / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    return uploads


def _check(lines: list[dict[str, object]]) -> None:
    by_name = {Path(str(line["path"])).name: line for line in lines}
    assert by_name["broken.png"]["status"] == "error"
    judged = [line for name, line in by_name.items() if name != "broken.png"]
    assert len(judged) == 12
    for line in judged:
        assert line["status"] == "ok", line
        verdicts = {v["detector"]: v for v in line["verdicts"]}  # type: ignore[attr-defined]
        assert {"synthetic", "laundering"} <= set(verdicts)
        for name in ("synthetic", "laundering"):
            v = verdicts[name]
            assert v["error"] is None and v["signature"] and v["log_index"] is not None, v
            assert v["model_checksum"]
        assert "anomaly_map" in verdicts["laundering"]["evidence"]


def test_ingest_inline_signs_learned_verdicts(provreg_env: dict[str, str], tmp_path: Path) -> None:
    _home_with_models(provreg_env)
    env = {**provreg_env, "PROVREG_EXECUTOR": "inline"}
    lines = json_lines(
        provreg(env, "ingest", str(_uploads(tmp_path)), "--json", timeout=600).stdout
    )
    _check(lines)
    provreg(env, "verify")


def test_ingest_on_ray_runs_learned_detectors_in_their_own_pools(
    ray_address: str, provreg_env: dict[str, str], tmp_path: Path
) -> None:
    _home_with_models(provreg_env)
    env = {
        **provreg_env,
        "PROVREG_EXECUTOR": "ray",
        "RAY_ADDRESS": ray_address,
        "PROVREG_DETECTORS": "file-facts,synthetic,laundering",
    }
    lines = json_lines(
        provreg(env, "ingest", str(_uploads(tmp_path)), "--json", timeout=600).stdout
    )
    _check(lines)
    provreg(env, "verify")


def test_learned_detectors_request_gpus_only_where_there_are_some() -> None:
    from detectors.laundering.detector import LaunderingDetector
    from detectors.synthetic.detector import SyntheticDetector

    for cls in (SyntheticDetector, LaunderingDetector):
        assert not is_fusable(cls.resources)  # its own pool, not the CPU fused actors
        assert actor_options(cls.resources, gpus_available=True)["num_gpus"] == 0.5
        assert "num_gpus" not in actor_options(cls.resources, gpus_available=False)


def test_anomaly_map_renders_and_hostile_maps_do_not() -> None:
    grid = anomaly_grid({"anomaly_map": [[0.0, 0.5], [1.0, 0.25]]})
    assert grid is not None
    png = anomaly_png(grid)
    assert png.startswith(b"\x89PNG")
    for bad in ([[0.1, "x"]], [[0.1], [0.2, 0.3]], "map", [[float("nan")]], [[True]], [[0.0] * 65]):
        assert anomaly_grid({"anomaly_map": bad}) is None
