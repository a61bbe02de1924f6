"""End to end in a real browser: `provreg dashboard` served on 127.0.0.1, driven by Playwright
in Debian's headless Chromium. Log in, search by uploaded image, open the asset, download the
evidence bundle and check it with the bundle's own standalone script. Screenshots of every page
go to the test's temporary folder, or to docs/screenshots/ with ``PROVREG_UPDATE_SCREENSHOTS=1``
(so a plain test run leaves the checkout clean)."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.app import Registry
from registry.auth.accounts import audit_entries
from registry.settings import Settings
from tests.dashboard_helpers import PASSWORDS, Seeded, seed_copy, seed_registry

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
DOC_SHOTS = REPO / "docs" / "screenshots"
CHROME_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.slow,  # headless Chromium, ~40 s
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium "
        "(apt-get install chromium; .ci/run installs it)",
    ),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"provreg dashboard exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError("dashboard did not become healthy")


@contextlib.contextmanager
def dashboard_server(env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """`provreg dashboard` on a free local port; yields its URL, stops it afterwards."""
    port = _free_port()
    log = (tmp_path / "dashboard.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "registry", "dashboard", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture
def served(
    provreg_env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[str, Seeded, Path, Settings, str]]:
    env = {**provreg_env, "PROVREG_DETECTORS": "file-facts"}
    settings = Settings.from_env(env)
    seed = seed_registry(settings, tmp_path / "media")
    crop, _reference = seed_copy(settings, tmp_path / "media" / "copy")
    with dashboard_server(env, tmp_path) as url:
        yield url, seed, tmp_path, settings, crop


def _login(page: object, url: str, user: str) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto(url)
    page.get_by_role("textbox", name="User name").fill(user)
    page.get_by_role("textbox", name="Password").fill(PASSWORDS[user])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"{user} (", exact=False).first).to_be_visible(timeout=60_000)


def _settle(page: object, extra_ms: int = 1500) -> None:
    """Wait until the script run is over (no "Running" widget), then for drawing."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
    )
    page.wait_for_timeout(extra_ms)
    # The main column scrolls inside the page: start every screenshot at its top.
    page.evaluate("document.querySelector('[data-testid=\"stMain\"]')?.scrollTo(0, 0)")
    page.wait_for_timeout(300)


def _nav(page: object, name: str) -> None:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    page.get_by_test_id("stSidebar").get_by_text(name, exact=True).click()


def test_investigator_flow_in_chromium(
    served: tuple[str, Seeded, Path, Settings, str],
) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, seed, tmp, settings, crop = served
    shots = DOC_SHOTS if os.environ.get("PROVREG_UPDATE_SCREENSHOTS") == "1" else tmp / "shots"
    shots.mkdir(parents=True, exist_ok=True)
    sha = seed.rescanned  # judged by two versions of one detector: shown side by side
    expect.set_options(timeout=60_000)  # two shared CPUs: pages can take seconds to draw
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROME_ARGS)
        context = browser.new_context(
            viewport={"width": 1400, "height": 1600}, accept_downloads=True
        )
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(url)
        expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=60_000)
        page.screenshot(path=shots / "login.png")
        _login(page, url, "ivy")

        # Landing page: recent positives, with thumbnails; export them as CSV (audited).
        expect(page.get_by_role("heading", name="Recent positives")).to_be_visible()
        grid = page.locator('[data-testid="stDataFrame"]').first
        expect(grid).to_be_visible()
        _settle(page, 2500)  # the data grid draws on a canvas after it mounts
        page.screenshot(path=shots / "recent.png", full_page=True)
        with page.expect_download() as csv_info:
            page.get_by_role("button", name="Download CSV (3 rows)").click()
        exported = tmp / "recent.csv"
        csv_info.value.save_as(exported)
        assert exported.read_text().splitlines()[0].startswith("log_index,asset_sha256,")
        # A click on a row (its marker cell, left of the thumbnail) opens that asset.
        box = grid.bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + 12, box["y"] + 36 + 28)
        expect(page.get_by_text(re.compile("^PASS — "))).to_be_visible()
        expect(page).to_have_url(re.compile(r"\?asset=[0-9a-f]{64}$"))  # a shareable address

        _nav(page, "Search")
        expect(page.get_by_role("textbox", name="sha256 or hex prefix")).to_be_visible()
        page.get_by_role("textbox", name="sha256 or hex prefix").fill(sha[:8])
        page.keyboard.press("Enter")
        expect(page.get_by_role("button", name="Open").first).to_be_visible()
        _settle(page)
        page.screenshot(path=shots / "search-sha256.png", full_page=True)

        page.get_by_role("tab", name="By filters").click()
        page.get_by_role("button", name="Search", exact=True).click()
        expect(page.get_by_text("Page 1:", exact=False)).to_be_visible()
        expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible()
        _settle(page, 2500)
        page.screenshot(path=shots / "search-filters.png", full_page=True)

        page.get_by_role("tab", name="By image").click()
        page.locator('input[type="file"]').set_input_files(str(seed.files[sha]))
        expect(page.get_by_text("Exact match", exact=False)).to_be_visible()
        _settle(page)
        page.screenshot(path=shots / "search-image.png", full_page=True)

        page.get_by_role("button", name="Open asset").last.click()
        expect(page.get_by_text(re.compile("^PASS — "))).to_be_visible()
        page.get_by_role("button", name="Prepare evidence bundle").click()
        download_button = page.get_by_role("button", name="Download evidence bundle (.zip)")
        expect(download_button).to_be_visible()
        page.set_viewport_size({"width": 1400, "height": 2600})
        _settle(page)
        page.screenshot(path=shots / "asset.png", full_page=True)
        page.set_viewport_size({"width": 1400, "height": 1600})
        with page.expect_download() as download_info:
            download_button.click()
        bundle = tmp / "bundle.zip"
        download_info.value.save_as(bundle)

        page.set_viewport_size({"width": 1400, "height": 2000})
        _nav(page, "Overview")
        expect(page.get_by_text("Verdicts per day", exact=False)).to_be_visible()
        _settle(page, 2500)  # let Vega finish drawing before the screenshot
        page.screenshot(path=shots / "overview.png", full_page=True)

        # A link to the copy asset opens it after sign-in, with the evidence side by side.
        linked = browser.new_context(viewport={"width": 1400, "height": 2400}).new_page()
        linked.set_default_timeout(60_000)
        _login(linked, f"{url}/?asset={crop}", "ivy")
        expect(linked.get_by_text("geometric verification found", exact=False)).to_be_visible()
        expect(
            linked.get_by_text("Query (left) and reference (right)", exact=False)
        ).to_be_visible()
        _settle(linked, 2500)
        linked.screenshot(path=shots / "asset-copy.png", full_page=True)

        admin = browser.new_context(viewport={"width": 1400, "height": 1200}).new_page()
        admin.set_default_timeout(60_000)
        _login(admin, url, "ada")
        _nav(admin, "Audit")
        expect(admin.get_by_text("Audit log", exact=True)).to_be_visible()
        _settle(admin)
        admin.screenshot(path=shots / "audit.png", full_page=True)
        browser.close()

    registry = Registry.open(settings)
    try:
        with registry.sessions() as session:
            exports = [e for e in audit_entries(session) if e.action == "export_csv"]
    finally:
        registry.close()
    assert [(e.username, e.query["rows"], e.query["list"]) for e in exports] == [
        ("ivy", 3, "recent-positives")
    ]

    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(tmp / "bundle")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVREG_")}
    result = subprocess.run(
        [sys.executable, "standalone_verify.py", "."],
        cwd=tmp / "bundle",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # file-facts and two synthetic versions, and the asset's signed ingest sighting
    assert result.stdout.count("OK   proofs/") == 4
