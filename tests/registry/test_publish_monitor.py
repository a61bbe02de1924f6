"""Publishing the log as C2SP tlog-tiles and following it with the standalone monitor.

The monitor runs as a third party would run it: copied out of the package (with the
verifier it shares hash and note code with) into a folder of its own, given only the log's
public key.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from registry.db.models import CheckpointRow
from registry.errors import LedgerIntegrityError
from registry.ledger import publish
from registry.ledger import standalone_monitor as sm
from registry.ledger.signing import Signer
from registry.ledger.writer import Ledger
from registry.testing.ledger_helpers import ORIGIN, seed, synthetic_verdicts

SIGNER = Signer.generate()


@pytest.fixture
def monitor_script(tmp_path: Path) -> Path:
    folder = tmp_path / "monitor"
    folder.mkdir()
    for name in ("standalone_monitor.py", "standalone_verify.py"):
        shutil.copy(Path(sm.__file__).with_name(name), folder / name)
    return folder / "standalone_monitor.py"


def run_monitor(script: Path, prefix: Path | str, state: Path) -> subprocess.CompletedProcess[str]:
    key = f"{ORIGIN}={base64.b64encode(SIGNER.public_key).decode()}"
    return subprocess.run(
        [sys.executable, "-I", str(script), str(prefix), "--log-key", key, "--state", str(state)],
        capture_output=True,
        text=True,
        cwd=script.parent,
        timeout=120,
    )


def grow(session: Session, ledger: Ledger, start: int, count: int) -> CheckpointRow:
    """``count`` verdicts and a sighting per 10 of them, then a checkpoint."""
    verdicts = synthetic_verdicts(count, start=start)
    seed(session, ledger, verdicts)
    ledger.record_sightings(
        session,
        [
            {"asset_sha256": v.asset_sha256, "source": "feed", "location": f"/up/{i}.png"}
            for i, v in enumerate(verdicts[::10])
        ],
    )
    return ledger.checkpoint(session)


def test_publish_tamper_grow_and_republish(
    db_session: Session, tmp_path: Path, monitor_script: Path
) -> None:
    ledger = Ledger(SIGNER, ORIGIN)
    out, state = tmp_path / "log", tmp_path / "monitor-state.json"
    first = grow(db_session, ledger, 0, 600)  # 600 verdicts + 60 sightings = 660 entries
    assert first.tree_size == 660
    report = publish.publish(db_session, first, publish.open_store(str(out)))
    assert report.written == 3 + 3 + 1 + 1  # bundles 2+1, level-0 tiles 2+1, level 1, checkpoint
    assert (out / "tile/0/001").stat().st_size == 8192
    assert (out / "tile/0/002.p/148").stat().st_size == 148 * 32
    assert (out / "tile/1/000.p/2").is_file() and (out / "tile/entries/002.p/148").is_file()
    ok = run_monitor(monitor_script, out, state)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "660 entries" in ok.stdout

    tile = out / "tile/0/001"
    original = tile.read_bytes()
    tile.write_bytes(original[:100] + bytes([original[100] ^ 1]) + original[101:])
    bad = run_monitor(monitor_script, out, tmp_path / "fresh-state.json")
    assert bad.returncode == 1 and "tile/0/001" in bad.stdout, bad.stdout
    tile.write_bytes(original)

    second = grow(db_session, ledger, 600, 300)  # 960 entries
    again = publish.publish(db_session, second, publish.open_store(str(out)))
    assert again.skipped == 4  # the full bundles and tiles of the first publication
    grown = run_monitor(monitor_script, out, state)
    assert grown.returncode == 0, grown.stdout
    assert "consistent with the checkpoint seen before (660 entries)" in grown.stdout


def test_monitor_refuses_a_rollback_and_a_fork(
    db_session: Session, tmp_path: Path, monitor_script: Path
) -> None:
    ledger = Ledger(SIGNER, ORIGIN)
    state = tmp_path / "state.json"
    small = grow(db_session, ledger, 0, 100)
    publish.publish(db_session, small, publish.open_store(str(tmp_path / "old")))
    big = grow(db_session, ledger, 100, 100)
    publish.publish(db_session, big, publish.open_store(str(tmp_path / "new")))
    assert run_monitor(monitor_script, tmp_path / "new", state).returncode == 0
    rolled = run_monitor(monitor_script, tmp_path / "old", state)
    assert rolled.returncode == 1 and "rolled back" in rolled.stdout
    # A different history of the same key and origin (someone re-signed everything).
    sm_state = sm.load_state(state)
    assert sm_state is not None
    sm_state["root_hash"] = "00" * 32
    sm.save_state(state, sm_state)
    forked = run_monitor(monitor_script, tmp_path / "new", state)
    assert forked.returncode == 1 and "forked" in forked.stdout


def test_publisher_refuses_to_overwrite_a_published_fork(
    db_session: Session, tmp_path: Path
) -> None:
    ledger = Ledger(SIGNER, ORIGIN)
    out = tmp_path / "log"
    checkpoint = grow(db_session, ledger, 0, 50)
    publish.publish(db_session, checkpoint, publish.open_store(str(out)))
    note = (out / "checkpoint").read_text()
    other = Ledger(SIGNER, ORIGIN)
    forged = other.checkpoint(db_session)
    assert forged.note == note  # same log: publishing again is a no-op that succeeds
    lines = note.split("\n")
    lines[2] = base64.b64encode(b"\x01" * 32).decode()  # a root this log never had
    (out / "checkpoint").write_text("\n".join(lines))
    with pytest.raises(LedgerIntegrityError, match="forked"):
        publish.publish(db_session, checkpoint, publish.open_store(str(out)))


def test_publishing_through_a_pyarrow_url(db_session: Session, tmp_path: Path) -> None:
    checkpoint = grow(db_session, Ledger(SIGNER, ORIGIN), 0, 20)
    report = publish.publish(db_session, checkpoint, publish.open_store((tmp_path / "b").as_uri()))
    assert report.tree_size == 22 and (tmp_path / "b" / "tile/entries/000.p/22").is_file()
    assert (tmp_path / "b" / "checkpoint").read_text() == checkpoint.note
