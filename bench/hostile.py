"""The hostile corpus in full: ingest it through the real CLI and report what docs/reliability.md
records.

Two passes over one corpus (bench/hostile_corpus.py, built once and cached):

1. **per-file cost, in-process**: intake plus every detector on each file alone, timed
   (the max and p99 per-file wall time, and the slowest kinds);
2. **the real run**: ``provreg ingest --json`` as a subprocess on a scratch database, its
   process tree's resident memory sampled every 50 ms (Ray workers included), then
   ``provreg verify --json``. Reported: files tried, lines, lines missing (must be 0), lines
   doubled, error verdicts by reason, lines whose status or reason differ from the manifest,
   peak RSS of the tree, the verify result.

    python -m bench.hostile --count 3000 --executor inline
    python -m bench.hostile --count 3000 --executor ray --skip-timing
    python -m bench.hostile --huge 16 --executor inline   # memory: 16 PNGs of 7999 x 7999
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil

from bench.hostile_corpus import Expected, cached_corpus, huge_pixels_png
from registry.ingest import judge_batch
from registry.intake.pipeline import IntakeLimits, intake_path, iter_media_paths
from registry.testing.scratch_db import ADMIN_URL, scratch_database

DETECTORS = "file-facts,metadata,c2pa,watermark"
REPO = Path(__file__).resolve().parents[1]


def per_file_times(
    root: Path, detectors: list[Any], manifest: dict[bytes, Expected]
) -> dict[str, Any]:
    """Intake plus every detector on each file alone: max, p99 and the slowest kinds."""
    limits = IntakeLimits()
    times: list[tuple[float, str]] = []
    for path in iter_media_paths([root]):
        started = time.perf_counter()
        result = intake_path(path, limits)
        judge_batch([result], detectors)
        kind = manifest.get(os.fsencode(path), Expected("unlisted", "?")).kind
        times.append((time.perf_counter() - started, kind))
    seconds = sorted(t for t, _ in times)
    slowest = sorted(times, reverse=True)[:5]
    return {
        "files": len(seconds),
        "max_s": round(seconds[-1], 3),
        "p99_s": round(seconds[int(0.99 * (len(seconds) - 1))], 3),
        "median_s": round(statistics.median(seconds), 4),
        "slowest": [(kind, round(t, 3)) for t, kind in slowest],
    }


class TreeRss:
    """Peak resident memory of a process and all its descendants, sampled in a thread."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.peak = 0
        self._root = psutil.Process(pid)
        self._stop = threading.Event()
        self._interval = interval
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                tree = [self._root, *self._root.children(recursive=True)]
            except psutil.Error:
                return
            total = 0
            for process in tree:
                try:
                    total += process.memory_info().rss
                except psutil.Error:
                    continue
            self.peak = max(self.peak, total)
            self._stop.wait(self._interval)

    def stop(self) -> int:
        """Stop sampling; the peak in bytes."""
        self._stop.set()
        self._thread.join()
        return self.peak


def real_run(
    root: Path, manifest: dict[bytes, Expected], executor: str, detectors: str
) -> dict[str, Any]:
    """``provreg ingest --json`` then ``provreg verify --json`` on a scratch database."""
    with (
        scratch_database(ADMIN_URL, prefix="provreg_hostile") as url,
        tempfile.TemporaryDirectory() as home,
    ):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PROVREG_")}
        env.update(PROVREG_HOME=home, PROVREG_DATABASE_URL=url, PROVREG_DETECTORS=detectors)
        command = [
            sys.executable,
            "-m",
            "registry",
            "ingest",
            str(root),
            "--json",
            "--executor",
            executor,
        ]
        started = time.perf_counter()
        with tempfile.TemporaryFile("w+b") as out, tempfile.TemporaryFile("w+b") as err:
            process = subprocess.Popen(
                command, env=env, cwd=REPO, stdout=out, stderr=err, stdin=subprocess.DEVNULL
            )
            rss = TreeRss(process.pid)
            code = process.wait()
            peak = rss.stop()
            elapsed = time.perf_counter() - started
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read().decode(), err.read().decode()
        verify = subprocess.run(
            [sys.executable, "-m", "registry", "verify", "--json"],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
    lines, not_json = [], 0
    for text in stdout.splitlines():
        try:
            lines.append(json.loads(text))
        except ValueError:
            not_json += 1
    seen = Counter(
        bytes.fromhex(line["path_bytes_hex"])
        if line.get("path_bytes_hex")
        else line["path"].encode()
        for line in lines
    )
    reasons = Counter(line["error"] for line in lines if line["status"] != "ok")
    wrong = [
        (manifest[key].kind, line["status"], line["error"])
        for line in lines
        for key in [
            bytes.fromhex(line["path_bytes_hex"])
            if line.get("path_bytes_hex")
            else line["path"].encode()
        ]
        if key in manifest
        and (line["status"], line["error"]) != (manifest[key].status, manifest[key].reason)
    ]
    verify_lines = [json.loads(t) for t in verify.stdout.splitlines() if t.strip()]
    return {
        "exit_code": code,
        "stderr_tail": stderr[-400:] if code else "",
        "wall_s": round(elapsed, 1),
        "files_tried": len(manifest),
        "lines": len(lines),
        "stdout_lines_not_json": not_json,
        "lines_missing": len(set(manifest) - set(seen)),
        "lines_doubled": sum(n - 1 for n in seen.values() if n > 1),
        "error_verdicts_by_reason": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        "lines_not_as_expected": wrong[:20],
        "peak_rss_tree_mb": round(peak / 2**20),
        "verify_exit_code": verify.returncode,
        "verify": verify_lines[0] if verify_lines else verify.stderr[-300:],
    }


def main() -> None:
    """Command line: build or reuse the corpus, time files, run the CLI, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument(
        "--heavy", action="store_true", help="add 7999x7999 PNGs (64 M pixels each) to the corpus"
    )
    parser.add_argument("--executor", default="inline")
    parser.add_argument("--detectors", default=DETECTORS)
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "provreg-hostile-cache"
    )
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument(
        "--huge",
        type=int,
        default=0,
        help="instead: ingest this many 7999x7999 PNGs (peak memory check)",
    )
    args = parser.parse_args()
    if args.huge:
        with tempfile.TemporaryDirectory() as folder:
            manifest = {}
            for index in range(args.huge):
                path = Path(folder) / f"huge-{index:03d}.png"
                path.write_bytes(huge_pixels_png(index))
                manifest[os.fsencode(path)] = Expected("huge-pixels-png", "ok")
            print(
                json.dumps(
                    real_run(Path(folder), manifest, args.executor, args.detectors), indent=2
                )
            )
        return
    started = time.perf_counter()
    root, manifest = cached_corpus(args.cache, args.count, heavy=args.heavy)
    report: dict[str, Any] = {
        "corpus": str(root),
        "built_or_loaded_s": round(time.perf_counter() - started, 1),
        "kinds": len({m.kind for m in manifest.values()}),
    }
    if not args.skip_timing:
        from detectors.plugins import create_detectors

        detectors = create_detectors(args.detectors.split(","))
        for detector in detectors:
            detector.load()
        report["per_file"] = per_file_times(root, detectors, manifest)
    report["run"] = real_run(root, manifest, args.executor, args.detectors)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
