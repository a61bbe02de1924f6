"""With no PROVREG_DATABASE_URL, provreg starts an embedded PostgreSQL under PROVREG_HOME."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from registry.testing.badfiles import make_good_files
from tests.registry.test_cli import json_lines, provreg

pytestmark = pytest.mark.slow  # starts an embedded PostgreSQL and runs the CLI end to end


def test_zero_configuration_ingest_and_verify(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVREG_")}
    env.update(PROVREG_HOME=str(home), PROVREG_DETECTORS="file-facts", PROVREG_EXECUTOR="inline")
    make_good_files(tmp_path / "uploads", 3)
    first = provreg(env, "ingest", str(tmp_path / "uploads"), "--json")
    lines = json_lines(first.stdout)
    assert [line["status"] for line in lines] == ["ok"] * 3
    # The first run says what it created and where (on stderr: stdout stays JSON).
    assert (
        f"first run: created an embedded PostgreSQL database in {home / 'pgdata'}" in first.stderr
    )
    (key,) = (home / "keys").glob("*.key")
    assert f"first run: created signing key {key.stem} in {key}" in first.stderr
    assert (home / "pgdata" / "PG_VERSION").is_file()
    assert any((home / "keys").glob("*.key"))
    later = provreg(env, "verify", "--json")
    assert "first run" not in later.stderr
    report = json_lines(later.stdout)[0]
    assert report["ok"] and report["tree_size"] == 3 + 3  # 3 verdicts, 3 signed sightings
