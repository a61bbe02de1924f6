"""Wall time of a Ray command started cold (its own local Ray) vs attached to the cluster
``provreg ray start`` left running.

    python bench/ray_startup.py [--runs 3] [--files 20] [--num-cpus 2]

Uses the database in ``PROVREG_DATABASE_URL`` (embedded PostgreSQL when unset) and a fresh
``PROVREG_HOME`` in a temporary folder; ingests ``--files`` small generated PNGs with the
``file-facts`` detector on the Ray executor each run (the same bytes each time, so after the
first run nothing new is written: what is left is start-up plus a little work). Prints one
line per run and the medians, with the same command on the inline executor (no Ray at all)
as the floor. Starts and stops only its own cluster.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def provreg(env: dict[str, str], *args: str) -> float:
    """Run ``provreg ARGS`` and return its wall time in seconds."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "registry", *args],
        env=env,
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--num-cpus", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="provreg-bench-") as scratch:
        root = Path(scratch)
        folder = root / "in"
        folder.mkdir()
        rng = np.random.default_rng(0)
        for i in range(args.files):
            pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"img{i:03}.png")
        env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "PROVREG_HOME")}
        env.update(
            PROVREG_HOME=str(root / "home"),
            PROVREG_EXECUTOR="ray",
            PROVREG_RAY_NUM_CPUS=str(args.num_cpus),
        )
        command = ("ingest", str(folder), "--detector", "file-facts", "--json")
        provreg(env, "init")
        inline = [provreg(env, *command, "--executor", "inline") for _ in range(args.runs)]
        cold = [provreg(env, *command) for _ in range(args.runs)]
        provreg(env, "ray", "start", "--num-cpus", str(args.num_cpus))
        try:
            attached = [provreg(env, *command) for _ in range(args.runs)]
        finally:
            provreg(env, "ray", "stop")
    for label, times in (("no Ray", inline), ("cold", cold), ("attached", attached)):
        runs = ", ".join(f"{t:.1f}" for t in times)
        print(f"{label:9} median {statistics.median(times):5.1f} s  (runs: {runs})")


if __name__ == "__main__":
    main()
