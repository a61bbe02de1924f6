"""Start-up time of the `provreg` command line, as a user pays it: one fresh process per call.

Measures ``provreg --help``, ``provreg --version``, ``provreg verify`` on a small ledger and
``provreg ingest --executor inline`` of one new 256x256 PNG (every registered detector),
against a scratch database on the local PostgreSQL and a scratch ``PROVREG_HOME``. Reports
the median wall time over ``--runs`` calls and the median CPU time (user + system) of the
child, which a loaded machine inflates much less than wall time.

    .venv/bin/python -m bench.cli_startup --runs 5
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from registry.testing.scratch_db import ADMIN_URL, scratch_database


def provreg_command() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m registry``."""
    script = Path(sys.executable).with_name("provreg")
    return [str(script)] if script.exists() else [sys.executable, "-m", "registry"]


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and child CPU seconds of one run (which must succeed)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        args,
        env=env,
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def write_images(folder: Path, count: int, seed: int) -> list[Path]:
    """``count`` distinct noise PNGs (so every ingest writes new verdicts)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"image-{seed}-{i}.png"
        Image.fromarray(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="calls per case (median reported)")
    parser.add_argument(
        "--ledger",
        type=int,
        default=20,
        help="images ingested first, so verify has a ledger to check",
    )
    parser.add_argument("--admin-url", default=ADMIN_URL)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="provreg-bench-cli-"))
    command = provreg_command()
    try:
        with scratch_database(args.admin_url, prefix="provreg_bench_cli") as url:
            env = {k: v for k, v in os.environ.items() if not k.startswith("PROVREG_")}
            env.update(PROVREG_HOME=str(home / "home"), PROVREG_DATABASE_URL=url)
            subprocess.run([*command, "init"], env=env, check=True, stdout=subprocess.DEVNULL)
            seed_images = write_images(home / "seed", args.ledger, seed=1)
            subprocess.run(
                [*command, "ingest", "--executor", "inline", *map(str, seed_images)],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            subprocess.run([*command, "checkpoint"], env=env, check=True, stdout=subprocess.DEVNULL)
            fresh = write_images(home / "fresh", args.runs, seed=2)
            cases: dict[str, list[list[str]]] = {
                "provreg --help": [[*command, "--help"]] * args.runs,
                "provreg --version": [[*command, "--version"]] * args.runs,
                f"provreg verify (ledger of {args.ledger} images)": (
                    [[*command, "verify"]] * args.runs
                ),
                "provreg ingest --executor inline ONE.png": [
                    [*command, "ingest", "--executor", "inline", str(path)] for path in fresh
                ],
            }
            print(
                f"python {platform.python_version()}, {platform.machine()}, "
                f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start"
            )
            print("| command | median wall s | median CPU s | runs |")
            print("|---|---:|---:|---:|")
            for name, calls in cases.items():
                results = [timed(call, env) for call in calls]
                wall = statistics.median(r[0] for r in results)
                cpu = statistics.median(r[1] for r in results)
                print(f"| `{name}` | {wall:.2f} | {cpu:.2f} | {len(results)} |", flush=True)
            print(f"load average {os.getloadavg()[0]:.1f} at end")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
