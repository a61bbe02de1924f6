"""Ingest keeps media in the store; legal deletion is audited and leaves the ledger verifiable."""

from __future__ import annotations

import hashlib
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from detectors.testing.copy_fixtures import save_image, textured
from registry.media import read_media, read_thumbnail
from registry.settings import Settings
from tests.registry.test_cli import json_lines, provreg


def _env(provreg_env: dict[str, str]) -> dict[str, str]:
    return {**provreg_env, "PROVREG_DETECTORS": "file-facts", "PROVREG_EXECUTOR": "inline"}


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as conn:
        return list(conn.execute(sql).fetchall())  # type: ignore[arg-type]


@pytest.mark.slow
def test_ingest_stores_originals_and_thumbnails(
    provreg_env: dict[str, str], tmp_path: Path
) -> None:
    env = _env(provreg_env)
    folder = tmp_path / "uploads"
    files = [save_image(textured(i, (200, 150)), folder / f"img{i}.png") for i in range(3)]
    (folder / "notes.txt").write_bytes(b"not an image")
    lines = json_lines(provreg(env, "ingest", str(folder), "--json").stdout)
    settings = Settings.from_env(env)
    for path in files:
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        assert read_media(settings, sha) == path.read_bytes()
        thumb = read_thumbnail(settings, sha)
        assert thumb is not None and thumb[:2] == b"\xff\xd8"  # a JPEG
    text_sha = next(line["sha256"] for line in lines if line["path"].endswith("notes.txt"))
    assert read_media(settings, text_sha) == b"not an image"  # kept as evidence, no thumbnail
    assert read_thumbnail(settings, text_sha) is None
    stats = {s["kind"]: s for s in json_lines(provreg(env, "media", "stats", "--json").stdout)}
    assert stats["original"]["stored"] == 4 and stats["thumbnail"]["stored"] == 3


def test_thumbnail_only_policy_for_a_source(provreg_env: dict[str, str], tmp_path: Path) -> None:
    env = _env(provreg_env)
    Path(env["PROVREG_HOME"], "config.toml").write_text(
        '[media.sources.partner]\nkeep = "thumbnail"\n'
    )
    path = save_image(textured(9, (200, 150)), tmp_path / "in" / "a.png")
    provreg(env, "ingest", str(path.parent), "--source", "partner")
    settings = Settings.from_env(env)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert read_media(settings, sha) is None and read_thumbnail(settings, sha) is not None


@pytest.mark.slow
def test_legal_deletion_is_audited_and_the_ledger_still_verifies(
    provreg_env: dict[str, str], tmp_path: Path
) -> None:
    env = _env(provreg_env)
    path = save_image(textured(4, (200, 150)), tmp_path / "in" / "a.png")
    provreg(env, "ingest", str(path.parent))
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    settings = Settings.from_env(env)
    assert read_media(settings, sha) is not None

    out = provreg(env, "media", "delete", sha, "--reason", "court order 123", "--by", "legal")
    assert "2 object(s) removed" in out.stdout
    assert read_media(settings, sha) is None and read_thumbnail(settings, sha) is None
    assert provreg(env, "verify").returncode == 0
    url = env["PROVREG_DATABASE_URL"]
    ((username, _action, query),) = _rows(
        url, "SELECT username, action, query FROM audit_log WHERE action = 'media_deleted'"
    )
    assert username == "legal" and query == {
        "sha256": sha,
        "reason": "court order 123",
        "objects": 2,
        "drop_hash": False,
    }
    assert _rows(
        url,
        "SELECT count(*) FROM media_objects WHERE deleted_at IS NOT NULL "
        "AND deleted_reason = 'court order 123'",
    ) == [(2,)]

    provreg(env, "ingest", str(path.parent))  # the same bytes again: not stored again
    assert read_media(settings, sha) is None
    assert provreg(env, "verify").returncode == 0
    assert provreg(env, "media", "delete", "0" * 64, "--reason", "x", check=False).returncode == 2
