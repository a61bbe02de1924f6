"""Ingest throughput: a plain sequential loop vs provreg on local Ray, same images, one run.

(a) sequential: ``intake_path`` then every detector's ``detect_batch`` per batch, in this
process (what ``provreg ingest --executor inline`` does, minus the database).
(b) Ray: ``ray_jobs.ingest.RayJudge`` — fused actors (intake and every CPU detector in one
call per batch), results collected in order by the driver (what ``provreg ingest`` does,
minus the database). Ray start-up and actor start are timed separately and excluded from
(b)'s rate. For scale, the same loop split over ``--num-cpus`` plain processes (no Ray) is
timed too: on a shared machine that is the ceiling any executor could reach at that moment.

End to end, ledger included (each round into a fresh database cloned from a migrated
template, so every verdict is really signed and written): (c) the in-process loop
``registry.ingest.ingest_paths`` (``provreg ingest --executor inline``) and (d) ``RayIngest.run``
(``provreg ingest``), both ending with a signed checkpoint. All variants run in interleaved
rounds (``--rounds``), best and median reported.

The detector set is every training-free detector that is registered, taken by name.

    .venv/bin/python -m bench.ingest --count 1000 --num-cpus 2 \
        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.pool import Pool
from pathlib import Path

import numpy as np
import psycopg
import ray
from PIL import Image

from detectors.base import Detector
from detectors.plugins import create_detectors, registered_entry_points
from ray_jobs.ingest import RayIngest, RayJudge
from registry.app import Registry
from registry.db.engine import upgrade_schema
from registry.ingest import ingest_paths, judge_batch
from registry.intake.pipeline import intake_path
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
        batch = [
            intake_path(p, settings.limits) for p in paths[start : start + settings.batch_size]
        ]
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


class Databases:
    """Fresh databases cloned from one migrated template on the server at ``admin_url``."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        self.template = self._create(None)
        upgrade_schema(self.url(self.template))

    def url(self, name: str) -> str:
        """The SQLAlchemy URL of database ``name``."""
        return f"{self.base}/{name}"

    def _create(self, template: str | None) -> str:
        name = f"provreg_bench_{uuid.uuid4().hex[:10]}"
        sql = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]
        return name

    def drop(self, name: str) -> None:
        """Drop database ``name``."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]

    @contextmanager
    def fresh(self, home: Path, batch_size: int, media_keep: str) -> Iterator[Registry]:
        """A registry on a new, empty, migrated database (dropped afterwards)."""
        name = self._create(self.template)
        registry = Registry.open(
            Settings(
                home=home,
                database_url=self.url(name),
                batch_size=batch_size,
                media={"keep": media_keep},
            )
        )
        try:
            yield registry
        finally:
            registry.close()
            self.drop(name)


def sequential_ledger(registry: Registry, paths: list[Path], names: list[str]) -> float:
    """Seconds for ``provreg ingest --executor inline`` over ``paths`` (ledger included)."""
    detectors = registry.detectors(names)
    for detector in detectors:
        detector.load()  # untimed, as Ray's actor start is
    started = time.perf_counter()
    outcomes = list(
        ingest_paths(
            registry.sessions,
            registry.ledger,
            detectors,
            paths,
            limits=registry.settings.limits,
            batch_size=registry.settings.batch_size,
        )
    )
    assert len(outcomes) == len(paths) and all(o.entries for o in outcomes)
    return time.perf_counter() - started


def ray_ledger(runner: RayIngest, registry: Registry, paths: list[Path]) -> float:
    """Seconds for ``RayIngest.run`` over ``paths`` into ``registry`` (ledger included)."""
    runner.registry = registry  # the same actors, a fresh database
    started = time.perf_counter()
    outcomes = list(runner.run(paths, source="bench"))
    assert len(outcomes) == len(paths) and all(o.entries for o in outcomes)
    return time.perf_counter() - started


def main() -> None:
    """Parse arguments, run both, print a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--size", type=int, default=256, help="image side in pixels")
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--media-keep",
        choices=["original", "thumbnail", "none"],
        default="original",
        help="the media store policy of the ledger runs (docs/media.md; default as shipped)",
    )
    args = parser.parse_args()
    registered = registered_entry_points()
    names = [name for name in TRAINING_FREE if name in registered]
    settings = Settings(home=Path(tempfile.gettempdir()), batch_size=args.batch_size)
    detectors = create_detectors(names)
    for detector in detectors:
        detector.load()
    times: dict[str, list[float]] = {
        "sequential": [],
        "ray": [],
        "plain_processes": [],
        "sequential_ledger": [],
        "ray_ledger": [],
    }
    databases = Databases(args.admin_url)
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_images(Path(tmp), args.count, args.size)
        home = Path(tmp) / "home"
        started = time.perf_counter()
        # address="local": a Ray of its own, even when another cluster runs on this machine.
        ray.init(
            address="local", num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False
        )
        with databases.fresh(home, args.batch_size, args.media_keep) as registry:
            judge = RayIngest(registry, create_detectors(names))  # waits for the actors
            on_ray(judge, paths[: args.batch_size * 4])  # first batches, imports warm
        startup = time.perf_counter() - started
        context = multiprocessing.get_context("spawn")
        with context.Pool(args.num_cpus, _init_worker, (names,)) as pool:
            plain_processes(pool, paths[:64], settings, args.num_cpus)  # imports, warm-up
            # Interleaved rounds, so a burst of load from other jobs hits every variant.
            for _ in range(args.rounds):
                times["sequential"].append(sequential(paths, detectors, settings))
                times["ray"].append(on_ray(judge, paths))
                times["plain_processes"].append(
                    plain_processes(pool, paths, settings, args.num_cpus)
                )
                with databases.fresh(home, args.batch_size, args.media_keep) as registry:
                    times["sequential_ledger"].append(sequential_ledger(registry, paths, names))
                with databases.fresh(home, args.batch_size, args.media_keep) as registry:
                    times["ray_ledger"].append(ray_ledger(judge, registry, paths))
        judge.shutdown()
    databases.drop(databases.template)
    best = {name: min(values) for name, values in times.items()}
    median = {name: statistics.median(values) for name, values in times.items()}
    result = {
        "detectors": names,
        "images": args.count,
        "media_keep": args.media_keep,
        "size": args.size,
        "num_cpus": args.num_cpus,
        "batch_size": args.batch_size,
        "rounds": args.rounds,
        "ray_startup_s": round(startup, 1),
        **{f"{name}_images_per_s_best": round(args.count / t, 1) for name, t in best.items()},
        **{f"{name}_images_per_s_median": round(args.count / t, 1) for name, t in median.items()},
        "ratio_best": round(best["sequential"] / best["ray"], 2),
        "ratio_median": round(median["sequential"] / median["ray"], 2),
        "plain_processes_ratio_best": round(best["sequential"] / best["plain_processes"], 2),
        "ledger_ratio_best": round(best["sequential_ledger"] / best["ray_ledger"], 2),
        "ledger_ratio_median": round(median["sequential_ledger"] / median["ray_ledger"], 2),
        "ray_ledger_vs_sequential_best": round(best["sequential"] / best["ray_ledger"], 2),
        # Per round, Ray's throughput over the plain processes' (1.0: the machine's ceiling).
        "ray_vs_plain_processes_per_round": [
            round(p / r, 2) for p, r in zip(times["plain_processes"], times["ray"], strict=True)
        ],
        "seconds_per_round": {
            name: [round(t, 2) for t in values] for name, values in times.items()
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
