"""Fault injection on a real ingest: what a killed driver, a killed Ray worker, a PostgreSQL
restart, a PostgreSQL stop and a full disk do to the ledger.

Every scenario runs ``provreg`` as a subprocess (as an operator would) on ``--files``
distinct small images, against a PRIVATE PostgreSQL that this script creates with
``initdb``/``pg_ctl`` in a temporary folder on a free port (the shared server on 5432 is
never touched), in a database and a ``PROVREG_HOME`` of its own:

- ``kill``: the driver is SIGKILLed mid-run, ``provreg status`` must show the run
  ``interrupted``, then ``provreg ingest --resume RUN`` finishes it.
- ``worker``: a Ray worker process (a fused intake+detector actor) is SIGKILLed mid-run
  (``--executor ray``); the run must finish on its own.
- ``restart``: ``pg_ctl restart`` mid-run; the run must finish on its own.
- ``stop``: PostgreSQL stopped for ``--stop-s`` seconds (120 by default) mid-run, then
  started; the run must finish on its own (the outage window is 300 s).
- ``give-up``: PostgreSQL stopped past a 10 s outage window: exit code 2 and one line, the
  run ``interrupted``; ``--resume`` finishes it once the server is back.
- ``disk``: ``PROVREG_HOME`` on a full tmpfs: creating the first key must fail with exit
  code 2 and one line, leaving no key; once space is freed the same command works.

After each: verdicts lost (a file without a verdict from every detector, or its intake
error), duplicated (a verdict identity logged twice), log gaps (log indexes not exactly
0..n-1), files without a printed line (every committed file must have one, across the
outputs of the run and its resume), and ``provreg verify``'s exit code.

    .venv/bin/python -m bench.faults --files 3000
        [--scenarios kill,worker,restart,stop,give-up,disk]
        [--stop-s 120] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import psycopg

from bench.fault_harness import (
    DETECTORS,
    REPO,
    Result,
    audit,
    count_verdicts,
    ingest_until,
    make_files,
    run_env,
    run_provreg,
    wait_for_verdicts,
)
from registry.testing.private_pg import PrivatePostgres

SCENARIOS = ("kill", "worker", "restart", "stop", "give-up", "disk")


def kill_driver(
    pg: PrivatePostgres, work: Path, files: list[Path], folder: Path, _stop_s: float
) -> Result:
    """SIGKILL the driver mid-run, check ``status``, then ``--resume``."""
    result = Result("kill", len(files))
    url, home = pg.create("faults_kill"), work / "home-kill"
    env = run_env(home, url)
    first, second = work / "kill-1.jsonl", work / "kill-2.jsonl"
    process = ingest_until(env, url, folder, first, 0.4, len(files))
    os.killpg(process.pid, signal.SIGKILL)
    result.exit_codes.append(process.wait())
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        run_id = int(conn.execute("SELECT max(id) FROM ingest_runs").fetchone()[0])  # type: ignore[index]
    deadline = time.monotonic() + 30
    state = ""
    while time.monotonic() < deadline:
        runs = json.loads(run_provreg(env, "status", "--json").stdout)["runs"]
        state = next(r["status"] for r in runs if r["id"] == run_id)
        if state == "interrupted":
            break
        time.sleep(0.5)
    result.notes.append(f"after SIGKILL at {count_verdicts(url)} verdicts, status says {state}")
    if state != "interrupted":
        result.notes.append("FAIL: the killed run is not shown interrupted")
    resumed = run_provreg(
        env,
        "ingest",
        str(folder),
        "--json",
        "--resume",
        str(run_id),
        stdout=open(second, "w"),  # noqa: SIM115
    )
    result.exit_codes.append(resumed.returncode)
    return audit(result, url, env, files, first, second)


def _ray_workers(driver: int) -> list[int]:
    """Fused actor processes started by ``driver`` (its local Ray's workers, never those of
    any other Ray on the machine)."""
    import psutil

    found = []
    for proc in psutil.Process(driver).children(recursive=True):
        try:
            if " ".join(proc.cmdline()).startswith("ray::FusedWorker"):
                found.append(int(proc.pid))
        except psutil.Error:
            continue
    return found


def kill_worker(
    pg: PrivatePostgres, work: Path, files: list[Path], folder: Path, _stop_s: float
) -> Result:
    """SIGKILL one fused Ray actor mid-run; the run must finish by itself."""
    result = Result("worker", len(files))
    url, home = pg.create("faults_worker"), work / "home-worker"
    env = run_env(home, url, PROVREG_EXECUTOR="ray")
    out = work / "worker.jsonl"
    process = ingest_until(env, url, folder, out, 0.2, len(files))
    workers = _ray_workers(process.pid)
    if workers:
        os.kill(workers[0], signal.SIGKILL)
        result.notes.append(f"killed Ray worker pid {workers[0]} of {len(workers)}")
    else:
        result.notes.append("FAIL: no Ray worker found to kill")
    result.exit_codes.append(process.wait())
    return audit(result, url, env, files, out)


def restart_db(
    pg: PrivatePostgres, work: Path, files: list[Path], folder: Path, _stop_s: float
) -> Result:
    """``pg_ctl restart`` mid-run."""
    result = Result("restart", len(files))
    url, home = pg.create("faults_restart"), work / "home-restart"
    env = run_env(home, url)
    out = work / "restart.jsonl"
    process = ingest_until(env, url, folder, out, 0.3, len(files))
    pg.restart()
    result.notes.append("restarted PostgreSQL mid-run")
    result.exit_codes.append(process.wait())
    return audit(result, url, env, files, out)


def stop_db(
    pg: PrivatePostgres, work: Path, files: list[Path], folder: Path, stop_s: float
) -> Result:
    """PostgreSQL down for ``stop_s`` seconds mid-run."""
    result = Result("stop", len(files))
    url, home = pg.create("faults_stop"), work / "home-stop"
    env = run_env(home, url)
    out = work / "stop.jsonl"
    process = ingest_until(env, url, folder, out, 0.3, len(files))
    pg.stop()
    time.sleep(stop_s)
    pg.start()
    result.notes.append(f"PostgreSQL stopped for {stop_s:.0f} s mid-run")
    result.exit_codes.append(process.wait())
    return audit(result, url, env, files, out)


def give_up(
    pg: PrivatePostgres, work: Path, files: list[Path], folder: Path, _stop_s: float
) -> Result:
    """PostgreSQL stopped past a short outage window (``PROVREG_DB_OUTAGE_S=10``): the
    ingest must stop with exit code 2 and one line, the run be shown ``interrupted``, and
    ``--resume`` finish it once the server is back."""
    result = Result("give-up", len(files))
    url, home = pg.create("faults_giveup"), work / "home-giveup"
    env = run_env(home, url, PROVREG_DB_OUTAGE_S="10")
    first, second = work / "giveup-1.jsonl", work / "giveup-2.jsonl"
    errors = work / "giveup-1.err"
    with open(first, "wb") as out, open(errors, "wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "registry", "ingest", str(folder), "--json"],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
        )
        wait_for_verdicts(url, int(len(files) * 0.3) * len(DETECTORS.split(",")), process)
        pg.stop()
        result.exit_codes.append(process.wait())
    pg.start()
    message = errors.read_text(errors="replace").strip().splitlines()
    result.notes.append(
        f"gave up: exit {result.exit_codes[0]}, last stderr line: {message[-1] if message else ''}"
    )
    runs = json.loads(run_provreg(env, "status", "--json").stdout)["runs"]
    result.notes.append(f"status: {runs[0]['status']}")
    resumed = run_provreg(
        env,
        "ingest",
        str(folder),
        "--json",
        "--resume",
        str(runs[0]["id"]),
        stdout=open(second, "w"),  # noqa: SIM115
    )
    result.exit_codes.append(resumed.returncode)
    return audit(result, url, env, files, first, second)


@contextmanager
def _tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        check=True,
        capture_output=True,
    )
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def disk_full(
    pg: PrivatePostgres, work: Path, files: list[Path], folder: Path, _stop_s: float
) -> Result:
    """``PROVREG_HOME`` on a full tmpfs: the first key cannot be created."""
    result = Result("disk", len(files))
    url = pg.create("faults_disk")
    with _tmpfs(work / "small-disk", "1m") as disk:
        home = disk / "home"
        home.mkdir()
        filler = disk / "filler"
        stats = os.statvfs(disk)
        with open(filler, "wb") as handle:
            handle.write(b"\0" * (stats.f_bavail * stats.f_frsize))
        env = run_env(home, url)
        failed = run_provreg(env, "ingest", str(folder), "--json")
        result.exit_codes.append(failed.returncode)
        message = failed.stderr.strip().splitlines()
        result.notes.append(
            f"full disk: exit {failed.returncode}, stderr "
            f"{len(message)} line(s): {message[-1] if message else ''}"
        )
        leftovers = (
            sorted(p.name for p in (home / "keys").glob("*")) if (home / "keys").exists() else []
        )
        result.notes.append(f"key files left: {leftovers}")
        listed = run_provreg(env, "keys", "list")
        result.notes.append(
            f"keys list: exit {listed.returncode}, {len(listed.stdout.splitlines())} key(s)"
        )
        filler.unlink()
        out = work / "disk.jsonl"
        done = run_provreg(env, "ingest", str(folder), "--json", stdout=open(out, "w"))  # noqa: SIM115
        result.exit_codes.append(done.returncode)
        return audit(result, url, env, files, out)


RUNNERS: dict[str, Callable[[PrivatePostgres, Path, list[Path], Path, float], Result]] = {
    "kill": kill_driver,
    "worker": kill_worker,
    "restart": restart_db,
    "stop": stop_db,
    "give-up": give_up,
    "disk": disk_full,
}


def main(argv: list[str] | None = None) -> int:
    """Run the scenarios; print one JSON line each; exit 1 if any lost, duplicated, left a
    gap or an unprinted file, or failed verify."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--stop-s", type=float, default=120.0)
    parser.add_argument("--json", type=Path, help="Also write the results here.")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(chosen) - set(RUNNERS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; have {', '.join(SCENARIOS)}")
    results = []
    with tempfile.TemporaryDirectory(prefix="provreg-faults-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)
        folder = work / "images"
        files = make_files(folder, args.files)
        pg = PrivatePostgres(work / "pg")
        pg.init()
        try:
            for name in chosen:
                started = time.monotonic()
                result = RUNNERS[name](pg, work, files, folder, args.stop_s)
                result.seconds = round(time.monotonic() - started, 1)
                results.append(result)
                print(json.dumps({**asdict(result), "ok": result.ok}), flush=True)
        finally:
            pg.destroy()
    if args.json:
        args.json.write_text(json.dumps([{**asdict(r), "ok": r.ok} for r in results], indent=2))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
