"""What a user sees from a Ray command: with ``--json`` standard output carries only JSON
lines even when a Ray worker dies mid-task (Ray then prints ``(raylet) ...`` lines), Ray's
own log lines go to a file under ``PROVREG_HOME/logs``, and standard error ends with one
summary line that says where that file is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.ray_fixtures import REPO, make_images, ray_address, stage_plugins

pytestmark = pytest.mark.slow  # starts Ray or runs the CLI end to end

__all__ = ["ray_address"]


def _env(provreg_env: dict[str, str], ray_address: str, plugins: Path) -> dict[str, str]:
    pythonpath = [str(plugins), str(REPO), provreg_env.get("PYTHONPATH", "")]
    return {**provreg_env, "RAY_ADDRESS": ray_address, "PYTHONPATH": os.pathsep.join(pythonpath)}


def test_json_stdout_stays_json_when_a_ray_worker_dies(
    ray_address: str, provreg_env: dict[str, str], tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    files = make_images(folder, 6, seed=31)
    # 13 pixels wide: CrashFacts kills its Ray worker on it, Ray reports the dead worker.
    Image.fromarray(np.full((13, 13, 3), 7, np.uint8)).save(folder / "zz-crash.png")
    plugins = stage_plugins(
        tmp_path / "plugins", {"crash-facts": "tests.registry.ux_detectors:CrashFacts"}
    )
    env = _env(provreg_env, ray_address, plugins)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "registry",
            "ingest",
            str(folder),
            "--detector",
            "crash-facts",
            "--json",
        ],
        env=env,
        cwd=REPO,
        text=True,
        capture_output=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    parsed = [json.loads(line) for line in lines]  # every stdout line is one JSON object
    assert sorted(p["path"] for p in parsed) == sorted(
        [str(f) for f in files] + [str(folder / "zz-crash.png")]
    )
    crashed = next(p for p in parsed if p["path"].endswith("zz-crash.png"))
    assert crashed["status"] == "error"
    assert all(p["status"] == "ok" for p in parsed if p is not crashed)

    for noise in ("(raylet)", "core_worker", "authentication_token_setup", "worker.py"):
        assert noise not in result.stdout and noise not in result.stderr, noise
    summary = [line for line in result.stderr.splitlines() if line.startswith("ingest:")]
    assert len(summary) == 1, result.stderr
    assert "7 file(s), 6 ok, 1 error(s) (corrupt 1)" in summary[0]
    logs = sorted((Path(env["PROVREG_HOME"]) / "logs").glob("ray-*.log"))
    assert len(logs) == 1 and str(logs[0]) in summary[0]
    assert "Connecting to existing Ray cluster" in logs[0].read_text(errors="replace")


def test_verbose_shows_rays_lines_on_stderr_and_stdout_stays_json(
    ray_address: str, provreg_env: dict[str, str], tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    make_images(folder, 2, seed=32)
    Image.fromarray(np.full((13, 13, 3), 7, np.uint8)).save(folder / "zz-crash.png")
    plugins = stage_plugins(
        tmp_path / "plugins", {"crash-facts": "tests.registry.ux_detectors:CrashFacts"}
    )
    env = _env(provreg_env, ray_address, plugins)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "registry",
            "--log-level",
            "info",
            "ingest",
            str(folder),
            "--detector",
            "crash-facts",
            "--json",
        ],
        env=env,
        cwd=REPO,
        text=True,
        capture_output=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    parsed = [json.loads(line) for line in result.stdout.splitlines()]
    assert [p["status"] for p in parsed] == ["ok", "ok", "error"]
    assert "(raylet)" not in result.stdout
    assert "Connecting to existing Ray cluster" in result.stderr
    assert not (Path(env["PROVREG_HOME"]) / "logs").exists()
