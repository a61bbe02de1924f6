"""The investigator's pages against a real registry: recent positives, asset links, copy
evidence side by side, audited CSV exports and audited failed logins."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from registry.app import Registry
from registry.auth.accounts import AuditRecord, audit_entries
from registry.settings import Settings
from tests.dashboard.test_dashboard_app import APP, app, login, seeded, show_asset, texts
from tests.dashboard_helpers import Seeded, seed_copy

pytestmark = pytest.mark.slow  # full AppTest page walks; the fast loop keeps test_dashboard_app.py

__all__ = ["seeded"]  # the fixture, re-used


def _audit(settings: Settings) -> list[AuditRecord]:
    registry = Registry.open(settings)
    try:
        with registry.sessions() as session:
            return list(reversed(audit_entries(session)))
    finally:
        registry.close()


def test_landing_page_lists_recent_positives_with_full_hashes(
    seeded: tuple[Settings, Seeded],
) -> None:
    _, seed = seeded
    at = login(app(), "ivy", page=None)
    assert at.sidebar.radio(key="page").value == "Recent"
    assert any(h.value == "Recent positives" for h in at.header)
    frame = at.dataframe[0].value
    assert set(frame["asset_sha256"]) == {seed.rescanned, seed.beta[0]}
    assert set(frame["outcome"]) == {"positive"}
    assert list(frame["link"]) == [f"?asset={sha}" for sha in frame["asset_sha256"]]


def test_search_page_is_not_blank_after_login(seeded: tuple[Settings, Seeded]) -> None:
    at = login(app(), "ivy", page="Search")
    assert not at.exception
    assert any(h.value == "Search" for h in at.header)
    assert at.text_input(key="search_sha") is not None
    assert len(at.tabs) == 3


def test_asset_url_opens_the_asset_after_login_and_rejects_non_hashes(
    seeded: tuple[Settings, Seeded],
) -> None:
    _, seed = seeded
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["asset"] = seed.beta[0]
    at.run()
    assert len(at.sidebar.radio) == 0, "the link does not skip the login"
    login(at, "ivy", page=None)
    assert at.sidebar.radio(key="page").value == "Asset"
    assert at.text_input(key="asset_sha").value == seed.beta[0]
    assert "PASS" in texts(at)
    bad = AppTest.from_file(str(APP), default_timeout=60)
    bad.query_params["asset"] = "<script>alert(1)</script>"
    bad.run()
    login(bad, "ivy", page=None)
    assert bad.sidebar.radio(key="page").value == "Recent"
    assert any("not a sha256" in w.value for w in bad.warning)


def test_copy_evidence_side_by_side_on_the_asset_page(
    seeded: tuple[Settings, Seeded],
    tmp_path: Path,
) -> None:
    settings, _ = seeded
    crop, reference = seed_copy(settings, tmp_path / "copy")
    at = login(app(), "ivy")
    show_asset(at, crop)
    assert not at.exception
    page = texts(at)
    assert "#### `copy`" in page and "geometric verification found" in page
    assert reference in [c.value for c in at.code], "full reference sha256"
    assert len(at.image) == 2, "the thumbnail and the drawn keypoint matches"


def test_failed_logins_are_in_the_audit_log(seeded: tuple[Settings, Seeded]) -> None:
    settings, _ = seeded
    at = login(app(), "ivy", "wrong-password", page=None)
    login(at, "<b>nobody</b>", "x", page=None)
    failures = [e for e in _audit(settings) if e.action == "login_failure"]
    assert [e.username for e in failures] == ["ivy", "<b>nobody</b>"]
    assert all(e.query.get("client") for e in failures)


def test_csv_export_is_audited(seeded: tuple[Settings, Seeded]) -> None:
    settings, _ = seeded
    at = login(app(), "ivy", page=None)
    button = at.download_button(key="recent_table_csv")
    assert button.label == "Download CSV (2 rows)"
    button.click().run()
    assert not at.exception
    (export,) = [e for e in _audit(settings) if e.action == "export_csv"]
    assert export.username == "ivy"
    assert export.query == {
        "list": "recent-positives",
        "rows": 2,
        "query": {"positive_only": True, "limit": 50},
    }
