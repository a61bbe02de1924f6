"""The Streamlit dashboard driven with AppTest against a real, ingested PostgreSQL registry."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from registry.app import Registry
from registry.auth.accounts import audit_entries
from registry.db.models import VerdictRow
from registry.settings import Settings
from registry.testing.badfiles import bomb_png
from tests.dashboard_helpers import PASSWORDS, Seeded, seed_registry

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


@pytest.fixture
def seeded(
    provreg_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Settings, Seeded]]:
    env = {**provreg_env, "PROVREG_DETECTORS": "file-facts"}
    for key, value in env.items():
        if key.startswith("PROVREG_"):
            monkeypatch.setenv(key, value)
    monkeypatch.delenv("PROVREG_DASHBOARD_DATABASE_URL", raising=False)
    monkeypatch.setenv("PROVREG_LOGIN_BACKOFF_SECONDS", "0")  # tests log in right after a miss
    settings = Settings.from_env()
    yield settings, seed_registry(settings, tmp_path / "media")


def app() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    return at


def login(
    at: AppTest, user: str, password: str | None = None, page: str | None = "Search"
) -> AppTest:
    """Sign in; then open ``page`` when the user may (None: stay on the landing page)."""
    at.text_input(key="login_user").input(user)
    at.text_input(key="login_password").input(password or PASSWORDS[user])
    at.button[0].click().run()
    radios = [r for r in at.sidebar.radio if r.key == "page"]
    if page and radios and page in radios[0].options and radios[0].value != page:
        open_page(at, page)
    return at


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [t.value for t in at.text]
    parts += [e.value for kind in (at.success, at.error, at.info, at.warning) for e in kind]
    parts += [c.value for c in at.code]
    return "\n".join(str(p) for p in parts)


def open_page(at: AppTest, page: str) -> AppTest:
    at.sidebar.radio(key="page").set_value(page).run()
    return at


def show_asset(at: AppTest, sha: str) -> AppTest:
    at.session_state["page"] = "Asset"
    at.session_state["asset_sha"] = sha
    return at.run()


@pytest.mark.slow
def test_login_is_required_and_wrong_passwords_are_refused(seeded: tuple[Settings, Seeded]) -> None:
    at = app()
    assert not at.exception
    assert len(at.sidebar.radio) == 0, "no navigation before login"
    assert at.text_input(key="login_password")
    login(at, "ivy", "not-the-password")
    assert "wrong password" in texts(at)
    assert len(at.sidebar.radio) == 0
    login(at, "ivy", page=None)
    assert not at.exception
    assert at.sidebar.radio(key="page").options == ["Recent", "Search", "Asset", "Overview"]
    assert at.sidebar.radio(key="page").value == "Recent", "recent positives land first"


def test_viewer_sees_only_the_overview(seeded: tuple[Settings, Seeded]) -> None:
    at = login(app(), "vic")
    assert at.sidebar.radio(key="page").options == ["Overview"]
    assert not at.exception
    assert any("Verdicts per day" in s.value for s in at.subheader)


def test_search_by_filters_returns_the_right_assets(seeded: tuple[Settings, Seeded]) -> None:
    _settings, seed = seeded
    at = login(app(), "ivy")
    at.selectbox(key="f_source").set_value("beta")
    at.button(key="FormSubmitter:filters-Search").click().run()
    assert not at.exception
    frame = at.dataframe[0].value
    assert set(frame["asset_sha256"]) == set(seed.beta), "full hashes, never cut off"
    # positive only: the synthetic sdxl verdict on a beta asset, nothing else
    at.checkbox(key="f_positive").check()
    at.button(key="FormSubmitter:filters-Search").click().run()
    frame = at.dataframe[0].value
    assert list(frame["asset_sha256"]) == [seed.beta[0]]
    assert list(frame["label"]) == ["sdxl"]
    # detector + score range over both sources
    at.checkbox(key="f_positive").uncheck()
    at.selectbox(key="f_source").set_value("(any)")
    at.selectbox(key="f_detector").set_value("synthetic")
    at.number_input(key="f_score_min").set_value(0.5)
    at.button(key="FormSubmitter:filters-Search").click().run()
    frame = at.dataframe[0].value
    assert sorted(frame["asset_sha256"]) == sorted([seed.rescanned, seed.beta[0]])
    assert all(score >= 0.5 for score in frame["score"])
    # the intake's error verdict for the bad file is found by its detector
    at.number_input(key="f_score_min").set_value(None)
    at.selectbox(key="f_detector").set_value("intake")
    at.button(key="FormSubmitter:filters-Search").click().run()
    assert list(at.dataframe[0].value["asset_sha256"]) == [seed.bad]


def test_keyset_pagination_walks_every_verdict_once(
    seeded: tuple[Settings, Seeded], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("dashboard.page_search.PAGE_SIZE", 3)
    at = login(app(), "ivy")
    at.button(key="FormSubmitter:filters-Search").click().run()
    seen: list[int] = []
    while True:
        seen += list(at.dataframe[0].value["log_index"])
        nexts = [b for b in at.button if b.key == "page_next"]
        if not nexts:
            break
        nexts[0].click().run()
    registry = Registry.open(seeded[0])
    with registry.sessions() as session:
        every = list(
            session.scalars(select(VerdictRow.log_index).order_by(VerdictRow.log_index.desc()))
        )
    registry.close()
    assert seen == every  # the log also holds signed sightings, which are not verdicts


def test_asset_page_shows_every_verdict_and_passes_integrity(
    seeded: tuple[Settings, Seeded],
) -> None:
    _, seed = seeded
    at = login(app(), "ivy")
    at.text_input(key="search_sha").input(seed.rescanned[:10]).run()
    at.button(key=f"open_sha_{seed.rescanned}").click().run()
    assert not at.exception
    assert at.sidebar.radio(key="page").value == "Asset"
    page = texts(at)
    assert "PASS" in page and "FAIL" not in page
    assert "#### `file-facts`" in page and "#### `synthetic`" in page
    # both versions of the re-scanned detector, side by side
    assert "**v**`1.0` · `sdxl` · POSITIVE" in page
    assert "**v**`2.0` · `not-found`" in page
    # evidence rendered readably: watermark bits with the p-value, C2PA state and actions
    assert "p-value 1e-09" in page
    assert "C2PA validation state" in page
    assert any("c2pa.created" in frame.value.to_string() for frame in at.dataframe)
    assert "10110011 10101100" in [c.value for c in at.code][-1]
    assert len(at.image) == 1, "thumbnail decoded through intake"


@pytest.mark.slow
def test_tampering_a_row_fails_the_integrity_check_on_the_page(
    seeded: tuple[Settings, Seeded],
) -> None:
    settings, seed = seeded
    assert settings.database_url is not None
    url = settings.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=False) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute(
            "UPDATE verdicts SET label = 'clean' WHERE asset_sha256 = %s AND detector = 'synthetic'"
            " AND version = '1.0'",
            (seed.rescanned,),
        )
        conn.commit()
    at = login(app(), "ivy")
    show_asset(at, seed.rescanned)
    errors = [e.value for e in at.error]
    assert any(e.startswith("FAIL — 1 of 3") for e in errors), errors
    assert ":red[✗ does not verify]" in texts(at)
    assert "differs from the signed record" in json.dumps(
        at.dataframe[0].value.to_dict(orient="records")
    )


@pytest.mark.slow
def test_audit_log_records_searches_and_views_for_admins_only(
    seeded: tuple[Settings, Seeded],
) -> None:
    settings, seed = seeded
    at = login(app(), "ivy")
    at.text_input(key="search_sha").input(seed.beta[0][:12]).run()
    at.selectbox(key="f_label").set_value("sdxl")
    at.button(key="FormSubmitter:filters-Search").click().run()
    at.button(key="filter_open").click().run()
    assert "Audit" not in at.sidebar.radio(key="page").options
    registry = Registry.open(settings)
    with registry.sessions() as session:
        entries = [e for e in reversed(audit_entries(session)) if not e.action.startswith("login_")]
    registry.close()
    assert [(e.username, e.action) for e in entries] == [
        ("ivy", "view_recent"),
        ("ivy", "search_sha256"),
        ("ivy", "search_filters"),
        ("ivy", "view_asset"),
    ]
    assert entries[0].query == {"positive_only": True, "limit": 50}
    assert entries[1].query == {"prefix": seed.beta[0][:12]}
    assert entries[2].query["label"] == "sdxl"
    assert entries[3].query["sha256"] in {seed.rescanned, seed.beta[0]}
    admin = open_page(login(app(), "ada"), "Audit")
    assert not admin.exception
    shown = admin.dataframe[0].value
    # ada's own, newest first: she landed on Recent, then opened the Audit page
    assert list(shown["action"])[:3] == ["view_audit", "view_recent", "login_success"]
    assert list(shown["user"])[3:7] == ["ivy", "ivy", "ivy", "ivy"]
    assert "search_filters" in set(shown["action"])


@pytest.mark.slow
def test_image_search_finds_exact_matches_and_shows_hostile_uploads_as_errors(
    seeded: tuple[Settings, Seeded],
) -> None:
    _, seed = seeded
    sha = seed.beta[1]
    at = login(app(), "ivy")
    at.file_uploader(key="search_upload").set_value(
        ("query.png", seed.files[sha].read_bytes(), "image/png")
    ).run()
    assert not at.exception
    assert any("Exact match" in s.value for s in at.success)
    assert len(at.image) == 1
    at.button(key="image_open").click().run()
    assert at.text_input(key="asset_sha").value == sha
    hostile = ("bomb.png", bomb_png(), "image/png")
    at = login(app(), "ivy")
    at.file_uploader(key="search_upload").set_value(hostile).run()
    assert not at.exception
    assert any("decompression-bomb" in e.value or "too-large" in e.value for e in at.error), [
        e.value for e in at.error
    ]


@pytest.mark.slow
def test_evidence_bundle_verifies_with_its_standalone_script(
    seeded: tuple[Settings, Seeded], tmp_path: Path
) -> None:
    _, seed = seeded
    at = login(app(), "ivy")
    show_asset(at, seed.rescanned)
    at.button(key="prepare_bundle").click().run()
    assert not at.exception
    assert at.download_button(key="download_bundle")
    data = at.session_state[f"bundle_{seed.rescanned}"]
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        names = set(bundle.namelist())
        bundle.extractall(tmp_path / "bundle")
    assert {"README.md", "standalone_verify.py", "manifest.json", "checkpoint.txt"} <= names
    assert sum(n.startswith("verdicts/") for n in names) == 3
    assert sum(n.startswith("sightings/") for n in names) == 1  # its signed ingest sighting
    result = subprocess.run(
        [sys.executable, "standalone_verify.py", "."],
        cwd=tmp_path / "bundle",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("OK   proofs/") == 4


@pytest.mark.slow
def test_pages_stay_behind_the_login_and_the_role(seeded: tuple[Settings, Seeded]) -> None:
    _, seed = seeded
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["page"] = "Asset"
    at.session_state["asset_sha"] = seed.rescanned
    at.run()
    assert at.text_input(key="login_password")
    assert not at.code and not at.dataframe, "nothing but the login form before sign-in"
    viewer = login(at, "vic")
    assert viewer.sidebar.radio(key="page").value == "Overview"
    assert not any(s.value == "Integrity" for s in viewer.subheader)


@pytest.mark.slow
def test_image_search_lists_copy_candidates_from_the_banks(
    seeded: tuple[Settings, Seeded], tmp_path: Path
) -> None:
    from PIL import Image, ImageOps
    from skimage import data as skdata

    from registry.banks.ops import add_files

    settings, _ = seeded
    reference = tmp_path / "flagged.png"
    Image.fromarray(skdata.astronaut()).save(reference)
    registry = Registry.open(settings)
    try:
        outcomes = list(
            add_files(registry, "flagged", [reference], added_by="ivy", reason="known abuse image")
        )
    finally:
        registry.close()
    assert [o.status for o in outcomes] == ["added"]
    mirrored = io.BytesIO()
    ImageOps.mirror(Image.open(reference)).convert("RGB").save(mirrored, "JPEG", quality=60)

    at = login(app(), "ivy")
    at.file_uploader(key="search_upload").set_value(
        ("suspect.jpg", mirrored.getvalue(), "image/jpeg")
    ).run()
    assert not at.exception
    page = texts(at)
    assert "Copy-detection candidates" in [h.value for h in at.subheader]
    assert "**COPY**" in page and "bank `flagged`" in page, page
    assert "known abuse image" in page
    assert len(at.image) == 2  # the upload and the reference's thumbnail
