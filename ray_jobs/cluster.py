"""``provreg ray start|stop|status``: one local Ray cluster that later commands attach to.

Starting Ray costs every command 6-15 s; a cluster left running costs a command about a
second to attach to. ``provreg ray start`` starts a small keeper process (this module run as
``python -m ray_jobs.cluster``) in its own session: it starts a local Ray with
``ray.init()``, records the cluster's GCS address, its own pid and start time in
``$PROVREG_HOME/ray/cluster.json`` and waits. :func:`ray_jobs.runtime.ensure_ray` attaches to
that address whenever the keeper still runs (and ``RAY_ADDRESS`` is not set).

``provreg ray stop`` only ever stops that keeper (checked by pid, start time and command line,
so a reused pid is never signalled); the keeper shuts its Ray down with ``ray.shutdown()``
and then ends any process it started that is still alive (Ray's agents outlive a SIGTERM
now and then). It never runs ``ray stop``, which would end every Ray on the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

KEEPER_MODULE = "ray_jobs.cluster"


@dataclass(frozen=True)
class ClusterState:
    """What ``provreg ray start`` recorded about the cluster it started."""

    address: str
    pid: int
    create_time: float
    num_cpus: int | None
    started_at: str
    log_file: str
    auth_mode: str | None = None
    """``RAY_AUTH_MODE`` the cluster runs with (``token``: drivers attaching must say so too,
    the token itself is in ``~/.ray/auth_token``)."""


class ClusterError(RuntimeError):
    """The local cluster could not be started or stopped (the message says why)."""


def state_path(home: Path) -> Path:
    """Where the running cluster's address and keeper pid are recorded."""
    return home / "ray" / "cluster.json"


def read_state(home: Path) -> ClusterState | None:
    """The recorded state, alive or not (None when nothing is recorded or it is unreadable)."""
    try:
        return ClusterState(**json.loads(state_path(home).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def keeper_alive(state: ClusterState) -> bool:
    """Whether the recorded keeper process is still the one provreg started."""
    try:
        process = psutil.Process(state.pid)
        if abs(process.create_time() - state.create_time) > 1.0:
            return False
        return KEEPER_MODULE in " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def running_cluster(home: Path) -> ClusterState | None:
    """The cluster ``provreg ray start`` started under ``home``, if its keeper still runs."""
    state = read_state(home)
    return state if state is not None and keeper_alive(state) else None


def start(home: Path, *, num_cpus: int | None = None, timeout_s: float = 180.0) -> ClusterState:
    """Start the keeper (or return the running one) and wait until its Ray is up."""
    running = running_cluster(home)
    if running is not None:
        return running
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_file = logs / f"ray-cluster-{time.strftime('%Y%m%d-%H%M%S')}.log"
    state_path(home).unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        KEEPER_MODULE,
        "--home",
        str(home),
        "--log-file",
        str(log_file),
    ]
    if num_cpus is not None:
        command += ["--num-cpus", str(num_cpus)]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    with log_file.open("ab") as sink:
        keeper = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
            start_new_session=True,
            env=env,
        )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = read_state(home)
        if state is not None and state.pid == keeper.pid:
            return state
        if keeper.poll() is not None:
            raise ClusterError(f"Ray did not start (exit {keeper.returncode}); see {log_file}")
        time.sleep(0.2)
    keeper.terminate()
    raise ClusterError(f"Ray did not start within {timeout_s:.0f} s; see {log_file}")


def stop(home: Path, *, timeout_s: float = 60.0) -> ClusterState | None:
    """Stop the cluster ``provreg ray start`` started under ``home`` (None: none was running)."""
    state = running_cluster(home)
    if state is None:
        state_path(home).unlink(missing_ok=True)
        return None
    keeper = psutil.Process(state.pid)
    keeper.send_signal(signal.SIGTERM)
    try:
        keeper.wait(timeout_s)
    except psutil.TimeoutExpired:
        end_processes([keeper, *keeper.children(recursive=True)], grace_s=5.0)
    state_path(home).unlink(missing_ok=True)
    return state


def end_processes(processes: list[psutil.Process], *, grace_s: float = 10.0) -> list[int]:
    """SIGTERM, then after ``grace_s`` SIGKILL, whichever of ``processes`` are still alive.

    ``psutil.Process`` objects remember their start time, so a pid reused meanwhile is left
    alone. Returns the pids that needed SIGKILL.
    """
    alive = [p for p in processes if _running(p)]
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.terminate()
    _, stubborn = psutil.wait_procs(alive, timeout=grace_s)
    for process in stubborn:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(stubborn, timeout=grace_s)
    return [p.pid for p in stubborn]


def _running(process: psutil.Process) -> bool:
    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def shutdown_ray_and_children(*, grace_s: float = 10.0) -> None:
    """``ray.shutdown()``, then end what this process started that outlived it.

    Ray's ``DashboardAgent`` and ``RuntimeEnvAgent`` sometimes survive their raylet (reparented
    to PID 1, ignoring SIGTERM); only descendants of this process are touched.
    """
    import ray

    started = psutil.Process().children(recursive=True)
    if ray.is_initialized():
        ray.shutdown()
    end_processes(started, grace_s=grace_s)


def _write_state(home: Path, state: ClusterState) -> None:
    path = state_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".tmp")
    scratch.write_text(json.dumps(asdict(state)), encoding="utf-8")
    os.replace(scratch, path)


def keeper_main(argv: list[str] | None = None) -> int:
    """The keeper process: start Ray, record it, wait for SIGTERM/SIGINT, shut it down."""
    parser = argparse.ArgumentParser(prog=KEEPER_MODULE)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--log-file", required=True)
    parser.add_argument("--num-cpus", type=int, default=None)
    args = parser.parse_args(argv)

    import ray

    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    ray.init(num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)
    me = psutil.Process()
    _write_state(
        args.home,
        ClusterState(
            address=str(ray.get_runtime_context().gcs_address),
            pid=me.pid,
            create_time=me.create_time(),
            num_cpus=args.num_cpus,
            started_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            log_file=args.log_file,
            auth_mode=os.environ.get("RAY_AUTH_MODE"),
        ),
    )
    try:
        while not stopping.wait(1.0):
            pass
    finally:
        state = read_state(args.home)
        if state is not None and state.pid == me.pid:
            state_path(args.home).unlink(missing_ok=True)
        shutdown_ray_and_children()
    return 0


if __name__ == "__main__":
    sys.exit(keeper_main())
