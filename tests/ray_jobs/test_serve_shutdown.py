"""``provreg serve`` stopped with SIGTERM or SIGINT exits 0 without a traceback and leaves no
process behind: every process it started (Ray's GCS, raylet, ``ray::DashboardAgent``,
``ray::RuntimeEnvAgent``, Serve's proxy and replicas) is gone afterwards."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.ray_fixtures import REPO

pytestmark = pytest.mark.slow  # starts Ray or runs the CLI end to end


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _session_members(sid: int) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if process.pid != sid and os.getsid(process.pid) == sid:
                found.append(process)
        except (OSError, psutil.Error):
            continue
    return found


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_cleanly_and_leaves_no_processes(
    signum: signal.Signals, provreg_env: dict[str, str], tmp_path: Path
) -> None:
    # Its own local Ray (not the test session's), so everything it starts is its own.
    env = {k: v for k, v in provreg_env.items() if k != "RAY_ADDRESS"}
    env["PROVREG_RAY_NUM_CPUS"] = "2"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "registry",
            "serve",
            "--port",
            str(_free_port()),
            "--num-cpus",
            "0.5",
            "--detector",
            "file-facts",
        ],
        env=env,
        cwd=REPO,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert server.stdout is not None
        ready = server.stdout.readline()
        assert json.loads(ready)["method"] == "POST", server.stderr.read() if server.stderr else ""
        started = psutil.Process(server.pid).children(recursive=True)
        names = set()
        for process in started:
            try:
                names.add(process.name())
            except psutil.Error:
                continue
        assert "raylet" in names and any(n.startswith("ray::ServeReplica") for n in names)
        server.send_signal(signum)
        _, err = server.communicate(timeout=180)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    assert server.returncode == 0, err
    assert "Traceback" not in err and f"serve stopped ({signum.name})" in err
    time.sleep(1.0)
    left = [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert left == [], [(p.pid, p.name()) for p in left]
    assert _session_members(server.pid) == []
