"""A full disk while keys and the copy index are written: no half-written key is ever
visible, and a bank whose index could not be saved catches up from PostgreSQL by itself.

The disk really fills up: a small tmpfs mounted for the test (we run as root), or, for the
key store, a file-size limit of 0 bytes (RLIMIT_FSIZE) in a subprocess where no mount is
allowed."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from detectors.testing.copy_fixtures import textured
from registry.app import Registry
from registry.banks import ops as bank_ops
from registry.banks import services as banks
from registry.banks.index import CopyIndexError, load_references
from registry.errors import KeyStoreError
from registry.ledger.signing import KeyStore
from registry.settings import Settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs, unmounted afterwards."""
    mount_point = tmp_path / f"disk-{uuid.uuid4().hex[:8]}"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(disk: Path, leave_pages: int = 0) -> Path:
    """Fill ``disk`` up to ``leave_pages`` free pages; returns the filler file."""
    filler = disk / "filler"
    stats = os.statvfs(disk)
    free = stats.f_bavail * stats.f_frsize - leave_pages * 4096
    with open(filler, "ab") as handle:
        handle.write(b"\0" * max(0, free))
    return filler


def test_key_creation_on_a_full_disk_leaves_no_key(tmp_path: Path) -> None:
    """A 0-byte file limit (as a full disk): creating the first key fails with a clear
    error, leaves no file, and ``keys()`` (what ``keys list`` and ``verify`` read) is empty."""
    keys = tmp_path / "keys"
    script = textwrap.dedent(f"""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
        from registry.errors import KeyStoreError
        from registry.ledger.signing import KeyStore
        try:
            KeyStore(__import__("pathlib").Path({str(keys)!r})).rotate()
        except KeyStoreError as exc:
            print(exc)
            sys.exit(7)
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 7, done.stderr
    assert "cannot create a signing key" in done.stdout
    store = KeyStore(keys)
    assert sorted(p.name for p in keys.iterdir()) == []
    assert store.keys() == [] and not store.exists()
    signer = store.rotate()  # space is back: the next command works
    assert [k.key_id for k in store.keys()] == [signer.key_id]


def test_key_creation_on_a_full_tmpfs(small_disk: Path) -> None:
    store = KeyStore(small_disk / "keys")
    fill(small_disk)
    with pytest.raises(KeyStoreError, match="No space left on device"):
        store.rotate()
    assert store.keys() == [] and not store.exists()
    assert [p.name for p in (small_disk / "keys").iterdir()] == []
    (small_disk / "filler").unlink()
    signer = store.ensure()
    assert [k.key_id for k in store.keys()] == [signer.key_id]


def test_a_phantom_empty_public_key_is_not_listed(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    signer = store.rotate()
    (tmp_path / "keys" / ("0" * 64 + ".pub")).write_bytes(b"")  # as older versions left
    assert [k.key_id for k in store.keys()] == [signer.key_id]
    store.verifier()  # does not crash


def _matchable(registry: Registry) -> set[int]:
    with registry.sessions() as session:
        return {row.id for row, _ in banks.matchable_references(session)}


@pytest.mark.slow
def test_bank_add_on_a_full_disk_catches_up_from_the_database(
    small_disk: Path, fresh_database_url: str, tmp_path: Path
) -> None:
    """Six references banked; the disk fills; six more are added: either nothing changes
    (even the marker could not be written) or the rows are committed and the index lags.
    Once space is back, the next use (here: loading the copy detector) brings the index in
    line with PostgreSQL without anyone running ``bank rebuild-index``."""
    settings = Settings(home=small_disk / "home", database_url=fresh_database_url)
    registry = Registry.open(settings)
    paths = []
    for seed in range(12):
        path = tmp_path / f"textured-{seed}.png"
        textured(100 + seed).save(path)
        paths.append(path)
    try:
        first = list(bank_ops.add_files(registry, "flagged", paths[:6], added_by=None, reason=None))
        assert [o.status for o in first] == ["added"] * 6
        filler = fill(small_disk, leave_pages=1)  # the marker fits, the index does not
        with pytest.raises(CopyIndexError, match="No space left on device"):
            list(bank_ops.add_files(registry, "flagged", paths[6:], added_by=None, reason=None))
        index = load_references(settings)
        assert index is not None
        in_db = _matchable(registry)
        assert len(in_db) == len(paths)  # the database is the truth
        assert sum(ref in index for ref in in_db) == 6
        assert bank_ops.index_lags(registry)
        filler.unlink()
        registry.detectors(["copy"])  # next use
        index = load_references(settings)
        assert index is not None and all(ref in index for ref in in_db)
        assert not bank_ops.index_lags(registry)
    finally:
        registry.close()


def test_bank_add_stops_before_the_database_when_nothing_can_be_written(
    small_disk: Path, fresh_database_url: str, tmp_path: Path
) -> None:
    settings = Settings(home=small_disk / "home", database_url=fresh_database_url)
    registry = Registry.open(settings)
    path = tmp_path / "textured.png"
    textured(7).save(path)
    try:
        with registry.sessions.begin() as session:
            banks.ensure_bank(session, "flagged")
        (small_disk / "home" / "indexes").mkdir(parents=True)
        filler = fill(small_disk)
        with pytest.raises(CopyIndexError, match="nothing was changed"):
            list(bank_ops.add_files(registry, "flagged", [path], added_by=None, reason=None))
        assert _matchable(registry) == set()
        filler.unlink()
        (added,) = bank_ops.add_files(registry, "flagged", [path], added_by=None, reason=None)
        assert added.status == "added"
    finally:
        registry.close()
