"""The asset page draws a laundering verdict's anomaly map and autoencoder distances
(AppTest against a real, ingested PostgreSQL registry)."""

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


def test_asset_page_shows_the_laundering_anomaly_map(seeded: tuple[Settings, Seeded]) -> None:
    settings, seed = seeded
    sha = seed.beta[1]
    registry = Registry.open(settings)
    try:
        with registry.sessions.begin() as session:
            registry.ledger.append(
                session,
                [
                    Verdict(
                        detector="laundering",
                        version="1.0.0",
                        model_checksum="ab" * 32,
                        asset_sha256=sha,
                        label="laundered",
                        positive=True,
                        score=0.93,
                        p_value=0.009,
                        evidence={
                            "anomaly_map": [[0.1, 0.9], [0.8, 0.95]],
                            "autoencoders": {"sd-vae": {"distance": 0.012, "fpr": 0.02}},
                        },
                    )
                ],
            )
    finally:
        registry.close()
    at = login(app(), "ivy")
    at.text_input(key="search_sha").input(sha[:12]).run()
    at.button(key=f"open_sha_{sha}").click().run()
    assert not at.exception
    page = texts(at)
    assert "#### `laundering`" in page and "`laundered` · POSITIVE" in page
    assert len(at.image) == 2, "the thumbnail and the anomaly map"
    assert "Anomaly map" in page
    assert "Reconstruction distance per candidate autoencoder" in page
    frames = [d.value for d in at.dataframe]
    assert any("sd-vae" in list(frame.get("autoencoder", [])) for frame in frames)
