"""The Overview shows the latest `provreg eval` report (headline table and plot)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dashboard.eval_view import headline_rows, load_report
from detectors.evaluation import report
from detectors.evaluation.outcomes import Outcome
from detectors.evaluation.summary import summarise
from registry.settings import Settings
from tests.dashboard.test_dashboard_app import app, login, seeded, texts  # noqa: F401  (fixture)
from tests.dashboard_helpers import Seeded


def _write_report(folder: Path) -> None:
    attacks = {
        "original": {"family": "original", "strength": 0.0, "kind": "removal"},
        "jpeg[q=50]": {"family": "jpeg", "strength": 0.7, "kind": "removal"},
    }
    outcomes = []
    for attack, fired in (("original", [True, True]), ("jpeg[q=50]", [True, False])):
        outcomes += [
            Outcome("metadata", f"p{i}", attack, "positive", f, float(f), "a1111")
            for i, f in enumerate(fired)
        ]
        outcomes += [Outcome("metadata", "n0", attack, "negative", False, 0.0, "not-found")]
    rows = summarise(outcomes, attacks, {}, seed=0, rounds=20)
    report.write(
        folder,
        rows=rows,
        meta={"command": "provreg eval run …", "seed": 0, "suite": "test"},
        outcomes=outcomes,
    )


def test_load_report_refuses_missing_and_malformed_files(tmp_path: Path) -> None:
    assert load_report(tmp_path) is None
    (tmp_path / "report.json").write_text("{not json")
    assert load_report(tmp_path) is None
    (tmp_path / "report.json").write_text(json.dumps({"headline": "x"}))
    assert load_report(tmp_path) is None
    _write_report(tmp_path)
    document = load_report(tmp_path)
    assert document is not None
    [row] = headline_rows(document)
    assert row["detector"] == "metadata" and row["worst_detect_rate"] == 0.5


@pytest.mark.slow
def test_overview_shows_the_latest_report(
    seeded: tuple[Settings, Seeded],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "latest"
    at = login(app(), "vic")
    assert "No evaluation report" in texts(at)
    _write_report(folder)
    monkeypatch.setenv("PROVREG_EVAL_REPORT_DIR", str(folder))
    at = login(app(), "vic")
    assert not at.exception
    assert any("Robustness" in s.value for s in at.subheader)
    frames = [f.value for f in at.dataframe]
    assert any("metadata" in list(frame["detector"]) for frame in frames if "detector" in frame)
    assert (folder / "detection_vs_strength.png").is_file()
    assert "Image()" in str(at.main)


def test_report_is_rebuilt_from_its_json(tmp_path: Path) -> None:
    _write_report(tmp_path)
    first = (tmp_path / "report.md").read_text()
    (tmp_path / "report.md").unlink()
    (tmp_path / "detection_vs_strength.png").unlink()
    assert report.rebuild(tmp_path).read_text() == first
    assert (tmp_path / "detection_vs_strength.png").is_file()
