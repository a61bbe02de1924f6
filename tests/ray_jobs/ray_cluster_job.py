"""Run by tests/ray_jobs/test_ray_cluster.py in its own process: a two-node ``ray.cluster_utils``
cluster (the head with a fake GPU), so it never disturbs the session's shared Ray.

Phase 1 checks a detector declaring half a GPU gets exactly that fraction. Phase 2 ingests
images into the database at ``PROVREG_DATABASE_URL`` and removes the worker node mid-run.
Prints one JSON object with what it observed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import ray
from ray.cluster_utils import Cluster

from ray_jobs.actors import DetectorPool
from ray_jobs.ingest import RayIngest
from ray_jobs.runtime import cluster_gpus
from registry.app import Registry
from registry.settings import Settings
from tests.ray_jobs.ray_detectors import HalfGpuFacts

STORE = 80 * 1024 * 1024


def main(folder: Path) -> dict[str, Any]:
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "num_gpus": 1,
            "object_store_memory": STORE,
            "include_dashboard": False,
        },
    )
    worker = cluster.add_node(num_cpus=1, object_store_memory=STORE)
    ray.init(address=cluster.address, log_to_driver=False)
    cluster.wait_for_nodes()
    try:
        pool = DetectorPool(HalfGpuFacts(), 1, gpus_available=cluster_gpus() > 0)
        (gpu_info,) = pool.info()
        pool.shutdown()

        settings = Settings(
            home=folder / "home", database_url=os.environ["PROVREG_DATABASE_URL"], batch_size=20
        )
        registry = Registry.open(settings)
        files = sorted(folder.glob("img*.png"))
        runner = RayIngest(
            registry, registry.detectors(["file-facts"]), max_in_flight=4, max_actors=2
        )
        nodes_before = sorted({info["node_id"] for info in runner.actor_info()})
        paths, removed_at = [], None
        for outcome in runner.run(files, source="cluster-test"):
            paths.append(outcome.path)
            if len(paths) == 100:
                cluster.remove_node(worker)
                removed_at = len(paths)
        nodes_after = sorted({info["node_id"] for info in runner.actor_info()})
        runner.shutdown()
        return {
            "gpu_resources": gpu_info["resources"],
            "files": [str(f) for f in files],
            "paths": paths,
            "removed_at": removed_at,
            "worker_node": worker.node_id,
            "nodes_before": nodes_before,
            "nodes_after": nodes_after,
        }
    finally:
        ray.shutdown()
        cluster.shutdown()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
