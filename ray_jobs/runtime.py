"""Connecting to Ray: a local instance by default, a cluster when ``RAY_ADDRESS`` is set.

``num_cpus`` is only passed when this process starts a local Ray; a cluster decides its own
resources. GPUs are requested from Ray only when the cluster has some: a detector declaring
``num_gpus`` runs on CPU on a CPU-only cluster instead of waiting forever for a GPU.
"""

from __future__ import annotations

import os
from typing import Any

import ray

from registry.settings import Settings

#: Detector actors per pool unless the cluster is smaller.
DEFAULT_MAX_ACTORS = 4


def ensure_ray(settings: Settings, *, num_cpus: int | None = None) -> None:
    """Initialise Ray once per process: the cluster at ``settings.ray_address`` or a local one."""
    if ray.is_initialized():
        return
    options: dict[str, Any] = {"ignore_reinit_error": True, "log_to_driver": False}
    if settings.ray_address:
        ray.init(address=settings.ray_address, **options)
        return
    if num_cpus is None and os.environ.get("PROVREG_RAY_NUM_CPUS"):
        num_cpus = int(os.environ["PROVREG_RAY_NUM_CPUS"])
    ray.init(num_cpus=num_cpus, include_dashboard=False, **options)


def cluster_cpus() -> float:
    """CPUs the cluster has in total (at least 1)."""
    return max(1.0, float(_resources().get("CPU", 1.0)))


def cluster_gpus() -> float:
    """GPUs the cluster has in total (0 on a CPU-only cluster)."""
    return float(_resources().get("GPU", 0.0))


def _resources() -> dict[str, float]:
    resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
    return resources
