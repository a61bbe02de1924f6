"""The asset page draws a model asset's tensor table, lineage match and watermark verdicts
(AppTest against a real PostgreSQL registry); hostile tensor names stay plain text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from detectors.base import Verdict
from registry.app import Registry
from registry.settings import Settings
from tests.dashboard.test_dashboard_app import app, login, texts
from tests.dashboard_helpers import Seeded, seed_registry


@pytest.fixture
def seeded(
    provreg_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Settings, Seeded]]:
    env = {**provreg_env, "PROVREG_DETECTORS": "file-facts"}
    for key, value in env.items():
        if key.startswith("PROVREG_"):
            monkeypatch.setenv(key, value)
    monkeypatch.delenv("PROVREG_DASHBOARD_DATABASE_URL", raising=False)
    settings = Settings.from_env()
    yield settings, seed_registry(settings, tmp_path / "media")


@pytest.mark.slow
def test_asset_page_shows_model_lineage_and_watermark(seeded: tuple[Settings, Seeded]) -> None:
    settings, seed = seeded
    sha = seed.beta[1]
    hostile = "[click](http://evil.example) **fc1**.weight"
    lineage = {
        "manifest": {
            "tensor_count": 2,
            "parameters": 4160,
            "manifest_sha256": "ab" * 32,
            "tensors": [
                {"name": hostile, "dtype": "F32", "shape": [64, 64], "sha256": "cd" * 32},
                {"name": "fc1.bias", "dtype": "F32", "shape": [64], "sha256": "ef" * 32},
            ],
            "tensors_omitted": 0,
            "summarised": False,
        },
        "match": {
            "reference": "digits-base",
            "relation": "derived",
            "coverage": 1.0,
            "cosine": 0.95,
            "changed": [{"name": "fc1.weight", "cosine": 0.95, "relative_l2": 0.3}],
        },
        "candidates": [
            {"reference": "digits-base", "relation": "derived", "coverage": 1.0, "cosine": 0.95}
        ],
    }
    watermark = {
        "keys_tested": 1,
        "results": [
            {
                "key": "acme-owner",
                "key_id": "0123456789abcdef",
                "method": "uchida",
                "bits": 64,
                "layer_found": True,
                "matched": 63,
                "ber": 0.0156,
                "p_value": 3.5e-18,
                "p_value_corrected": 3.5e-18,
            }
        ],
    }
    registry = Registry.open(settings)
    try:
        with registry.sessions.begin() as session:
            registry.ledger.append(
                session,
                [
                    Verdict(
                        detector="model.lineage",
                        version="1.0.0",
                        model_checksum=None,
                        asset_sha256=sha,
                        label="derived",
                        positive=True,
                        score=0.95,
                        evidence=lineage,
                    ),
                    Verdict(
                        detector="model.watermark",
                        version="1.0.0",
                        model_checksum=None,
                        asset_sha256=sha,
                        label="acme-owner",
                        positive=True,
                        score=0.98,
                        p_value=3.5e-18,
                        evidence=watermark,
                    ),
                ],
            )
    finally:
        registry.close()
    at = login(app(), "ivy")
    at.text_input(key="search_sha").input(sha[:12]).run()
    at.button(key=f"open_sha_{sha}").click().run()
    assert not at.exception
    page = texts(at)
    assert "Tensors" in page and "Lineage match" in page
    assert "Weight-watermark keys tested" in page
    frames = [d.value for d in at.dataframe]
    assert any(hostile in list(frame.get("name", [])) for frame in frames)  # as plain text
    assert any("digits-base" in list(frame.get("reference", [])) for frame in frames)
    assert any("acme-owner" in list(frame.get("key", [])) for frame in frames)
