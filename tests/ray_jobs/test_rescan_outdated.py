"""``provreg rescan`` without ``--detector`` re-runs exactly the detectors whose version (or
model) differs from the one the archive's verdicts were made with, and says so plainly when
nothing changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ray_fixtures import REPO, make_images, ray_address, stage_plugins

pytestmark = pytest.mark.slow  # starts Ray or runs the CLI end to end

__all__ = ["ray_address"]


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


def test_rescan_without_detector_reruns_only_changed_versions(
    ray_address: str, provreg_env: dict[str, str], tmp_path: Path
) -> None:
    base = {
        **provreg_env,
        "RAY_ADDRESS": ray_address,
        "PROVREG_EXECUTOR": "inline",
        "PROVREG_DETECTORS": "file-facts,slow-facts",
    }
    pythonpath = [str(REPO), base.get("PYTHONPATH", "")]
    v1 = stage_plugins(tmp_path / "v1", {"slow-facts": "tests.ray_jobs.ray_detectors:SlowFactsV1"})
    v2 = stage_plugins(tmp_path / "v2", {"slow-facts": "tests.ray_jobs.ray_detectors:SlowFactsV2"})
    env1 = {**base, "PYTHONPATH": os.pathsep.join([str(v1), *pythonpath])}
    env2 = {**base, "PYTHONPATH": os.pathsep.join([str(v2), *pythonpath])}
    make_images(tmp_path / "in", 8, seed=51)
    provreg(env1, "ingest", str(tmp_path / "in"))

    # Same versions as the archive's verdicts: nothing to do, and it says so.
    same = provreg(env1, "rescan")
    assert "nothing to re-scan" in same.stdout and "slow-facts 1.0.0" in same.stdout
    assert json.loads(provreg(env1, "rescan", "--json").stdout)["nothing_changed"] is True

    # slow-facts moved to 2.0.0: only it is re-run, over every archived asset.
    changed = provreg(env2, "rescan", "--json")
    (report,) = [json.loads(line) for line in changed.stdout.splitlines()]
    assert (report["detector"], report["version"]) == ("slow-facts", "2.0.0")
    assert report["processed"] == 8 and report["verdicts_written"] == 8
    assert "re-scanning slow-facts 2.0.0: 8 asset(s) judged only by 1.0.0" in changed.stderr
    assert any(
        line.startswith("rescan slow-facts 2.0.0: 8 file(s), 8 ok")
        for line in changed.stderr.splitlines()
    ), changed.stderr
    # Nothing of Ray's own (start-up, Ray Data's "progress bars disabled", ...) on the terminal.
    assert len(changed.stderr.splitlines()) == 2, changed.stderr

    # Done: the archive now has 2.0.0 verdicts for every asset.
    after = provreg(env2, "rescan")
    assert "nothing to re-scan" in after.stdout and "slow-facts 2.0.0" in after.stdout
