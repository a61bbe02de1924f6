"""Enrol → ingest on Ray → dashboard → enrol another → ``provreg rescan`` reports the change.

Real PostgreSQL, real Ray (the attribution detector runs in its own actor pool, CPU here),
the dashboard under AppTest against the same database.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from registry.app import Registry
from registry.attribution.queries import assets_attributed_to, attributed_generators
from registry.settings import Settings
from tests import attribution_fixtures as fx
from tests.dashboard.test_dashboard_app import app, login, texts
from tests.dashboard_helpers import seed_registry
from tests.ray_fixtures import ray_address
from tests.registry.test_cli import json_lines, provreg

__all__ = ["ray_address"]

PER_GENERATOR = 3


@pytest.mark.slow
def test_enrol_ingest_dashboard_rescan(
    ray_address: str, provreg_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {
        **provreg_env,
        "PROVREG_EXECUTOR": "ray",
        "RAY_ADDRESS": ray_address,
        "PROVREG_DETECTORS": "attribution",
    }
    for key, value in provreg_env.items():
        if key.startswith("PROVREG_"):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("PROVREG_DETECTORS", "file-facts")
    monkeypatch.delenv("PROVREG_DASHBOARD_DATABASE_URL", raising=False)
    settings = Settings.from_env()
    seed_registry(settings, tmp_path / "media")  # users for the dashboard login

    zoo = fx.folders()
    provreg(env, "generator", "enroll", "transposed-s0", str(zoo / "enrol" / "transposed-s0"))
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    for name in ("transposed-s0", "nearest-s0"):
        for path in sorted((zoo / "test" / name).iterdir())[:PER_GENERATOR]:
            shutil.copy(path, uploads / f"{name}-{path.name}")
    lines = json_lines(provreg(env, "ingest", str(uploads), "--json", timeout=600).stdout)
    labels = {Path(str(line["path"])).name: line["verdicts"][0]["label"] for line in lines}
    assert len(labels) == 2 * PER_GENERATOR
    assert all(label != "nearest-s0" for label in labels.values())
    transposed = [
        n for n, label in labels.items() if n.startswith("transposed") and label == "transposed-s0"
    ]
    assert len(transposed) >= 2, labels

    # dashboard: the asset page shows the attribution and its top-k; search filters by it
    sha = next(line["sha256"] for line in lines if Path(str(line["path"])).name == transposed[0])
    registry = Registry.open(settings)
    try:
        with registry.sessions() as session:
            assert "transposed-s0" in attributed_generators(session)
            assert sha in {a.sha256 for a in assets_attributed_to(session, "transposed-s0")}
    finally:
        registry.close()
    at = login(app(), "ivy")
    at.text_input(key="search_sha").input(sha[:12]).run()
    at.button(key=f"open_sha_{sha}").click().run()
    assert not at.exception
    page = texts(at)
    assert any(h.value == "Generator attribution" for h in at.subheader)
    assert "Attributed to `transposed-s0`" in page
    frames = [d.value for d in at.dataframe]
    assert any("transposed-s0" in list(f.get("generator", [])) for f in frames)

    # a new enrolment changes the detector's identity; the re-scan reports what moved
    provreg(env, "generator", "enroll", "nearest-s0", str(zoo / "enrol" / "nearest-s0"))
    report = json.loads(
        provreg(env, "rescan", "--detector", "attribution", "--json", timeout=600)
        .stdout.strip()
        .splitlines()[-1]
    )
    assert report["compared"] == 2 * PER_GENERATOR
    moved = [c for c in report["changes"] if c["after"]["label"] == "nearest-s0"]
    assert len(moved) >= 2, report
    assert all(c["before"]["label"] != "nearest-s0" for c in moved)
