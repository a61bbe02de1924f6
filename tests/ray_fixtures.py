"""Shared Ray fixtures: ONE local Ray (2 CPUs) per test session, images, staged plugins.

Test modules import the fixtures they use from here (``from tests.ray_fixtures import ...``),
so the rest of the suite never starts Ray.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    """A local Ray with 2 CPUs for the whole session; its GCS address for CLI subprocesses."""
    import ray

    # Workers inherit the raylet's environment: let them import tests.ray_jobs.ray_detectors.
    paths = [str(REPO), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    if not ray.is_initialized():
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            object_store_memory=200 * 1024 * 1024,
        )
    yield str(ray.get_runtime_context().gcs_address)
    ray.shutdown()


def make_images(folder: Path, count: int, *, size: int = 64, seed: int = 0) -> list[Path]:
    """``count`` distinct random PNGs of ``size``×``size`` pixels."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        path = folder / f"img{i:05d}.png"
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path, compress_level=1)
        paths.append(path)
    return paths


def stage_plugins(folder: Path, entries: dict[str, str]) -> Path:
    """A dist-info declaring ``provreg.detectors`` entry points; put ``folder`` on the path."""
    info = folder / "provreg_ray_test_plugins-0.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: provreg-ray-test-plugins\nVersion: 0.0\n"
    )
    lines = "".join(f"{name} = {value}\n" for name, value in entries.items())
    (info / "entry_points.txt").write_text(f"[provreg.detectors]\n{lines}")
    return folder
