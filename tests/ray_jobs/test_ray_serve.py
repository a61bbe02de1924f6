"""Online ingestion on Ray Serve, over real HTTP on localhost: concurrent uploads to two
replicas come back signed, the log stays gap-free, a repeated upload is not logged twice,
bad bytes get an error verdict and an oversized body is refused before it is read."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ray_jobs import serve as endpoint
from registry.app import Registry
from registry.db.models import Sighting
from registry.intake.pipeline import IntakeLimits
from registry.ledger.verify import verify_ledger
from registry.media import read_media, read_thumbnail
from registry.settings import Settings
from tests.ray_fixtures import REPO, make_images, ray_address

pytestmark = pytest.mark.slow  # starts Ray or runs the CLI end to end

__all__ = ["ray_address"]

MAX_BYTES = 100_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(
    ray_address: str, tmp_path: Path, fresh_database_url: str
) -> Iterator[tuple[str, Settings]]:
    settings = Settings(
        home=tmp_path / "home",
        database_url=fresh_database_url,
        limits=IntakeLimits(max_bytes=MAX_BYTES),
    )
    Registry.open(settings)  # makes the signing key before the replicas share it
    url = endpoint.start(
        settings, ["file-facts"], host="127.0.0.1", port=_free_port(), replicas=2, num_cpus=0.25
    )
    try:
        yield url, settings
    finally:
        endpoint.stop()


def _post(
    url: str, data: bytes, name: str, source: str = "upload-api"
) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(f"{url}?name={name}&source={source}", data=data, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_uploads_over_http_are_judged_signed_and_logged_once(
    served: tuple[str, Settings], tmp_path: Path
) -> None:
    url, settings = served
    images = [p.read_bytes() for p in make_images(tmp_path / "img", 6, seed=3)]
    uploads = [(data, f"img{i}.png") for i, data in enumerate(images)]
    uploads += [(images[0], "again.png"), (images[1], "again.png"), (b"\x00junk" * 10, "x.png")]
    with ThreadPoolExecutor(len(uploads)) as pool:
        answers = list(pool.map(lambda u: _post(url, *u), uploads))

    assert all(status == 200 for status, _ in answers)
    for (data, _), (_, body) in zip(uploads[:8], answers[:8], strict=True):
        assert body["status"] == "ok" and body["sha256"] == hashlib.sha256(data).hexdigest()
        (verdict,) = body["verdicts"]
        assert verdict["detector"] == "file-facts" and verdict["signature"]
    _, junk = answers[8]
    assert junk["status"] == "error" and junk["error"] == "not-an-image"
    assert junk["verdicts"][0]["detector"] == "intake"
    index_of = {}
    for (data, _), (_, body) in zip(uploads, answers, strict=True):
        index_of.setdefault(data, set()).add(body["verdicts"][0]["log_index"])
    assert all(len(indexes) == 1 for indexes in index_of.values())  # repeats: same entry
    verdict_indexes = {i for indexes in index_of.values() for i in indexes}
    assert len(verdict_indexes) == 7

    registry = Registry.open(settings)
    with registry.sessions() as session:
        report = verify_ledger(session, registry.verifier(), registry.checkpoint_vkeys())
        signed_sightings = set(session.scalars(select(Sighting.log_index)))
    # 7 verdicts and a signed sighting per readable upload (9), together the whole log
    assert report.tree_size == 7 + 9 and len(signed_sightings) == 9
    assert verdict_indexes | signed_sightings == set(range(16))
    # uploads are kept in the media store: bytes and a thumbnail for every image (issue #16)
    for data in images:
        sha = hashlib.sha256(data).hexdigest()
        assert read_media(settings, sha) == data and read_thumbnail(settings, sha) is not None


def test_uploads_batched_together_keep_their_own_source(
    served: tuple[str, Settings], tmp_path: Path
) -> None:
    url, settings = served
    images = [p.read_bytes() for p in make_images(tmp_path / "img", 8, seed=5)]
    sources = ["partner-a" if i % 2 else "partner-b" for i in range(len(images))]
    with ThreadPoolExecutor(len(images)) as pool:
        answers = list(
            pool.map(lambda i: _post(url, images[i], f"f{i}.png", sources[i]), range(len(images)))
        )
    assert [body["status"] for _, body in answers] == ["ok"] * len(images)
    registry = Registry.open(settings)
    with registry.sessions() as session:
        seen = dict(session.execute(select(Sighting.asset_sha256, Sighting.source)).all())
    assert seen == {
        hashlib.sha256(data).hexdigest(): source
        for data, source in zip(images, sources, strict=True)
    }


def test_an_oversized_body_is_refused_and_only_post_is_accepted(
    served: tuple[str, Settings],
) -> None:
    url, _ = served
    status, body = _post(url, b"\xff" * (MAX_BYTES + 1), "big.jpg")
    assert status == 413 and body["error"] == "too-large"
    try:
        urllib.request.urlopen(url, timeout=60)
        raise AssertionError("GET was accepted")
    except urllib.error.HTTPError as error:
        assert error.code == 405


def test_serve_is_a_provreg_subcommand(provreg_env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "registry", "serve", "--help"],
        env=provreg_env,
        cwd=REPO,
        text=True,
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "--replicas" in result.stdout and "--port" in result.stdout
