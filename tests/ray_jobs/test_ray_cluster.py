"""A two-node Ray cluster (``ray.cluster_utils.Cluster``) in a subprocess: a node removed
mid-ingest loses no verdict and writes none twice; a fake GPU is allocated in the fraction a
detector declares."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from registry.app import Registry
from registry.db.models import VerdictRow
from registry.ledger.verify import verify_ledger
from registry.settings import Settings
from tests.ray_fixtures import REPO, make_images

pytestmark = pytest.mark.slow  # starts Ray or runs the CLI end to end

COUNT = 500


@pytest.fixture(scope="module")
def cluster_run(
    tmp_path_factory: pytest.TempPathFactory, pg_admin: Any, template_database: str
) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("cluster")
    make_images(folder, COUNT, seed=3)
    name = "provreg_t_cluster_" + os.urandom(4).hex()
    url = pg_admin.create(name, template=template_database)
    env = {
        **os.environ,
        "PROVREG_DATABASE_URL": url,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("RAY_ADDRESS", None)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "tests.ray_jobs.ray_cluster_job", str(folder)],
            env=env,
            cwd=REPO,
            text=True,
            capture_output=True,
            timeout=400,
        )
        assert result.returncode == 0, result.stderr[-4000:]
        observed: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
        observed["url"], observed["home"] = url, folder / "home"
        yield observed
    finally:
        pg_admin.drop(name)


def test_fake_gpu_is_allocated_in_the_declared_fraction(cluster_run: dict[str, Any]) -> None:
    assert cluster_run["gpu_resources"]["GPU"] == pytest.approx(0.5)
    assert cluster_run["gpu_resources"]["CPU"] == pytest.approx(0.25)


def test_node_removed_mid_ingest_loses_and_duplicates_nothing(cluster_run: dict[str, Any]) -> None:
    assert cluster_run["removed_at"] == 100
    assert cluster_run["worker_node"] in cluster_run["nodes_before"]  # it held an actor
    assert cluster_run["worker_node"] not in cluster_run["nodes_after"]
    assert cluster_run["paths"] == cluster_run["files"]  # one outcome per file, in order
    registry = Registry.open(Settings(home=cluster_run["home"], database_url=cluster_run["url"]))
    try:
        with registry.sessions() as session:
            per_asset = session.execute(
                select(VerdictRow.asset_sha256, func.count()).group_by(VerdictRow.asset_sha256)
            ).all()
            assert len(per_asset) == COUNT and {n for _, n in per_asset} == {1}
            report = verify_ledger(session, registry.verifier(), registry.checkpoint_vkeys())
        assert report.tree_size == 2 * COUNT  # a verdict and a signed sighting per file
    finally:
        registry.close()
