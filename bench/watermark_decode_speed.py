"""Time the watermark detector and its dwtDct decode against the library's own decoder.

For a 512 x 512 and a 1024 x 1024 natural photo: one library ``WatermarkDecoder.decode``
(dwtDct, uint8), the detector's vectorised decode of the same blocks, and a whole
``WatermarkDetector.detect_batch`` call with the default options (4 decodes, all payloads).
Median of ``--repeat`` runs, wall and CPU time.

    nice -n 10 .venv/bin/python -m bench.watermark_decode_speed [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from imwatermark import WatermarkDecoder

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors.testing.samples import sample_from_bytes
from detectors.testing.watermark_fixtures import encode, photo
from detectors.watermark import WatermarkDetector
from detectors.watermark.decode import block_count, decode_blocks


def _median_ms(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls) * 1000, statistics.median(cpus) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    repeat = parser.parse_args().repeat
    detector = WatermarkDetector()
    detector.load()
    print("| image | library decode | vectorised decode | detector, whole verdict |")
    print("|---|---|---|---|")
    for size in (512, 1024):
        rgb = photo("hubble_deep_field", (size, size))
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        decoder = WatermarkDecoder("bits", block_count(size, size))
        sample = sample_from_bytes(encode(rgb))
        lib = _median_ms(partial(decoder.decode, bgr, "dwtDct"), repeat)
        vec = _median_ms(partial(decode_blocks, rgb, "dwtDct", "bgr"), repeat)
        det = _median_ms(partial(detector.detect_batch, [sample]), repeat)
        cells = [f"{wall:.1f} ms wall / {cpu:.1f} ms CPU" for wall, cpu in (lib, vec, det)]
        print(f"| {size} x {size} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
