"""Plumbing of the fault-injection benchmark: test images, provreg subprocesses, the audit."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
DETECTORS = "file-facts,metadata"


def make_files(folder: Path, count: int) -> list[Path]:
    """``count`` distinct small PNGs (noise over a gradient), quick to write and judge."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261130)
    ramp = np.linspace(0, 200, 64, dtype=np.float32)[None, :, None]
    paths = []
    for i in range(count):
        pixels = np.clip(ramp + rng.normal(0, 24, (48, 64, 3)), 0, 255).astype(np.uint8)
        path = folder / f"img-{i:05d}.png"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


@dataclass
class Result:
    """One scenario's outcome."""

    scenario: str
    files: int
    exit_codes: list[int] = field(default_factory=list)
    verdicts: int = 0
    lost: int = 0
    duplicated: int = 0
    log_gaps: int = 0
    unprinted: int = 0
    verify_exit: int = -1
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No loss, no duplicate, no gap, every file printed, verify passes."""
        return (
            self.lost == self.duplicated == self.log_gaps == self.unprinted == 0
            and self.verify_exit == 0
        )


def run_env(home: Path, url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROVREG_", "RAY_"))}
    env.update(
        {
            "PROVREG_HOME": str(home),
            "PROVREG_DATABASE_URL": url,
            "PROVREG_DETECTORS": DETECTORS,
            "PROVREG_EXECUTOR": "inline",
            **extra,
        }
    )
    return env


def run_provreg(
    env: dict[str, str], *args: str, stdout: Any = subprocess.PIPE, timeout: float = 1800
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "registry", *args],
        env=env,
        cwd=REPO,
        text=True,
        stdout=stdout,
        stderr=subprocess.PIPE,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def start_provreg(env: dict[str, str], out: Path, *args: str) -> subprocess.Popen[bytes]:
    with open(out, "wb") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "registry", *args],
            env=env,
            cwd=REPO,
            stdout=handle,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def count_verdicts(url: str) -> int:
    plain = url.replace("+psycopg", "")
    for _ in range(3):
        try:
            with psycopg.connect(plain, connect_timeout=5) as conn:
                row = conn.execute("SELECT count(*) FROM verdicts").fetchone()
                return int(row[0]) if row else 0
        except psycopg.OperationalError:
            time.sleep(0.5)
    return -1


def wait_for_verdicts(url: str, at_least: int, process: subprocess.Popen[bytes]) -> None:
    while process.poll() is None and count_verdicts(url) < at_least:
        time.sleep(0.1)


def printed_shas(*outputs: Path) -> set[str]:
    seen: set[str] = set()
    for out in outputs:
        for line in out.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # not a result line (logs): the CLI work of another change
            if isinstance(record, dict) and record.get("sha256"):
                seen.add(str(record["sha256"]))
    return seen


def audit(
    result: Result, url: str, env: dict[str, str], files: list[Path], *outputs: Path
) -> Result:
    """Count lost, duplicated, gaps and unprinted files; run ``provreg verify``."""
    detectors = set(DETECTORS.split(","))
    shas = {hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        rows = conn.execute("SELECT asset_sha256, detector FROM verdicts").fetchall()
        result.duplicated = int(
            conn.execute(
                "SELECT count(*) FROM (SELECT 1 FROM verdicts GROUP BY asset_sha256, detector, "
                "version, model_checksum HAVING count(*) > 1) d"
            ).fetchone()[0]
        )  # type: ignore[index]
        count, top, low = conn.execute(
            "SELECT count(*), max(log_index), min(log_index) FROM verdicts"
        ).fetchone()  # type: ignore[misc]
    have: dict[str, set[str]] = {}
    for sha, detector in rows:
        have.setdefault(sha, set()).add(detector)
    result.verdicts = int(count)
    result.lost = sum(
        1
        for sha in shas
        if not (detectors <= have.get(sha, set()) or "intake" in have.get(sha, ()))
    )
    result.log_gaps = 0 if count == 0 else int(top) + 1 - int(count) + int(low)
    result.unprinted = len(shas & set(have) - printed_shas(*outputs))
    result.verify_exit = run_provreg(env, "verify").returncode
    return result


def ingest_until(
    env: dict[str, str], url: str, folder: Path, out: Path, fraction: float, files: int, *extra: str
) -> subprocess.Popen[bytes]:
    process = start_provreg(env, out, "ingest", str(folder), "--json", *extra)
    wait_for_verdicts(url, int(files * fraction) * len(DETECTORS.split(",")), process)
    return process
