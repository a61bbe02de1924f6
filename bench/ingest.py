"""Ingest throughput: a plain sequential loop vs provreg on local Ray, same images, one run.

(a) sequential: ``intake_path`` then every detector's ``detect_batch`` per batch, in this
process (what ``provreg ingest --executor inline`` does, minus the database).
(b) Ray: ``ray_jobs.ingest.RayJudge`` — intake tasks, detector actor pools, results collected
in order by the driver (what ``provreg ingest`` does, minus the database). Ray start-up and
actor start are timed separately and excluded from (b)'s rate. For scale, the same
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
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from detectors.plugins import create_detectors, registered_entry_points
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


def sequential(paths: list[Path], names: list[str], settings: Settings) -> float:
    """Seconds for the plain loop over ``paths``."""
    detectors = create_detectors(names)
    for detector in detectors:
        detector.load()
    started = time.perf_counter()
    for start in range(0, len(paths), settings.batch_size):
        batch = [intake_path(p, settings.limits) for p in paths[start: start + settings.batch_size]]
        verdicts = judge_batch(batch, detectors)
        assert len(verdicts) == len(batch)
    return time.perf_counter() - started


def _sequential_part(args: tuple[list[Path], list[str], Settings]) -> float:
    return sequential(*args)


def ceiling(paths: list[Path], names: list[str], settings: Settings, workers: int) -> float:
    """Seconds for the plain loop split over ``workers`` plain processes (no Ray): the best
    any parallel executor could do on this machine at this moment."""
    parts = [(paths[i::workers], names, settings) for i in range(workers)]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pool.map(_sequential_part, [(p[:8], n, s) for p, n, s in parts])  # imports, warm-up
        started = time.perf_counter()
        pool.map(_sequential_part, parts)
        return time.perf_counter() - started


def on_ray(paths: list[Path], names: list[str], settings: Settings,
           num_cpus: int) -> tuple[float, float]:
    """(start-up seconds, seconds for ``paths``) through the Ray pipeline."""
    import ray

    from ray_jobs.ingest import RayJudge

    started = time.perf_counter()
    ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    judge = RayJudge(settings, create_detectors(names))
    judge.actor_info()  # actors constructed and loaded
    for _ in judge.judge(paths[: settings.batch_size * 2]):  # worker processes started
        pass
    startup = time.perf_counter() - started
    started = time.perf_counter()
    files = sum(len(facts) for facts, _verdicts in judge.judge(paths))
    elapsed = time.perf_counter() - started
    assert files == len(paths)
    judge.shutdown()
    return startup, elapsed


def main() -> None:
    """Parse arguments, run both, print a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--size", type=int, default=256, help="image side in pixels")
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    registered = registered_entry_points()
    names = [name for name in TRAINING_FREE if name in registered]
    settings = Settings(home=Path(tempfile.gettempdir()), batch_size=args.batch_size)
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_images(Path(tmp), args.count, args.size)
        seq = sequential(paths, names, settings)
        best = ceiling(paths, names, settings, args.num_cpus)
        startup, par = on_ray(paths, names, settings, args.num_cpus)
    result = {
        "detectors": names, "images": args.count, "size": args.size,
        "num_cpus": args.num_cpus, "batch_size": args.batch_size,
        "sequential_images_per_s": round(args.count / seq, 1),
        "ray_images_per_s": round(args.count / par, 1),
        "ray_startup_s": round(startup, 1),
        "ratio": round(seq / par, 2),
        "plain_processes_images_per_s": round(args.count / best, 1),
        "plain_processes_ratio": round(seq / best, 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
