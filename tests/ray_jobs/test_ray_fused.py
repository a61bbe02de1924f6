"""The fused path on the session's real local Ray: CPU detectors fused into one actor call
beside a GPU-declared detector in its own pool, a file that crashes the fused actor, and
results in input order when later batches finish first."""

from __future__ import annotations

from pathlib import Path

import pytest

from detectors.file_facts import FileFactsDetector
from detectors.metadata.detector import MetadataDetector
from ray_jobs.fused import FusedSpec, FusedWorker
from ray_jobs.ingest import RayIngest, RayJudge
from registry.app import Registry
from registry.ingest import judge_batch
from registry.intake.pipeline import IntakeLimits, intake_path
from registry.ledger.verify import verify_ledger
from registry.settings import Settings
from tests.ray_fixtures import make_images, ray_address
from tests.ray_jobs.ray_detectors import SLOW_SIDE, HalfGpuFacts, SleepyFacts, crashing_intake

pytestmark = pytest.mark.slow  # starts Ray or runs the CLI end to end

__all__ = ["ray_address"]


@pytest.fixture
def registry(tmp_path: Path, fresh_database_url: str) -> Registry:
    settings = Settings(home=tmp_path / "home", database_url=fresh_database_url, batch_size=8)
    return Registry.open(settings)


def test_fused_worker_judges_like_the_in_process_loop(tmp_path: Path) -> None:
    files = make_images(tmp_path / "img", 6, seed=31)
    (tmp_path / "img" / "junk.png").write_bytes(b"not an image")
    files.insert(2, tmp_path / "img" / "junk.png")
    detectors = [FileFactsDetector(), MetadataDetector()]
    worker = FusedWorker(FusedSpec.of(detectors))
    result, packed = worker.judge([str(f) for f in files], IntakeLimits(), False)
    assert packed is None
    expected = judge_batch([intake_path(f, IntakeLimits()) for f in files], detectors)
    assert [f.path for f in result.facts] == [str(f) for f in files]
    assert all(f.sample is None for f in result.facts)  # pixels stay in the actor
    assert result.verdicts[2] == [] and result.facts[2].error == "not-an-image"
    judged = [v for i, v in enumerate(result.verdicts) if i != 2]
    wanted = [v for i, v in enumerate(expected) if i != 2]
    assert [[(v.detector, v.label, v.evidence) for v in per] for per in judged] == [
        [(v.detector, v.label, v.evidence) for v in per] for per in wanted
    ]


def test_fused_and_gpu_pools_in_one_ingest_with_a_crashing_file(
    ray_address: str, registry: Registry, tmp_path: Path
) -> None:
    files = make_images(tmp_path / "img", 20, seed=37)
    files[9] = files[9].rename(files[9].with_name("crash.png"))
    # The GPU-declared detector sits between the two fused ones: verdicts keep this order.
    detectors = [FileFactsDetector(), HalfGpuFacts(), MetadataDetector()]
    runner = RayIngest(registry, detectors, intake=crashing_intake)
    try:
        infos = runner.actor_info()
        kinds = sorted(info["detector"] for info in infos)
        outcomes = list(runner.run(files, source="mixed"))
    finally:
        runner.shutdown()
    assert "file-facts+metadata" in kinds and "half-gpu-facts" in kinds
    fused = [info for info in infos if info["detector"] == "file-facts+metadata"]
    assert fused and all(info["opencv_threads"] == 1 for info in fused)  # pinned, not 2
    assert [o.path for o in outcomes] == [str(f) for f in files]
    crashed = outcomes[9]
    assert crashed.status == "error" and crashed.error == "corrupt"
    assert [e.verdict.detector for e in crashed.entries] == ["intake"]
    for i, outcome in enumerate(outcomes):
        if i != 9:
            assert outcome.status == "ok"
            assert [e.verdict.detector for e in outcome.entries] == [
                "file-facts",
                "half-gpu-facts",
                "metadata",
            ]
            assert {e.verdict.asset_sha256 for e in outcome.entries} == {outcome.sha256}
    with registry.sessions() as session:
        report = verify_ledger(session, registry.verifier(), registry.checkpoint_vkeys())
    assert report.tree_size == 19 * 3 + 1 + 20  # verdicts, then a signed sighting per file


def test_results_come_back_in_input_order_when_later_batches_finish_first(
    ray_address: str, tmp_path: Path
) -> None:
    slow = make_images(tmp_path / "slow", 4, size=SLOW_SIDE, seed=41)
    fast = make_images(tmp_path / "fast", 28, seed=43)
    files = slow + fast  # the first batch is slow, the seven behind it are not
    settings = Settings(home=tmp_path / "home", batch_size=4)
    judge = RayJudge(settings, [SleepyFacts({"sleep_s": 0.5})], max_in_flight=8)
    try:
        assert len(judge.fused.actors) == 2
        facts = [fact for batch, _ in judge.judge(files) for fact in batch]
    finally:
        judge.shutdown()
    assert [f.path for f in facts] == [str(f) for f in files]
