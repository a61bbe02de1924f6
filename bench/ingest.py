"""Ingest throughput: a plain sequential loop vs provreg on local Ray, same images, one run.

(a) sequential: ``intake_path`` then every detector's ``detect_batch`` per batch, in this
process (what ``provreg ingest --executor inline`` does, minus the database).
(b) Ray: ``ray_jobs.ingest.RayJudge`` — intake tasks, detector actor pools, results collected
in order by the driver (what ``provreg ingest`` does, minus the database). Ray start-up and
actor start are timed separately and excluded from (b)'s rate. The three variants run in
interleaved rounds (`--rounds`), best and median reported. For scale, the same
loop split over ``--num-cpus`` plain processes (no Ray) is timed too: on a shared machine that
is the ceiling any executor could reach at that moment.

The detector set is every training-free detector that is registered, taken by name.

    PYTHONPATH=. nice -n 10 .venv/bin/python bench/ingest.py --count 1000 --num-cpus 2
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import statistics
import tempfile
import time
from multiprocessing.pool import Pool
from pathlib import Path

import numpy as np
import ray
from PIL import Image

from detectors.base import Detector
from detectors.plugins import create_detectors, registered_entry_points
from ray_jobs.ingest import RayJudge
from registry.ingest import judge_batch
from registry.intake import intake_path
from registry.settings import Settings

TRAINING_FREE = ("file-facts", "metadata", "watermark", "c2pa")


def make_images(folder: Path, count: int, size: int) -> list[Path]:
    """Distinct photo-like JPEGs: smooth gradients, a few shapes, sensor-like noise."""
    rng = np.random.default_rng(1234)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    paths = []
    for i in range(count):
        a, b, c = rng.random(3)
        base = np.stack([xx * a, yy * b, (xx + yy) * c / 2], axis=-1) * 255
        noise = rng.normal(0, 6, (size, size, 3))
        pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
        path = folder / f"bench{i:05d}.jpg"
        path.write_bytes(buffer.getvalue())
        paths.append(path)
    return paths


def sequential(paths: list[Path], detectors: list[Detector], settings: Settings) -> float:
    """Seconds for the plain loop over ``paths``."""
    started = time.perf_counter()
    for start in range(0, len(paths), settings.batch_size):
        batch = [intake_path(p, settings.limits) for p in paths[start: start + settings.batch_size]]
        verdicts = judge_batch(batch, detectors)
        assert len(verdicts) == len(batch)
    return time.perf_counter() - started


_worker_detectors: list[Detector] = []


def _init_worker(names: list[str]) -> None:
    _worker_detectors.extend(create_detectors(names))
    for detector in _worker_detectors:
        detector.load()


def _sequential_part(args: tuple[list[Path], Settings]) -> float:
    return sequential(args[0], _worker_detectors, args[1])


def plain_processes(pool: Pool, paths: list[Path], settings: Settings, workers: int) -> float:
    """Seconds for the plain loop split over ``workers`` plain processes (no Ray): about the
    best any parallel executor could do on this machine at this moment."""
    started = time.perf_counter()
    pool.map(_sequential_part, [(paths[i::workers], settings) for i in range(workers)])
    return time.perf_counter() - started


def on_ray(judge: RayJudge, paths: list[Path]) -> float:
    """Seconds for ``paths`` through the Ray pipeline (intake tasks, detector actors)."""
    started = time.perf_counter()
    files = sum(len(facts) for facts, _verdicts in judge.judge(paths))
    assert files == len(paths)
    return time.perf_counter() - started


def main() -> None:
    """Parse arguments, run both, print a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--size", type=int, default=256, help="image side in pixels")
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    registered = registered_entry_points()
    names = [name for name in TRAINING_FREE if name in registered]
    settings = Settings(home=Path(tempfile.gettempdir()), batch_size=args.batch_size)
    detectors = create_detectors(names)
    for detector in detectors:
        detector.load()
    times: dict[str, list[float]] = {"sequential": [], "ray": [], "plain_processes": []}
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_images(Path(tmp), args.count, args.size)
        started = time.perf_counter()
        ray.init(num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)
        judge = RayJudge(settings, create_detectors(names))
        judge.actor_info()  # actors constructed and loaded
        on_ray(judge, paths[: args.batch_size * 4])  # worker processes started
        startup = time.perf_counter() - started
        context = multiprocessing.get_context("spawn")
        with context.Pool(args.num_cpus, _init_worker, (names,)) as pool:
            plain_processes(pool, paths[:64], settings, args.num_cpus)  # imports, warm-up
            # Interleaved rounds, so a burst of load from other jobs hits every variant.
            for _ in range(args.rounds):
                times["sequential"].append(sequential(paths, detectors, settings))
                # Ray stops task workers idle for about a second (during the other variants);
                # restart them untimed, as a continuous ingest keeps them running.
                on_ray(judge, paths[: args.batch_size * 4])
                times["ray"].append(on_ray(judge, paths))
                times["plain_processes"].append(
                    plain_processes(pool, paths, settings, args.num_cpus))
        judge.shutdown()
    best = {name: min(values) for name, values in times.items()}
    median = {name: statistics.median(values) for name, values in times.items()}
    result = {
        "detectors": names, "images": args.count, "size": args.size,
        "num_cpus": args.num_cpus, "batch_size": args.batch_size, "rounds": args.rounds,
        "ray_startup_s": round(startup, 1),
        **{f"{name}_images_per_s_best": round(args.count / t, 1) for name, t in best.items()},
        **{f"{name}_images_per_s_median": round(args.count / t, 1)
           for name, t in median.items()},
        "ratio_best": round(best["sequential"] / best["ray"], 2),
        "ratio_median": round(median["sequential"] / median["ray"], 2),
        "plain_processes_ratio_best": round(best["sequential"] / best["plain_processes"], 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
