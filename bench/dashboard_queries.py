"""Benchmark: the dashboard's read queries over a large verdict table.

Seeds a fresh database (migrated to head) with N verdicts by PostgreSQL COPY straight into
the tables (not the signing ledger append: the queries timed here never read signatures or
Merkle nodes, so rows carry placeholder signed bytes; `provreg verify` would reject them), then
times, each over many random inputs:

  asset page   registry.queries.reads.asset_story (asset, its verdicts, its sightings)
  list: ...    registry.queries.reads.search_verdicts, first page and deep keyset pages, for
               detector+label+positive, positive only, source, score range and time range

Usage:
    python -m bench.dashboard_queries [--verdicts 1000000] [--per-asset 5] [--samples 200]
        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import random
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from registry.queries.reads import VerdictFilter, asset_story, search_verdicts
from registry.testing.scratch_db import ADMIN_URL, scratch_database

DETECTORS = {  # detector: (labels, positive rate); the first label is the negative one
    "file-facts": (("file-facts",), 0.0),
    "metadata": (("not-found", "a1111", "comfyui"), 0.08),
    "watermark": (("not-found", "sdxl", "sd-v1"), 0.03),
    "c2pa": (("not-found", "c2pa"), 0.02),
}
# Verdicts per asset, in order: the fifth is a re-scan by a newer watermark version.
PASSES = (
    ("file-facts", "1.0.0"),
    ("metadata", "1.0.0"),
    ("watermark", "1.0.0"),
    ("c2pa", "0.9.0"),
    ("watermark", "1.1.0"),
)
SOURCES = ("upload-web", "upload-app", "crawler", "partner-a", "partner-b")
KEY_ID = "0" * 64
START = datetime(2026, 9, 1, tzinfo=UTC)


def sha(i: int) -> str:
    return hashlib.sha256(f"bench-asset-{i}".encode()).hexdigest()


def verdict_rows(assets: int, per_asset: int, rng: random.Random) -> Iterator[tuple[object, ...]]:
    index = 0
    span = timedelta(days=80).total_seconds()
    total = assets * per_asset
    for a in range(assets):
        asset = sha(a)
        for k in range(per_asset):
            detector, version = PASSES[k]
            labels, rate = DETECTORS[detector]
            positive = rng.random() < rate
            label = (
                labels[1 + rng.randrange(len(labels) - 1)]
                if positive and len(labels) > 1
                else labels[0]
            )
            score = rng.random() if detector != "file-facts" else None
            created = START + timedelta(seconds=span * index / total)
            yield (
                index,
                asset,
                detector,
                version,
                None,
                label,
                positive,
                score,
                1e-9 if positive else None,
                None,
                "{}",
                created,
                None,
                b"{}",
                b"\x00" * 32,
                b"\x00" * 64,
                KEY_ID,
            )
            index += 1


def seed(url: str, verdicts: int, per_asset: int) -> float:
    rng = random.Random(7)
    assets = verdicts // per_asset
    started = time.perf_counter()
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO signing_keys (key_id, public_key, algorithm) VALUES (%s, %s, 'ed25519')",
            (KEY_ID, b"\x00" * 32),
        )
        with cur.copy("COPY assets (sha256, size_bytes, media_type, source) FROM STDIN") as cp:
            for a in range(assets):
                cp.write_row((sha(a), 1000 + a % 5000, "image/jpeg", SOURCES[a % len(SOURCES)]))
        with cur.copy("COPY sightings (asset_sha256, source, location) FROM STDIN") as cp:
            for a in range(assets):
                cp.write_row((sha(a), SOURCES[a % len(SOURCES)], f"/archive/{a}.jpg"))
        columns = (
            "log_index, asset_sha256, detector, version, model_checksum, label, positive, "
            "score, p_value, error, evidence, created_at, ingest_run_id, canonical, "
            "leaf_hash, signature, key_id"
        )
        with cur.copy(f"COPY verdicts ({columns}) FROM STDIN") as cp:
            for row in verdict_rows(assets, per_asset, rng):
                cp.write_row(row)
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def timed(fn: Callable[[], object], samples: int) -> dict[str, float]:
    fn()  # warm the plan and the cache once
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
        "max_ms": round(times[-1], 2),
    }


def run(url: str, verdicts: int, per_asset: int, samples: int) -> dict[str, object]:
    engine = create_engine(url)
    sessions = sessionmaker(engine)
    rng = random.Random(11)
    assets = verdicts // per_asset
    results: dict[str, object] = {}
    with sessions() as session:

        def asset_page() -> object:
            return asset_story(session, sha(rng.randrange(assets)))

        results["asset page"] = timed(asset_page, samples)
        filters = {
            "list: watermark+sdxl": VerdictFilter(detector="watermark", label="sdxl"),
            "list: positive only": VerdictFilter(positive_only=True),
            "list: source": VerdictFilter(source="partner-b"),
            "list: score 0.9-1.0": VerdictFilter(detector="metadata", score_min=0.9),
            "list: one day": VerdictFilter(
                since=START + timedelta(days=40), until=START + timedelta(days=41)
            ),
            "list: 30 days, long ago": VerdictFilter(
                since=START + timedelta(days=5), until=START + timedelta(days=35)
            ),
        }
        for name, flt in filters.items():
            results[name + " (page 1)"] = timed(lambda f=flt: first_page(session, f), samples)
            results[name + " (deep page)"] = timed(
                lambda f=flt: deep_page(session, f, rng, verdicts), samples
            )
    engine.dispose()
    return results


def first_page(session: Session, flt: VerdictFilter) -> object:
    return search_verdicts(session, flt, limit=50)


def deep_page(session: Session, flt: VerdictFilter, rng: random.Random, size: int) -> object:
    """A page starting at a random point in the log (what following "Next" many times hits)."""
    return search_verdicts(session, flt, before=rng.randrange(size // 10, size), limit=50)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--verdicts", type=int, default=1_000_000)
    parser.add_argument("--per-asset", type=int, default=5, choices=range(1, len(PASSES) + 1))
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    with scratch_database(args.admin_url, prefix="provreg_bench_dash", keep=args.keep) as url:
        plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
        seconds = seed(plain, args.verdicts, args.per_asset)
        print(
            json.dumps(
                {
                    "verdicts": args.verdicts,
                    "seed_seconds_copy": round(seconds, 1),
                    "machine": f"{platform.machine()} {platform.processor() or ''}",
                }
            )
        )
        results = run(url, args.verdicts, args.per_asset, args.samples)
        for query, figures in results.items():
            print(json.dumps({"query": query, **figures}))  # type: ignore[dict-item]


if __name__ == "__main__":
    main()
