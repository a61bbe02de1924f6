"""Benchmark: signed, logged verdicts per second into PostgreSQL.

Compares, in one run against one fresh database each:
  naive     one ORM object per verdict (plus its Merkle nodes), one transaction per verdict
  batch-1   the real Ledger.append, one verdict per transaction
  batch-N   the real Ledger.append, N verdicts per transaction (default 1,000)

Usage:
    python -m bench.ledger [--count 20000] [--batch 1000] [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import UTC, datetime

from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from registry.db.models import MerkleNode, VerdictRow
from registry.ledger import merkle
from registry.ledger.records import build_record, canonical_bytes
from registry.ledger.signing import Signer
from registry.ledger.writer import Ledger, fetch_nodes, lock_sequencer, tree_size
from registry.testing.ledger_helpers import ORIGIN, ensure_assets, synthetic_verdicts
from registry.testing.scratch_db import ADMIN_URL, scratch_database


def naive_append(session: Session, ledger: Ledger, verdict: object) -> None:
    """What a straightforward per-row ORM implementation does."""
    lock_sequencer(session)
    index = tree_size(session)
    now = datetime.now(UTC)
    record = build_record(verdict, log_index=index, key_id=ledger.signer.key_id, created_at=now)  # type: ignore[arg-type]
    canonical = canonical_bytes(record)
    leaf = merkle.leaf_hash(canonical)
    session.add(
        VerdictRow(
            log_index=index,
            asset_sha256=record["asset_sha256"],
            detector=record["detector"],
            version=record["version"],
            model_checksum=record["model_checksum"],
            label=record["label"],
            positive=record["positive"],
            score=record["score"],
            p_value=record["p_value"],
            error=record["error"],
            evidence=record["evidence"],
            created_at=now,
            canonical=canonical,
            leaf_hash=leaf,
            signature=ledger.signer.sign(canonical),
            key_id=ledger.signer.key_id,
        )
    )
    nodes = merkle.new_nodes_for_append(index, [leaf], lambda c: fetch_nodes(session, c))
    for (level, idx), digest in nodes.items():
        session.add(MerkleNode(level=level, index=idx, hash=digest))


def run_case(admin_url: str, count: int, per_txn: int, naive: bool) -> float:
    with scratch_database(admin_url) as url:
        engine = create_engine(url)
        sessions = sessionmaker(engine)
        ledger = Ledger(Signer.generate(), ORIGIN)
        verdicts = synthetic_verdicts(count)
        with sessions.begin() as session:
            ledger.register_key(session)
            for i in range(0, count, 5000):
                ensure_assets(session, verdicts[i : i + 5000])
        started = time.perf_counter()
        for i in range(0, count, per_txn):
            chunk = verdicts[i : i + per_txn]
            with sessions.begin() as session:
                if naive:
                    for verdict in chunk:
                        naive_append(session, ledger, verdict)
                        session.flush()
                else:
                    ledger.append(session, chunk)
        elapsed = time.perf_counter() - started
        engine.dispose()
        return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument(
        "--small-count",
        type=int,
        default=2000,
        help="verdicts for the per-verdict-transaction cases",
    )
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--admin-url", default=ADMIN_URL)
    args = parser.parse_args()
    cases: list[tuple[str, int, int, bool]] = [
        ("naive per-row ORM, 1 per transaction", args.small_count, 1, True),
        ("Ledger.append, batch 1", args.small_count, 1, False),
        (f"Ledger.append, batch {args.batch}", args.count, args.batch, False),
    ]
    results = {}
    for label, count, per_txn, naive in cases:
        results[label] = run_case(args.admin_url, count, per_txn, naive)
        print(f"{label:45s} {results[label]:10.0f} verdicts/s  ({count} verdicts)", flush=True)
    naive_rate = results[cases[0][0]]
    print(f"batched / naive = {results[cases[2][0]] / naive_rate:.1f}x")
    print(
        json.dumps(
            {"machine": platform.machine(), "python": platform.python_version(), "results": results}
        )
    )


if __name__ == "__main__":
    main()
