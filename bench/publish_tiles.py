"""Benchmark: publishing the log as C2SP tlog-tiles, re-publishing after growth, monitoring.

One fresh database: COUNT verdicts appended in batches of 1,000 (plus one signed sighting per
ten verdicts), a checkpoint, then

  publish     first publication to an empty directory (every tile and entry bundle)
  republish   after 1,000 more verdicts: only new or partial tiles are written
  monitor     registry/ledger/standalone_monitor.py auditing the whole published log (in process)

Usage:
    python bench/publish_tiles.py [--count 50000] [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from registry.db.models import CheckpointRow
from registry.ledger import publish
from registry.ledger import standalone_monitor as monitor
from registry.ledger.signing import Signer
from registry.ledger.writer import Ledger
from registry.testing.ledger_helpers import ORIGIN, seed, synthetic_verdicts
from registry.testing.scratch_db import ADMIN_URL, scratch_database


def grow(session: Session, ledger: Ledger, start: int, count: int) -> CheckpointRow:
    """Append ``count`` verdicts and a sighting per ten, in batches; sign a checkpoint."""
    for first in range(start, start + count, 1000):
        verdicts = synthetic_verdicts(min(1000, start + count - first), start=first)
        seed(session, ledger, verdicts)
        ledger.record_sightings(
            session,
            [
                {"asset_sha256": v.asset_sha256, "source": "bench", "location": f"/b/{i}"}
                for i, v in enumerate(verdicts[::10])
            ],
        )
    return ledger.checkpoint(session)


def main() -> None:
    """Run the three steps and print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--admin-url", default=ADMIN_URL)
    args = parser.parse_args()
    signer = Signer.generate()
    ledger = Ledger(signer, ORIGIN)
    with scratch_database(args.admin_url) as url, tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(url)
        sessions = sessionmaker(engine, expire_on_commit=False)
        with sessions.begin() as session:
            checkpoint = grow(session, ledger, 0, args.count)
        store = publish.open_store(str(Path(tmp) / "log"))
        with sessions() as session:
            started = time.perf_counter()
            first = publish.publish(session, checkpoint, store)
            publish_s = time.perf_counter() - started
        with sessions.begin() as session:
            checkpoint = grow(session, ledger, args.count, 1000)
        with sessions() as session:
            started = time.perf_counter()
            again = publish.publish(session, checkpoint, store)
            republish_s = time.perf_counter() - started
        started = time.perf_counter()
        monitor.monitor(
            monitor.Source(str(Path(tmp) / "log")),
            ORIGIN,
            signer.public_key,
            Path(tmp) / "state.json",
        )
        monitor_s = time.perf_counter() - started
        engine.dispose()
    print(
        json.dumps(
            {
                "entries_first": first.tree_size,
                "publish_s": round(publish_s, 2),
                "files_first": first.written,
                "entries_after_growth": again.tree_size,
                "republish_s": round(republish_s, 2),
                "files_rewritten": again.written,
                "files_unchanged": again.skipped,
                "monitor_s": round(monitor_s, 2),
                "python": platform.python_version(),
            }
        )
    )


if __name__ == "__main__":
    main()
