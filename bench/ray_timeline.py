"""Where Ray's time goes in the ingest pipeline: ``ray.timeline()`` summarised per task kind.

Runs ``ray_jobs.ingest.RayJudge`` (whatever version is first on ``PYTHONPATH``) over
generated images on a local Ray, then reads Ray's task timeline: for every task or actor
method name, how many calls, their summed execution time, and that time as a share of the
wall time times the CPUs (utilisation). Gaps are what the actors spent idle: waiting for
input, for the driver, or for the object store.

    .venv/bin/python -m bench.ray_timeline --count 640 --num-cpus 2
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import ray

from bench.ingest import TRAINING_FREE, make_images
from detectors.plugins import create_detectors
from ray_jobs.ingest import RayJudge
from registry.settings import Settings


def summarise(
    events: list[dict[str, Any]], started_us: float, wall_s: float, cpus: int
) -> dict[str, Any]:
    """Per task or actor method (``task::NAME`` events) after ``started_us``: calls, summed
    seconds, workers, and that time as a share of ``wall_s * cpus``; per phase
    (``task:deserialize_arguments``, ``task:execute``, ``task:store_outputs``): seconds."""
    busy: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    workers: dict[str, set[Any]] = defaultdict(set)
    phases: dict[str, float] = defaultdict(float)
    for event in events:
        if event.get("ph") != "X" or float(event.get("ts", 0)) < started_us:
            continue
        category = str(event.get("cat", ""))
        seconds = float(event.get("dur", 0)) / 1e6
        if category.startswith("task::"):
            name = str(event.get("name", category)).rsplit(".", 1)[-1]
            busy[name] += seconds
            calls[name] += 1
            workers[name].add(event.get("tid"))
        elif category.startswith("task:"):
            phases[category.removeprefix("task:")] += seconds
    return {
        "per_task": {
            name: {
                "calls": calls[name],
                "busy_s": round(busy[name], 2),
                "workers": len(workers[name]),
                "share_of_cpus": round(busy[name] / (wall_s * cpus), 3),
            }
            for name in sorted(busy, key=busy.__getitem__, reverse=True)
        },
        "phases_s": {phase: round(seconds, 2) for phase, seconds in phases.items()},
    }


def main() -> None:
    """Run the pipeline once warm, once timed, and print the timeline summary as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=640)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_images(Path(tmp), args.count, args.size)
        # address="local": a Ray of its own, even when another cluster runs on this machine.
        ray.init(
            address="local", num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False
        )
        settings = Settings(home=Path(tmp), batch_size=args.batch_size)
        judge = RayJudge(settings, create_detectors(list(TRAINING_FREE)))
        for _ in judge.judge(paths[: args.batch_size * 4]):
            pass
        started_us = time.time() * 1e6
        started = time.perf_counter()
        for _ in judge.judge(paths):
            pass
        wall = time.perf_counter() - started
        time.sleep(2.0)  # task events reach the GCS asynchronously
        events: list[dict[str, Any]] = ray.timeline()  # type: ignore[no-untyped-call]
        judge.shutdown()
    print(
        json.dumps(
            {
                "images_per_s": round(args.count / wall, 1),
                "wall_s": round(wall, 2),
                **summarise(events, started_us, wall, args.num_cpus),
            }
        )
    )


if __name__ == "__main__":
    main()
