"""Issue 11, item 6: the hostile corpus, reduced, through both executors.

The corpus (bench/hostile_corpus.py) is built once per test session. Each executor must give
every path exactly one outcome (0 missing, 0 doubled) with the expected status and reason,
every ``--json`` line must be strict UTF-8 JSON, and the ledger must verify afterwards.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from bench.hostile_corpus import Expected, cached_corpus
from ray_jobs.ingest import ray_executor
from registry.app import Registry
from registry.ingest import FileOutcome, IngestExecutor, inline_executor
from registry.intake.pipeline import iter_media_paths
from registry.json_lines import outcome_json
from registry.ledger.verify import scan_ledger
from registry.settings import Settings
from tests.ray_fixtures import ray_address

pytestmark = pytest.mark.slow  # starts Ray or runs the CLI end to end

__all__ = ["ray_address"]

COUNT = 130
DETECTORS = ["file-facts", "metadata", "c2pa"]


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[bytes, Expected]]:
    return cached_corpus(tmp_path_factory.mktemp("hostile-cache"), COUNT)


def _registry(tmp_path: Path, url: str) -> Registry:
    return Registry.open(Settings(home=tmp_path / "home", database_url=url, batch_size=16))


def _check(
    registry: Registry, outcomes: Sequence[FileOutcome], manifest: dict[bytes, Expected]
) -> None:
    keys = [os.fsencode(o.path or "") for o in outcomes]
    assert len(keys) == len(set(keys)), "a path got two lines"
    assert set(keys) == set(manifest), "lines missing or unexpected"
    problems = []
    for key, outcome in zip(keys, outcomes, strict=True):
        want = manifest[key]
        if (outcome.status, outcome.error) != (want.status, want.reason):
            problems.append((want.kind, outcome.status, outcome.error, outcome.error_detail))
        line = json.dumps(outcome_json(outcome), ensure_ascii=False, allow_nan=False)
        line.encode("utf-8")  # strict: no lone surrogates, no NaN
        exact = json.loads(line).get("path_bytes_hex")
        assert (bytes.fromhex(exact) if exact else json.loads(line)["path"].encode()) == key
        if want.kind in ("bad-crc-text", "ztxt-over-1mb", "polyglot-png-zip"):
            facts = [e for e in outcome.entries if e.verdict.detector == "file-facts"]
            assert facts and facts[0].verdict.evidence["anomalies"], want.kind
    assert not problems, problems
    with registry.sessions() as session:
        report = scan_ledger(session, registry.verifier(), registry.checkpoint_vkeys())
    assert report.ok, [str(e) for e in report.errors]
    assert Counter(m.kind for m in manifest.values())["non-utf8-name"] == 1


def _run(executor: IngestExecutor, registry: Registry, root: Path) -> Iterator[FileOutcome]:
    files = list(iter_media_paths([root]))
    return executor(registry, registry.detectors(DETECTORS), files, source="hostile")


def test_inline_executor_takes_the_whole_corpus(
    corpus: tuple[Path, dict[bytes, Expected]], tmp_path: Path, fresh_database_url: str
) -> None:
    root, manifest = corpus
    registry = _registry(tmp_path, fresh_database_url)
    _check(registry, list(_run(inline_executor, registry, root)), manifest)


def test_ray_executor_takes_the_whole_corpus(
    ray_address: str,
    corpus: tuple[Path, dict[bytes, Expected]],
    tmp_path: Path,
    fresh_database_url: str,
) -> None:
    root, manifest = corpus
    registry = _registry(tmp_path, fresh_database_url)
    _check(registry, list(_run(ray_executor, registry, root)), manifest)
