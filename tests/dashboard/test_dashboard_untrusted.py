"""Untrusted text is text: payloads planted in real files (A1111 text, PNG comments, a signed
C2PA manifest, the file name, the ingest source) are shown as plain text, never as Markdown
or HTML. AppTest checks every rendered element; headless Chromium checks that the browser
fetches nothing from the planted URL and shows no link to it."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.untrusted import ident, plain
from registry.app import Registry
from registry.auth.accounts import add_user
from registry.settings import Settings
from tests.dashboard.dashboard_payloads import FILE_NAME, Planted, ingest_payloads, planted_url

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
DETECTORS = "file-facts,metadata,c2pa"
PASSWORD = "investigator-pw"
MARKUP = (
    "markdown",
    "caption",
    "error",
    "info",
    "warning",
    "success",
    "title",
    "header",
    "subheader",
)


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def listener() -> Iterator[tuple[int, list[str]]]:
    """A tiny HTTP server on 127.0.0.1 that records every request (the uploader's pixel)."""
    hits: list[str] = []
    handler = type("Recorder", (_Recorder,), {"hits": hits})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1]), hits
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def planted(
    provreg_env: dict[str, str],
    tmp_path: Path,
    listener: tuple[int, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[dict[str, str], Planted, int, list[str]]]:
    env = {**provreg_env, "PROVREG_DETECTORS": DETECTORS}
    for key, value in env.items():
        if key.startswith("PROVREG_"):
            monkeypatch.setenv(key, value)
    monkeypatch.delenv("PROVREG_DASHBOARD_DATABASE_URL", raising=False)
    settings = Settings.from_env(env)
    port, hits = listener
    files = ingest_payloads(settings, tmp_path / "uploads", port)
    registry = Registry.open(settings)
    with registry.sessions.begin() as session:
        add_user(session, "ivy", PASSWORD, "investigator")
    registry.close()
    yield env, files, port, hits


def test_helpers_strip_controls_and_keep_identifiers_inert() -> None:
    assert plain("a\u202eb\x00c\nd") == "a\ufffdb\ufffdc\nd"
    assert plain("x" * 3000).endswith("(3000 chars)")
    assert ident("sdxl-1.0") == "`sdxl-1.0`"
    assert ident("[x](javascript:alert(1))`") == "`?x??javascript?alert?1???`"
    assert ident("") == "`-`"


def _markup(at: AppTest) -> str:
    parts = [str(getattr(e, "value", "")) for kind in MARKUP for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    return "\n".join(parts)


def _as_text(at: AppTest) -> str:
    parts = [str(e.value) for e in at.text] + [str(e.value) for e in at.code]
    parts += [e.value.to_string() for e in at.dataframe]
    return "\n".join(parts)


def test_payloads_render_as_plain_text_on_the_asset_page(
    planted: tuple[dict[str, str], Planted, int, list[str]],
) -> None:
    _, files, port, _ = planted
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.text_input(key="login_user").input("ivy")
    at.text_input(key="login_password").input(PASSWORD)
    at.button[0].click().run()
    shown: list[str] = []
    for sha in (files.metadata, files.c2pa):
        at.session_state["page"] = "Asset"
        at.session_state["asset_sha"] = sha
        at.run()
        assert not at.exception
        markup, text = _markup(at), _as_text(at)
        host = f"127.0.0.1:{port}"
        for marker in (host, "javascript:", "<img", "<a ", "](", "pixel.png"):
            assert marker not in markup, f"{marker!r} reached a Markdown element on {sha[:8]}"
        # ...yet the investigator still sees what the file said, as text.
        assert planted_url(port) in text
        assert "javascript:alert(document.cookie)" in text
        shown.append(text)
    assert FILE_NAME in shown[0]  # the hostile file name, in the sightings, as text


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.slow  # headless Chromium, ~1 min
@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_browser_fetches_nothing_and_links_nothing_from_a_file(
    planted: tuple[dict[str, str], Planted, int, list[str]],
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    from tests.dashboard.test_dashboard_browser import CHROME_ARGS, _nav, dashboard_server

    env, files, port, hits = planted
    host = f"127.0.0.1:{port}"
    with dashboard_server(env, tmp_path) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROME_ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 2400}).new_page()
        page.set_default_timeout(60_000)
        page.goto(url)
        page.get_by_role("textbox", name="User name").fill("ivy")
        page.get_by_role("textbox", name="Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("ivy (investigator)")).to_be_visible(timeout=60_000)
        _nav(page, "Search")  # investigators land on "Recent positives"
        page.get_by_role("tab", name="By image").click()
        page.locator('input[type="file"]').set_input_files(str(files.named))
        expect(page.get_by_text("Exact match", exact=False)).to_be_visible(timeout=60_000)
        for sha in (files.metadata, files.c2pa):
            page.get_by_test_id("stRadioGroup").get_by_text("Asset", exact=True).click()
            page.get_by_role("textbox", name="sha256").fill(sha)
            page.keyboard.press("Enter")
            expect(page.locator('[data-testid="stCode"]').filter(has_text=sha).first).to_be_visible(
                timeout=60_000
            )
            expect(page.get_by_text("PASS — all", exact=False).first).to_be_visible(timeout=60_000)
            for summary in page.locator('[data-testid="stExpander"] summary').all():
                summary.click()
            # Shown (as text in the page, and in data grid cells drawn on a canvas)...
            expect(page.get_by_text(planted_url(port), exact=False).first).to_be_attached(
                timeout=60_000
            )
            page.wait_for_timeout(2000)  # give any planted image time to be requested
            page.screenshot(path=tmp_path / f"asset-{sha[:8]}.png", full_page=True)
            assert page.locator(f'a[href*="{host}"]').count() == 0
            assert page.locator('a[href^="javascript:"]').count() == 0
            assert page.locator(f'img[src*="{host}"]').count() == 0
        browser.close()
    assert hits == [], f"the browser fetched the planted URL: {hits}"
