"""End to end in a real browser: `provreg dashboard` served on 127.0.0.1, driven by Playwright
in Debian's headless Chromium. Log in, search by uploaded image, open the asset, download the
evidence bundle and check it with the bundle's own standalone script. Screenshots of every page
go to the test's temporary folder, or to docs/screenshots/ with ``PROVREG_UPDATE_SCREENSHOTS=1``
(so a plain test run leaves the checkout clean)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.settings import Settings
from tests.dashboard_helpers import PASSWORDS, Seeded, seed_registry

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
DOC_SHOTS = REPO / "docs" / "screenshots"
CHROME_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="needs Debian's chromium at /usr/bin/chromium "
                              "(apt-get install chromium; .ci/run installs it)"),
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
        [sys.executable, "-m", "registry", "dashboard", "--host", "127.0.0.1",
         "--port", str(port)],
        env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
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
) -> Iterator[tuple[str, Seeded, Path]]:
    env = {**provreg_env, "PROVREG_DETECTORS": "file-facts"}
    seed = seed_registry(Settings.from_env(env), tmp_path / "media")
    with dashboard_server(env, tmp_path) as url:
        yield url, seed, tmp_path


def _login(page: object, url: str, user: str) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto(url)
    page.get_by_role("textbox", name="User name").fill(user)
    page.get_by_role("textbox", name="Password").fill(PASSWORDS[user])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"{user} (", exact=False).first).to_be_visible(timeout=60_000)


def test_investigator_flow_in_chromium(served: tuple[str, Seeded, Path]) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, seed, tmp = served
    shots = DOC_SHOTS if os.environ.get("PROVREG_UPDATE_SCREENSHOTS") == "1" else tmp / "shots"
    shots.mkdir(parents=True, exist_ok=True)
    sha = seed.rescanned  # judged by two versions of one detector: shown side by side
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROME_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1600},
                                      accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(url)
        expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=60_000)
        page.screenshot(path=shots / "login.png")
        _login(page, url, "ivy")

        page.get_by_role("textbox", name="sha256 or hex prefix").fill(sha[:8])
        page.keyboard.press("Enter")
        expect(page.get_by_role("button", name="Open").first).to_be_visible()
        page.screenshot(path=shots / "search-sha256.png", full_page=True)

        page.get_by_role("tab", name="By filters").click()
        page.get_by_role("button", name="Search", exact=True).click()
        expect(page.get_by_text("Page 1:", exact=False)).to_be_visible()
        expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible()
        page.wait_for_timeout(2000)  # the data grid draws on a canvas after it mounts
        page.screenshot(path=shots / "search-filters.png", full_page=True)

        page.get_by_role("tab", name="By image").click()
        page.locator('input[type="file"]').set_input_files(str(seed.files[sha]))
        expect(page.get_by_text("Exact match", exact=False)).to_be_visible()
        page.screenshot(path=shots / "search-image.png", full_page=True)

        page.get_by_role("button", name="Open asset").last.click()
        expect(page.get_by_text("PASS —", exact=False)).to_be_visible()
        page.get_by_role("button", name="Prepare evidence bundle").click()
        download_button = page.get_by_role("button", name="Download evidence bundle (.zip)")
        expect(download_button).to_be_visible()
        page.set_viewport_size({"width": 1400, "height": 2600})
        page.wait_for_timeout(1500)
        page.screenshot(path=shots / "asset.png", full_page=True)
        page.set_viewport_size({"width": 1400, "height": 1600})
        with page.expect_download() as download_info:
            download_button.click()
        bundle = tmp / "bundle.zip"
        download_info.value.save_as(bundle)

        page.get_by_text("Overview", exact=True).click()
        expect(page.get_by_text("Verdicts per day", exact=False)).to_be_visible()
        page.wait_for_timeout(1500)  # let Vega finish drawing before the screenshot
        page.screenshot(path=shots / "overview.png", full_page=True)

        admin = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        admin.set_default_timeout(60_000)
        _login(admin, url, "ada")
        admin.get_by_text("Audit", exact=True).click()
        expect(admin.get_by_text("Audit log", exact=True)).to_be_visible()
        admin.wait_for_timeout(1000)
        admin.screenshot(path=shots / "audit.png", full_page=True)
        browser.close()

    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(tmp / "bundle")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVREG_")}
    result = subprocess.run(
        [sys.executable, "standalone_verify.py", "."], cwd=tmp / "bundle", env=env,
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # file-facts and two synthetic versions, and the asset's signed ingest sighting
    assert result.stdout.count("OK   proofs/") == 4
