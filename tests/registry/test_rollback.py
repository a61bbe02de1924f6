"""Rollback and fork detection: `provreg verify` remembers the last verified state.

Each tamper case is done as the database owner would (append-only triggers bypassed with
``session_replication_role = replica``), leaving a log that is perfectly consistent with
itself: the library's full verification still passes (shown first: that is the hole), and
the command line fails because it remembers how big the log was and what it hashed to.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from registry.ledger.checkpoint import vkey
from registry.ledger.signing import KeyStore, Signer
from registry.ledger.verify import verify_ledger
from registry.ledger.writer import Ledger
from registry.testing.ledger_helpers import seed, synthetic_verdicts

pytestmark = pytest.mark.slow  # runs `provreg verify` end to end for each case

REPO = Path(__file__).resolve().parents[2]
ORIGIN = "provreg.local/log"  # the settings' default origin


def provreg(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "registry", *args],
        env=env,
        cwd=REPO,
        text=True,
        capture_output=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def psycopg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def owner_sql(url: str, *statements: str) -> None:
    """Run SQL as the database owner with the append-only triggers bypassed."""
    with psycopg.connect(psycopg_url(url)) as connection:
        connection.execute("SET session_replication_role = replica")
        for statement in statements:
            connection.execute(statement)  # type: ignore[arg-type]


def signer_of(env: dict[str, str]) -> Signer:
    return KeyStore(Path(env["PROVREG_HOME"]) / "keys").ensure()


def append(env: dict[str, str], count: int, start: int, detector: str = "synthetic") -> None:
    engine = create_engine(env["PROVREG_DATABASE_URL"])
    try:
        with sessionmaker(engine).begin() as session:
            seed(
                session,
                Ledger(signer_of(env), ORIGIN),
                synthetic_verdicts(count, start=start, detector=detector),
            )
    finally:
        engine.dispose()


def library_verify_passes(env: dict[str, str]) -> int:
    """The database-only verification (what `verify` did before): returns the tree size."""
    signer = signer_of(env)
    engine = create_engine(env["PROVREG_DATABASE_URL"])
    try:
        with Session(engine) as session:
            report = verify_ledger(
                session,
                KeyStore(Path(env["PROVREG_HOME"]) / "keys").verifier(),
                [vkey(ORIGIN, signer.public_key)],
            )
    finally:
        engine.dispose()
    return report.tree_size


@pytest.fixture
def log600(provreg_env: dict[str, str]) -> dict[str, str]:
    """600 verdicts, a checkpoint over them, and one successful verify (the trusted state)."""
    env = provreg_env
    assert provreg(env, "init").returncode == 0
    append(env, 600, 0)
    assert provreg(env, "checkpoint").returncode == 0
    first = provreg(env, "verify", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["tree_size"] == 600
    assert (Path(env["PROVREG_HOME"]) / "trusted_state.json").is_file()
    return env


def failed(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    return result.stdout + result.stderr


def test_deleting_the_last_200_entries_with_their_checkpoint_is_a_rollback(
    log600: dict[str, str],
) -> None:
    url = log600["PROVREG_DATABASE_URL"]
    owner_sql(
        url,
        "DELETE FROM verdicts WHERE log_index >= 400",
        "DELETE FROM merkle_nodes WHERE (index + 1) * (1::bigint << level) > 400",
        "DELETE FROM checkpoints WHERE tree_size > 400",
    )
    assert library_verify_passes(log600) == 400  # the hole: the shorter log is consistent
    assert "rolled back" in failed(provreg(log600, "verify"))
    assert "rolled back" in failed(provreg(log600, "verify"))  # state not moved on failure


def test_deleting_every_checkpoint_is_a_rollback(log600: dict[str, str]) -> None:
    owner_sql(log600["PROVREG_DATABASE_URL"], "DELETE FROM checkpoints")
    assert library_verify_passes(log600) == 600
    assert "no longer stored" in failed(provreg(log600, "verify"))


def test_truncating_log_and_checkpoints_is_a_rollback(log600: dict[str, str]) -> None:
    owner_sql(
        log600["PROVREG_DATABASE_URL"], "TRUNCATE verdicts, merkle_nodes, checkpoints, sightings"
    )
    assert library_verify_passes(log600) == 0
    out = failed(provreg(log600, "verify", "--json"))
    assert "rolled back" in out and '"ok":false' in out


def test_a_rewritten_history_of_the_same_size_is_a_fork(log600: dict[str, str]) -> None:
    # Someone holding the signing key rewrites the log: every signature valid, new root.
    owner_sql(log600["PROVREG_DATABASE_URL"], "TRUNCATE verdicts, merkle_nodes, checkpoints")
    append(log600, 700, 0, detector="rewritten")
    assert library_verify_passes(log600) == 700
    assert "forked" in failed(provreg(log600, "verify"))


def test_growth_is_accepted_and_moves_the_state_on(log600: dict[str, str]) -> None:
    append(log600, 100, 600)
    result = provreg(log600, "verify", "--json")
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout)
    assert line["tree_size"] == 700 and line["trusted_size"] == 600
    state = json.loads((Path(log600["PROVREG_HOME"]) / "trusted_state.json").read_text())
    assert state["tree_size"] == 700


def test_witness_checkpoint_catches_a_rollback_the_local_state_never_saw(
    log600: dict[str, str],
    tmp_path: Path,
) -> None:
    witness = tmp_path / "witness.checkpoint"
    witness.write_text(json.loads(provreg(log600, "checkpoint", "--json").stdout)["note"])
    owner_sql(
        log600["PROVREG_DATABASE_URL"],
        "DELETE FROM verdicts WHERE log_index >= 500",
        "DELETE FROM merkle_nodes WHERE (index + 1) * (1::bigint << level) > 500",
        "DELETE FROM checkpoints WHERE tree_size > 500",
    )
    fresh_state = tmp_path / "elsewhere" / "state.json"  # a verifier that never ran before
    out = failed(
        provreg(log600, "verify", "--trusted-state", str(fresh_state), "--witness", str(witness))
    )
    assert "witness" in out and "rolled back" in out
    assert not fresh_state.exists()


def test_witness_consistent_with_a_grown_log_passes_and_a_forged_one_fails(
    log600: dict[str, str],
    tmp_path: Path,
) -> None:
    witness = tmp_path / "witness.checkpoint"
    witness.write_text(json.loads(provreg(log600, "checkpoint", "--json").stdout)["note"])
    append(log600, 50, 600)
    ok = provreg(log600, "verify", "--json", "--witness", str(witness))
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["witness_sizes"] == [600]
    forged = tmp_path / "forged.checkpoint"
    forged.write_text(witness.read_text().replace("\n600\n", "\n601\n", 1))
    assert "does not verify" in failed(provreg(log600, "verify", "--witness", str(forged)))


def test_an_unsigned_sighting_slipped_in_later_is_caught(log600: dict[str, str]) -> None:
    # Anyone who may INSERT into sightings could add a row without a log index, posing as a
    # sighting from before signing existed; verify remembers how many of those there were.
    owner_sql(
        log600["PROVREG_DATABASE_URL"],
        "INSERT INTO sightings (asset_sha256, source, location) "
        "SELECT asset_sha256, 'forged', '/never/seen.png' FROM verdicts WHERE log_index = 0",
    )
    assert "unsigned legacy sightings changed: 0 last time, 1 now" in failed(
        provreg(log600, "verify")
    )
