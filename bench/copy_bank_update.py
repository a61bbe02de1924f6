"""Cost of one incremental index update (what `provreg bank add FILE` does after its rows).

For reference sets of growing size: time to load the newest generation (with its delta log
replayed), add one image, and save, plus how many bytes that save wrote. A save appends the
change to the delta log (detectors/copy/journal.py) unless the log has outgrown a quarter of
the base, so its cost follows the change, not the set; the "compact s" column is the cost of
the occasional compaction (a full new generation) at that size.

Run: nice -n 10 .venv/bin/python -m bench.copy_bank_update [SIZES...]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from detectors.copy.matcher import ReferenceSet
from detectors.testing.copy_fixtures import textured


def _bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.iterdir())


def main(sizes: list[int]) -> None:
    print(
        "| references | load s | add 1 s | save s | written by the save MB | compact s "
        "| generation on disk MB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        refs = ReferenceSet()
        next_id = 0
        for size in sizes:
            while len(refs) < size:
                refs.add(next_id, textured(1000 + next_id, (320, 240)), bank="bench")
                next_id += 1
            refs.save(root, compact=True)
            t0 = time.perf_counter()
            loaded = ReferenceSet.load(root)
            t1 = time.perf_counter()
            loaded.add(next_id, textured(1000 + next_id, (320, 240)), bank="bench")
            t2 = time.perf_counter()
            before = _bytes(root)
            loaded.save(root)
            t3 = time.perf_counter()
            written = (_bytes(root) - before) / 1e6
            loaded.save(root, compact=True)
            t4 = time.perf_counter()
            gen = loaded.generation
            mb = (
                sum(
                    p.stat().st_size for p in root.iterdir() if p.name.split(".")[1:2] == [str(gen)]
                )
                / 1e6
            )
            print(
                f"| {size} | {t1 - t0:.2f} | {t2 - t1:.2f} | {t3 - t2:.3f} | {written:.2f} "
                f"| {t4 - t3:.2f} | {mb:.1f} |",
                flush=True,
            )
            refs = loaded
            next_id += 1


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10, 100, 400])
