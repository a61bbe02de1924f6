"""``provreg rescan`` end to end: a re-scan killed halfway and resumed does every asset
exactly once, writes the new version beside the old, and reports the flipped assets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.ray_fixtures import REPO, make_images, ray_address, stage_plugins

pytestmark = pytest.mark.slow  # starts Ray or runs the CLI end to end

__all__ = ["ray_address"]

COUNT = 160


def provreg(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "registry", *args],
        env=env,
        cwd=REPO,
        text=True,
        capture_output=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, f"provreg {args} exited {result.returncode}:\n{result.stderr}"
    return result


def scalar(url: str, sql: str) -> int:
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as conn:
        row = conn.execute(sql).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return int(row[0])


@pytest.fixture
def envs(
    ray_address: str, provreg_env: dict[str, str], tmp_path: Path
) -> tuple[dict[str, str], dict[str, str]]:
    """Environments where ``slow-facts`` is version 1, then version 2."""
    base = {**provreg_env, "RAY_ADDRESS": ray_address, "PROVREG_EXECUTOR": "inline"}
    pythonpath = [str(REPO), base.get("PYTHONPATH", "")]
    v1 = stage_plugins(tmp_path / "v1", {"slow-facts": "tests.ray_jobs.ray_detectors:SlowFactsV1"})
    v2 = stage_plugins(tmp_path / "v2", {"slow-facts": "tests.ray_jobs.ray_detectors:SlowFactsV2"})
    return (
        {**base, "PYTHONPATH": os.pathsep.join([str(v1), *pythonpath])},
        {**base, "PYTHONPATH": os.pathsep.join([str(v2), *pythonpath])},
    )


def test_rescan_killed_halfway_then_resumed(
    envs: tuple[dict[str, str], dict[str, str]], tmp_path: Path
) -> None:
    env1, env2 = envs
    url = env1["PROVREG_DATABASE_URL"]
    make_images(tmp_path / "archive", COUNT, seed=7)
    provreg(env1, "ingest", str(tmp_path / "archive"), "--detector", "slow-facts")
    assert scalar(url, "SELECT count(*) FROM verdicts WHERE version = '1.0.0'") == COUNT

    (Path(env2["PROVREG_HOME"]) / "config.toml").write_text(
        "[detector_options.slow-facts]\nsleep_s = 0.04\n"
    )
    # Windows of 50 items: the kill and the resume both land across window boundaries.
    args = ["rescan", "--detector", "slow-facts", "--batch-size", "8", "--window", "50", "--json"]
    first = subprocess.Popen(
        [sys.executable, "-m", "registry", *args],
        env=env2,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    while scalar(url, "SELECT count(*) FROM rescan_progress") < COUNT // 3:
        assert first.poll() is None, first.stderr.read() if first.stderr else ""
        assert time.monotonic() < deadline, "re-scan made no progress"
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    done_before = scalar(url, "SELECT count(*) FROM rescan_progress")
    assert COUNT // 3 <= done_before < COUNT, "killed halfway, not at the end"
    assert scalar(url, "SELECT count(*) FROM verdicts WHERE version = '2.0.0'") == done_before

    resumed = json.loads(provreg(env2, *args, "--resume").stdout)
    assert resumed["skipped"] == done_before
    assert resumed["processed"] == COUNT - done_before  # nothing done twice
    assert resumed["verdicts_written"] == COUNT - done_before
    assert scalar(url, "SELECT count(*) FROM rescan_progress") == COUNT  # nothing skipped
    assert (
        scalar(url, "SELECT count(DISTINCT asset_sha256) FROM verdicts WHERE version = '2.0.0'")
        == COUNT
    )
    assert (
        scalar(url, "SELECT sum(files_ok + files_error) FROM ingest_runs WHERE kind = 'rescan'")
        == COUNT
    )
    # Old verdicts stay; the report lists exactly the assets version 2 flags.
    assert scalar(url, "SELECT count(*) FROM verdicts WHERE version = '1.0.0'") == COUNT
    flagged = scalar(url, "SELECT count(*) FROM assets WHERE left(sha256, 1) < '8'")
    assert resumed["compared"] == COUNT and resumed["changed"] == flagged
    assert resumed["newly_positive"] == flagged and resumed["no_longer_positive"] == 0
    assert all(
        c["sha256"][0] in "01234567" and c["after"]["label"] == "flagged"
        for c in resumed["changes"]
    )
    provreg(env2, "verify")

    status = json.loads(provreg(env2, "status", "--json").stdout)
    rescans = [r for r in status["runs"] if r["kind"] == "rescan"]
    assert [(r["done"], r["total"]) for r in rescans] == [
        (COUNT - done_before, COUNT - done_before),
        (done_before, COUNT),
    ]
    counts = {(d["detector"], d["version"]): d for d in status["detectors"]}
    assert counts[("slow-facts", "2.0.0")]["positive"] == flagged


def test_rescan_over_a_uri_source(
    envs: tuple[dict[str, str], dict[str, str]], tmp_path: Path
) -> None:
    _, env2 = envs
    folder = tmp_path / "bucket"
    make_images(folder, 12, seed=11)
    (folder / "notes.txt").write_text("not an image")
    report = json.loads(
        provreg(
            env2, "rescan", "--detector", "slow-facts", "--source", folder.as_uri(), "--json"
        ).stdout
    )
    assert report["total"] == 13 and report["processed"] == 13 and report["errors"] == 1
    url = env2["PROVREG_DATABASE_URL"]
    assert scalar(url, "SELECT count(*) FROM verdicts WHERE detector = 'slow-facts'") == 12
    assert scalar(url, "SELECT count(*) FROM assets WHERE location LIKE 'file://%'") == 13


def test_rescan_reads_the_media_store_not_the_moved_originals(
    envs: tuple[dict[str, str], dict[str, str]], tmp_path: Path
) -> None:
    env1, env2 = envs
    make_images(tmp_path / "archive", 4, seed=17)
    provreg(env1, "ingest", str(tmp_path / "archive"), "--detector", "slow-facts")
    (tmp_path / "archive").rename(tmp_path / "moved")  # the original folder is gone
    report = json.loads(provreg(env2, "rescan", "--detector", "slow-facts", "--json").stdout)
    assert report["processed"] == 4 and report["errors"] == 0
    url = env2["PROVREG_DATABASE_URL"]
    assert scalar(url, "SELECT count(*) FROM verdicts WHERE version = '2.0.0'") == 4
    provreg(env2, "verify")


def test_archive_file_whose_content_changed_is_reported_not_judged(
    envs: tuple[dict[str, str], dict[str, str]], tmp_path: Path
) -> None:
    env1, env2 = envs
    # Without the media store (which would serve the ingested bytes): the original paths.
    (Path(env1["PROVREG_HOME"]) / "config.toml").write_text('[media]\nkeep = "none"\n')
    files = make_images(tmp_path / "archive", 4, seed=13)
    provreg(env1, "ingest", str(tmp_path / "archive"), "--detector", "slow-facts")
    make_images(tmp_path / "other", 1, seed=99)[0].replace(files[1])  # same path, new bytes
    files[2].unlink()  # gone
    report = json.loads(provreg(env2, "rescan", "--detector", "slow-facts", "--json").stdout)
    assert report["processed"] == 4 and report["errors"] == 2
    url = env2["PROVREG_DATABASE_URL"]
    assert scalar(url, "SELECT count(*) FROM verdicts WHERE version = '2.0.0'") == 2
    assert scalar(url, "SELECT count(*) FROM rescan_progress WHERE status = 'changed'") == 1
    provreg(env2, "verify")


def test_cli_ingest_runs_on_ray_by_default(
    envs: tuple[dict[str, str], dict[str, str]], tmp_path: Path
) -> None:
    env1, _ = envs
    env = {k: v for k, v in env1.items() if k != "PROVREG_EXECUTOR"}  # the default: ray
    files = make_images(tmp_path / "in", 40, seed=21)
    (tmp_path / "in" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    lines = [
        json.loads(line)
        for line in provreg(
            env, "ingest", str(tmp_path / "in"), "--detector", "slow-facts", "--json"
        ).stdout.splitlines()
    ]
    assert [line["path"] for line in lines] == sorted(
        [str(f) for f in files] + [str(tmp_path / "in" / "broken.png")]
    )
    assert sum(line["status"] == "error" for line in lines) == 1
    assert sorted(v["log_index"] for line in lines for v in line["verdicts"]) == list(range(41))
    runs = json.loads(provreg(env, "status", "--json").stdout)["runs"]
    assert runs[0]["kind"] == "ingest" and runs[0]["parameters"]["executor"] == "ray"
    assert (runs[0]["files_ok"], runs[0]["files_error"]) == (40, 1)
