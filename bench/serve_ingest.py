"""Online ingestion throughput: uploads/s through `provreg serve` (Ray Serve, real HTTP).

Usage:
    python -m bench.serve_ingest [--count 400] [--concurrency 32] [--batch-sizes 1 32]
        [--detectors file-facts metadata] [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]

For each ``max_batch_size`` the endpoint is deployed (one replica, on a local
``ray.init(num_cpus=2)``) against a fresh migrated database, warmed up with a few untimed
uploads, then ``--count`` distinct generated 256x256 JPEGs are POSTed by ``--concurrency``
client threads. Reported: uploads/s (every upload judged, signed, logged and answered),
the latency p50/p95 seen by clients, and that every answer was ``ok`` with a log index.
``max_batch_size 1`` is one detector call and one ledger transaction per upload.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import socket
import statistics
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import ray
from PIL import Image

from ray_jobs import serve as endpoint
from registry.app import Registry
from registry.settings import Settings
from registry.testing.scratch_db import ADMIN_URL, scratch_database


def _images(count: int, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 255, 256, dtype=np.float32)
    out = []
    for _ in range(count):
        base = ramp[None, :, None] * rng.uniform(0.2, 1.0, 3) + ramp[:, None, None] * rng.uniform(
            0.0, 0.5, 3
        )
        noisy = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(noisy).save(buffer, "JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _post(url: str, data: bytes, name: str) -> tuple[float, dict[str, object]]:
    started = time.perf_counter()
    request = urllib.request.Request(f"{url}?name={name}", data=data, method="POST")
    with urllib.request.urlopen(request, timeout=300) as response:
        body = json.loads(response.read())
    return time.perf_counter() - started, body


def run_case(
    admin_url: str,
    detectors: list[str],
    batch_size: int,
    images: list[bytes],
    warmup: list[bytes],
    concurrency: int,
) -> dict[str, float]:
    """Deploy with ``batch_size``, post ``images`` concurrently; rates and latencies."""
    with (
        scratch_database(admin_url, prefix="provreg_serve_bench") as url_db,
        tempfile.TemporaryDirectory() as home,
    ):
        settings = Settings(home=Path(home), database_url=url_db)
        Registry.open(settings)
        url = endpoint.start(
            settings, detectors, host="127.0.0.1", port=_free_port(), max_batch_size=batch_size
        )
        try:
            with ThreadPoolExecutor(concurrency) as pool:
                list(pool.map(lambda d: _post(url, d, "warmup.jpg"), warmup))
                started = time.perf_counter()
                answers = list(
                    pool.map(
                        lambda item: _post(url, item[1], f"img{item[0]}.jpg"), enumerate(images)
                    )
                )
                elapsed = time.perf_counter() - started
        finally:
            endpoint.stop()
    latencies = sorted(seconds for seconds, _ in answers)
    ok = sum(1 for _, body in answers if body.get("status") == "ok")
    return {
        "uploads_per_s": len(images) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
        "ok": ok,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--detectors", nargs="+", default=["file-facts", "metadata"])
    parser.add_argument("--admin-url", default=ADMIN_URL)
    args = parser.parse_args()
    # address="local": a Ray of its own, even when another cluster runs on this machine.
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    results = {}
    for round_number, batch_size in enumerate(args.batch_sizes):
        images = _images(args.count, seed=100 + round_number)
        warmup = _images(8, seed=900 + round_number)
        results[batch_size] = run_case(
            args.admin_url, args.detectors, batch_size, images, warmup, args.concurrency
        )
        r = results[batch_size]
        print(
            f"max_batch_size {batch_size:3d}: {r['uploads_per_s']:7.1f} uploads/s, "
            f"p50 {r['p50_ms']:7.1f} ms, p95 {r['p95_ms']:7.1f} ms, "
            f"{int(r['ok'])}/{args.count} ok",
            flush=True,
        )
    print(
        json.dumps(
            {
                "machine": platform.machine(),
                "python": platform.python_version(),
                "detectors": args.detectors,
                "count": args.count,
                "concurrency": args.concurrency,
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
