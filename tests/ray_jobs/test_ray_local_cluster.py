"""``provreg ray start|status|stop``: a local cluster later commands attach to, and a stop
that ends only that cluster, never another Ray on the machine (here: the test session's)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from ray_jobs import cluster
from tests.ray_fixtures import REPO, make_images, ray_address

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


def _session_members(sid: int) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if process.pid != sid and os.getsid(process.pid) == sid:
                found.append(process)
        except (OSError, psutil.Error):
            continue
    return found


def test_start_attach_stop_leaves_other_rays_alone(
    ray_address: str, provreg_env: dict[str, str], tmp_path: Path
) -> None:
    import ray

    env = {k: v for k, v in provreg_env.items() if k != "RAY_ADDRESS"}
    home = Path(env["PROVREG_HOME"])
    started = provreg(env, "ray", "start", "--num-cpus", "1")
    state = cluster.running_cluster(home)
    assert state is not None and state.address in started.stdout
    try:
        assert state.address != ray_address
        status = json.loads(provreg(env, "ray", "status", "--json").stdout)
        assert status["running"] and status["cluster"]["address"] == state.address
        again = provreg(env, "ray", "start")
        assert "already running" in again.stdout and cluster.running_cluster(home) == state

        make_images(tmp_path / "in", 3, seed=41)
        lines = provreg(
            env, "ingest", str(tmp_path / "in"), "--detector", "file-facts", "--json"
        ).stdout.splitlines()
        assert [json.loads(line)["status"] for line in lines] == ["ok"] * 3
        (log,) = (home / "logs").glob("ray-2*.log")
        assert f"Connecting to existing Ray cluster at address: {state.address}" in log.read_text(
            errors="replace"
        )
        members = _session_members(state.pid)
        assert members, "the keeper's Ray processes run in its session"
    finally:
        stopped = provreg(env, "ray", "stop")
    assert state.address in stopped.stdout
    assert not psutil.pid_exists(state.pid)
    _, alive = psutil.wait_procs(members, timeout=30)
    assert alive == [] and _session_members(state.pid) == []
    assert cluster.running_cluster(home) is None
    assert "no Ray cluster started by provreg" in provreg(env, "ray", "status").stdout
    # The test session's own Ray was not touched.
    assert ray.is_initialized() and ray.cluster_resources().get("CPU") == 2


def test_stop_never_signals_a_process_it_did_not_start(
    provreg_env: dict[str, str], tmp_path: Path
) -> None:
    home = Path(provreg_env["PROVREG_HOME"])
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        # A stale record whose pid now belongs to someone else (pid reuse).
        me = psutil.Process(bystander.pid)
        cluster._write_state(
            home,
            cluster.ClusterState(
                address="127.0.0.1:1",
                pid=bystander.pid,
                create_time=me.create_time(),
                num_cpus=1,
                started_at="then",
                log_file="x",
            ),
        )
        assert cluster.running_cluster(home) is None
        result = provreg(provreg_env, "ray", "stop")
        assert "no Ray cluster started by provreg is running" in result.stdout
        time.sleep(0.5)
        assert bystander.poll() is None, "a process provreg did not start was signalled"
        assert not cluster.state_path(home).exists()
    finally:
        bystander.kill()
        bystander.wait()
