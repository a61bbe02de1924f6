"""End to end through the real `provreg` command line, against a real PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from registry.testing.badfiles import make_bad_files, make_good_files, noise

REPO = Path(__file__).resolve().parents[2]


def provreg(
    env: dict[str, str], *args: str, check: bool = True, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "registry", *args],
        env=env,
        cwd=REPO,
        text=True,
        capture_output=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"provreg {args} exited {result.returncode}:\n{result.stderr}")
    return result


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def env(provreg_env: dict[str, str]) -> dict[str, str]:
    return {**provreg_env, "PROVREG_DETECTORS": "file-facts", "PROVREG_EXECUTOR": "inline"}


def test_bad_inputs_give_error_lines_and_good_files_go_on(
    env: dict[str, str], tmp_path: Path
) -> None:
    uploads = tmp_path / "uploads"
    bad = make_bad_files(uploads / "bad", 100)
    good = make_good_files(uploads / "good", 12)
    result = provreg(env, "ingest", str(uploads), "--json", "--source", "test-upload")
    lines = {line["path"]: line for line in json_lines(result.stdout)}
    assert len(lines) == 112
    for path, reason in bad.items():
        line = lines[str(path)]
        assert line["status"] == "error", line
        assert line["error"] == reason, (path.name, line["error"], line["error_detail"])
        (verdict,) = line["verdicts"]
        assert verdict["detector"] == "intake" and verdict["error"] == reason
        assert isinstance(verdict["log_index"], int) and verdict["signature"]
    for path, media_type in good.items():
        line = lines[str(path)]
        assert line["status"] == "ok" and line["error"] is None
        (verdict,) = line["verdicts"]
        assert verdict["detector"] == "file-facts"
        assert verdict["evidence"]["media_type"] == media_type
        for key in ("version", "label", "positive", "score", "p_value", "key_id"):
            assert key in verdict
    provreg(env, "verify")


@pytest.mark.slow
def test_ingest_show_verify_proof_rotate_tamper(env: dict[str, str], tmp_path: Path) -> None:
    make_good_files(tmp_path / "in", 6)
    provreg(env, "init")
    first = json_lines(provreg(env, "ingest", str(tmp_path / "in"), "--json").stdout)
    indexes = sorted(v["log_index"] for line in first for v in line["verdicts"])
    assert indexes == list(range(6))

    again = json_lines(provreg(env, "ingest", str(tmp_path / "in"), "--json").stdout)
    assert sorted(v["log_index"] for line in again for v in line["verdicts"]) == indexes

    sha = first[0]["sha256"]
    shown = json_lines(provreg(env, "show", sha[:12], "--json").stdout)[0]
    assert shown["sha256"] == sha and len(shown["sightings"]) == 2
    assert [v["detector"] for v in shown["verdicts"]] == ["file-facts"]

    ok = json_lines(provreg(env, "verify", "--json").stdout)[0]
    assert ok["ok"] and ok["tree_size"] == 6 + 12  # verdicts, then a signed sighting per file
    assert all(s["log_index"] >= 6 for s in shown["sightings"])

    bundle = tmp_path / "proof.json"
    provreg(env, "proof", "4", "--out", str(bundle))
    checked = subprocess.run(
        [sys.executable, str(REPO / "registry" / "ledger" / "standalone_verify.py"), str(bundle)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

    old_key = json_lines(provreg(env, "keys", "list", "--json").stdout)[0]["key_id"]
    provreg(env, "keys", "rotate")
    (tmp_path / "more").mkdir()
    for seed in range(3):
        noise(500 + seed, (64, 48)).save(tmp_path / "more" / f"new-{seed}.png")
    provreg(env, "ingest", str(tmp_path / "more"))
    keys = json_lines(provreg(env, "keys", "list", "--json").stdout)
    assert [k["active"] for k in keys] == [False, True] and keys[0]["key_id"] == old_key
    assert json_lines(provreg(env, "verify", "--json").stdout)[0]["tree_size"] == 18 + 3 + 3

    url = env["PROVREG_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("UPDATE verdicts SET label = 'sdxl' WHERE log_index = 2")
    tampered = provreg(env, "verify", "--json", check=False)
    assert tampered.returncode == 1
    report = json_lines(tampered.stdout)[0]
    assert report["ok"] is False and report["first_bad_index"] == 2
    assert "label" in report["reason"]
    plain = provreg(env, "verify", check=False)
    assert plain.returncode == 1 and "log index 2" in plain.stderr


@pytest.mark.slow
def test_unknown_asset_and_bad_path_exit_2(env: dict[str, str], tmp_path: Path) -> None:
    provreg(env, "init")
    assert provreg(env, "show", "ab" * 32, check=False).returncode == 2
    assert provreg(env, "ingest", str(tmp_path / "missing"), check=False).returncode == 2


@pytest.mark.slow
def test_nul_characters_in_embedded_metadata_do_not_sink_the_batch(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A PNG whose A1111 parameters and iTXt carry U+0000 (which PostgreSQL text and jsonb
    refuse) is judged and logged like any other; the NUL is stored as U+FFFD."""
    from PIL import Image, PngImagePlugin

    uploads = tmp_path / "uploads"
    uploads.mkdir()
    info = PngImagePlugin.PngInfo()
    info.add_text(
        "parameters",
        "a cat\x00 in a hat\nSteps: 20, Sampler: Euler a, "
        "CFG scale: 7, Seed: 1, Size: 64x64, Model: x\x00",
    )
    info.add_itxt("Description", "hello\x00world")
    Image.new("RGB", (64, 64), (10, 200, 30)).save(uploads / "nul.png", pnginfo=info)
    Image.new("RGB", (64, 64), (1, 2, 3)).save(uploads / "plain.png")
    metadata_env = {**env, "PROVREG_DETECTORS": "file-facts,metadata"}
    lines = json_lines(provreg(metadata_env, "ingest", str(uploads), "--json").stdout)
    assert [line["status"] for line in lines] == ["ok", "ok"]
    assert all(len(line["verdicts"]) == 2 for line in lines)
    provreg(metadata_env, "verify")
    with psycopg.connect(env["PROVREG_DATABASE_URL"].replace("+psycopg", "")) as conn:
        row = conn.execute(
            "SELECT label, evidence::text FROM verdicts WHERE detector = 'metadata' AND positive"
        ).fetchone()
    assert row is not None and row[0] == "a1111"
    assert "a cat\ufffd in a hat" in row[1] and "\\u0000" not in row[1]
