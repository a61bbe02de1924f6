"""Seconds per GB to hash and fingerprint a model file, from the page cache.

Writes a safetensors file of ``--mb`` megabytes (float32 tensors of ``--tensor-mb`` each) in
a temporary folder, reads it once to warm the page cache, then times, best of ``--repeat``:

- ``read+sha256``: reading the file and its SHA-256 (the content address intake computes);
- ``parse``: the strict header parse (no copy of the weights);
- ``finite check``: the NaN/inf flood check over every float weight;
- ``per-tensor sha256``: the manifest hashes over canonical bytes;
- ``fingerprint``: manifest hash + multiset hash + sketch of every tensor (what
  ``model.lineage`` and ``provreg lineage register`` compute).

Prints one JSON line per step (seconds, s/GB, MB/s) and the machine's load average.

    nice -n 10 .venv/bin/python bench/model_provenance.py [--mb 512] [--repeat 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors.model.load import check_finite
from detectors.model.manifest import fingerprint
from detectors.model.safetensors_format import parse, serialize
from detectors.model.tensors import Tensor


def write_model(path: Path, megabytes: int, tensor_mb: int) -> None:
    """A safetensors file of float32 noise, ``tensor_mb`` per tensor."""
    rng = np.random.default_rng(0)
    per = tensor_mb * 1024 * 1024 // 4
    tensors = [
        Tensor(
            f"layers.{i}.weight",
            "F32",
            (per,),
            rng.standard_normal(per, dtype=np.float32).tobytes(),
        )
        for i in range(max(1, megabytes // tensor_mb))
    ]
    path.write_bytes(serialize(tensors))


def best(step: Callable[[], object], repeat: int) -> float:
    """Fastest of ``repeat`` runs, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    """Time each step and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=512)
    parser.add_argument("--tensor-mb", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.safetensors"
        write_model(path, args.mb, args.tensor_mb)
        size = path.stat().st_size
        data = path.read_bytes()  # warms the page cache
        tensors, _ = parse(data)
        steps: dict[str, Callable[[], object]] = {
            "read+sha256": lambda: hashlib.sha256(path.read_bytes()).hexdigest(),
            "parse": lambda: parse(data),
            "finite check": lambda: check_finite(tensors),
            "per-tensor sha256": lambda: [hashlib.sha256(t.raw).digest() for t in tensors],
            "fingerprint": lambda: [fingerprint(t) for t in tensors],
        }
        for name, step in steps.items():
            seconds = best(step, args.repeat)
            print(
                json.dumps(
                    {
                        "step": name,
                        "bytes": size,
                        "seconds": round(seconds, 4),
                        "s_per_gb": round(seconds / (size / 1e9), 3),
                        "mb_per_s": round(size / 1e6 / seconds, 1),
                    }
                ),
                flush=True,
            )
    print(json.dumps({"load_average": os.getloadavg(), "cpus": os.cpu_count()}))


if __name__ == "__main__":
    main()
