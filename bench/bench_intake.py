"""Time and peak memory of hardened intake per input kind.

Inputs are made in the parent; each case runs in a fresh process so its peak RSS
(``ru_maxrss``) is its own; the ``baseline`` case only imports, so the difference is what
intake itself cost (the input bytes included).

    nice -n 10 .venv/bin/python -m bench.bench_intake [--repeat N]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time
from collections.abc import Callable

from registry.intake.pipeline import IntakeLimits, intake_bytes
from registry.testing.badfiles import bad_crc_png, bomb_png, encode, many_frames_gif, noise


def _cases() -> dict[str, Callable[[], bytes]]:
    return {
        "baseline (import only)": lambda: b"",
        "declared 50000x50000 PNG": bomb_png,
        "1000-frame GIF": lambda: many_frames_gif(1000),
        "100000-frame GIF": lambda: many_frames_gif(100_000),
        "PNG with bad IDAT CRC": lambda: bad_crc_png(0),
        "truncated 2000x1500 JPEG": lambda: _cut(encode(noise(1, (2000, 1500)), "JPEG")),
        "valid 2000x1500 PNG": lambda: encode(noise(2, (2000, 1500)), "PNG"),
        "valid 4000x3000 JPEG": lambda: encode(noise(3, (4000, 3000)), "JPEG", quality=90),
    }


def _cut(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _run(name: str, data: bytes, repeat: int, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    limits = IntakeLimits()
    best = float("inf")
    outcome = "-"
    if name.startswith("baseline"):
        best = 0.0
    else:
        for _ in range(repeat):
            started = time.perf_counter()
            result = intake_bytes(data, limits)
            best = min(best, time.perf_counter() - started)
            outcome = result.error or "ok"
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((name, len(data), outcome, best * 1000, peak_mib))


def main() -> None:
    """Run every case in its own process and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    context = mp.get_context("spawn")
    print("| input | bytes | result | best ms | peak RSS MiB |")
    print("|---|---:|---|---:|---:|")
    for name, make in _cases().items():
        queue: mp.Queue = context.Queue()  # type: ignore[type-arg]
        process = context.Process(target=_run, args=(name, make(), args.repeat, queue))
        process.start()
        row = queue.get()
        process.join()
        print("| {} | {} | {} | {:.1f} | {:.0f} |".format(*row))


if __name__ == "__main__":
    main()
